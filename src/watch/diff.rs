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
    const CLOCK_TICK: Duration = Duration::from_millis(20);
    Fingerprint::of(path)
        .and_then(|f| f.changed_at())
        .is_none_or(|last| last + CLOCK_TICK < t)
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
    changes.extend(linked_to_written(root, snap, &changes));
    Some(changes)
}

/// The posts that are symbolic links to a file this batch writes. Events
/// name the file written, never a link to it, so without this a linked
/// post kept its old version until a rescan (found by the third attack).
/// Links are matched by the path they resolve to, since editors and
/// deploys replace a file by a rename; only the snapshot's linked posts
/// are looked at, usually none.
fn linked_to_written(root: &Path, snap: &Snapshot, changes: &[Change]) -> Vec<Change> {
    let mut linked = snap.linked().peekable();
    if linked.peek().is_none() {
        return Vec::new();
    }
    let written: HashSet<PathBuf> = changes
        .iter()
        .filter_map(|c| match c {
            Change::Write(f) if !f.linked => std::fs::canonicalize(&f.path).ok(),
            _ => None,
        })
        .collect();
    if written.is_empty() {
        return Vec::new();
    }
    linked
        .filter_map(|r| source::classify(root, &source::path_of(root, &r.rel)))
        .filter(|f| std::fs::canonicalize(&f.path).is_ok_and(|target| written.contains(&target)))
        .filter(|f| {
            !changes
                .iter()
                .any(|c| matches!(c, Change::Write(w) if w.rel == f.rel))
        })
        .map(Change::Write)
        .collect()
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

#[cfg(test)]
mod tests {
    use std::fs;
    use std::os::unix::fs::symlink;

    use super::*;
    use crate::config::Config;
    use crate::snapshot::Pipeline;

    const POST: &str = "---\ntitle: A post\ndate: 2021-01-01\n---\nbody\n";

    /// A source folder and the pipeline that loads it.
    struct Folder {
        dir: tempfile::TempDir,
        pipeline: Pipeline,
    }

    impl Folder {
        fn new(files: &[&str]) -> Self {
            let dir = tempfile::tempdir().unwrap();
            let mut config = Config::default_embedded().unwrap();
            config.source_dir = dir.path().to_path_buf();
            let folder = Folder {
                pipeline: Pipeline::new(&config).unwrap(),
                dir,
            };
            for rel in files {
                folder.write(rel, POST);
            }
            folder
        }

        fn root(&self) -> &Path {
            self.dir.path()
        }

        fn path(&self, rel: &str) -> PathBuf {
            self.root().join(rel)
        }

        fn write(&self, rel: &str, text: &str) {
            let path = self.path(rel);
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            fs::write(path, text).unwrap();
        }

        fn load(&self) -> Snapshot {
            self.pipeline.initial().unwrap()
        }

        fn rescan(&self, snap: &Snapshot) -> Vec<Change> {
            diff(self.root(), snap, source::Links::InsideRoot).unwrap()
        }

        fn events(&self, snap: &Snapshot, rels: &[&str]) -> Option<Vec<String>> {
            let paths = rels.iter().map(|r| self.path(r)).collect();
            changes_for(self.root(), snap, paths).map(|c| named(&c))
        }
    }

    /// Changes as `write a.md`, `remove b.md`, `refuse c.md`, sorted.
    fn named(changes: &[Change]) -> Vec<String> {
        let mut names: Vec<String> = changes
            .iter()
            .map(|c| match c {
                Change::Write(f) => format!("write {}", f.rel),
                Change::Remove(rel) => format!("remove {rel}"),
                Change::Refused(r) => format!("refuse {}", r.rel),
            })
            .collect();
        names.sort();
        names
    }

    #[test]
    fn a_rescan_finds_additions_edits_and_removals_and_passes_unchanged_files() {
        let folder = Folder::new(&["same.md", "edited.md", "removed.md", "sub/deep.md"]);
        let snap = folder.load();
        assert_eq!(named(&folder.rescan(&snap)), Vec::<String>::new());

        folder.write("edited.md", &format!("{POST}more\n"));
        fs::remove_file(folder.path("removed.md")).unwrap();
        folder.write("added.md", POST);
        folder.write("sub/new.md", POST);
        assert_eq!(
            named(&folder.rescan(&snap)),
            [
                "remove removed.md",
                "write added.md",
                "write edited.md",
                "write sub/new.md"
            ]
        );
    }

    #[test]
    fn hidden_entries_and_other_files_are_no_posts() {
        let folder = Folder::new(&["post.md"]);
        let snap = folder.load();
        folder.write(".hidden.md", POST);
        folder.write(".git/post.md", POST);
        folder.write("sub/.cache/post.md", POST);
        folder.write("notes.txt", POST);
        // Emacs's lock file: a hidden link to nowhere.
        symlink("nobody@host.1234", folder.path(".#post.md")).unwrap();
        assert_eq!(named(&folder.rescan(&snap)), Vec::<String>::new());
        let events = [
            ".hidden.md",
            ".git/post.md",
            "sub/.cache/post.md",
            "notes.txt",
        ];
        assert_eq!(folder.events(&snap, &events), Some(vec![]));
    }

    #[test]
    fn links_out_of_the_folder_are_refused_once() {
        let outside = tempfile::tempdir().unwrap();
        fs::write(outside.path().join("elsewhere.md"), POST).unwrap();
        let folder = Folder::new(&["post.md"]);
        let snap = folder.load();
        symlink(outside.path().join("elsewhere.md"), folder.path("file.md")).unwrap();
        symlink(outside.path(), folder.path("folder")).unwrap();
        symlink(folder.path("post.md"), folder.path("inside.md")).unwrap();

        let changes = folder.rescan(&snap);
        assert_eq!(
            named(&changes),
            ["refuse file.md", "refuse folder", "write inside.md"]
        );
        // Reported now: the next rescan has nothing new to say.
        let next = folder.pipeline.apply(&snap, changes);
        assert_eq!(named(&folder.rescan(&next)), Vec::<String>::new());

        // Followed when links anywhere are.
        let anywhere = diff(folder.root(), &snap, source::Links::Anywhere).unwrap();
        assert_eq!(
            named(&anywhere),
            [
                "write file.md",
                "write folder/elsewhere.md",
                "write inside.md"
            ]
        );
    }

    /// A folder the walk cannot enter hides what is below it: nothing is
    /// known about those files, least of all that they were deleted.
    #[test]
    fn files_below_a_folder_that_cannot_be_entered_are_kept() {
        let folder = Folder::new(&["sub/inner/post.md", "sub/other.md"]);
        let snap = folder.load();
        fs::remove_dir_all(folder.path("sub/inner")).unwrap();
        symlink("/nonexistent/refeed-test", folder.path("sub/inner")).unwrap();

        let changes = folder.rescan(&snap);
        assert_eq!(named(&changes), ["write sub/inner"]);
        let next = folder.pipeline.apply(&snap, changes);
        assert!(next.reports.contains_key("sub/inner/post.md"));
        assert_eq!(named(&folder.rescan(&next)), Vec::<String>::new());

        // Gone for good once the walk can tell.
        fs::remove_file(folder.path("sub/inner")).unwrap();
        assert_eq!(
            named(&folder.rescan(&next)),
            ["remove sub/inner", "remove sub/inner/post.md"]
        );
    }

    /// A file rejected as cut short is not read again by every rescan,
    /// only once it changes.
    #[test]
    fn a_cut_file_is_read_again_once_it_changes() {
        let folder = Folder::new(&["post.md"]);
        folder.write("cut.md", "---\ntitle: A post\ndate: 2021-01-01\n");
        let snap = folder.load();
        assert!(snap.reports["cut.md"].looks_cut());
        assert_eq!(named(&folder.rescan(&snap)), Vec::<String>::new());
        folder.write("cut.md", POST);
        assert_eq!(named(&folder.rescan(&snap)), ["write cut.md"]);
    }

    #[test]
    fn event_paths_become_writes_and_removals() {
        let folder = Folder::new(&["edited.md", "removed.md"]);
        let snap = folder.load();
        folder.write("edited.md", &format!("{POST}more\n"));
        folder.write("added.md", POST);
        fs::remove_file(folder.path("removed.md")).unwrap();
        let paths = [
            "edited.md",
            "added.md",
            "removed.md",
            "edited.md",
            "never.md",
        ];
        assert_eq!(
            folder.events(&snap, &paths),
            Some(vec![
                "remove removed.md".into(),
                "write added.md".into(),
                "write edited.md".into(),
            ])
        );
    }

    /// What a path stands for is then the walk's to say.
    /// Found by the third attack: events name the file written, never a
    /// link to it, so a linked post kept its old version until a rescan.
    #[test]
    fn a_write_reloads_the_posts_linked_to_its_file() {
        let folder = Folder::new(&["in/post.md", "other.md"]);
        symlink(folder.path("in/post.md"), folder.path("link.md")).unwrap();
        let snap = folder.load();
        assert_eq!(snap.linked().count(), 1, "the walk marks the link");
        folder.write("in/post.md", "---\ntitle: edited\n---\nbody\n");
        let both = Some(vec!["write in/post.md".into(), "write link.md".into()]);
        assert_eq!(
            folder.events(&snap, &["in/post.md"]),
            both,
            "written in place"
        );
        // As editors and deploys do: a new file renamed over the old one.
        folder.write("in/.new", "---\ntitle: replaced\n---\nbody\n");
        fs::rename(folder.path("in/.new"), folder.path("in/post.md")).unwrap();
        assert_eq!(folder.events(&snap, &["in/post.md"]), both, "replaced");
        assert_eq!(
            folder.events(&snap, &["other.md"]),
            Some(vec!["write other.md".to_string()]),
            "a file nothing links to"
        );
    }

    #[test]
    fn folders_links_and_reported_paths_need_a_rescan() {
        let folder = Folder::new(&["post.md", "sub/post.md", "was-a-folder.md/post.md"]);
        folder.write("gone/post.md", POST);
        symlink("/nonexistent/refeed-test", folder.path("locked")).unwrap();
        let snap = folder.load();
        assert_eq!(folder.events(&snap, &[""]), None, "the folder itself");
        assert_eq!(folder.events(&snap, &["sub"]), None, "a folder");
        symlink(folder.path("post.md"), folder.path("link.md")).unwrap();
        assert_eq!(folder.events(&snap, &["link.md"]), None, "a link");
        fs::remove_dir_all(folder.path("gone")).unwrap();
        assert_eq!(folder.events(&snap, &["gone"]), None, "a folder removed");
        fs::remove_dir_all(folder.path("was-a-folder.md")).unwrap();
        folder.write("was-a-folder.md", POST);
        let replaced = ["was-a-folder.md"];
        assert_eq!(folder.events(&snap, &replaced), None, "a folder replaced");
        assert!(snap.reports.contains_key("locked"));
        fs::remove_file(folder.path("locked")).unwrap();
        assert_eq!(folder.events(&snap, &["locked"]), None, "reported");
    }

    #[test]
    fn changed_before_reads_the_later_of_both_file_times() {
        let folder = Folder::new(&["post.md"]);
        let path = folder.path("post.md");
        let later = SystemTime::now() + Duration::from_secs(60);
        assert!(changed_before(&path, later));
        assert!(!changed_before(&path, SystemTime::UNIX_EPOCH));
        // Gone: nothing to wait for.
        assert!(changed_before(
            &folder.path("gone.md"),
            SystemTime::UNIX_EPOCH
        ));
    }
}
