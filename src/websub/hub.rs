//! The hub thread: the one owner of the subscriptions and of what is owed
//! to them, in memory and in the store. It takes requests, verification
//! and delivery outcomes and published snapshots as messages, hands
//! outbound work to the pool as each callback host's turn and room allow
//! (`fair`), saves what changed (`saving`), and wakes for retries, lease
//! ends and saves that failed.

use std::collections::HashMap;
use std::ops::ControlFlow;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, SyncSender};
use std::time::Duration;

use url::Url;

use super::command::Command;
use super::fair::{self, Hosts};
use super::outbound::{self, Job};
use super::request::{Mode, Request, Secret};
use super::saving::{Current, Saving};
use super::store::{Owed, Row, Store};
use super::{Counts, Key, QUEUE};
use crate::config::{Config, WebSub};
use crate::snapshot::Snapshot;

mod asking;
mod delivery;

use asking::Asking;

/// The longest the thread sleeps with nothing due, so that a clock jump
/// cannot hold a lease end or a retry for long.
const IDLE: Duration = Duration::from_secs(60);

struct Sub {
    callback: Url,
    /// The callback's [`fair::party`], kept since it is asked for often.
    party: String,
    secret: Option<Secret>,
    /// Unix seconds.
    expires: i64,
}

impl Sub {
    fn new(callback: Url, secret: Option<Secret>, expires: i64) -> Sub {
        Sub {
            party: fair::party(&callback),
            callback,
            secret,
            expires,
        }
    }
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

struct Hub {
    config: WebSub,
    /// `None` when the state file is unusable: every subscription is then
    /// unsaved.
    saving: Option<Saving>,
    /// By topic, then callback.
    subs: HashMap<String, HashMap<String, Sub>>,
    owed: HashMap<Key, Owe>,
    /// Verifications and denials waiting for their host's room.
    asking: Asking,
    /// Verifications and denials waiting here or in the pool.
    verifying: usize,
    delivering: usize,
    hosts: Hosts,
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

impl Hub {
    /// A hub with no subscription yet, before [`Hub::restore`].
    fn new(config: &Config, store: Option<Store>, jobs: Sender<Job>, counts: Arc<Counts>) -> Hub {
        Hub {
            config: config.websub.clone(),
            saving: store.map(Saving::new),
            subs: HashMap::new(),
            owed: HashMap::new(),
            asking: Asking::new(),
            verifying: 0,
            delivering: 0,
            hosts: Hosts::new(config.websub.concurrency),
            snap: None,
            jobs,
            counts,
        }
    }

    fn restore(&mut self) {
        let Some(saving) = &self.saving else { return };
        let (rows, owed) = match saving.load() {
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
            let sub = Sub::new(callback, row.secret.map(Secret), row.expires);
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
                Ok(command) => {
                    if let ControlFlow::Break(stopped) = self.handle(command) {
                        self.stop();
                        let _ = stopped.send(());
                        return;
                    }
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => return,
            }
            let now = now_ms();
            self.expire(now);
            // What is owed is saved before it is sent; what sending settles
            // (a feed gone) is saved after.
            self.save(now);
            self.dispatch(now);
            self.save(now);
            self.count();
        }
    }

    fn subscriptions(&self) -> usize {
        self.subs.values().map(HashMap::len).sum()
    }

    fn count(&self) {
        let c = &self.counts;
        let subscriptions = self.subscriptions();
        let unsaved = self.saving.as_ref().map_or(subscriptions, Saving::unsaved);
        c.subscriptions
            .store(subscriptions as u64, Ordering::Relaxed);
        c.pending.store(self.owed.len() as u64, Ordering::Relaxed);
        c.unsaved.store(unsaved as u64, Ordering::Relaxed);
    }

    fn sub(&self, (topic, callback): &Key) -> Option<&Sub> {
        self.subs.get(topic)?.get(callback)
    }

    /// Writes what changed to the store; see [`Saving::save`].
    fn save(&mut self, now: i64) {
        let Some(saving) = &mut self.saving else {
            return;
        };
        let (subs, owed) = (&self.subs, &self.owed);
        saving.save(now, |key| Current {
            subscription: (subs.get(&key.0)).and_then(|s| s.get(&key.1)).map(|s| Row {
                topic: key.0.clone(),
                callback: key.1.clone(),
                secret: s.secret.as_ref().map(|s| s.0.clone()),
                expires: s.expires,
            }),
            owed: owed.get(key).map(|o| Owed {
                topic: key.0.clone(),
                callback: key.1.clone(),
                attempts: o.attempts,
                due_ms: o.due_ms,
            }),
        });
    }

    /// The last save, due or not: what the store has now is what the next
    /// process starts from (found by the sixth attack: a stop soon after
    /// the disk recovered lost unsaved subscriptions and brought ended
    /// ones back).
    fn stop(&mut self) {
        let Some(saving) = &mut self.saving else {
            return;
        };
        saving.retry_now();
        self.save(now_ms());
        self.count();
        let unsaved = self.saving.as_ref().map_or(0, Saving::unsaved);
        if unsaved > 0 {
            tracing::warn!(
                unsaved,
                "websub: stopped with subscriptions unsaved; their last change is lost"
            );
        }
    }

    fn subscription_changed(&mut self, key: &Key) {
        if let Some(saving) = &mut self.saving {
            saving.subscription_changed(key);
        }
    }

    fn owed_changed(&mut self, key: &Key) {
        if let Some(saving) = &mut self.saving {
            saving.owed_changed(key);
        }
    }

    /// The next retry, lease end or save, Unix milliseconds. Retries
    /// count only when they could be sent: before the first snapshot, with
    /// the queue full or their host's room taken, the thread waits for a
    /// message rather than spinning.
    fn next_wake(&self) -> Option<i64> {
        let sendable = self.snap.is_some() && self.delivering < self.most_delivering();
        let retries = (self.owed.iter())
            .filter(|(key, o)| {
                let room = |s: &Sub| self.hosts.room(&s.party) > 0;
                sendable && !o.in_flight && self.sub(key).is_none_or(room)
            })
            .map(|(_, o)| o.due_ms);
        let leases = self
            .subs
            .values()
            .flat_map(HashMap::values)
            .map(|s| s.expires.saturating_mul(1000));
        let save = self.saving.as_ref().and_then(Saving::next_retry);
        retries.chain(leases).chain(save).min()
    }

    /// Takes a message; breaks with where to say so when it is to stop.
    fn handle(&mut self, command: Command) -> ControlFlow<Sender<()>> {
        match command {
            Command::Request(request) => self.request(request),
            Command::Verified(request, outcome) => self.verified(request, outcome),
            Command::Denied { party } => {
                self.verifying = self.verifying.saturating_sub(1);
                self.hosts.done(&party);
            }
            Command::Published(snap, topics) => self.published(snap, topics),
            Command::Delivered {
                topic,
                callback,
                outcome,
            } => self.delivered(topic, callback, outcome),
            Command::Stop(stopped) => return ControlFlow::Break(stopped),
        }
        ControlFlow::Continue(())
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
        let party = fair::party(&request.callback);
        let on_party = (self.subs.values().flat_map(HashMap::values))
            .filter(|s| s.party == party)
            .count();
        let on_topic = self.subs.get(&request.topic).map_or(0, HashMap::len);
        if self.subscriptions() >= c.max_subscriptions {
            Some("the hub has as many subscriptions as it takes")
        } else if on_topic >= c.max_per_topic {
            Some("this topic has as many subscribers as the hub takes")
        } else if on_party >= c.max_per_callback_host {
            Some("this callback host has as many subscriptions as the hub takes")
        } else {
            None
        }
    }

    /// Tells the callback it is not subscribed, and why.
    fn deny(&mut self, request: Request, reason: &'static str) {
        let host = request.callback.host_str().unwrap_or("");
        tracing::info!(
            topic = request.topic,
            callback = host,
            reason,
            "websub: denied"
        );
        self.ask(Job::Deny {
            topic: request.topic,
            callback: request.callback,
            reason,
        });
    }

    /// Queues a verification or denial for its host's turn. Beyond
    /// `concurrency` × 64 waiting or under way, the host with the most
    /// waiting loses its oldest, counted: a slow host delays its own
    /// requests, and its subscribers ask again when they hear nothing.
    fn ask(&mut self, job: Job) {
        let party = self.asking.push(job);
        if self.verifying < self.config.concurrency * 64 {
            self.verifying += 1;
            return;
        }
        if let Some(dropped) = self.asking.drop_from_busiest(&party) {
            self.counts.dropped.fetch_add(1, Ordering::Relaxed);
            let host = dropped.callback().and_then(Url::host_str).unwrap_or("");
            tracing::warn!(
                callback = host,
                "websub: too many verifications waiting; this host's oldest dropped"
            );
        }
    }

    fn request(&mut self, request: Request) {
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
        let mut bytes = [0u8; 24];
        if let Err(e) = getrandom::fill(&mut bytes) {
            tracing::error!("websub: no randomness for a challenge: {e}");
            return;
        }
        let challenge = super::hex(&bytes);
        self.ask(Job::Verify { request, challenge });
    }

    fn verified(&mut self, request: Request, outcome: Result<(), String>) {
        self.verifying = self.verifying.saturating_sub(1);
        self.hosts.done(&fair::party(&request.callback));
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
                self.subscription_changed(&(request.topic.clone(), callback.clone()));
                let sub = Sub::new(request.callback, secret, expires);
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
        let key = (topic.to_string(), callback.to_string());
        self.owed.remove(&key);
        self.subscription_changed(&key);
        self.owed_changed(&key);
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

    /// Hands the pool what its hosts have room for: verifications and
    /// denials first, oldest first, then what is due.
    fn dispatch(&mut self, now: i64) {
        while let Some((party, job)) = self.asking.next(|party| self.hosts.room(party) > 0) {
            if self.jobs.send(job).is_ok() {
                self.hosts.took(&party);
            } else {
                self.verifying = self.verifying.saturating_sub(1);
            }
        }
        self.deliver(now);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc::Receiver;

    use super::*;
    use crate::websub::request::Secret;

    pub(super) const TOPIC: &str = "http://127.0.0.1:8080/rss.xml";
    pub(super) const CALLBACK: &str = "https://reader.example/cb";

    /// A hub over the bundled examples as `config` says, its store opened
    /// as `state_dir` says, no subscription, and the receiving end of its
    /// pool's queue.
    fn hub_on(config: &Config) -> (Hub, Receiver<Job>, Arc<Snapshot>) {
        let snap = Arc::new(
            crate::snapshot::Pipeline::new(config)
                .unwrap()
                .initial()
                .unwrap(),
        );
        let (jobs, queue) = std::sync::mpsc::channel();
        let store = config
            .state_dir
            .is_some()
            .then(|| Store::open(config))
            .flatten();
        let mut hub = Hub::new(config, store, jobs, Arc::default());
        hub.restore();
        (hub, queue, snap)
    }

    /// [`hub_on`] the defaults, no store, `CALLBACK` subscribed to `TOPIC`.
    pub(super) fn hub() -> (Hub, Receiver<Job>, Arc<Snapshot>) {
        let (mut hub, queue, snap) = hub_on(&Config::default_embedded().unwrap());
        subscribe(&mut hub, TOPIC, CALLBACK);
        (hub, queue, snap)
    }

    /// A verified subscription, in memory only.
    pub(super) fn subscribe(hub: &mut Hub, topic: &str, callback: &str) {
        let expires = chrono::Utc::now().timestamp() + 3600;
        let sub = Sub::new(Url::parse(callback).unwrap(), None, expires);
        let subs = hub.subs.entry(topic.to_string()).or_default();
        subs.insert(callback.to_string(), sub);
    }

    pub(super) fn request(callback: &str, mode: Mode) -> Request {
        Request {
            mode,
            topic: TOPIC.into(),
            callback: Url::parse(callback).unwrap(),
        }
    }

    pub(super) fn subscription(secret: &[u8]) -> Mode {
        Mode::Subscribe {
            lease: Duration::from_secs(3600),
            secret: Some(Secret(secret.to_vec())),
        }
    }

    /// Found by the fifth attack: a subscription verified while the
    /// state disk was full was kept in memory only, unreported, and gone
    /// after a restart.
    #[test]
    fn a_subscription_verified_while_the_store_fails_is_counted_and_saved_later() {
        let state = tempfile::tempdir().unwrap();
        let mut config = Config::default_embedded().unwrap();
        config.state_dir = Some(state.path().to_path_buf());
        let (mut hub, _queue, snap) = hub_on(&config);
        let refuse = |hub: &Hub, refuse| hub.saving.as_ref().unwrap().refuse_writes(refuse);
        let next_retry = |hub: &Hub| hub.saving.as_ref().and_then(Saving::next_retry);
        let unsaved = |hub: &Hub| {
            hub.count();
            hub.counts.read().unsaved
        };

        refuse(&hub, true);
        let t0 = now_ms();
        hub.verified(request(CALLBACK, subscription(b"\xffkey")), Ok(()));
        hub.published(snap, vec![TOPIC.into()]);
        hub.save(t0);
        assert_eq!(hub.subscriptions(), 1, "served from memory");
        assert_eq!(hub.owed.len(), 1);
        assert_eq!(unsaved(&hub), 1);
        // Retried at growing intervals, never before they are due.
        assert_eq!(next_retry(&hub), Some(t0 + 1000));
        hub.save(t0 + 999);
        assert_eq!(next_retry(&hub), Some(t0 + 1000));
        hub.save(t0 + 1000);
        assert_eq!(next_retry(&hub), Some(t0 + 3000));
        refuse(&hub, false);
        hub.save(t0 + 2999);
        assert_eq!(unsaved(&hub), 1, "not retried before it was due");
        hub.save(t0 + 3000);
        assert_eq!((unsaved(&hub), next_retry(&hub)), (0, None));
        let (restarted, _, _) = hub_on(&config);
        let sub = restarted.sub(&(TOPIC.into(), CALLBACK.into())).unwrap();
        assert_eq!(sub.secret, Some(Secret(b"\xffkey".to_vec())));
        assert_eq!(restarted.owed.len(), 1, "what it was owed, too");

        // An unsubscription is no different.
        refuse(&hub, true);
        hub.verified(request(CALLBACK, Mode::Unsubscribe), Ok(()));
        hub.save(t0 + 4000);
        assert_eq!(unsaved(&hub), 1);
        refuse(&hub, false);
        hub.save(t0 + 5000);
        assert_eq!(unsaved(&hub), 0);
        let (restarted, _, _) = hub_on(&config);
        assert_eq!((restarted.subscriptions(), restarted.owed.len()), (0, 0));
    }

    /// Found by the sixth attack: a graceful stop saved nothing, so with
    /// the disk back but the next retry not yet due, a restart lost a
    /// subscription and brought back one that had ended.
    #[test]
    fn a_stop_saves_what_the_store_missed_while_it_failed() {
        let state = tempfile::tempdir().unwrap();
        let mut config = Config::default_embedded().unwrap();
        config.state_dir = Some(state.path().to_path_buf());
        let (mut hub, _queue, _snap) = hub_on(&config);
        let ended = "https://ended.example/cb";
        hub.verified(request(ended, subscription(b"k")), Ok(()));
        hub.save(now_ms());
        assert_eq!(hub.saving.as_ref().unwrap().unsaved(), 0);

        hub.saving.as_ref().unwrap().refuse_writes(true);
        hub.verified(request(CALLBACK, subscription(b"k")), Ok(()));
        hub.verified(request(ended, Mode::Unsubscribe), Ok(()));
        hub.save(now_ms());
        assert_eq!(hub.saving.as_ref().unwrap().unsaved(), 2);
        hub.saving.as_ref().unwrap().refuse_writes(false);

        // Stopped as the server stops it, through its inbox.
        let (commands, inbox) = std::sync::mpsc::sync_channel(1);
        let thread = std::thread::spawn(move || hub.run(&inbox));
        let (done, stopped) = std::sync::mpsc::channel();
        commands.send(Command::Stop(done)).unwrap();
        stopped.recv().unwrap();
        thread.join().unwrap();

        let (restarted, _, _) = hub_on(&config);
        let subscribed: Vec<&String> = restarted.subs.values().flat_map(HashMap::keys).collect();
        assert_eq!(subscribed, [CALLBACK]);
    }

    #[test]
    fn without_a_store_every_subscription_is_unsaved() {
        let (hub, _queue, _snap) = hub();
        hub.count();
        assert_eq!(hub.counts.read().unsaved, 1);
    }

    /// Found by the fifth attack: verifications waited behind a slow
    /// host's jobs as deliveries did.
    #[test]
    fn verifications_wait_for_their_own_hosts_room_only() {
        let (mut hub, queue, _snap) = hub();
        for i in 0..10 {
            let callback = format!("https://slow.example/{i}");
            hub.request(request(&callback, subscription(b"k")));
        }
        hub.request(request("https://fast.example/cb", subscription(b"k")));
        let verifications = |queue: &Receiver<Job>| -> Vec<Url> {
            (queue.try_iter())
                .filter_map(|j| match j {
                    Job::Verify { request, .. } => Some(request.callback),
                    _ => None,
                })
                .collect()
        };
        hub.dispatch(now_ms());
        let sent = verifications(&queue);
        let share = fair::per_host(hub.config.concurrency);
        let on = |host: &str| sent.iter().filter(|u| u.host_str() == Some(host)).count();
        assert_eq!((on("slow.example"), on("fast.example")), (share, 1));
        let back = sent[0].clone();
        hub.verified(
            request(back.as_str(), subscription(b"k")),
            Err("timed out".into()),
        );
        hub.dispatch(now_ms());
        let next = verifications(&queue);
        assert_eq!(next.len(), 1);
        assert_eq!(next[0].host_str(), back.host_str());
    }

    /// Found by the re-attack of the sixth: each name of one domain had
    /// a `max_per_callback_host` of its own.
    #[test]
    fn the_callback_host_limit_counts_every_name_of_a_domain() {
        let (mut hub, queue, _snap) = hub();
        hub.config.max_per_callback_host = 2;
        subscribe(&mut hub, TOPIC, "https://a.evil.example/cb");
        subscribe(&mut hub, TOPIC, "https://evil.example/cb");
        hub.request(request("https://b.evil.example/cb", subscription(b"k")));
        hub.request(request("https://other.example/cb", subscription(b"k")));
        hub.dispatch(now_ms());
        let sent: Vec<(&str, String)> = (queue.try_iter())
            .filter_map(|j| match j {
                Job::Deny { callback, .. } => Some(("deny", callback.to_string())),
                Job::Verify { request, .. } => Some(("verify", request.callback.to_string())),
                _ => None,
            })
            .collect();
        let want = [
            ("deny", "https://b.evil.example/cb".to_string()),
            ("verify", "https://other.example/cb".to_string()),
        ];
        assert_eq!(sent, want);
    }
}
