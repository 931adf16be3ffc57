//! The hub thread: the one owner of the subscriptions and of what is owed
//! to them, in memory and in the store. It takes requests, verification
//! and delivery outcomes and published snapshots as messages, hands
//! outbound work to the pool, and wakes for retries and lease ends.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, SyncSender};
use std::time::Duration;

use url::Url;

use super::outbound::{self, Delivered, Delivery, Job};
use super::request::{Mode, Request, Secret};
use super::store::{Owed, Row, Store};
use super::{Counts, QUEUE, topics};
use crate::config::{Config, WebSub};
use crate::snapshot::Snapshot;

pub enum Command {
    /// A parsed subscription request, answered 202 already.
    Request(Request),
    /// A snapshot was published; these topics' bytes changed.
    Published(Arc<Snapshot>, Vec<String>),
    Verified(Request, Result<(), String>),
    Delivered {
        topic: String,
        callback: Url,
        outcome: Delivered,
    },
}

/// The longest the thread sleeps with nothing due, so that a clock jump
/// cannot hold a lease end or a retry for long.
const IDLE: Duration = Duration::from_secs(60);

struct Sub {
    callback: Url,
    secret: Option<Secret>,
    /// Unix seconds.
    expires: i64,
}

/// A delivery owed to one subscription: always of the topic's current
/// document, so a change while one is owed or under way is not a second
/// delivery but `again`.
struct Owe {
    attempts: u32,
    due_ms: i64,
    in_flight: bool,
    again: bool,
}

type Key = (String, String);

struct Hub {
    config: WebSub,
    store: Option<Store>,
    /// By topic, then callback.
    subs: HashMap<String, HashMap<String, Sub>>,
    owed: HashMap<Key, Owe>,
    verifying: usize,
    delivering: usize,
    snap: Option<Arc<Snapshot>>,
    jobs: Sender<Job>,
    counts: Arc<Counts>,
}

pub fn spawn(config: &Config, store: Option<Store>, counts: Arc<Counts>) -> SyncSender<Command> {
    let (commands, inbox) = std::sync::mpsc::sync_channel(QUEUE);
    let jobs = outbound::start(&config.websub, commands.clone());
    let mut hub = Hub::new(config, store, jobs, counts);
    hub.restore();
    let spawned = std::thread::Builder::new()
        .name("websub-hub".into())
        .spawn(move || hub.run(&inbox));
    if let Err(e) = spawned {
        tracing::error!("websub: cannot start the hub thread: {e}");
    }
    commands
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// A failed write is logged: memory stays right for this
/// process, and the next write of the row tries again.
fn logged(result: rusqlite::Result<()>) {
    if let Err(e) = result {
        tracing::warn!("websub: cannot write state: {e}");
    }
}

impl Hub {
    /// A hub with no subscription yet, before [`Hub::restore`].
    fn new(config: &Config, store: Option<Store>, jobs: Sender<Job>, counts: Arc<Counts>) -> Hub {
        Hub {
            config: config.websub.clone(),
            store,
            subs: HashMap::new(),
            owed: HashMap::new(),
            verifying: 0,
            delivering: 0,
            snap: None,
            jobs,
            counts,
        }
    }

    fn restore(&mut self) {
        let Some(store) = &self.store else { return };
        let (rows, owed) = match store.load() {
            Ok(loaded) => loaded,
            Err(e) => {
                tracing::warn!("websub: cannot read state: {e}");
                return;
            }
        };
        for row in rows {
            let Ok(callback) = Url::parse(&row.callback) else {
                continue;
            };
            let sub = Sub {
                callback,
                secret: row.secret.map(Secret),
                expires: row.expires,
            };
            self.subs
                .entry(row.topic)
                .or_default()
                .insert(row.callback, sub);
        }
        // What was owed when the last process stopped is due now: its
        // subscribers have waited long enough.
        let now = now_ms();
        for o in owed {
            let owe = Owe {
                attempts: o.attempts,
                due_ms: o.due_ms.min(now),
                in_flight: false,
                again: false,
            };
            self.owed.insert((o.topic, o.callback), owe);
        }
        tracing::info!(
            subscriptions = self.subscriptions(),
            pending = self.owed.len(),
            "websub: state read"
        );
        self.count();
    }

    fn run(mut self, inbox: &Receiver<Command>) {
        loop {
            let now = now_ms();
            let wait = self
                .next_wake()
                .map_or(IDLE, |at| {
                    Duration::from_millis(at.saturating_sub(now).max(0) as u64)
                })
                .min(IDLE);
            match inbox.recv_timeout(wait) {
                Ok(command) => self.handle(command),
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => return,
            }
            let now = now_ms();
            self.expire(now);
            self.dispatch(now);
            self.count();
        }
    }

    fn subscriptions(&self) -> usize {
        self.subs.values().map(HashMap::len).sum()
    }

    fn count(&self) {
        let c = &self.counts;
        c.subscriptions
            .store(self.subscriptions() as u64, Ordering::Relaxed);
        c.pending.store(self.owed.len() as u64, Ordering::Relaxed);
    }

    /// Deliveries queued for the pool at most: a few rounds of it, so that
    /// memory stays bounded by the concurrency, not the subscribers.
    fn most_delivering(&self) -> usize {
        self.config.concurrency * 4
    }

    /// The next retry or lease end, Unix milliseconds. Retries count only
    /// when they could be sent: before the first snapshot, or with the
    /// queue full, the thread waits for a message rather than spinning.
    fn next_wake(&self) -> Option<i64> {
        let sendable = self.snap.is_some() && self.delivering < self.most_delivering();
        let retries = (self.owed.values())
            .filter(|o| sendable && !o.in_flight)
            .map(|o| o.due_ms);
        let leases = self
            .subs
            .values()
            .flat_map(HashMap::values)
            .map(|s| s.expires.saturating_mul(1000));
        retries.chain(leases).min()
    }

    fn handle(&mut self, command: Command) {
        match command {
            Command::Request(request) => self.request(request),
            Command::Verified(request, outcome) => self.verified(request, outcome),
            Command::Published(snap, topics) => self.published(snap, topics),
            Command::Delivered {
                topic,
                callback,
                outcome,
            } => self.delivered(topic, callback, outcome),
        }
    }

    fn exists(&self, topic: &str, callback: &str) -> bool {
        self.subs
            .get(topic)
            .is_some_and(|s| s.contains_key(callback))
    }

    /// Why a new subscription would be over a limit; renewals never are.
    fn over_limit(&self, request: &Request) -> Option<&'static str> {
        let c = &self.config;
        if self.exists(&request.topic, request.callback.as_str()) {
            return None;
        }
        let host = request.callback.host_str();
        let on_host = (self.subs.values().flat_map(HashMap::values))
            .filter(|s| s.callback.host_str() == host)
            .count();
        let on_topic = self.subs.get(&request.topic).map_or(0, HashMap::len);
        if self.subscriptions() >= c.max_subscriptions {
            Some("the hub has as many subscriptions as it takes")
        } else if on_topic >= c.max_per_topic {
            Some("this topic has as many subscribers as the hub takes")
        } else if on_host >= c.max_per_callback_host {
            Some("this callback host has as many subscriptions as the hub takes")
        } else {
            None
        }
    }

    /// Tells the callback it is not subscribed, and why.
    fn deny(&self, request: Request, reason: &'static str) {
        let host = request.callback.host_str().unwrap_or("");
        tracing::info!(
            topic = request.topic,
            callback = host,
            reason,
            "websub: denied"
        );
        let _ = self.jobs.send(Job::Deny {
            topic: request.topic,
            callback: request.callback,
            reason,
        });
    }

    fn request(&mut self, request: Request) {
        let host = request.callback.host_str().unwrap_or("").to_string();
        if let Mode::Subscribe { .. } = request.mode
            && let Some(reason) = self.over_limit(&request)
        {
            return self.deny(request, reason);
        }
        if request.mode == Mode::Unsubscribe
            && !self.exists(&request.topic, request.callback.as_str())
        {
            return;
        }
        // Verifications waiting beyond this are dropped: the subscriber
        // asks again when it hears nothing.
        if self.verifying >= self.config.concurrency * 64 {
            tracing::warn!(
                callback = host,
                "websub: too many verifications under way; dropped"
            );
            return;
        }
        let mut bytes = [0u8; 24];
        if let Err(e) = getrandom::fill(&mut bytes) {
            tracing::error!("websub: no randomness for a challenge: {e}");
            return;
        }
        let challenge = super::hex(&bytes);
        self.verifying += 1;
        let _ = self.jobs.send(Job::Verify { request, challenge });
    }

    fn verified(&mut self, request: Request, outcome: Result<(), String>) {
        self.verifying = self.verifying.saturating_sub(1);
        let host = request.callback.host_str().unwrap_or("");
        let mode = request.mode.name();
        if let Err(why) = outcome {
            tracing::info!(
                mode,
                topic = request.topic,
                callback = host,
                why,
                "websub: not verified"
            );
            return;
        }
        tracing::info!(
            mode,
            topic = request.topic,
            callback = host,
            "websub: verified"
        );
        // The limits are checked again here, where a subscription is made:
        // at request time, verifications still under way are not counted
        // (found by the fifth attack: 20 at once all became subscriptions
        // past a limit of 3).
        if let Mode::Subscribe { .. } = request.mode
            && let Some(reason) = self.over_limit(&request)
        {
            return self.deny(request, reason);
        }
        let callback = request.callback.to_string();
        match request.mode {
            Mode::Subscribe { lease, secret } => {
                let expires = chrono::Utc::now().timestamp() + lease.as_secs() as i64;
                if let Some(store) = &self.store {
                    logged(store.subscribe(&Row {
                        topic: request.topic.clone(),
                        callback: callback.clone(),
                        secret: secret.as_ref().map(|s| s.0.clone()),
                        expires,
                    }));
                }
                let sub = Sub {
                    callback: request.callback,
                    secret,
                    expires,
                };
                self.subs
                    .entry(request.topic)
                    .or_default()
                    .insert(callback, sub);
            }
            Mode::Unsubscribe => self.end(&request.topic, &callback),
        }
    }

    /// Ends a subscription and what it was owed.
    fn end(&mut self, topic: &str, callback: &str) {
        if let Some(subs) = self.subs.get_mut(topic) {
            subs.remove(callback);
            if subs.is_empty() {
                self.subs.remove(topic);
            }
        }
        self.owed.remove(&(topic.to_string(), callback.to_string()));
        if let Some(store) = &mut self.store {
            logged(store.unsubscribe(topic, callback));
        }
    }

    fn published(&mut self, snap: Arc<Snapshot>, topics: Vec<String>) {
        self.snap = Some(snap);
        let now = now_ms();
        let mut fresh = Vec::new();
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
                        fresh.push(Owed {
                            topic: topic.clone(),
                            callback: callback.clone(),
                            attempts: 0,
                            due_ms: now,
                        });
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
        if let Some(store) = &mut self.store
            && !fresh.is_empty()
        {
            logged(store.owe(&fresh));
        }
    }

    fn delivered(&mut self, topic: String, callback: Url, outcome: Delivered) {
        self.delivering = self.delivering.saturating_sub(1);
        let key = (topic, callback.to_string());
        let host = callback.host_str().unwrap_or("");
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
                if let Some(store) = &self.store {
                    logged(store.settled(&key.0, &key.1));
                }
            }
            Delivered::Gone => {
                tracing::info!(
                    topic = key.0,
                    callback = host,
                    "websub: 410 Gone; unsubscribed"
                );
                self.end(&key.0, &key.1);
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
                    if let Some(store) = &self.store {
                        logged(store.settled(&key.0, &key.1));
                    }
                    return;
                }
                let delay = self.config.retry_delay.as_millis() as i64;
                owe.due_ms = now + delay.saturating_mul(1 << (attempts - 1).min(20));
                let row = Owed {
                    topic: key.0.clone(),
                    callback: key.1.clone(),
                    attempts,
                    due_ms: owe.due_ms,
                };
                if let Some(store) = &mut self.store {
                    logged(store.owe(&[row]));
                }
            }
        }
    }

    /// Ends the subscriptions whose lease has run out.
    fn expire(&mut self, now_ms: i64) {
        let now = now_ms / 1000;
        let ended: Vec<Key> = (self.subs.iter())
            .flat_map(|(t, subs)| subs.iter().map(move |(c, s)| (t, c, s)))
            .filter(|(_, _, s)| s.expires <= now)
            .map(|(t, c, _)| (t.clone(), c.clone()))
            .collect();
        for (topic, callback) in ended {
            tracing::info!(topic, "websub: lease ended");
            self.end(&topic, &callback);
        }
    }

    /// Hands what is due to the pool, up to [`Hub::most_delivering`].
    fn dispatch(&mut self, now: i64) {
        let Some(snap) = self.snap.clone() else {
            return;
        };
        let most = self.most_delivering();
        let due: Vec<Key> = (self.owed.iter())
            .filter(|(_, o)| !o.in_flight && o.due_ms <= now)
            .map(|(k, _)| k.clone())
            .take(most.saturating_sub(self.delivering))
            .collect();
        let mut documents: HashMap<&str, _> = HashMap::new();
        for key in &due {
            let Some(sub) = self.subs.get(&key.0).and_then(|s| s.get(&key.1)) else {
                self.owed.remove(key);
                continue;
            };
            let doc = documents
                .entry(key.0.as_str())
                .or_insert_with(|| topics::document(&snap, &key.0));
            let Some((doc, link)) = doc.clone() else {
                // The feed is gone: nothing left to deliver.
                self.owed.remove(key);
                if let Some(store) = &self.store {
                    logged(store.settled(&key.0, &key.1));
                }
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
                && let Some(owe) = self.owed.get_mut(key)
            {
                owe.in_flight = true;
                self.delivering += 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc::Receiver;

    const TOPIC: &str = "http://127.0.0.1:8080/rss.xml";
    const CALLBACK: &str = "https://reader.example/cb";

    /// A hub over the bundled examples with one subscriber of the site
    /// feed, no store, and the receiving end of its pool's queue.
    fn hub() -> (Hub, Receiver<Job>, Arc<Snapshot>) {
        let config = Config::default_embedded().unwrap();
        let snap = Arc::new(
            crate::snapshot::Pipeline::new(&config)
                .unwrap()
                .initial()
                .unwrap(),
        );
        let (jobs, queue) = std::sync::mpsc::channel();
        let mut hub = Hub::new(&config, None, jobs, Arc::default());
        let sub = Sub {
            callback: Url::parse(CALLBACK).unwrap(),
            secret: None,
            expires: chrono::Utc::now().timestamp() + 3600,
        };
        let subs = HashMap::from([(CALLBACK.to_string(), sub)]);
        hub.subs.insert(TOPIC.to_string(), subs);
        (hub, queue, snap)
    }

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
        let sub = Sub {
            callback: Url::parse(CALLBACK).unwrap(),
            secret: None,
            expires: chrono::Utc::now().timestamp() + 3600,
        };
        hub.subs
            .insert(gone.clone(), HashMap::from([(CALLBACK.to_string(), sub)]));
        hub.published(snap, vec![gone]);
        hub.dispatch(now_ms());
        assert_eq!(queue.try_iter().count(), 0);
        assert!(hub.owed.is_empty());
    }
}
