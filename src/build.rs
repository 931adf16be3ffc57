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
    #[error("{0}: the previous one is kept, since some feeds were not written")]
    Kept(PathBuf),
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

/// Fails only when `out` itself is unusable.
///
/// Before any document is written, the manifest lists every file this run
/// may leave (the previous build's and this one's), so a run that stops
/// half way (a full disk) still hands the next one the files to clean up.
/// The index and the OPML list every feed, so they replace previous ones
/// only once every feed is written; only a complete run removes the files of the
/// previous build it no longer writes and narrows the manifest to its own.
/// `progress` gets the number of documents as its length and counts them
/// as they are written (`ProgressBar::hidden()` for none).
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
    let mut feeds: Vec<(String, &Document)> = Vec::new();
    for (key, docs) in &snap.feeds {
        let Some(dir) = snap.routes().feed_dir(key) else {
            continue;
        };
        for format in layout::Format::ALL {
            feeds.push((layout::feed_path(dir, format), docs.doc(format)));
        }
        if let Some(page) = &docs.page {
            feeds.push((format!("{dir}{INDEX_PATH}"), page));
        }
    }
    let lists = [
        (layout::OPML_PATH.to_string(), &*snap.opml),
        (INDEX_PATH.to_string(), &*snap.index),
    ];
    let ours: BTreeSet<String> = feeds
        .iter()
        .chain(&lists)
        .flat_map(|(path, _)| [path.clone(), format!("{path}.gz")])
        .collect();
    let mut written = Written {
        feeds: snap.feeds.len(),
        ..Written::default()
    };
    progress.set_length((feeds.len() + lists.len()) as u64);
    let manifest = Manifest::read(out);
    if let Err(e) = manifest.record(manifest.files.union(&ours).cloned().collect()) {
        written.failed.push(e);
        return Ok(written);
    }
    sweep_temporaries(out, manifest.files.iter().chain(&ours));
    written.add(put_all(out, &feeds, progress));
    // After a failed feed, a previous index or OPML (which lists what the
    // previous build wrote, all still there) beats one naming a feed that
    // is missing; with none, the new one beats nothing.
    let (kept, put): (Vec<_>, Vec<_>) = lists
        .into_iter()
        .partition(|(path, _)| !written.failed.is_empty() && out.join(path).exists());
    written.failed.extend(
        kept.iter()
            .map(|(path, _)| WriteError::Kept(out.join(path))),
    );
    written.add(put_all(out, &put, progress));
    if written.failed.is_empty() {
        written.failed.extend(manifest.forget_gone(&ours));
    }
    Ok(written)
}

impl Written {
    fn add(&mut self, results: Vec<Result<u64, WriteError>>) {
        for r in results {
            match r {
                Ok(bytes) => {
                    self.documents += 1;
                    self.bytes += bytes;
                }
                Err(e) => self.failed.push(e),
            }
        }
    }
}

/// Compressing is most of the work: one document per thread at a time.
fn put_all(
    out: &Path,
    documents: &[(String, &Document)],
    progress: &indicatif::ProgressBar,
) -> Vec<Result<u64, WriteError>> {
    documents
        .par_iter()
        .map(|(path, doc)| {
            let put = put(out, path, doc);
            progress.inc(1);
            put
        })
        .collect()
}

/// The files refeed has written into an output folder, relative to it:
/// only these are ever removed, never others a user keeps there.
struct Manifest {
    path: PathBuf,
    out: PathBuf,
    files: BTreeSet<String>,
}

impl Manifest {
    const NAME: &str = ".refeed-build.json";

    /// A missing or unreadable manifest lists nothing, so removes nothing.
    fn read(out: &Path) -> Self {
        let path = out.join(Self::NAME);
        let files = fs::read(&path)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default();
        Manifest {
            path,
            out: out.to_path_buf(),
            files,
        }
    }

    fn record(&self, files: BTreeSet<String>) -> Result<(), WriteError> {
        if files == self.files && self.path.exists() {
            return Ok(());
        }
        let listed = serde_json::to_vec_pretty(&files).unwrap_or_default();
        replace(&self.path, &listed).map_err(|source| WriteError::Io {
            path: self.path.clone(),
            source,
        })
    }

    /// Removes the listed files that `ours` no longer holds (feeds of
    /// deleted categories and tags), then the folders that leaves empty,
    /// and lists `ours` alone.
    fn forget_gone(&self, ours: &BTreeSet<String>) -> Vec<WriteError> {
        let mut failed = Vec::new();
        for gone in self.files.difference(ours) {
            // A path from the file is trusted only inside `out`.
            let rel = Path::new(gone);
            if rel.is_absolute() || rel.components().any(|c| !matches!(c, Component::Normal(_))) {
                continue;
            }
            let path = self.out.join(rel);
            match fs::remove_file(&path) {
                Ok(()) => self.remove_empty_parents(&path),
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(source) => failed.push(WriteError::Io { path, source }),
            }
        }
        failed.extend(self.record(ours.clone()).err());
        failed
    }

    /// Only empty folders go (`remove_dir` refuses others).
    fn remove_empty_parents(&self, file: &Path) {
        let mut dir = file.parent();
        while let Some(d) = dir.filter(|d| *d != self.out) {
            if fs::remove_dir(d).is_err() {
                break;
            }
            dir = d.parent();
        }
    }
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

/// What [`replace`] names its temporary files.
const TEMP_PREFIX: &str = ".refeed-";
const TEMP_SUFFIX: &str = ".tmp";

/// Removes the temporary files a run killed half way left beside the
/// documents (found by the fourth attack: they stayed for good, where a
/// static server would publish them). Only the folders of files a build
/// writes are looked at, and only names [`replace`] makes; one build at a
/// time writes a folder.
fn sweep_temporaries<'a>(out: &Path, files: impl Iterator<Item = &'a String>) {
    let dirs: BTreeSet<&Path> = files
        .filter_map(|f| Path::new(f.as_str()).parent())
        .collect();
    for dir in dirs {
        let Ok(entries) = fs::read_dir(out.join(dir)) else {
            continue;
        };
        for entry in entries.flatten() {
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if name.starts_with(TEMP_PREFIX) && name.ends_with(TEMP_SUFFIX) {
                let _ = fs::remove_file(entry.path());
            }
        }
    }
}

/// Puts `bytes` at `path` in one rename. On any failure the temporary file
/// is removed (dropped) and `path` keeps what it held.
fn replace(path: &Path, bytes: &[u8]) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let dir = path.parent().unwrap_or(Path::new("."));
    // As `fs::write` would create it (the umask applies), not 0600: the
    // tree is served by someone else.
    let mut tmp = tempfile::Builder::new()
        .prefix(TEMP_PREFIX)
        .suffix(TEMP_SUFFIX)
        .permissions(fs::Permissions::from_mode(0o666))
        .tempfile_in(dir)?;
    tmp.write_all(bytes)?;
    // Durable before it replaces the old file: a crash after the rename
    // must not leave an empty file where a good one was.
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}
