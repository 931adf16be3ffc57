//! Setting up the file watch: a debouncer whose events become
//! [`Signal`]s, and one watch per folder of the source tree.

use std::path::{Path, PathBuf};
use std::sync::mpsc::Sender;
use std::time::Duration;

use notify::RecursiveMode;
use notify_debouncer_full::{DebounceEventResult, Debouncer, NoCache, new_debouncer_opt};

use super::Signal;
use super::batch::Batch;
use crate::source;

pub(super) type Watcher = Debouncer<notify::RecommendedWatcher, NoCache>;

/// How the reload thread follows the source folder, from the configuration.
pub(super) struct ReloadSettings {
    pub(super) root: PathBuf,
    pub(super) watch: bool,
    pub(super) debounce: Duration,
    pub(super) rescan_every: Option<Duration>,
    pub(super) links: source::Links,
}

/// A watch of the source folder, and which folder that was: a deploy may
/// point the configured path (a link) at another one.
pub(super) struct FolderWatch {
    pub(super) debouncer: Watcher,
    pub(super) root: Option<FolderId>,
}

/// Device and inode of a folder.
pub(super) type FolderId = (u64, u64);

pub(super) fn folder_id(path: &Path) -> Option<FolderId> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(path).ok().map(|m| (m.dev(), m.ino()))
}

impl ReloadSettings {
    pub(super) fn debouncer(&self, events: &Sender<Signal>) -> Option<Watcher> {
        let tx = events.clone();
        let root = self.root.clone();
        let handler = move |result: DebounceEventResult| {
            let signal = match result {
                // Lost events (the kernel's queue overflowed): only a
                // rescan is safe.
                Ok(events) if events.iter().any(|e| e.need_rescan()) => {
                    Signal::Rescan("events lost")
                }
                Ok(events) => {
                    let batch = Batch::of(&root, events);
                    if batch.is_empty() {
                        return;
                    }
                    Signal::Events(batch)
                }
                Err(_) => Signal::Rescan("watch error"),
            };
            let _ = tx.send(signal);
        };
        // No file-id cache: building one stats every file of the archive
        // before the first load, and refeed matches changes by path anyway.
        let debouncer = new_debouncer_opt(
            self.debounce,
            None,
            handler,
            NoCache,
            notify::Config::default(),
        );
        match debouncer {
            Ok(d) => Some(d),
            Err(e) => {
                tracing::warn!(error = %e, "cannot watch; relying on rescans");
                None
            }
        }
    }

    /// A watch of the whole source folder, sending its events to `events`:
    /// every folder on its own, new ones added as their events arrive.
    /// notify's recursive mode stats every file of the tree twice to find
    /// its folders (a fifth of start-up on 10^5 posts), and gives up on the
    /// whole tree at the first folder it cannot watch (a `lost+found` only
    /// root may read).
    pub(super) fn watch_with(&self, events: &Sender<Signal>) -> Option<FolderWatch> {
        let root = folder_id(&self.root);
        let mut debouncer = self.debouncer(events)?;
        let fence = source::LinkFence::new(&self.root, self.links).ok()?;
        let skipped = watch_tree(&mut debouncer, &self.root, &fence);
        if skipped > 0 {
            tracing::warn!(skipped, "cannot watch some folders; rescans cover them");
        }
        Some(FolderWatch { debouncer, root })
    }
}

/// Watches `dir` and every folder below it (following the links the walk
/// follows), each on its own, skipping the ones that cannot be watched.
/// Returns how many were skipped. Hidden folders are watched too, though
/// nothing in them is ever loaded: a deploy writing into `.git` is activity
/// that must hold removals (a git repository adds a few hundred watches at
/// most, `.git/objects` having 256 fan-out folders).
pub(super) fn watch_tree(debouncer: &mut Watcher, dir: &Path, fence: &source::LinkFence) -> usize {
    let mut skipped = 0;
    // A new folder may itself be a link out of the source folder.
    if fence.outside(dir).is_some() {
        return 0;
    }
    let folders = walkdir::WalkDir::new(dir)
        .follow_links(true)
        .into_iter()
        .filter_entry(|e| e.depth() == 0 || fence.refuses(e).is_none())
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_dir());
    for folder in folders {
        if debouncer
            .watch(folder.path(), RecursiveMode::NonRecursive)
            .is_err()
        {
            skipped += 1;
        }
    }
    skipped
}
