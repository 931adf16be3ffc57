//! Finding the post files below the source folder, and which symbolic
//! links the walk (and the watch) may follow.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::names::{SourceFile, source_file};

/// File name endings that hold posts (compared case-insensitively).
const EXTENSIONS: &[&str] = &["md", "markdown", "html", "htm"];

/// A path the walk could not enter or read (permission, symlink loop, ...)
/// or would not follow (a link out of the source folder).
#[derive(Debug, Clone)]
pub struct WalkError {
    pub path: PathBuf,
    pub reason: String,
    /// Whether what lies below is unknown rather than absent: files loaded
    /// from below a folder that cannot be read now are not deleted, while
    /// nothing is ever loaded through a link the walk will not follow.
    pub hides: bool,
}

/// Which symbolic links the walk follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Links {
    /// Only links whose target lies inside the source folder: a link to
    /// `/usr/share` must not publish the system's files.
    InsideRoot,
    /// Any link (`load.follow_external_links: true`).
    Anywhere,
}

#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("source folder {path}: {reason}")]
    Root { path: PathBuf, reason: String },
}

/// What the walk meets: a post file, or an entry it cannot enter or follow.
#[derive(Debug)]
pub enum Walked {
    File(SourceFile),
    Unreadable(WalkError),
}

/// Every post file below `root`, in walk order, skipping hidden files and
/// folders. Unreadable entries, and links the walk will not follow, are
/// yielded, not dropped, so that the report can name them. A lazy iterator,
/// so that loading can start on the first files while the walk goes on
/// (rayon's `par_bridge`).
pub fn walk(
    root: &Path,
    links: Links,
) -> Result<impl Iterator<Item = Result<Walked, SourceError>> + Send, SourceError> {
    let root_error = |e: std::io::Error| SourceError::Root {
        path: root.to_path_buf(),
        reason: e.to_string(),
    };
    let meta = fs::metadata(root).map_err(root_error)?;
    if !meta.is_dir() {
        return Err(SourceError::Root {
            path: root.to_path_buf(),
            reason: "not a folder".into(),
        });
    }
    // Resolved on every walk, not once: the configured folder may be a
    // link that a deploy points elsewhere.
    let fence = LinkFence::new(root, links).map_err(root_error)?;
    let hexo_source = root.join("_posts").is_dir();
    let root = root.to_path_buf();
    // `filter_entry` cannot yield; the links it refuses to follow are
    // queued here and handed out with the next entry (or at the end).
    let refused = Arc::new(std::sync::Mutex::new(Vec::new()));
    let queue = refused.clone();
    let walker = walkdir::WalkDir::new(&root)
        .follow_links(true)
        .into_iter()
        .filter_entry(move |e| {
            if e.depth() > 0 && is_hidden(e.file_name()) {
                return false;
            }
            match fence.refuses(e) {
                Some(refusal) => {
                    if let Ok(mut q) = queue.lock() {
                        q.push(refusal);
                    }
                    false
                }
                None => true,
            }
        });
    let drain = move || {
        refused
            .lock()
            .map(|mut q| std::mem::take(&mut *q))
            .unwrap_or_default()
            .into_iter()
            .map(|e| Ok(Walked::Unreadable(e)))
    };
    let at_end = drain.clone();
    let entries = walker.flat_map(move |entry| {
        let walked = match entry {
            Ok(e) if e.file_type().is_file() && has_post_extension(e.path()) => {
                source_file(&root, e.path(), hexo_source).map(|f| {
                    let linked = e.path_is_symlink();
                    Ok(Walked::File(SourceFile { linked, ..f }))
                })
            }
            Ok(_) => None,
            // The folder itself cannot be listed (permissions, no file
            // descriptors left): that is no empty archive, and must not read
            // as one.
            Err(e) if e.depth() == 0 => Some(Err(SourceError::Root {
                path: root.clone(),
                reason: walk_reason(&e),
            })),
            Err(e) => {
                let path = e.path().unwrap_or(&root).to_path_buf();
                // Errors bypass `filter_entry`: a hidden entry that cannot be
                // followed (Emacs's `.#post.md` lock, a symbolic link to
                // nowhere) is skipped like any hidden entry.
                (!path.file_name().is_some_and(is_hidden)).then(|| {
                    Ok(Walked::Unreadable(WalkError {
                        path,
                        reason: walk_reason(&e),
                        hides: true,
                    }))
                })
            }
        };
        drain().chain(walked)
    });
    let tail = std::iter::once(()).flat_map(move |()| at_end());
    Ok(entries.chain(tail))
}

/// Decides which symbolic links below the source folder the walk (and the
/// watch) may follow.
#[derive(Debug, Clone)]
pub struct LinkFence {
    /// The source folder with every link resolved; `None` when any link
    /// may be followed.
    inside: Option<PathBuf>,
}

impl LinkFence {
    pub fn new(root: &Path, links: Links) -> std::io::Result<Self> {
        let inside = match links {
            Links::InsideRoot => Some(fs::canonicalize(root)?),
            Links::Anywhere => None,
        };
        Ok(LinkFence { inside })
    }

    /// Why `entry` (a link below the root) is not followed, if it is not.
    /// A dangling link or a loop is left to the walk, which reports it; a
    /// link to a file that is no post is passed by as such files are.
    pub fn refuses(&self, entry: &walkdir::DirEntry) -> Option<WalkError> {
        if entry.depth() == 0
            || !entry.path_is_symlink()
            || (entry.file_type().is_file() && !has_post_extension(entry.path()))
        {
            return None;
        }
        let target = self.outside(entry.path())?;
        Some(WalkError {
            path: entry.path().to_path_buf(),
            reason: format!(
                "symbolic link to {}, outside the source folder: not followed \
                 (load.follow_external_links)",
                target.display()
            ),
            hides: false,
        })
    }

    /// Where `path` really is, when that is outside the source folder and
    /// links out of it are not followed.
    pub fn outside(&self, path: &Path) -> Option<PathBuf> {
        let inside = self.inside.as_ref()?;
        fs::canonicalize(path)
            .ok()
            .filter(|target| !target.starts_with(inside))
    }
}

/// [`walk`], collected: post files sorted by relative path, and the
/// entries that could not be read.
pub fn discover(
    root: &Path,
    links: Links,
) -> Result<(Vec<SourceFile>, Vec<WalkError>), SourceError> {
    let mut files = Vec::new();
    let mut errors = Vec::new();
    for walked in walk(root, links)? {
        match walked? {
            Walked::File(f) => files.push(f),
            Walked::Unreadable(e) => errors.push(e),
        }
    }
    files.sort_by(|a, b| a.rel.cmp(&b.rel));
    Ok((files, errors))
}

/// Classifies one path below `root`; `None` for paths outside it, hidden
/// ones and ones without a post extension. The watcher uses this for
/// single changed paths so that its rules cannot drift from the walk's.
pub fn classify(root: &Path, path: &Path) -> Option<SourceFile> {
    if hidden(root, path) || !has_post_extension(path) {
        return None;
    }
    let file = source_file(root, path, root.join("_posts").is_dir())?;
    Some(SourceFile {
        linked: path.is_symlink(),
        ..file
    })
}

/// Whether `path` is hidden, or below a hidden folder, of `root` (a path
/// outside `root` counts as hidden: it is never a post either).
pub fn hidden(root: &Path, path: &Path) -> bool {
    path.strip_prefix(root).map_or(true, |rel| {
        rel.components().any(|c| is_hidden(c.as_os_str()))
    })
}

/// The [`SourceFile`] a path that the walk could not enter or follow stands
/// for, so that a rescan can report it as the first load does.
pub fn unreadable(root: &Path, e: &WalkError) -> Option<SourceFile> {
    source_file(root, &e.path, root.join("_posts").is_dir()).filter(|f| !f.rel.is_empty())
}

fn is_hidden(name: &std::ffi::OsStr) -> bool {
    name.to_string_lossy().starts_with('.')
}

fn has_post_extension(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| EXTENSIONS.iter().any(|x| e.eq_ignore_ascii_case(x)))
}

fn walk_reason(e: &walkdir::Error) -> String {
    if let Some(ancestor) = e.loop_ancestor() {
        return format!("symbolic link loop back to {}", ancestor.display());
    }
    match e.io_error() {
        Some(io) => io.to_string(),
        None => e.to_string(),
    }
}
