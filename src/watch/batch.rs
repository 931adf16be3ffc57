//! One debounced batch of file events, and which of its files a writer
//! still has open.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use notify::event::{AccessKind, AccessMode, CreateKind, EventKind, ModifyKind};
use notify_debouncer_full::DebouncedEvent;

/// One debounced batch of file events.
#[derive(Debug, Default)]
pub(super) struct Batch {
    /// Every path an event named, in order, but hidden ones.
    pub(super) paths: Vec<PathBuf>,
    /// Hidden paths an event named (`.git/…`, an rsync temporary file):
    /// never posts, so never changes, but activity all the same: a deploy
    /// is under way and held removals keep waiting.
    pub(super) hidden: Vec<PathBuf>,
    /// Files whose data changed with no close-after-write since: a writer
    /// still has them open, and what is there may be half of it.
    pub(super) writing: HashSet<PathBuf>,
}

impl Batch {
    pub(super) fn of(root: &Path, events: Vec<DebouncedEvent>) -> Batch {
        let mut batch = Batch::default();
        for e in events {
            match e.kind {
                EventKind::Access(AccessKind::Close(AccessMode::Write)) => {
                    for p in &e.paths {
                        batch.writing.remove(p);
                    }
                }
                // Opens and reads, refeed's own included, change nothing.
                EventKind::Access(_) => continue,
                EventKind::Create(CreateKind::File)
                | EventKind::Modify(ModifyKind::Data(_) | ModifyKind::Any) => {
                    batch.writing.extend(e.paths.iter().cloned());
                }
                EventKind::Remove(_) | EventKind::Modify(ModifyKind::Name(_)) => {
                    for p in &e.paths {
                        batch.writing.remove(p);
                    }
                }
                _ => {}
            }
            for p in e.event.paths {
                if crate::source::hidden(root, &p) {
                    batch.writing.remove(&p);
                    batch.hidden.push(p);
                } else {
                    batch.paths.push(p);
                }
            }
        }
        batch
    }

    /// Whether the batch names any path at all, hidden ones included.
    pub(super) fn is_empty(&self) -> bool {
        self.paths.is_empty() && self.hidden.is_empty()
    }

    pub(super) fn extend(&mut self, other: Batch) {
        for p in &other.paths {
            self.writing.remove(p);
        }
        self.paths.extend(other.paths);
        self.hidden.extend(other.hidden);
        self.writing.extend(other.writing);
    }
}
