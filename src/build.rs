//! `refeed build`: every document of a snapshot written under a folder,
//! each with a precompressed `.gz` sibling, at the paths `serve` uses, so
//! nginx (`gzip_static on`), a CDN or an object store can serve the tree.
//! A document that cannot be written is reported and skipped: one bad
//! path never costs the other feeds. Each file is written to a hidden
//! temporary sibling, synced, then renamed over the old one: a reader sees
//! the old file or the new one, never a cut one, and a full disk leaves the
//! previous build as it was.

use std::collections::BTreeSet;
use std::fs;
use std::io::{self, Write};
use std::path::{Component, Path, PathBuf};

use rayon::prelude::*;

use crate::render::{Document, Encoding};
use crate::site::layout;
use crate::snapshot::{INDEX_PATH, Snapshot};

#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error("output folder {path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error("output folder {0} is a file")]
    NotAFolder(PathBuf),
}

/// What was written, and what could not be.
#[derive(Debug, Default)]
pub struct Written {
    pub feeds: usize,
    pub documents: usize,
    pub bytes: u64,
    /// The documents left out, each with its reason; the rest were written.
    pub failed: Vec<WriteError>,
}

/// Fails only when `out` itself is unusable. `progress` gets the number
/// of documents as its length and counts them as they are written
/// (`ProgressBar::hidden()` for none).
pub fn write(
    snap: &Snapshot,
    out: &Path,
    progress: &indicatif::ProgressBar,
) -> Result<Written, WriteError> {
    if out.exists() && !out.is_dir() {
        return Err(WriteError::NotAFolder(out.to_path_buf()));
    }
    fs::create_dir_all(out).map_err(|source| WriteError::Io {
        path: out.to_path_buf(),
        source,
    })?;
    let mut documents: Vec<(String, &Document)> = Vec::new();
    for (key, docs) in &snap.feeds {
        let Some(dir) = snap.routes().feed_dir(key) else {
            continue;
        };
        for format in layout::Format::ALL {
            documents.push((layout::feed_path(dir, format), docs.doc(format)));
        }
    }
    documents.push((layout::OPML_PATH.into(), &snap.opml));
    documents.push((INDEX_PATH.into(), &snap.index));
    progress.set_length(documents.len() as u64);
    // Compressing is most of the work: one document per thread at a time.
    let results: Vec<Result<u64, WriteError>> = documents
        .par_iter()
        .map(|(path, doc)| {
            let put = put(out, path, doc);
            progress.inc(1);
            put
        })
        .collect();
    let mut written = Written {
        feeds: snap.feeds.len(),
        ..Written::default()
    };
    let ours: BTreeSet<String> = documents
        .iter()
        .flat_map(|(path, _)| [path.clone(), format!("{path}.gz")])
        .collect();
    written.failed.extend(forget_gone(out, &ours));
    for r in results {
        match r {
            Ok(bytes) => {
                written.documents += 1;
                written.bytes += bytes;
            }
            Err(e) => written.failed.push(e),
        }
    }
    Ok(written)
}

/// What the last build wrote, relative to the output folder: only these
/// files are ever removed, never others a user keeps there.
const MANIFEST: &str = ".refeed-build.json";

/// Removes the files the previous build wrote that this one does not
/// (feeds of deleted categories and tags), then the folders that leaves
/// empty, and records `ours` for the next build. A missing or unreadable
/// manifest removes nothing.
fn forget_gone(out: &Path, ours: &BTreeSet<String>) -> Vec<WriteError> {
    let manifest = out.join(MANIFEST);
    let before: BTreeSet<String> = fs::read(&manifest)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default();
    let mut failed = Vec::new();
    for gone in before.difference(ours) {
        // A path from the file is trusted only inside `out`.
        let rel = Path::new(gone);
        if rel.is_absolute() || rel.components().any(|c| !matches!(c, Component::Normal(_))) {
            continue;
        }
        let path = out.join(rel);
        match fs::remove_file(&path) {
            Ok(()) => {
                // Only empty folders go (`remove_dir` refuses others).
                let mut dir = path.parent();
                while let Some(d) = dir.filter(|d| *d != out) {
                    if fs::remove_dir(d).is_err() {
                        break;
                    }
                    dir = d.parent();
                }
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(source) => failed.push(WriteError::Io { path, source }),
        }
    }
    let listed = serde_json::to_vec_pretty(ours).unwrap_or_default();
    if let Err(source) = replace(&manifest, &listed) {
        failed.push(WriteError::Io {
            path: manifest,
            source,
        });
    }
    failed
}

/// Writes one document and its `.gz`; returns the bytes written.
fn put(out: &Path, rel: &str, doc: &Document) -> Result<u64, WriteError> {
    let path = out.join(rel);
    let gz = out.join(format!("{rel}.gz"));
    let err = |path: &Path| {
        let path = path.to_path_buf();
        move |source| WriteError::Io { path, source }
    };
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir).map_err(err(dir))?;
    }
    let body = doc.identity();
    let zipped = doc.encoded(Encoding::Gzip);
    replace(&path, body).map_err(err(&path))?;
    replace(&gz, &zipped).map_err(err(&gz))?;
    Ok((body.len() + zipped.len()) as u64)
}

/// Puts `bytes` at `path` in one rename. On any failure the temporary file
/// is removed (dropped) and `path` keeps what it held.
fn replace(path: &Path, bytes: &[u8]) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let dir = path.parent().unwrap_or(Path::new("."));
    // As `fs::write` would create it (the umask applies), not 0600: the
    // tree is served by someone else.
    let mut tmp = tempfile::Builder::new()
        .prefix(".refeed-")
        .suffix(".tmp")
        .permissions(fs::Permissions::from_mode(0o666))
        .tempfile_in(dir)?;
    tmp.write_all(bytes)?;
    // Durable before it replaces the old file: a crash after the rename
    // must not leave an empty file where a good one was.
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}
