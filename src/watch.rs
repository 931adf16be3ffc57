//! Live reload: file-system events (debounced), SIGHUP and a periodic
//! rescan become [`Change`]s; one thread applies them to the current
//! snapshot and publishes the result. Only this thread publishes, so no
//! update is ever lost to a race.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use actix_web::web;
use notify::RecursiveMode;
use notify_debouncer_full::{DebounceEventResult, Debouncer, NoCache, new_debouncer_opt};

use crate::config::Config;
use crate::server::{SourceHealth, State};
use crate::snapshot::{Change, Snapshot};
use crate::source::{self, Fingerprint};

type Watcher = Debouncer<notify::RecommendedWatcher, NoCache>;

/// How often an unavailable source folder is looked for again.
const RETRY: Duration = Duration::from_secs(1);

enum Signal {
    Paths(Vec<PathBuf>),
    Rescan(&'static str),
    Stop,
}

/// The running reload thread; dropping it stops the thread.
pub struct Reloader {
    tx: Sender<Signal>,
    thread: Option<JoinHandle<()>>,
}

impl Reloader {
    /// Asks for a full rescan, as SIGHUP does.
    pub fn rescan(&self) {
        let _ = self.tx.send(Signal::Rescan("request"));
    }
}

impl Drop for Reloader {
    fn drop(&mut self) {
        let _ = self.tx.send(Signal::Stop);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Starts the reload thread: it loads the archive, publishes the first
/// snapshot, then follows changes until the [`Reloader`] is dropped.
pub fn start(config: &Config, state: web::Data<State>) -> std::io::Result<Reloader> {
    let (tx, rx) = mpsc::channel();
    let settings = Settings {
        root: config.source_dir.clone(),
        watch: config.watch.enabled,
        debounce: Duration::from_millis(config.watch.debounce_ms),
        rescan_every: (config.watch.rescan_interval > 0)
            .then(|| Duration::from_secs(config.watch.rescan_interval)),
    };
    // SIGHUP asks for a rescan whether or not file events are watched:
    // without events (network file systems, `watch.enabled: false`) it is
    // the one way to reload on demand.
    forward_sighup(tx.clone())?;
    let events = tx.clone();
    let thread = std::thread::Builder::new()
        .name("refeed-reload".into())
        .spawn(move || Worker::new(settings, state, events).run(rx))?;
    Ok(Reloader {
        tx,
        thread: Some(thread),
    })
}

fn forward_sighup(tx: Sender<Signal>) -> std::io::Result<()> {
    let mut signals = signal_hook::iterator::Signals::new([signal_hook::consts::SIGHUP])?;
    std::thread::Builder::new()
        .name("refeed-sighup".into())
        .spawn(move || {
            for _ in signals.forever() {
                if tx.send(Signal::Rescan("SIGHUP")).is_err() {
                    break;
                }
            }
        })?;
    Ok(())
}

struct Settings {
    root: PathBuf,
    watch: bool,
    debounce: Duration,
    rescan_every: Option<Duration>,
}

struct Worker {
    settings: Settings,
    state: web::Data<State>,
    events: Sender<Signal>,
    watcher: Option<Watcher>,
    source_ok: bool,
}

impl Worker {
    fn new(settings: Settings, state: web::Data<State>, events: Sender<Signal>) -> Self {
        Worker {
            settings,
            state,
            events,
            watcher: None,
            source_ok: false,
        }
    }

    fn run(mut self, rx: Receiver<Signal>) {
        // Watch before the first load, so that a file changed while the
        // folder is being read is queued and applied after it, not missed
        // until the next rescan.
        if self.settings.watch && self.settings.root.is_dir() {
            self.watcher = self.watch();
        }
        self.load_initial();
        let mut next_rescan = self.next_rescan();
        loop {
            let was_ok = self.source_ok;
            let wait = next_rescan.map(|t| t.saturating_duration_since(Instant::now()));
            let signal = match wait {
                Some(w) => rx.recv_timeout(w),
                None => rx.recv().map_err(|_| RecvTimeoutError::Disconnected),
            };
            match signal {
                Ok(Signal::Stop) | Err(RecvTimeoutError::Disconnected) => return,
                Ok(Signal::Paths(paths)) => {
                    let mut paths = paths;
                    let mut rescan = None;
                    // Coalesce whatever else is already queued.
                    while let Ok(more) = rx.try_recv() {
                        match more {
                            Signal::Paths(p) => paths.extend(p),
                            Signal::Rescan(why) => rescan = Some(why),
                            Signal::Stop => return,
                        }
                    }
                    match rescan {
                        Some(why) => self.rescan(why),
                        None => self.on_paths(paths),
                    }
                }
                Ok(Signal::Rescan(why)) => self.rescan(why),
                Err(RecvTimeoutError::Timeout) => {
                    self.rescan("interval");
                    next_rescan = self.next_rescan();
                }
            }
            // A SIGHUP rescan can lose or regain the folder too: retry a lost
            // one every second (even with `rescan_interval: 0`), and go back
            // to the configured interval once it is back.
            if self.source_ok != was_ok {
                next_rescan = self.next_rescan();
            }
        }
    }

    fn next_rescan(&self) -> Option<Instant> {
        let every = if self.source_ok {
            self.settings.rescan_every?
        } else {
            RETRY
        };
        Some(Instant::now() + every)
    }

    fn load_initial(&mut self) {
        match self.state.pipeline.initial() {
            Ok(snap) => {
                tracing::info!(
                    articles = snap.catalog.len(),
                    feeds = snap.feeds.len(),
                    files = snap.reports.len(),
                    rejected = snap.rejected().count(),
                    ms = snap.stats.duration.as_millis() as u64,
                    "loaded"
                );
                self.state.publish(snap);
                self.source_available();
            }
            Err(e) => self.source_unavailable(e.to_string()),
        }
    }

    fn source_available(&mut self) {
        self.source_ok = true;
        self.state.set_source_health(SourceHealth::Ok);
        if self.settings.watch && self.watcher.is_none() {
            self.watcher = self.watch();
        }
    }

    fn source_unavailable(&mut self, why: String) {
        if self.source_ok || self.state.current().is_none() {
            tracing::error!(error = %why, "source folder unavailable; serving the last snapshot");
        }
        self.source_ok = false;
        // The watch died with the folder; a new one is set up on return.
        self.watcher = None;
        self.state.set_source_health(SourceHealth::Unavailable(why));
    }

    fn watch(&self) -> Option<Watcher> {
        let tx = self.events.clone();
        let handler = move |result: DebounceEventResult| {
            let paths = match result {
                Ok(events) => events
                    .into_iter()
                    .filter(|e| !e.kind.is_access())
                    .flat_map(|e| e.event.paths)
                    .collect(),
                // Lost events (queue overflow): only a rescan is safe.
                Err(_) => {
                    let _ = tx.send(Signal::Rescan("watch error"));
                    return;
                }
            };
            let _ = tx.send(Signal::Paths(paths));
        };
        // No file-id cache: building one stats every file of the archive
        // before the first load, and refeed matches changes by path anyway.
        let debouncer = new_debouncer_opt(
            self.settings.debounce,
            None,
            handler,
            NoCache,
            notify::Config::default(),
        );
        let mut debouncer = match debouncer {
            Ok(d) => d,
            Err(e) => {
                tracing::warn!(error = %e, "cannot watch; relying on rescans");
                return None;
            }
        };
        match debouncer.watch(&self.settings.root, RecursiveMode::Recursive) {
            Ok(()) => Some(debouncer),
            Err(e) => {
                tracing::warn!(error = %e, "cannot watch; relying on rescans");
                None
            }
        }
    }

    fn on_paths(&mut self, paths: Vec<PathBuf>) {
        let Some(snap) = self.state.current() else {
            return self.load_initial();
        };
        match changes_for(&self.settings.root, &snap, paths) {
            Some(changes) if changes.is_empty() => {}
            Some(changes) => self.apply(&snap, changes, "events"),
            None => self.rescan("folder change"),
        }
    }

    fn rescan(&mut self, why: &'static str) {
        let Some(snap) = self.state.current() else {
            return self.load_initial();
        };
        match diff(&self.settings.root, &snap) {
            Ok(changes) => {
                if !self.source_ok {
                    tracing::info!("source folder is back");
                    self.source_available();
                }
                if !changes.is_empty() {
                    self.apply(&snap, changes, why);
                }
            }
            Err(e) => self.source_unavailable(e.to_string()),
        }
    }

    fn apply(&self, snap: &Arc<Snapshot>, changes: Vec<Change>, why: &'static str) {
        let next = self.state.pipeline.apply(snap, changes);
        tracing::info!(
            trigger = why,
            files = next.stats.files,
            feeds_rendered = next.stats.feeds_rendered,
            articles = next.catalog.len(),
            rejected = next.rejected().count(),
            generation = next.generation,
            ms = format!("{:.1}", next.stats.duration.as_secs_f64() * 1000.0),
            "reloaded"
        );
        self.state.publish(next);
    }
}

/// Changes for the changed paths; `None` when a folder changed, which only
/// a rescan can resolve.
fn changes_for(root: &Path, snap: &Snapshot, paths: Vec<PathBuf>) -> Option<Vec<Change>> {
    let mut changes = Vec::new();
    let mut seen = HashSet::new();
    for path in paths {
        if !seen.insert(path.clone()) {
            continue;
        }
        if path == root || path.is_dir() {
            return None;
        }
        match source::classify(root, &path) {
            Some(file) if path.is_file() => changes.push(Change::Write(file)),
            Some(file) => {
                if snap.reports.contains_key(&file.rel) {
                    changes.push(Change::Remove(file.rel));
                }
            }
            None => {
                if held_below(root, snap, &path) {
                    return None;
                }
            }
        }
    }
    Some(changes)
}

/// Did `path` (now gone) hold files we know of, i.e. was it a folder?
fn held_below(root: &Path, snap: &Snapshot, path: &Path) -> bool {
    let Ok(rel) = path.strip_prefix(root) else {
        return false;
    };
    let prefix: Arc<str> = format!("{}/", rel.to_string_lossy()).into();
    !path.exists()
        && snap
            .reports
            .range(prefix.clone()..)
            .next()
            .is_some_and(|(k, _)| k.starts_with(&*prefix))
}

/// A full rescan: files that are new or whose size or mtime changed, and
/// files that are gone.
fn diff(root: &Path, snap: &Snapshot) -> Result<Vec<Change>, source::SourceError> {
    let (files, _) = source::discover(root)?;
    let mut changes = Vec::new();
    let mut present = HashSet::with_capacity(files.len());
    for file in files {
        present.insert(file.rel.clone());
        let unchanged = snap.reports.get(&file.rel).is_some_and(|r| {
            r.fingerprint.is_some() && r.fingerprint == Fingerprint::of(&file.path)
        });
        if !unchanged {
            changes.push(Change::Write(file));
        }
    }
    for rel in snap.reports.keys() {
        if !present.contains(&**rel) {
            changes.push(Change::Remove(rel.clone()));
        }
    }
    Ok(changes)
}
