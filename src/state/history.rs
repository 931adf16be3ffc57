//! The dates documents were served with, by this run and the ones
//! before it: what keeps `Last-Modified` from going back across reloads
//! and restarts, saved in the state file ([`Store`]), and what `/healthz`
//! says of that file.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};

use super::{Store, dir, scope};
use crate::config::Config;
use crate::render::{Earlier, Validator};

/// The validators of documents served earlier, by path: by this process
/// and, through the store, by earlier ones. Consulted when a document is
/// rendered for a path (so that `Last-Modified` never goes back, even
/// for a feed that disappears and comes back, or a reload from scratch),
/// and updated after each publish.
pub struct History {
    served: Mutex<imbl::HashMap<Arc<str>, Validator>>,
    /// Documents with no known validator were possibly served, before this
    /// time, by a process whose state is lost (no store, or a store that is
    /// new, emptied, or was not used for this path: a container started
    /// without its volume); `None` only for `refeed build`, which answers
    /// no client.
    since: Option<DateTime<Utc>>,
    /// `None` while the state file cannot be used, and always for `build`.
    store: Mutex<Option<Durable>>,
    /// Where to open the state file again while it cannot be used (a
    /// full or read-only disk at start-up), and when to try next.
    reopen: Option<Mutex<Reopen>>,
    health: Arc<StateHealth>,
}

struct Reopen {
    dir: PathBuf,
    scope: String,
    next: std::time::Instant,
}

/// How often a state file that cannot be used is tried again.
const REOPEN_EVERY: std::time::Duration = std::time::Duration::from_secs(10);

/// The store and what could not be written to it yet.
struct Durable {
    store: Store,
    /// Rows whose write failed (disk full, read-only remount), retried at
    /// each publish and at the stop until one succeeds.
    unsaved: HashMap<Arc<str>, Validator>,
    /// The file as opened, to tell when it is removed or replaced.
    identity: Option<(u64, u64)>,
}

impl Durable {
    /// `store` as just opened, with `unsaved` still to write to it.
    fn new(store: Store, unsaved: HashMap<Arc<str>, Validator>) -> Durable {
        let identity = identity(&store.path);
        Durable {
            store,
            unsaved,
            identity,
        }
    }
}

/// What `/healthz` tells of the state file, kept by the reload thread.
#[derive(Default)]
pub struct StateHealth {
    unusable: AtomicBool,
    unsaved_documents: AtomicU64,
    replaced: AtomicBool,
}

/// [`StateHealth`] as read at one moment.
pub struct StateReport {
    /// The state file could not be opened or written to at start-up:
    /// nothing of this run outlives it.
    pub unusable: bool,
    /// Documents whose date the file does not have yet (a full disk).
    pub unsaved_documents: u64,
    /// The file was removed or replaced under the running process, whose
    /// writes then go nowhere a restart finds.
    pub replaced: bool,
}

impl StateHealth {
    pub fn read(&self) -> StateReport {
        StateReport {
            unusable: self.unusable.load(Ordering::Relaxed),
            unsaved_documents: self.unsaved_documents.load(Ordering::Relaxed),
            replaced: self.replaced.load(Ordering::Relaxed),
        }
    }
}

impl StateReport {
    /// Whether a restart now would lose something this run holds.
    pub fn at_risk(&self) -> bool {
        self.unusable || self.unsaved_documents > 0 || self.replaced
    }
}

impl History {
    /// No earlier versions: dates come from the content alone.
    pub fn none() -> Self {
        History {
            served: Mutex::default(),
            since: None,
            store: Mutex::default(),
            reopen: None,
            health: Arc::default(),
        }
    }

    /// `serve`'s history: the store under the configured or default
    /// `state_dir`. A path it has no record of may still have been served
    /// by an earlier process with another (or a lost) `state_dir`, so it
    /// is dated no earlier than `started`, exactly as when the store
    /// cannot be opened (then with a warning): never a wrong 304, only one
    /// 200 more per document the store does not know. So is every path
    /// when the last run stopped without its dates all stored (a crash,
    /// or a full disk to the end): it may have served versions the file
    /// does not have.
    pub fn open(config: &Config, started: DateTime<Utc>) -> Self {
        let health = Arc::<StateHealth>::default();
        let opened = dir(config)
            .and_then(|dir| Store::open(&dir, &scope(config)))
            .and_then(|store| Ok((store.validators()?, store.ended_unsaved()?, store)))
            .and_then(|(validators, unsaved, mut store)| {
                store.save(&[], true)?;
                Ok((validators, unsaved, store))
            });
        let (served, store) = match opened {
            Ok((validators, ended_unsaved, store)) => {
                tracing::info!(
                    file = %store.path.display(),
                    documents = validators.len(),
                    "state opened"
                );
                let served = if ended_unsaved {
                    tracing::warn!(
                        "the last run stopped before every Last-Modified it served was stored; \
                         every feed is dated from this start-up, so clients revalidate once"
                    );
                    imbl::HashMap::new()
                } else {
                    (validators.into_iter())
                        .map(|(p, v)| (Arc::from(p), v))
                        .collect()
                };
                (served, Some(Durable::new(store, HashMap::new())))
            }
            Err(e) => {
                tracing::warn!(
                    "state_dir unusable ({e}); Last-Modified of every feed starts at this \
                     start-up, so clients revalidate once; tried again every {} s",
                    REOPEN_EVERY.as_secs()
                );
                health.unusable.store(true, Ordering::Relaxed);
                (imbl::HashMap::new(), None)
            }
        };
        let reopen = dir(config).ok().map(|dir| {
            Mutex::new(Reopen {
                dir,
                scope: scope(config),
                next: std::time::Instant::now() + REOPEN_EVERY,
            })
        });
        History {
            served: Mutex::new(served),
            since: Some(started),
            store: Mutex::new(store),
            reopen,
            health,
        }
    }

    /// The state file opened again, once it can be, and marked as this
    /// run's: without the mark, the next start would trust the dates of
    /// the run before and give a client of this one a wrong 304 (found by
    /// the re-attack: a state disk full or read-only at start-up). All
    /// this run has served is then to be stored.
    fn reopened(&self) -> Option<Durable> {
        let mut reopen = self
            .reopen
            .as_ref()?
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        let now = std::time::Instant::now();
        if now < reopen.next {
            return None;
        }
        reopen.next = now + REOPEN_EVERY;
        let mut store = Store::open(&reopen.dir, &reopen.scope).ok()?;
        store.save(&[], true).ok()?;
        tracing::info!(file = %store.path.display(), "state usable again");
        self.health.unusable.store(false, Ordering::Relaxed);
        let unsaved = self
            .lock()
            .iter()
            .map(|(p, v)| (p.clone(), v.clone()))
            .collect();
        Some(Durable::new(store, unsaved))
    }

    /// Saves what is unsaved, or opens the state file again: a disk that
    /// clears is seen without waiting for a change (`serve` calls it every
    /// few seconds).
    pub fn retry(&self) {
        self.save(Vec::new(), true);
    }

    /// What `/healthz` shows of the state file.
    pub fn health(&self) -> Arc<StateHealth> {
        self.health.clone()
    }

    /// The validators as they are now, for one render.
    pub fn view(&self) -> HistoryView {
        HistoryView {
            served: self.lock().clone(),
            since: self.since,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, imbl::HashMap<Arc<str>, Validator>> {
        // A panic while holding it leaves a map that is still whole.
        self.served.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Records the documents of a published snapshot, and stores those
    /// that changed. A failed write is logged once and retried at the next
    /// publish and at the stop; meanwhile memory keeps this process
    /// monotonic, `/healthz` counts what is unsaved, and a restart that
    /// finds this run marked open dates every feed "now" or later.
    pub fn published(&self, docs: impl IntoIterator<Item = (Arc<str>, Validator)>) {
        let mut served = self.lock();
        let changed: Vec<(Arc<str>, Validator)> = docs
            .into_iter()
            .filter(|(path, v)| served.get(path) != Some(v))
            .collect();
        served.extend(changed.iter().cloned());
        drop(served);
        self.save(changed, true);
    }

    /// Stores what is still unsaved and marks the run closed: called once
    /// the server has stopped. A store that still refuses leaves the run
    /// marked open, and the next start dates every feed from then.
    pub fn close(&self) {
        self.save(Vec::new(), false);
    }

    fn save(&self, changed: Vec<(Arc<str>, Validator)>, open: bool) {
        let mut store = self.store.lock().unwrap_or_else(|p| p.into_inner());
        if store.is_none() {
            *store = self.reopened();
        }
        let Some(durable) = store.as_mut() else {
            return;
        };
        let replaced =
            durable.identity.is_some() && identity(&durable.store.path) != durable.identity;
        if replaced && !self.health.replaced.swap(true, Ordering::Relaxed) {
            tracing::warn!(
                file = %durable.store.path.display(),
                "the state file was removed or replaced; what this run saves is lost at a restart"
            );
        }
        durable.unsaved.extend(changed);
        if durable.unsaved.is_empty() && open {
            return;
        }
        let rows: Vec<(Arc<str>, Validator)> = durable.unsaved.drain().collect();
        let failing = self.health.unsaved_documents.load(Ordering::Relaxed) > 0;
        match durable.store.save(&rows, open) {
            Ok(()) if failing => tracing::info!("state saved again"),
            Ok(()) => {}
            Err(e) => {
                if !failing {
                    tracing::warn!(
                        "cannot save state, will retry at each reload and at the stop: {e}"
                    );
                }
                durable.unsaved.extend(rows);
            }
        }
        let unsaved = durable.unsaved.len() as u64;
        self.health
            .unsaved_documents
            .store(unsaved, Ordering::Relaxed);
    }
}

/// Calls `retry` every `period` on a thread of its own, until dropped:
/// `serve` retries the history's saves with it, so that `/healthz` stops
/// saying `degraded` once a full disk clears, whether or not a post
/// changes (found by the re-attack).
pub struct Retrier {
    stop: Option<std::sync::mpsc::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Retrier {
    pub fn start(
        period: std::time::Duration,
        retry: impl Fn() + Send + 'static,
    ) -> std::io::Result<Retrier> {
        let (stop, stopped) = std::sync::mpsc::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("refeed-state".into())
            .spawn(move || {
                while let Err(std::sync::mpsc::RecvTimeoutError::Timeout) =
                    stopped.recv_timeout(period)
                {
                    retry();
                }
            })?;
        Ok(Retrier {
            stop: Some(stop),
            thread: Some(thread),
        })
    }
}

impl Drop for Retrier {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Device and inode of the file at `path`, if there is one.
fn identity(path: &Path) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(path).ok().map(|m| (m.dev(), m.ino()))
}

/// One render's view of [`History`].
pub struct HistoryView {
    served: imbl::HashMap<Arc<str>, Validator>,
    since: Option<DateTime<Utc>>,
}

impl HistoryView {
    /// What was served at `path` before.
    pub fn earlier(&self, path: &str) -> Earlier<'_> {
        match (self.served.get(path), self.since) {
            (Some(v), _) => Earlier::Served(v),
            (None, Some(since)) => Earlier::Unknown { since },
            (None, None) => Earlier::Nothing,
        }
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    pub(in crate::state) fn v(hash: &str, secs: i64) -> Validator {
        Validator {
            hash: hash.into(),
            last_modified: DateTime::from_timestamp(secs, 0).unwrap(),
        }
    }

    fn config(state_dir: &Path) -> Config {
        let mut config = Config::default_embedded().unwrap();
        config.state_dir = Some(state_dir.to_path_buf());
        config
    }

    #[test]
    fn history_outlives_the_process_and_falls_back_without_a_store() {
        let dir = tempfile::tempdir().unwrap();
        let started = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        let history = History::open(&config(dir.path()), started);
        assert!(matches!(
            history.view().earlier("rss.xml"),
            Earlier::Unknown { since } if since == started
        ));
        history.published([("rss.xml".into(), v("h1", 1_600_000_000))]);
        history.close();
        drop(history);

        let history = History::open(&config(dir.path()), started);
        let view = history.view();
        assert!(
            matches!(view.earlier("rss.xml"), Earlier::Served(x) if *x == v("h1", 1_600_000_000))
        );
        assert!(matches!(
            view.earlier("atom.xml"),
            Earlier::Unknown { since } if since == started
        ));

        let blocker = dir.path().join("a-file");
        std::fs::write(&blocker, "").unwrap();
        let history = History::open(&config(&blocker.join("state")), started);
        assert!(matches!(
            history.view().earlier("rss.xml"),
            Earlier::Unknown { since } if since == started
        ));
    }

    /// Makes the history's store refuse writes, as a full disk does.
    fn refuse_writes(history: &History, refuse: bool) {
        let store = history.store.lock().unwrap();
        let durable = store.as_ref().unwrap();
        let value = if refuse { "ON" } else { "OFF" };
        durable
            .store
            .conn
            .pragma_update(None, "query_only", value)
            .unwrap();
    }

    /// A feed served, then edited and reverted while writes fail.
    fn edit_and_revert_on_a_full_disk(history: &History) {
        history.published([("rss.xml".into(), v("h1", 1_700_000_000))]);
        refuse_writes(history, true);
        history.published([("rss.xml".into(), v("h2", 1_700_000_010))]);
        history.published([("rss.xml".into(), v("h1", 1_700_000_020))]);
    }

    /// Found by the sixth attack: an edit and its revert published while
    /// the state disk was full, then a stop and a restart, dated the
    /// reverted bytes with the date before the edit, so a client holding
    /// the edit got a 304.
    #[test]
    fn dates_unsaved_at_the_stop_make_the_next_run_date_every_feed_from_its_start() {
        let dir = tempfile::tempdir().unwrap();
        let first = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        let history = History::open(&config(dir.path()), first);
        edit_and_revert_on_a_full_disk(&history);
        assert_eq!(history.health().read().unsaved_documents, 1);
        assert!(history.health().read().at_risk());
        history.close();
        drop(history);

        let second = DateTime::from_timestamp(1_700_000_100, 0).unwrap();
        let history = History::open(&config(dir.path()), second);
        assert!(matches!(
            history.view().earlier("rss.xml"),
            Earlier::Unknown { since } if since == second
        ));
        // A clean stop of this run gives the next one its dates back.
        history.published([("rss.xml".into(), v("h1", 1_700_000_100))]);
        history.close();
        drop(history);
        let history = History::open(&config(dir.path()), second);
        assert!(matches!(
            history.view().earlier("rss.xml"),
            Earlier::Served(x) if *x == v("h1", 1_700_000_100)
        ));
    }

    /// The same, with the disk freed before the stop: the stop stores
    /// what was unsaved, and the next run knows the reverted bytes' date.
    #[test]
    fn the_stop_saves_what_a_full_disk_held_back() {
        let dir = tempfile::tempdir().unwrap();
        let first = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        let history = History::open(&config(dir.path()), first);
        edit_and_revert_on_a_full_disk(&history);
        refuse_writes(&history, false);
        history.close();
        assert_eq!(history.health().read().unsaved_documents, 0);
        drop(history);
        let history = History::open(&config(dir.path()), first);
        assert!(matches!(
            history.view().earlier("rss.xml"),
            Earlier::Served(x) if *x == v("h1", 1_700_000_020)
        ));
    }

    /// Found by the re-attack: a run whose state folder could not be used
    /// at start-up could not mark itself, so the next start trusted the
    /// run before it and gave a client of this one a wrong 304. The run
    /// opens the file again once it can, marks itself and stores what it
    /// served.
    #[test]
    fn a_state_file_unusable_at_start_up_is_opened_again_and_marks_the_run() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("state");
        let t = |secs| DateTime::from_timestamp(secs, 0).unwrap();
        let a = History::open(&config(&state), t(1_700_000_000));
        a.published([("rss.xml".into(), v("h1", 1_700_000_000))]);
        a.close();
        drop(a);

        let away = dir.path().join("away");
        std::fs::rename(&state, &away).unwrap();
        std::fs::write(&state, "not a folder").unwrap();
        let b = History::open(&config(&state), t(1_700_000_100));
        assert!(b.health().read().unusable);
        b.published([("rss.xml".into(), v("h2", 1_700_000_100))]);
        b.published([("rss.xml".into(), v("h1", 1_700_000_101))]);
        std::fs::remove_file(&state).unwrap();
        std::fs::rename(&away, &state).unwrap();
        b.reopen.as_ref().unwrap().lock().unwrap().next = std::time::Instant::now();
        b.retry();
        assert!(!b.health().read().at_risk());
        drop(b); // a crash: no close

        let c = History::open(&config(&state), t(1_700_000_200));
        assert!(matches!(
            c.view().earlier("rss.xml"),
            Earlier::Unknown { since } if since == t(1_700_000_200)
        ));
    }

    /// Found by the sixth attack: `/healthz` said ok with the state file
    /// unusable, or removed under the running process.
    #[test]
    fn an_unusable_or_removed_state_file_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        let started = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        let blocker = dir.path().join("a-file");
        std::fs::write(&blocker, "").unwrap();
        let history = History::open(&config(&blocker.join("state")), started);
        assert!(history.health().read().unusable);

        let history = History::open(&config(&dir.path().join("state")), started);
        assert!(!history.health().read().at_risk());
        std::fs::remove_dir_all(dir.path().join("state")).unwrap();
        history.published([("rss.xml".into(), v("h1", 1_700_000_000))]);
        assert!(history.health().read().replaced);
    }
}
