//! Who subscribes to each feed. An aggregator says how many of its users
//! follow a feed in its User-Agent (`agent`); everyone else is counted as
//! a distinct poller, known only by a keyed hash of feed, address and
//! User-Agent, over `stats.window_days` days.
//!
//! A request costs one hash and one look-up in a concurrent map
//! ([`Recorder::record`]); the first request of a poller since the last
//! flush also parses its User-Agent, hashes its address alone (what its
//! address's share is kept by) and inserts it, up to
//! [`MAX_PENDING`] pollers between flushes. Nothing on the request path
//! touches SQLite or takes a lock: the stats thread ([`start`]) drains the
//! map every [`FLUSH_EVERY`] and at shutdown into daily rows in the state
//! file (`store`), reads the counts back into [`Counts`] (what
//! `refeed stats`, the index page and metrics show), and renders the index
//! page with them.

pub mod agent;
pub mod report;
pub mod store;

use std::collections::BTreeMap;
use std::hash::Hasher;
use std::net::IpAddr;
use std::sync::atomic::{AtomicI64, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use arc_swap::{ArcSwap, ArcSwapOption};
use chrono::Utc;
use siphasher::sip::SipHasher13;

use crate::config::Config;
use crate::live::Live;
use crate::render::{Document, Earlier};
use crate::snapshot::Snapshot;
use store::{Seen, Store, StoreError, Who};

/// How often what was recorded is written and the counts read back.
pub const FLUSH_EVERY: Duration = Duration::from_secs(60);

/// Distinct pollers held in memory between two flushes (about 200 bytes
/// each); beyond, new ones wait for the next interval.
pub const MAX_PENDING: usize = 65_536;

/// New pollers one address may add between two flushes, with
/// `stats.per_address` set: one client with many made-up User-Agents
/// fills at most this share of [`MAX_PENDING`], not all of it, each
/// minute.
pub const MAX_PENDING_PER_ADDRESS: usize = MAX_PENDING / 64;

/// Longest aggregator group kept (a feed id, else the document path).
const MAX_GROUP_BYTES: usize = 128;

/// The most subscribers one feed is said to have: aggregators' groups are
/// summed, and however many made-up ones get in, every place that shows a
/// count (index, feed page, `refeed stats`, `/metrics`) shows this one
/// value rather than an overflowed or differently clamped one.
pub const MAX_TOTAL: u64 = 1_000_000_000;

/// One feed's subscribers over the window.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct FeedCount {
    /// Each aggregator's own count: for each of its groups (feed ids)
    /// the latest, summed.
    pub aggregators: BTreeMap<String, u64>,
    /// Distinct other pollers (address and User-Agent).
    pub pollers: u64,
}

impl FeedCount {
    /// Aggregators and pollers together, at most [`MAX_TOTAL`].
    pub fn total(&self) -> u64 {
        self.aggregators
            .values()
            .fold(self.pollers, |sum, n| sum.saturating_add(*n))
            .min(MAX_TOTAL)
    }
}

/// Every feed's subscribers, by the folder the feed is served from (empty
/// for the site feed, `categories/a/` and `tags/b/` below it): what the
/// index page, `refeed stats` and metrics show.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Counts {
    pub window_days: u32,
    pub feeds: BTreeMap<String, FeedCount>,
}

/// The unix time now, in seconds.
fn unix_now() -> i64 {
    Utc::now().timestamp()
}

/// A poller seen since the last flush.
struct Pending {
    feed: Box<str>,
    source: Option<u64>,
    at: AtomicI64,
    who: Who,
}

/// What requests write into: a bounded concurrent map of the pollers seen
/// since the last flush.
pub struct Recorder {
    key: [u8; 16],
    pending: papaya::HashMap<u64, Pending>,
    held: AtomicUsize,
    left_out: AtomicU64,
    /// New pollers held per address (by [`Recorder::source`]), when
    /// addresses are kept to a share; at most one entry per held poller.
    by_source: Option<papaya::HashMap<u64, AtomicUsize>>,
}

impl Recorder {
    /// `shared`: each address is kept to [`MAX_PENDING_PER_ADDRESS`]
    /// (`stats.per_address` set; not behind a reverse proxy).
    pub fn new(key: [u8; 16], shared: bool) -> Self {
        Recorder {
            key,
            pending: papaya::HashMap::new(),
            held: AtomicUsize::new(0),
            left_out: AtomicU64::new(0),
            by_source: shared.then(papaya::HashMap::new),
        }
    }

    /// A request for `document`, of the feed served from folder `feed`.
    pub fn record(&self, feed: &str, document: &str, peer: Option<IpAddr>, agent: &[u8]) {
        let now = unix_now();
        let mut h = SipHasher13::new_with_key(&self.key);
        h.write(feed.as_bytes());
        h.write_u8(0xff);
        match peer {
            Some(IpAddr::V4(a)) => h.write(&a.octets()),
            Some(IpAddr::V6(a)) => h.write(&a.octets()),
            None => {}
        }
        h.write_u8(0xff);
        h.write(agent);
        let hash = h.finish();
        let pending = self.pending.pin();
        if let Some(seen) = pending.get(&hash) {
            seen.at.fetch_max(now, Ordering::Relaxed);
            return;
        }
        if self.held.fetch_add(1, Ordering::Relaxed) >= MAX_PENDING {
            self.held.fetch_sub(1, Ordering::Relaxed);
            self.left_out.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let source = peer.map(|peer| self.source(peer));
        let by_source = self.by_source.as_ref().map(|m| m.pin());
        let share = by_source
            .as_ref()
            .zip(source)
            .map(|(m, source)| m.get_or_insert_with(source, || AtomicUsize::new(0)));
        if let Some(share) = share
            && share.fetch_add(1, Ordering::Relaxed) >= MAX_PENDING_PER_ADDRESS
        {
            share.fetch_sub(1, Ordering::Relaxed);
            self.held.fetch_sub(1, Ordering::Relaxed);
            self.left_out.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let who = match agent::parse(agent) {
            Some(report) => {
                let mut group = report.feed_id.unwrap_or_else(|| document.to_string());
                group.truncate(group.floor_char_boundary(MAX_GROUP_BYTES));
                Who::Aggregator {
                    name: report.aggregator,
                    group: group.into(),
                    subscribers: report.subscribers,
                }
            }
            None => Who::Poller(hash),
        };
        let fresh = Pending {
            feed: feed.into(),
            source,
            at: AtomicI64::new(now),
            who,
        };
        if let Err(taken) = pending.try_insert(hash, fresh) {
            // Another request of the same poller was first.
            self.held.fetch_sub(1, Ordering::Relaxed);
            if let Some(share) = share {
                share.fetch_sub(1, Ordering::Relaxed);
            }
            taken.current.at.fetch_max(now, Ordering::Relaxed);
        }
    }

    /// The keyed hash of an address alone, which an address's share of
    /// each feed's day is kept by (`stats.per_address`). Its own
    /// prefix keeps it apart from poller hashes.
    fn source(&self, peer: IpAddr) -> u64 {
        let mut h = SipHasher13::new_with_key(&self.key);
        h.write(b"source\xff");
        match peer {
            IpAddr::V4(a) => h.write(&a.octets()),
            IpAddr::V6(a) => h.write(&a.octets()),
        }
        h.finish()
    }

    /// Takes everything recorded so far, and how many pollers the bound
    /// left out.
    fn drain(&self) -> (Vec<Seen>, u64) {
        let pending = self.pending.pin();
        let keys: Vec<u64> = pending.keys().copied().collect();
        let mut seen = Vec::with_capacity(keys.len());
        for key in keys {
            if let Some(p) = pending.remove(&key) {
                self.held.fetch_sub(1, Ordering::Relaxed);
                seen.push(Seen {
                    feed: p.feed.clone(),
                    source: p.source,
                    at: p.at.load(Ordering::Relaxed),
                    who: p.who.clone(),
                });
            }
        }
        if let Some(by_source) = &self.by_source {
            by_source.pin().clear();
        }
        (seen, self.left_out.swap(0, Ordering::Relaxed))
    }
}

/// The index page with counts, for one snapshot.
struct Index {
    generation: u64,
    counts: Arc<Counts>,
    doc: Arc<Document>,
}

/// What `serve` shares between requests, the publishing thread and the
/// stats thread.
pub struct Subscribers {
    pub recorder: Recorder,
    counts: ArcSwap<Counts>,
    index: ArcSwapOption<Index>,
    /// Held while the index is rendered, by the two background threads
    /// that do it; never by a request.
    rendering: Mutex<()>,
}

impl Subscribers {
    /// The counts as of the last flush.
    pub fn counts(&self) -> Arc<Counts> {
        self.counts.load_full()
    }

    /// The index page with counts. Right after a publish it may still be
    /// the previous snapshot's, for as long as the publishing thread takes
    /// to render the next one: as for a request that began before the
    /// publish, never the snapshot's own index without counts, which may
    /// be dated earlier than the counted one a client holds.
    pub fn index(&self) -> Option<Arc<Document>> {
        self.index.load().as_ref().map(|index| index.doc.clone())
    }

    /// Renders the index of `snap` with the current counts, unless the one
    /// held is of the same snapshot and counts. Its `Last-Modified` moves
    /// forward with its bytes, like any document's.
    pub fn refresh_index(&self, snap: &Snapshot) {
        let _one_at_a_time = self.rendering.lock().unwrap_or_else(|p| p.into_inner());
        let counts = self.counts();
        let held = self.index.load_full();
        if let Some(held) = &held
            && (held.generation > snap.generation
                || (held.generation == snap.generation && held.counts == counts))
        {
            return;
        }
        let summaries = snap.feeds.values().map(|f| {
            let mut summary = f.summary();
            summary.subscribers = snap
                .routes()
                .feed_dir(&f.channel.key)
                .and_then(|dir| counts.feeds.get(dir))
                .map(FeedCount::total);
            summary
        });
        let html = crate::pages::index(&snap.site, summaries);
        let doc = Document::new(
            html.into_bytes(),
            snap.index.content_type,
            snap.index.last_modified,
        );
        let before = held.map_or_else(|| snap.index.validator(), |h| h.doc.validator());
        let doc = doc.after(Earlier::Served(&before), Utc::now());
        self.index.store(Some(Arc::new(Index {
            generation: snap.generation,
            counts,
            doc: Arc::new(doc),
        })));
    }
}

/// The stats thread; dropping it writes what is left and stops it.
pub struct Flusher {
    stop: Option<mpsc::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for Flusher {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Opens the counts in `state_dir` for `serve`: `None` when `stats.enabled`
/// is false, or (with a warning) when the state file cannot be used.
pub fn open(config: &Config) -> Option<(Arc<Subscribers>, Store)> {
    if !config.stats.enabled {
        return None;
    }
    let opened = (|| -> Result<_, StoreError> {
        let dir = crate::state::dir(config)?;
        let store = Store::open(&dir, &crate::state::scope(config))?
            .with_per_address(config.stats.per_address);
        let key = store.key()?;
        let counts = store.counts(config.stats.window_days, store::day(unix_now()))?;
        Ok((store, key, counts))
    })();
    match opened {
        Ok((store, key, counts)) => {
            let subscribers = Subscribers {
                recorder: Recorder::new(key, config.stats.per_address.is_some()),
                counts: ArcSwap::from_pointee(counts),
                index: ArcSwapOption::empty(),
                rendering: Mutex::new(()),
            };
            Some((Arc::new(subscribers), store))
        }
        Err(e) => {
            tracing::warn!("state_dir unusable ({e}); subscribers are not counted");
            None
        }
    }
}

/// Starts the stats thread: every [`FLUSH_EVERY`], and once more when the
/// returned [`Flusher`] drops, it stores what was recorded, reads the
/// counts back and renders the index with them.
pub fn start(
    config: &Config,
    subscribers: Arc<Subscribers>,
    mut store: Store,
    live: Arc<Live>,
) -> std::io::Result<Flusher> {
    let window_days = config.stats.window_days;
    let (stop, stopped) = mpsc::channel::<()>();
    let thread = std::thread::Builder::new()
        .name("refeed-stats".into())
        .spawn(move || {
            let mut flushing = Flushing::default();
            loop {
                let last = !matches!(
                    stopped.recv_timeout(FLUSH_EVERY),
                    Err(mpsc::RecvTimeoutError::Timeout)
                );
                flushing.flush(&subscribers, &mut store, window_days);
                if let Some(snap) = live.current() {
                    subscribers.refresh_index(&snap);
                }
                if last {
                    break;
                }
            }
        })?;
    Ok(Flusher {
        stop: Some(stop),
        thread: Some(thread),
    })
}

/// What one flush did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flushed {
    Saved,
    /// Saved, after writes that failed: what they held is in this one.
    SavedAgain,
    Failed,
}

/// The stats thread's memory between flushes: what a failed write held,
/// written with the next flush. At most [`MAX_PENDING`] are held: while
/// the disk stays full, the oldest are kept and the newest not counted.
#[derive(Default)]
struct Flushing {
    unsaved: Vec<Seen>,
    failing: bool,
}

impl Flushing {
    /// One flush. A failed write keeps what it held (logged once until a
    /// write succeeds again); "saved again" is said only once a write that
    /// held it has committed.
    fn flush(&mut self, subscribers: &Subscribers, store: &mut Store, window_days: u32) -> Flushed {
        let (seen, mut left_out) = subscribers.recorder.drain();
        let room = MAX_PENDING.saturating_sub(self.unsaved.len());
        left_out += seen.len().saturating_sub(room) as u64;
        self.unsaved.extend(seen.into_iter().take(room));
        let today = store::day(unix_now());
        let saved = store
            .save(&self.unsaved, window_days, today)
            .and_then(|capped| Ok((capped, store.counts(window_days, today)?)));
        let (capped, counts) = match saved {
            Ok(saved) => saved,
            Err(e) => {
                if !self.failing {
                    tracing::warn!("cannot save subscriber counts, will retry each minute: {e}");
                }
                self.failing = true;
                if left_out > 0 {
                    tracing::debug!("{left_out} pollers not counted while counts cannot be saved");
                }
                return Flushed::Failed;
            }
        };
        let held = std::mem::take(&mut self.unsaved);
        let flushed = if self.failing && !held.is_empty() {
            tracing::info!("subscriber counts saved again");
            self.failing = false;
            Flushed::SavedAgain
        } else {
            Flushed::Saved
        };
        if left_out + capped > 0 {
            tracing::warn!(
                "{} pollers not counted: more than {MAX_PENDING} in a minute, {} in a day, \
                 or beyond an address's share of a feed's day (stats.per_address)",
                left_out + capped,
                store::MAX_ROWS_PER_DAY,
            );
        }
        if *subscribers.counts.load_full() != counts {
            subscribers.counts.store(Arc::new(counts));
        }
        flushed
    }
}

/// `refeed stats`: the counts in `state_dir`, read without a server. A
/// state file that is missing or unusable is an error naming it: counts
/// of nothing would look like a feed nobody reads.
pub fn read(config: &Config) -> Result<report::Stored, StoreError> {
    let dir = crate::state::dir(config)?;
    let path = dir.join(crate::state::FILE);
    if !path.is_file() {
        let reason = match std::fs::metadata(&dir) {
            Ok(meta) if !meta.is_dir() => "state_dir is not a folder",
            Ok(_) => "`refeed serve` has not run with this state_dir",
            Err(_) => "state_dir does not exist",
        };
        return Err(StoreError::Missing { path, reason });
    }
    let source = crate::state::scope(config);
    let store = Store::read_only(&dir, &source)?;
    if !store.has_counts()? {
        let counts = Counts {
            window_days: config.stats.window_days,
            ..Counts::default()
        };
        return Ok(report::Stored {
            counts,
            source,
            other_sources: Vec::new(),
        });
    }
    let counts = store.counts(config.stats.window_days, store::day(unix_now()))?;
    let other_sources = if counts.feeds.is_empty() {
        store.other_scopes()?
    } else {
        Vec::new()
    };
    Ok(report::Stored {
        counts,
        source,
        other_sources,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn only(recorder: &Recorder) -> Vec<Seen> {
        let (seen, left_out) = recorder.drain();
        assert_eq!(left_out, 0);
        seen
    }

    #[test]
    fn a_poller_is_recorded_once_per_flush_and_an_aggregator_with_its_count() {
        let r = Recorder::new([7; 16], true);
        let here = Some(IpAddr::from([192, 0, 2, 1]));
        let there = Some(IpAddr::from([192, 0, 2, 2]));
        r.record("", "rss.xml", here, b"newsboat/2.36");
        r.record("", "atom.xml", here, b"newsboat/2.36");
        r.record("", "rss.xml", there, b"newsboat/2.36");
        r.record("tags/a/", "tags/a/rss.xml", here, b"newsboat/2.36");
        let feedly = b"Feedly/1.0 (+http://www.feedly.com/fetcher.html; 42 subscribers; )";
        r.record("", "rss.xml", here, feedly);
        let seen = only(&r);
        assert_eq!(seen.len(), 4, "{seen:?}");
        let pollers = seen
            .iter()
            .filter(|s| matches!(s.who, Who::Poller(_)))
            .count();
        assert_eq!(pollers, 3);
        assert!(seen.iter().any(|s| s.who
            == Who::Aggregator {
                name: "Feedly",
                group: "rss.xml".into(),
                subscribers: 42
            }));
        assert!(only(&r).is_empty(), "a drain empties it");
        r.record("", "rss.xml", here, b"newsboat/2.36");
        assert_eq!(only(&r).len(), 1);
    }

    #[test]
    fn the_hash_depends_on_the_key_and_never_holds_the_address() {
        let poller = |key| {
            let r = Recorder::new(key, true);
            r.record("", "rss.xml", Some(IpAddr::from([192, 0, 2, 1])), b"x");
            match only(&r).pop().map(|s| s.who) {
                Some(Who::Poller(hash)) => hash,
                other => panic!("{other:?}"),
            }
        };
        assert_eq!(poller([1; 16]), poller([1; 16]));
        assert_ne!(poller([1; 16]), poller([2; 16]));
    }

    #[test]
    fn pollers_beyond_the_bound_wait_for_the_next_flush() {
        let r = Recorder::new([7; 16], true);
        for i in 0..MAX_PENDING as u32 + 3 {
            r.record("", "rss.xml", Some(IpAddr::from(i.to_be_bytes())), b"x");
        }
        let (seen, left_out) = r.drain();
        assert_eq!((seen.len(), left_out), (MAX_PENDING, 3));
        assert_eq!(r.held.load(Ordering::Relaxed), 0);
    }

    fn snapshot() -> Snapshot {
        let mut config = Config::default_embedded().unwrap();
        config.source_dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/posts");
        crate::snapshot::Pipeline::new(&config)
            .unwrap()
            .initial()
            .unwrap()
    }

    fn with_counts(site: FeedCount) -> Counts {
        Counts {
            window_days: 7,
            feeds: [(String::new(), site)].into(),
        }
    }

    fn counting(counts: Counts) -> Subscribers {
        Subscribers {
            recorder: Recorder::new([7; 16], true),
            counts: ArcSwap::from_pointee(counts),
            index: ArcSwapOption::empty(),
            rendering: Mutex::new(()),
        }
    }

    /// A write that fails ("database or disk is full") keeps what it
    /// held for the next; a write of nothing while the disk is still full
    /// is no "saved again".
    #[test]
    fn a_failed_flush_keeps_its_counts_and_saved_again_means_committed() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(dir.path(), "/a").unwrap();
        let subscribers = counting(Counts::default());
        let mut flushing = Flushing::default();
        store.limit_pages(Some(1));
        for i in 0..2000u32 {
            let peer = Some(IpAddr::from(i.to_be_bytes()));
            subscribers
                .recorder
                .record("", "rss.xml", peer, b"newsboat");
        }
        assert_eq!(flushing.flush(&subscribers, &mut store, 7), Flushed::Failed);
        assert_eq!(flushing.flush(&subscribers, &mut store, 7), Flushed::Failed);
        store.limit_pages(None);
        let saved = flushing.flush(&subscribers, &mut store, 7);
        assert_eq!(saved, Flushed::SavedAgain);
        assert_eq!(subscribers.counts().feeds[""].pollers, 2000);
        assert_eq!(flushing.flush(&subscribers, &mut store, 7), Flushed::Saved);
    }

    #[test]
    fn one_address_holds_a_share_of_the_pending_pollers() {
        for shared in [true, false] {
            let r = Recorder::new([7; 16], shared);
            let here = Some(IpAddr::from([192, 0, 2, 1]));
            for i in 0..MAX_PENDING_PER_ADDRESS + 10 {
                r.record("", "rss.xml", here, format!("agent {i}").as_bytes());
            }
            r.record("", "rss.xml", Some(IpAddr::from([192, 0, 2, 2])), b"a");
            let (seen, left_out) = r.drain();
            let expected = if shared {
                (MAX_PENDING_PER_ADDRESS + 1, 10)
            } else {
                (MAX_PENDING_PER_ADDRESS + 11, 0)
            };
            assert_eq!((seen.len(), left_out), expected);
            // The next minute the address has its share again.
            r.record("", "rss.xml", here, b"agent 0");
            assert_eq!(only(&r).len(), 1);
        }
    }

    #[test]
    fn one_address_is_one_source_whatever_its_user_agent() {
        let r = Recorder::new([7; 16], true);
        let here = Some(IpAddr::from([192, 0, 2, 1]));
        r.record("", "rss.xml", here, b"a");
        r.record("", "rss.xml", here, b"b");
        r.record("", "rss.xml", Some(IpAddr::from([192, 0, 2, 2])), b"a");
        r.record("", "rss.xml", None, b"c");
        let mut sources: Vec<Option<u64>> = only(&r).into_iter().map(|s| s.source).collect();
        sources.sort();
        sources.dedup();
        assert_eq!(sources.len(), 3, "{sources:?}");
        assert_eq!(sources[0], None);
    }

    /// Made-up counts summed past any integer show one value everywhere:
    /// the index, feed pages, `refeed stats` and `/metrics` all show
    /// `total()`.
    #[test]
    fn a_feed_total_is_capped_so_every_surface_agrees() {
        let count = FeedCount {
            aggregators: [
                ("Feedly".to_string(), u64::MAX),
                ("Inoreader".to_string(), 5),
            ]
            .into(),
            pollers: 2,
        };
        assert_eq!(count.total(), MAX_TOTAL);
        assert!(i64::try_from(MAX_TOTAL).is_ok(), "a gauge shows it exactly");
    }

    #[test]
    fn the_index_shows_the_counts_of_its_snapshot_dated_forward() {
        let snap = snapshot();
        let subscribers = counting(with_counts(FeedCount {
            aggregators: [("Feedly".to_string(), 42)].into(),
            pollers: 2,
        }));
        assert!(subscribers.index().is_none());
        subscribers.refresh_index(&snap);
        let first = subscribers.index().unwrap();
        let html = String::from_utf8_lossy(first.identity()).into_owned();
        assert!(html.contains("44 subscribers)"), "{html}");
        assert!(first.last_modified > snap.index.last_modified);

        // Same snapshot and counts: the same document.
        subscribers.refresh_index(&snap);
        assert!(Arc::ptr_eq(&first, &subscribers.index().unwrap()));
        // New counts: new bytes, dated after the ones before.
        subscribers.counts.store(Arc::new(with_counts(FeedCount {
            aggregators: BTreeMap::new(),
            pollers: 1,
        })));
        subscribers.refresh_index(&snap);
        let second = subscribers.index().unwrap();
        let html = String::from_utf8_lossy(second.identity()).into_owned();
        assert!(html.contains("1 subscriber)"), "{html}");
        assert!(second.last_modified > first.last_modified);
    }

    #[test]
    fn counts_add_aggregators_to_pollers() {
        let count = FeedCount {
            aggregators: [("Feedly".to_string(), 42), ("Inoreader".to_string(), 5)].into(),
            pollers: 2,
        };
        assert_eq!(count.total(), 49);
    }
}
