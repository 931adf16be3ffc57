//! Live reload: file-system events (debounced), SIGHUP and a periodic
//! rescan become [`Change`]s; one thread applies them to the current
//! snapshot and publishes the result. Only this thread publishes, so no
//! update is ever lost to a race.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

use crate::config::Config;
use crate::live::{Live, SourceHealth};
use crate::snapshot::{Change, Snapshot};
use crate::source::{self, Fingerprint};

mod batch;
mod diff;
mod setup;

use batch::Batch;
use diff::{changed_before, changes_for, diff};
use setup::{FolderWatch, ReloadSettings, folder_id, watch_tree};

/// How often an unavailable source folder is looked for again.
const RETRY: Duration = Duration::from_secs(1);

/// Removals wait until the folder has had no events for this long: a
/// deploy (`rm -rf` then `cp -r`, `git pull`) removes files and brings them
/// back, and a post that exists before and after must never drop out of a
/// feed in between.
const REMOVAL_QUIET: Duration = Duration::from_millis(400);

/// ... but no longer than this after the first of them (or after the
/// folder came back), so that a folder that never stops changing still
/// sees its deletions. Generous: a deletion shown late costs little, a
/// live post dropped by a long copy makes readers see it again as new.
const REMOVAL_MAX_HOLD: Duration = Duration::from_secs(30);

/// A file still open for writing is read anyway after this long.
const WRITE_GRACE: Duration = Duration::from_secs(2);

enum Signal {
    Events(Batch),
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
pub fn start(config: &Config, live: Arc<Live>) -> std::io::Result<Reloader> {
    let (tx, rx) = mpsc::channel();
    let settings = ReloadSettings {
        root: config.source_dir.clone(),
        watch: config.watch.enabled,
        debounce: config.watch.debounce,
        rescan_every: config.watch.rescan_every,
        links: config.load.links(),
    };
    // SIGHUP asks for a rescan whether or not file events are watched:
    // without events (network file systems, `watch.enabled: false`) it is
    // the one way to reload on demand.
    forward_sighup(tx.clone())?;
    let events = tx.clone();
    let thread = std::thread::Builder::new()
        .name("refeed-reload".into())
        .spawn(move || Worker::new(settings, live, events).run(rx))?;
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

struct Worker {
    settings: ReloadSettings,
    live: Arc<Live>,
    events: Sender<Signal>,
    watcher: Option<FolderWatch>,
    source_ok: bool,
    /// Removals not yet applied (see [`REMOVAL_QUIET`]).
    held: HashSet<Arc<str>>,
    /// When the first of `held` was held.
    held_since: Option<Instant>,
    /// When the folder last changed, as far as events and rescans tell.
    last_change: Instant,
    /// Files left open by their writer, with when that was first seen.
    writing: HashMap<PathBuf, Instant>,
    /// Files rejected as cut short and queued to be read once more.
    cut_retry: HashSet<Arc<str>>,
    /// When the watch started after a load that ran without one: the next
    /// rescan reads only what changed before it, and leaves later changes
    /// to their events (which tell a file still being written).
    unwatched_until: Option<SystemTime>,
}

impl Worker {
    fn new(settings: ReloadSettings, live: Arc<Live>, events: Sender<Signal>) -> Self {
        Worker {
            settings,
            live,
            events,
            watcher: None,
            source_ok: false,
            held: HashSet::new(),
            held_since: None,
            last_change: Instant::now(),
            writing: HashMap::new(),
            cut_retry: HashSet::new(),
            unwatched_until: None,
        }
    }

    fn run(mut self, rx: Receiver<Signal>) {
        // The first load runs unwatched: notify asks inotify for open
        // events, so a watch set up before it would queue an event for
        // every file the loader reads (a third more start-up time on 10^5
        // posts). The watch starts before the first snapshot is published,
        // and a rescan then picks up what changed during the load.
        self.load_initial();
        if self.watcher.is_some() {
            self.rescan("changes during the first load");
        }
        let mut next_rescan = self.next_rescan();
        loop {
            let was_ok = self.source_ok;
            let grace_ends = self.writing.values().min().map(|t| *t + WRITE_GRACE);
            let wake = [next_rescan, grace_ends, self.release_due()]
                .into_iter()
                .flatten()
                .min();
            let wait = wake.map(|t| t.saturating_duration_since(Instant::now()));
            let signal = match wait {
                Some(w) => rx.recv_timeout(w),
                None => rx.recv().map_err(|_| RecvTimeoutError::Disconnected),
            };
            match signal {
                Ok(Signal::Stop) | Err(RecvTimeoutError::Disconnected) => return,
                Ok(Signal::Events(batch)) => {
                    let mut batch = batch;
                    let mut rescan = None;
                    self.last_change = Instant::now();
                    while let Ok(more) = rx.try_recv() {
                        match more {
                            Signal::Events(b) => batch.extend(b),
                            Signal::Rescan(why) => rescan = Some(why),
                            Signal::Stop => return,
                        }
                    }
                    // Hidden paths only count as activity (above); their
                    // new folders are watched so that it keeps counting.
                    self.watch_new_folders(&std::mem::take(&mut batch.hidden));
                    match rescan {
                        Some(why) => {
                            self.defer_writing(&mut batch);
                            self.watch_new_folders(&batch.paths);
                            self.rescan(why)
                        }
                        None => self.on_events(batch),
                    }
                }
                Ok(Signal::Rescan(why)) => self.rescan(why),
                Err(RecvTimeoutError::Timeout) => {
                    if next_rescan.is_some_and(|t| t <= Instant::now()) {
                        self.rescan("interval");
                        next_rescan = self.next_rescan();
                    }
                    self.writes_overdue();
                    // Nothing came while waiting: the folder is quiet.
                    if self.release_due().is_some_and(|t| t <= Instant::now()) {
                        self.release_held();
                    }
                }
            }
            // A folder that never stays quiet still has its removals
            // applied after REMOVAL_MAX_HOLD.
            if self
                .held_since
                .is_some_and(|t| self.source_ok && t + REMOVAL_MAX_HOLD <= Instant::now())
            {
                self.release_held();
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
        // The watch is set up once the files are read (so the loader's own
        // reads queue no events) and while the feeds are rendered.
        let (settings, events) = (&self.settings, &self.events);
        let watch = settings.watch && self.watcher.is_none();
        let after_load = || {
            let watcher = (watch && settings.root.is_dir())
                .then(|| settings.watch_with(events))
                .flatten();
            (watcher, SystemTime::now())
        };
        match self.live.pipeline().initial_then(after_load) {
            Ok((snap, (watcher, watched_at))) => {
                if watcher.is_some() {
                    self.watcher = watcher;
                    self.unwatched_until = Some(watched_at);
                }
                tracing::info!(
                    articles = snap.catalog.len(),
                    feeds = snap.feeds.len(),
                    files = snap.reports.len(),
                    rejected = snap.rejected().count(),
                    ms = snap.stats.duration.as_millis() as u64,
                    "loaded"
                );
                // Watched before it is published: a change made once
                // `/healthz` says 200 arrives as events, which tell a
                // finished file from one still being written.
                self.source_available();
                self.live.publish(snap);
            }
            Err(e) => self.source_unavailable(e.to_string()),
        }
    }

    fn source_available(&mut self) {
        self.source_ok = true;
        self.live.set_source_health(SourceHealth::Ok);
        if self.settings.watch && self.watcher.is_none() {
            self.watcher = self.settings.watch_with(&self.events);
        }
        self.refill_begins();
    }

    /// The folder itself was removed, renamed or replaced: the watch
    /// followed the old folder (and would report its changes under the
    /// old paths), so the folder is watched afresh.
    fn rewatch(&mut self) {
        self.watcher = None;
        if self.settings.watch && self.settings.root.is_dir() {
            self.watcher = self.settings.watch_with(&self.events);
        }
        self.refill_begins();
    }

    /// A folder that is back, or new, is likely still being filled
    /// (`mkdir posts && cp -r new/. posts/`): the removals held so far get
    /// a full hold from now on, and wait for it to be quiet from now on.
    fn refill_begins(&mut self) {
        self.last_change = Instant::now();
        if self.held_since.is_some() {
            self.held_since = Some(Instant::now());
        }
    }

    /// Whether the configured path now names another folder than the one
    /// watched: a link pointed elsewhere (`ln -sfn new posts`).
    fn root_replaced(&self) -> bool {
        self.watcher
            .as_ref()
            .is_some_and(|w| w.root != folder_id(&self.settings.root))
    }

    fn source_unavailable(&mut self, why: String) {
        if self.source_ok || self.live.current().is_none() {
            tracing::error!(error = %why, "source folder unavailable; serving the last snapshot");
        }
        self.source_ok = false;
        // The watch died with the folder; a new one is set up on return.
        self.watcher = None;
        self.live.set_source_health(SourceHealth::Unavailable(why));
    }

    /// Files of `batch` still open for writing wait for their writer to
    /// close them (or for [`WRITE_GRACE`]); everything else is due now.
    fn defer_writing(&mut self, batch: &mut Batch) {
        let now = Instant::now();
        let root = &self.settings.root;
        // Only posts that are regular files: a FIFO or a link made with
        // `ln` is created without ever being closed after writing.
        batch.writing.retain(|p| {
            source::classify(root, p).is_some()
                && std::fs::symlink_metadata(p).is_ok_and(|m| m.is_file())
        });
        for p in &batch.writing {
            self.writing.entry(p.clone()).or_insert(now);
        }
        let writing = &batch.writing;
        batch.paths.retain(|p| !writing.contains(p));
        for p in &batch.paths {
            self.writing.remove(p);
        }
    }

    /// Files whose writer has not closed them within [`WRITE_GRACE`] are
    /// read as they are.
    fn writes_overdue(&mut self) {
        let now = Instant::now();
        let overdue: Vec<PathBuf> = self
            .writing
            .iter()
            .filter(|(_, since)| now.saturating_duration_since(**since) >= WRITE_GRACE)
            .map(|(p, _)| p.clone())
            .collect();
        if overdue.is_empty() {
            return;
        }
        for p in &overdue {
            self.writing.remove(p);
        }
        self.on_paths(overdue);
    }

    fn on_events(&mut self, mut batch: Batch) {
        self.defer_writing(&mut batch);
        if batch.paths.is_empty() {
            return;
        }
        self.on_paths(batch.paths);
    }

    fn on_paths(&mut self, paths: Vec<PathBuf>) {
        let Some(snap) = self.live.current() else {
            return self.load_initial();
        };
        let root = &self.settings.root;
        if paths.iter().any(|p| p == root) || self.root_replaced() {
            self.rewatch();
            return self.rescan("source folder changed");
        }
        // Events that come after the folder is gone (`rm -rf`) say every
        // file was removed; the folder is unavailable instead, and the
        // last snapshot stays.
        if !root.is_dir() {
            return self.rescan("source folder changed");
        }
        self.watch_new_folders(&paths);
        match changes_for(&self.settings.root, &snap, paths) {
            Some(changes) if changes.is_empty() => {}
            Some(changes) => self.apply(&snap, changes, "events"),
            None => self.rescan("folder change"),
        }
    }

    /// Folder by folder, new folders are not watched by themselves.
    fn watch_new_folders(&mut self, paths: &[PathBuf]) {
        let Some(watch) = self.watcher.as_mut().filter(|_| !paths.is_empty()) else {
            return;
        };
        let Ok(fence) = source::LinkFence::new(&self.settings.root, self.settings.links) else {
            return;
        };
        for p in paths.iter().filter(|p| p.is_dir()) {
            watch_tree(&mut watch.debouncer, p, &fence);
        }
    }

    fn rescan(&mut self, why: &'static str) {
        let Some(snap) = self.live.current() else {
            return self.load_initial();
        };
        // Watch before listing, so that what changes meanwhile is queued.
        if self.root_replaced() {
            self.rewatch();
        }
        if self.settings.watch && self.watcher.is_none() && self.settings.root.is_dir() {
            self.watcher = self.settings.watch_with(&self.events);
        }
        match diff(&self.settings.root, &snap, self.settings.links) {
            Ok(mut changes) => {
                if !self.source_ok {
                    tracing::info!("source folder is back");
                    self.source_available();
                }
                // Files still being written are read once closed.
                let watched_at = self.unwatched_until.take();
                changes.retain(|c| match c {
                    Change::Write(f) => {
                        !self.writing.contains_key(&f.path)
                            && watched_at.is_none_or(|t| changed_before(&f.path, t))
                    }
                    Change::Remove(_) | Change::Refused(_) => true,
                });
                if !changes.is_empty() {
                    self.apply(&snap, changes, why);
                }
            }
            Err(e) => self.source_unavailable(e.to_string()),
        }
    }

    /// Writes are published now; removals are held until the folder is
    /// quiet (see [`REMOVAL_QUIET`]), and a held path that is written
    /// meanwhile is simply a write.
    fn apply(&mut self, snap: &Arc<Snapshot>, changes: Vec<Change>, why: &'static str) {
        if changes.is_empty() {
            return;
        }
        let mut writes = Vec::with_capacity(changes.len());
        for change in changes {
            match change {
                Change::Remove(rel) => {
                    self.cut_retry.remove(&rel);
                    self.hold(rel);
                }
                Change::Write(ref f) => {
                    self.held.remove(&f.rel);
                    writes.push(change);
                }
                Change::Refused(ref r) => {
                    self.held.remove(&r.rel);
                    writes.push(change);
                }
            }
        }
        if writes.is_empty() {
            self.last_change = Instant::now();
            return;
        }
        // A file can vanish between the listing (or its event) and the
        // read; its report would then keep the last good version as if it
        // were merely unreadable. Such files are removed, in their turn.
        let written: Vec<(Arc<str>, PathBuf)> = writes
            .iter()
            .filter_map(|c| match c {
                Change::Write(f) => Some((f.rel.clone(), f.path.clone())),
                Change::Remove(_) | Change::Refused(_) => None,
            })
            .collect();
        let next = self.publish(snap, writes, why);
        for (rel, path) in written {
            if std::fs::symlink_metadata(&path).is_err() {
                self.hold(rel);
                continue;
            }
            self.retry_if_cut(&next, rel, path);
        }
        // Quiet is counted from the end of the work: events that came
        // meanwhile are still queued.
        self.last_change = Instant::now();
    }

    /// A file that looks cut short was most likely read while a writer was
    /// still at it, and its close-after-write may have come before the read
    /// (or before its folder was watched, as in `rm -rf posts && mkdir
    /// posts && cp -r new/. posts/`): it is read once more, at its close or
    /// after [`WRITE_GRACE`], rather than left until it changes again. Once
    /// only: a file that really is cut keeps its report.
    fn retry_if_cut(&mut self, next: &Snapshot, rel: Arc<str>, path: PathBuf) {
        let retried = self.cut_retry.remove(&rel);
        if !retried && next.reports.get(&rel).is_some_and(|r| r.looks_cut()) {
            self.writing.entry(path).or_insert_with(Instant::now);
            self.cut_retry.insert(rel);
        }
    }

    fn hold(&mut self, rel: Arc<str>) {
        self.held_since.get_or_insert_with(Instant::now);
        self.held.insert(rel);
    }

    /// When the held removals are due: once the folder has been quiet for
    /// [`REMOVAL_QUIET`], or [`REMOVAL_MAX_HOLD`] after the first. Never
    /// while the folder is unavailable: its last snapshot stays whole.
    fn release_due(&self) -> Option<Instant> {
        let since = self.held_since?;
        self.source_ok
            .then(|| (self.last_change + REMOVAL_QUIET).min(since + REMOVAL_MAX_HOLD))
    }

    /// Applies the held removals of files that are still gone; a file that
    /// is back is read again if it changed meanwhile.
    fn release_held(&mut self) {
        if !self.settings.root.is_dir() {
            // Gone since the last event: the folder is unavailable, and
            // the removals wait for it.
            return self.rescan("source folder changed");
        }
        let Some(snap) = self.live.current() else {
            return;
        };
        self.held_since = None;
        let held = std::mem::take(&mut self.held);
        let root = &self.settings.root;
        let fence = source::LinkFence::new(root, self.settings.links).ok();
        let mut changes = Vec::new();
        for rel in held {
            let Some(report) = snap.reports.get(&rel) else {
                continue;
            };
            let path = source::path_of(root, &rel);
            // Back, but through a link out of the folder: still gone.
            if fence.as_ref().is_some_and(|f| f.outside(&path).is_some()) {
                changes.push(Change::Remove(rel));
                continue;
            }
            match std::fs::metadata(&path) {
                // Back; one still open for writing is read once closed.
                Ok(m) if m.is_file() => {
                    let changed = report.fingerprint != Fingerprint::of(&path)
                        && !self.writing.contains_key(&path);
                    if let Some(file) = source::classify(root, &path).filter(|_| changed) {
                        changes.push(Change::Write(file));
                    }
                }
                // Nothing is known about a file below a folder that cannot
                // be read now; the rescan's report says so.
                Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {}
                _ => changes.push(Change::Remove(rel)),
            }
        }
        if !changes.is_empty() {
            self.publish(&snap, changes, "removals");
        }
    }

    fn publish(
        &self,
        snap: &Arc<Snapshot>,
        changes: Vec<Change>,
        why: &'static str,
    ) -> Arc<Snapshot> {
        let next = self.live.pipeline().apply(snap, changes);
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
        self.live.publish(next)
    }
}
