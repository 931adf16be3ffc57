//! `refeed build`: every document of a snapshot written under a folder,
//! each with a precompressed `.gz` sibling, at the paths `serve` uses, so
//! nginx (`gzip_static on`), a CDN or an object store can serve the tree.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use crate::feed::layout;
use crate::render::{Document, Encoding};
use crate::snapshot::{INDEX_PATH, Route, Snapshot};

#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error("output folder {path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error("output folder {0} is a file")]
    NotAFolder(PathBuf),
}

/// What was written.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Written {
    pub feeds: usize,
    pub documents: usize,
    pub bytes: u64,
}

pub fn write(
    snap: &Snapshot,
    settings: &crate::catalog::Settings,
    out: &Path,
) -> Result<Written, WriteError> {
    if out.exists() && !out.is_dir() {
        return Err(WriteError::NotAFolder(out.to_path_buf()));
    }
    let mut written = Written::default();
    for (key, docs) in &snap.feeds {
        for format in layout::Format::ALL {
            let path = layout::feed_path(settings, key, format);
            // A feed that lost its URL to a sibling with the same slug.
            if snap.route(&path) != Some(&Route::Feed(key.clone(), format)) {
                continue;
            }
            put(out, &path, docs.doc(format), &mut written)?;
        }
        written.feeds += 1;
    }
    put(out, layout::OPML_PATH, &snap.opml, &mut written)?;
    put(out, INDEX_PATH, &snap.index, &mut written)?;
    Ok(written)
}

fn put(out: &Path, rel: &str, doc: &Document, written: &mut Written) -> Result<(), WriteError> {
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
    fs::write(&path, &body[..]).map_err(err(&path))?;
    fs::write(&gz, &zipped[..]).map_err(err(&gz))?;
    written.documents += 1;
    written.bytes += (body.len() + zipped.len()) as u64;
    Ok(())
}
