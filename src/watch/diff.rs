//! What changed, worked out from paths and the snapshot alone: the
//! changes a batch of event paths stands for, and a rescan's diff of the
//! folder against the snapshot. No threads, no watch.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crate::article::FileReport;
use crate::snapshot::{Change, Snapshot};
use crate::source::{self, Fingerprint};

/// Whether a file last changed (data or status) before `t`. File times
/// come from the kernel's coarse clock, up to a tick behind: a file
/// changed just after `t` may carry a time just before it.
pub(super) fn changed_before(path: &Path, t: SystemTime) -> bool {
    use std::os::unix::fs::MetadataExt;
    const CLOCK_TICK: Duration = Duration::from_millis(20);
    let Ok(m) = std::fs::metadata(path) else {
        return true;
    };
    let changed = Duration::new(
        m.ctime().max(0) as u64,
        m.ctime_nsec().clamp(0, 999_999_999) as u32,
    );
    let changed = SystemTime::UNIX_EPOCH + changed;
    let last = m
        .modified()
        .map_or(changed, |modified| modified.max(changed));
    last + CLOCK_TICK < t
}

/// Changes for the changed paths; `None` when a folder changed, which only
/// a rescan can resolve.
pub(super) fn changes_for(
    root: &Path,
    snap: &Snapshot,
    paths: Vec<PathBuf>,
) -> Option<Vec<Change>> {
    let mut changes = Vec::new();
    let mut seen = HashSet::new();
    for path in paths {
        if !seen.insert(path.clone()) {
            continue;
        }
        // A folder, a path that held known files (a folder now gone or
        // replaced by a file of the same name, even one named like a
        // post), or a link (which may lead out of the folder, or nowhere):
        // the walk decides.
        if path == root || path.is_dir() || held_below(root, snap, &path) || path.is_symlink() {
            return None;
        }
        match source::classify(root, &path) {
            Some(file) if path.is_file() => changes.push(Change::Write(file)),
            Some(file) if snap.reports.contains_key(&file.rel) => {
                changes.push(Change::Remove(file.rel));
            }
            Some(_) => {}
            // Not named like a post, yet reported (a link loop, a folder
            // that could not be read): the walk decides what it is now.
            None if reported(root, snap, &path) => return None,
            None => {}
        }
    }
    Some(changes)
}

pub(super) fn reported(root: &Path, snap: &Snapshot, path: &Path) -> bool {
    source::rel_of(root, path).is_some_and(|rel| snap.reports.contains_key(&*rel))
}

/// Are there files we know of below `path`, i.e. was it a folder?
pub(super) fn held_below(root: &Path, snap: &Snapshot, path: &Path) -> bool {
    let Some(rel) = source::rel_of(root, path) else {
        return false;
    };
    let prefix: Arc<str> = format!("{rel}/").into();
    snap.reports
        .range(prefix.clone()..)
        .next()
        .is_some_and(|(k, _)| k.starts_with(&*prefix))
}

/// A full rescan: files that are new or whose fingerprint changed, and
/// files that are gone. Paths the walk cannot enter or follow (a folder
/// without permission, a link loop, a dangling link) are reported as the
/// first load reports them, and what was loaded from below them is kept:
/// nothing is known about it, least of all that it was deleted.
pub(super) fn diff(
    root: &Path,
    snap: &Snapshot,
    links: source::Links,
) -> Result<Vec<Change>, source::SourceError> {
    let (files, errors) = source::discover(root, links)?;
    let mut changes = Vec::new();
    let mut present = HashSet::with_capacity(files.len() + errors.len());
    for file in files {
        present.insert(file.rel.clone());
        let unchanged = snap.reports.get(&file.rel).is_some_and(|r| {
            r.fingerprint.is_some() && r.fingerprint == Fingerprint::of(&file.path)
        });
        if !unchanged {
            changes.push(Change::Write(file));
        }
    }
    let mut blocked = Vec::new();
    for error in &errors {
        let Some(file) = source::unreadable(root, error) else {
            continue;
        };
        present.insert(file.rel.clone());
        // Already reported as unreadable: nothing new to say.
        let reported = snap
            .reports
            .get(&file.rel)
            .is_some_and(|r| r.article.is_none());
        if error.hides {
            blocked.push(format!("{}/", file.rel));
            if !reported {
                changes.push(Change::Write(file));
            }
        } else if !reported {
            changes.push(Change::Refused(FileReport::unreadable(root, error.clone())));
        }
    }
    for rel in snap.reports.keys() {
        let hidden = blocked.iter().any(|b| rel.starts_with(b.as_str()));
        if !present.contains(&**rel) && !hidden {
            changes.push(Change::Remove(rel.clone()));
        }
    }
    Ok(changes)
}
