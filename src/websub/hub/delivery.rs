//! What the hub owes its subscribers: a delivery per subscription whose
//! topic changed, always of the topic's current document, retried with
//! growing delays, handed to the pool one callback host at a time in turn.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::Ordering;

use url::Url;

use super::{Hub, Owe, now_ms};
use crate::snapshot::Snapshot;
use crate::websub::command::Delivered;
use crate::websub::fair;
use crate::websub::outbound::{Delivery, Job};
use crate::websub::{Key, topics};

impl Hub {
    /// Deliveries queued for the pool at most: a few rounds of it, so that
    /// memory stays bounded by the concurrency, not the subscribers.
    pub(super) fn most_delivering(&self) -> usize {
        self.config.concurrency * 4
    }

    pub(super) fn published(&mut self, snap: Arc<Snapshot>, topics: Vec<String>) {
        self.snap = Some(snap);
        let now = now_ms();
        let mut fresh: Vec<Key> = Vec::new();
        for topic in topics {
            for hub in &self.config.hubs {
                let _ = self.jobs.send(Job::Ping {
                    hub: hub.clone(),
                    topic: topic.clone(),
                });
            }
            let Some(subs) = self.subs.get(&topic) else {
                continue;
            };
            for callback in subs.keys() {
                let key = (topic.clone(), callback.clone());
                match self.owed.get_mut(&key) {
                    Some(owe) if owe.in_flight => owe.again = true,
                    _ => {
                        fresh.push(key.clone());
                        let owe = Owe {
                            attempts: 0,
                            due_ms: now,
                            in_flight: false,
                            again: false,
                        };
                        self.owed.insert(key, owe);
                    }
                }
            }
        }
        for key in &fresh {
            self.owed_changed(key);
        }
    }

    pub(super) fn delivered(&mut self, topic: String, callback: Url, outcome: Delivered) {
        self.delivering = self.delivering.saturating_sub(1);
        self.hosts.done(&fair::party(&callback));
        let host = callback.host_str().unwrap_or("");
        let key = (topic, callback.to_string());
        let Some(owe) = self.owed.get_mut(&key) else {
            return;
        };
        owe.in_flight = false;
        let now = now_ms();
        match outcome {
            Delivered::Ok if owe.again => {
                *owe = Owe {
                    attempts: 0,
                    due_ms: now,
                    in_flight: false,
                    again: false,
                };
            }
            Delivered::Ok => {
                self.owed.remove(&key);
            }
            Delivered::Gone => {
                tracing::info!(
                    topic = key.0,
                    callback = host,
                    "websub: 410 Gone; unsubscribed"
                );
                return self.end(&key.0, &key.1);
            }
            Delivered::Failed(why) => {
                owe.attempts += 1;
                let attempts = owe.attempts;
                tracing::warn!(
                    topic = key.0,
                    callback = host,
                    attempts,
                    why,
                    "websub: delivery failed"
                );
                if attempts >= self.config.max_attempts {
                    tracing::warn!(topic = key.0, callback = host, "websub: delivery given up");
                    self.counts.failed.fetch_add(1, Ordering::Relaxed);
                    self.owed.remove(&key);
                } else {
                    let delay = self.config.retry_delay.as_millis() as i64;
                    owe.due_ms = now + delay.saturating_mul(1 << (attempts - 1).min(20));
                }
            }
        }
        self.owed_changed(&key);
    }

    /// Hands what is due to the pool, up to [`Hub::most_delivering`], one
    /// callback host at a time in turn and each within its room.
    pub(super) fn deliver(&mut self, now: i64) {
        let Some(snap) = self.snap.clone() else {
            return;
        };
        let most = self.most_delivering().saturating_sub(self.delivering);
        let mut due: BTreeMap<String, Vec<Key>> = BTreeMap::new();
        let mut orphans = Vec::new();
        for (key, owe) in &self.owed {
            if owe.in_flight || owe.due_ms > now {
                continue;
            }
            let Some(sub) = self.sub(key) else {
                orphans.push(key.clone());
                continue;
            };
            let room = self.hosts.room(&sub.party).min(most);
            match due.get_mut(&sub.party) {
                Some(keys) if keys.len() < room => keys.push(key.clone()),
                None if room > 0 => {
                    due.insert(sub.party.clone(), vec![key.clone()]);
                }
                _ => {}
            }
        }
        for key in orphans {
            self.owed.remove(&key);
            self.owed_changed(&key);
        }
        let mut documents: HashMap<String, _> = HashMap::new();
        for (party, key) in self.hosts.in_turn(due, most) {
            let Some(sub) = self.sub(&key) else {
                continue;
            };
            let doc = documents
                .entry(key.0.clone())
                .or_insert_with(|| topics::document(&snap, &key.0));
            let Some((doc, link)) = doc.clone() else {
                // The feed is gone: nothing left to deliver.
                self.owed.remove(&key);
                self.owed_changed(&key);
                continue;
            };
            let job = Job::Deliver(Delivery {
                topic: key.0.clone(),
                callback: sub.callback.clone(),
                secret: sub.secret.clone(),
                body: doc.identity().clone(),
                content_type: doc.content_type,
                link,
            });
            if self.jobs.send(job).is_ok()
                && let Some(owe) = self.owed.get_mut(&key)
            {
                owe.in_flight = true;
                self.delivering += 1;
                self.hosts.took(&party);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc::Receiver;

    use super::*;
    use crate::websub::hub::tests::{CALLBACK, TOPIC, hub, subscribe};

    fn deliveries(queue: &Receiver<Job>) -> usize {
        queue
            .try_iter()
            .filter(|j| matches!(j, Job::Deliver(d) if d.topic == TOPIC))
            .count()
    }

    fn delivered(hub: &mut Hub, outcome: Delivered) {
        hub.delivered(TOPIC.into(), Url::parse(CALLBACK).unwrap(), outcome);
    }

    #[test]
    fn a_change_during_a_delivery_is_delivered_once_after_it() {
        let (mut hub, queue, snap) = hub();
        hub.published(snap.clone(), vec![TOPIC.into()]);
        hub.dispatch(now_ms());
        assert_eq!(deliveries(&queue), 1);
        hub.published(snap.clone(), vec![TOPIC.into()]);
        hub.published(snap, vec![TOPIC.into()]);
        hub.dispatch(now_ms());
        assert_eq!(
            deliveries(&queue),
            0,
            "one delivery at a time per subscriber"
        );
        delivered(&mut hub, Delivered::Ok);
        hub.dispatch(now_ms());
        assert_eq!(deliveries(&queue), 1, "the newer document, once");
        delivered(&mut hub, Delivered::Ok);
        assert!(hub.owed.is_empty());
    }

    #[test]
    fn retries_wait_twice_as_long_each_time() {
        let (mut hub, queue, snap) = hub();
        let delay = hub.config.retry_delay.as_millis() as i64;
        hub.published(snap, vec![TOPIC.into()]);
        for factor in [1, 2, 4] {
            hub.dispatch(now_ms());
            assert_eq!(deliveries(&queue), 1);
            let before = now_ms();
            delivered(&mut hub, Delivered::Failed("503".into()));
            let after = now_ms();
            let due = hub.owed.values().next().unwrap().due_ms;
            assert!((before + factor * delay..=after + factor * delay).contains(&due));
            hub.dispatch(after);
            assert_eq!(deliveries(&queue), 0, "not due yet");
            hub.owed.values_mut().for_each(|o| o.due_ms = 0);
        }
    }

    #[test]
    fn nothing_is_due_that_cannot_be_sent() {
        let (mut hub, _queue, snap) = hub();
        let expires = hub.next_wake();
        hub.owed.insert(
            (TOPIC.into(), CALLBACK.into()),
            Owe {
                attempts: 0,
                due_ms: 0,
                in_flight: false,
                again: false,
            },
        );
        assert_eq!(hub.next_wake(), expires, "no snapshot yet");
        hub.snap = Some(snap);
        assert_eq!(hub.next_wake(), Some(0));
        hub.delivering = hub.most_delivering();
        assert_eq!(hub.next_wake(), expires, "the queue is full");
    }

    #[test]
    fn a_feed_that_is_gone_settles_what_it_was_owed() {
        let (mut hub, queue, snap) = hub();
        let gone = "http://127.0.0.1:8080/tags/none/rss.xml".to_string();
        subscribe(&mut hub, &gone, CALLBACK);
        hub.published(snap, vec![gone]);
        hub.dispatch(now_ms());
        assert_eq!(queue.try_iter().count(), 0);
        assert!(hub.owed.is_empty());
    }

    /// The hosts of the deliveries handed to the pool since the last call.
    fn hosts(queue: &Receiver<Job>) -> Vec<String> {
        (queue.try_iter())
            .filter_map(|j| match j {
                Job::Deliver(d) => d.callback.host_str().map(str::to_string),
                _ => None,
            })
            .collect()
    }

    /// Found by the fifth attack: a host with many slow callbacks held
    /// every thread, and a subscriber on another host waited for them.
    #[test]
    fn a_hosts_backlog_leaves_the_pool_to_other_hosts() {
        let (mut hub, queue, snap) = hub();
        for i in 0..20 {
            subscribe(&mut hub, TOPIC, &format!("https://slow.example/{i}"));
        }
        let share = fair::per_host(hub.config.concurrency);
        assert!(share < hub.config.concurrency);
        hub.published(snap, vec![TOPIC.into()]);
        hub.dispatch(now_ms());
        let mut sent = hosts(&queue);
        sent.sort();
        let mut want = vec!["slow.example".to_string(); share];
        want.insert(0, "reader.example".into());
        assert_eq!(
            sent, want,
            "the other host's delivery, and a share of the slow one's"
        );
        hub.dispatch(now_ms());
        assert!(hosts(&queue).is_empty(), "the slow host's room is taken");
        let first = (hub.owed.iter())
            .find(|(k, o)| o.in_flight && k.1.starts_with("https://slow.example/"))
            .map(|(k, _)| Url::parse(&k.1).unwrap())
            .unwrap();
        hub.delivered(TOPIC.into(), first, Delivered::Failed("timed out".into()));
        hub.dispatch(now_ms());
        assert_eq!(hosts(&queue), ["slow.example"], "one back, one more");
    }

    /// Found by the re-attack of the sixth: callbacks on several names of
    /// one domain had a share of the pool for each name, and took it all.
    #[test]
    fn several_names_of_one_domain_have_one_share_of_the_pool() {
        let (mut hub, queue, snap) = hub();
        let names = [
            "evil.example",
            "a.evil.example",
            "b.evil.example",
            "c.b.evil.example",
        ];
        for (i, name) in names.iter().cycle().take(20).enumerate() {
            subscribe(&mut hub, TOPIC, &format!("https://{name}/{i}"));
        }
        hub.published(snap, vec![TOPIC.into()]);
        hub.dispatch(now_ms());
        let sent = hosts(&queue);
        let evil = sent.iter().filter(|h| h.ends_with("evil.example")).count();
        let reader = sent.iter().filter(|h| *h == "reader.example").count();
        let share = fair::per_host(hub.config.concurrency);
        assert_eq!((evil, reader), (share, 1));
    }
}
