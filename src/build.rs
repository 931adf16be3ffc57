//! `refeed build`: every document of a snapshot written under a folder,
//! each with a precompressed `.gz` sibling, at the paths `serve` uses, so
//! nginx (`gzip_static on`), a CDN or an object store can serve the tree.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use rayon::prelude::*;

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
    let mut documents: Vec<(String, &Document)> = Vec::new();
    let mut feeds = 0;
    for (key, docs) in &snap.feeds {
        for format in layout::Format::ALL {
            let path = layout::feed_path(settings, key, format);
            // A feed that lost its URL to a sibling with the same slug.
            if snap.route(&path) == Some(&Route::Feed(key.clone(), format)) {
                documents.push((path, docs.doc(format)));
            }
        }
        feeds += 1;
    }
    documents.push((layout::OPML_PATH.into(), &snap.opml));
    documents.push((INDEX_PATH.into(), &snap.index));
    // Compressing is most of the work: one document per thread at a time.
    let bytes = documents
        .par_iter()
        .map(|(path, doc)| put(out, path, doc))
        .try_reduce(|| 0, |a, b| Ok(a + b))?;
    Ok(Written {
        feeds,
        documents: documents.len(),
        bytes,
    })
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
    fs::write(&path, &body[..]).map_err(err(&path))?;
    fs::write(&gz, &zipped[..]).map_err(err(&gz))?;
    Ok((body.len() + zipped.len()) as u64)
}
