//! WebSub (W3C Recommendation): refeed as the hub of its own feeds, and
//! the publisher that tells other hubs of a change.
//!
//! Requests (`request`) are parsed and rate-limited on the actix worker
//! that received them and handed, answered 202, to the hub thread
//! (`hub`), the only one that changes subscriptions and the only writer of
//! their tables (`store`, in `state_dir`'s SQLite file). It hears of each
//! published snapshot from a `Live` listener, which names the topics whose
//! bytes changed (`topics`); every outbound request (verification of
//! intent, denial, delivery, a ping of another hub) runs on a fixed pool of
//! threads with a timeout each, through a client that refuses private
//! addresses after DNS (`outbound`), each callback host within its share
//! of them and in turn (`fair`). What changed is saved after each message,
//! and retried while the store fails (`saving`). No request handler ever
//! waits on the network or the database.

mod command;
mod fair;
mod hub;
mod outbound;
pub mod request;
mod saving;
mod store;
mod topics;

use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{SyncSender, TrySendError};
use std::time::{Duration, Instant};

use crate::config::Config;
use crate::live::OnPublish;
use crate::snapshot::Snapshot;

pub use request::Refused;

/// Requests waiting for the hub thread at most; beyond, 503.
const QUEUE: usize = 1024;

/// A subscription's topic and callback.
type Key = (String, String);

/// What `/healthz` shows of the hub.
#[derive(Debug, Default)]
pub struct Counts {
    subscriptions: AtomicU64,
    pending: AtomicU64,
    /// Deliveries given up after `websub.max_attempts`, since start.
    failed: AtomicU64,
    /// Subscriptions whose last change the state file does not have.
    unsaved: AtomicU64,
    /// Verifications and denials dropped with too many waiting, since
    /// start.
    dropped: AtomicU64,
}

/// [`Counts`] as read at one moment.
#[derive(Debug, Clone, Copy)]
pub struct Figures {
    pub subscriptions: u64,
    pub pending: u64,
    pub failed: u64,
    pub unsaved: u64,
    pub dropped: u64,
}

impl Counts {
    pub fn read(&self) -> Figures {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        Figures {
            subscriptions: get(&self.subscriptions),
            pending: get(&self.pending),
            failed: get(&self.failed),
            unsaved: get(&self.unsaved),
            dropped: get(&self.dropped),
        }
    }
}

/// Lower-case hex, for challenges and signatures.
fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The handle request handlers and the publisher hold.
pub struct Hub {
    commands: SyncSender<command::Command>,
    limiter: request::Limiter,
    counts: Arc<Counts>,
    /// `enabled` says whether refeed answers subscriptions itself, or
    /// only pings other hubs.
    config: crate::config::WebSub,
}

impl Hub {
    /// Starts the hub thread and its pool when refeed runs a hub or pings
    /// others; `None` when it does neither. Subscriptions and pending
    /// deliveries are read back from the store before anything else.
    pub fn start(config: &Config) -> Option<Arc<Hub>> {
        let ws = &config.websub;
        if !ws.enabled && ws.hubs.is_empty() {
            return None;
        }
        let counts = Arc::new(Counts::default());
        let store = ws.enabled.then(|| store::Store::open(config)).flatten();
        let commands = hub::spawn(config, store, counts.clone());
        Some(Arc::new(Hub {
            commands,
            limiter: request::Limiter::new(ws.requests_per_minute),
            counts,
            config: ws.clone(),
        }))
    }

    /// The path subscription requests come to, when refeed runs a hub.
    pub fn path(&self) -> Option<&str> {
        self.config.enabled.then_some(self.config.path.as_str())
    }

    pub fn counts(&self) -> &Counts {
        &self.counts
    }

    /// A subscription request's form body from `client`: accepted (to be
    /// verified with the subscriber) or refused with a reason.
    pub fn request(&self, body: &[u8], client: IpAddr, snap: &Snapshot) -> Result<(), Refused> {
        if !self.limiter.admit(client) {
            return Err(Refused::TooMany);
        }
        let request = request::parse(body, &self.config, |t| topics::is_topic(snap, t))?;
        match self.commands.try_send(command::Command::Request(request)) {
            Ok(()) => Ok(()),
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => Err(Refused::Busy),
        }
    }

    /// Has the hub thread save what it holds unsaved and end, waiting at
    /// most `within` for it: after a graceful stop, the next process
    /// starts from what this one acknowledged, as far as the store takes
    /// it (found by the sixth attack: nothing was saved at a stop).
    pub fn stop(&self, within: Duration) {
        let deadline = Instant::now() + within;
        let (done, stopped) = std::sync::mpsc::channel();
        let mut command = command::Command::Stop(done);
        // A full inbox empties as the thread works; a gone thread has
        // nothing to save.
        loop {
            match self.commands.try_send(command) {
                Ok(()) => break,
                Err(TrySendError::Full(c)) if Instant::now() < deadline => {
                    command = c;
                    std::thread::sleep(Duration::from_millis(10));
                }
                Err(TrySendError::Full(_)) => {
                    tracing::warn!(
                        "websub: the hub was too busy to stop; unsaved changes are lost"
                    );
                    return;
                }
                Err(TrySendError::Disconnected(_)) => return,
            }
        }
        if stopped
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            .is_err()
        {
            tracing::warn!("websub: the hub did not stop in time; what it holds unsaved is lost");
        }
    }

    /// The listener that tells the hub thread of each published snapshot
    /// and of the topics whose bytes it changed.
    pub fn on_publish(self: &Arc<Self>) -> OnPublish {
        let changes = topics::Changes::default();
        let commands = self.commands.clone();
        Box::new(move |snap| {
            let topics = changes.next(snap);
            // A full queue blocks this (reload) thread, never a request;
            // a stopped hub thread has nothing left to tell.
            let _ = commands.send(command::Command::Published(snap.clone(), topics));
        })
    }
}
