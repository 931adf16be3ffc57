//! Rendered documents: the bytes of one representation, its strong ETag,
//! its `Last-Modified`, and its compressed forms, each computed at most
//! once per document (lazily, on first use) and shared by every request
//! and by `refeed build`.

use std::io::Write;
use std::sync::{Arc, OnceLock};

use chrono::{DateTime, Utc};

/// A content coding refeed can send.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Encoding {
    Identity,
    Gzip,
    Brotli,
    Zstd,
}

impl Encoding {
    /// The `Content-Encoding` value; `None` for identity, which must not be
    /// sent as a header.
    pub fn header(self) -> Option<&'static str> {
        match self {
            Encoding::Identity => None,
            Encoding::Gzip => Some("gzip"),
            Encoding::Brotli => Some("br"),
            Encoding::Zstd => Some("zstd"),
        }
    }

    fn etag_suffix(self) -> &'static str {
        match self {
            Encoding::Identity => "",
            Encoding::Gzip => "-gzip",
            Encoding::Brotli => "-br",
            Encoding::Zstd => "-zstd",
        }
    }
}

/// One immutable document.
#[derive(Debug)]
pub struct Document {
    bytes: Arc<[u8]>,
    /// The hash of the bytes that ETags are built from.
    hash: String,
    pub content_type: &'static str,
    pub last_modified: DateTime<Utc>,
    gzip: OnceLock<Arc<[u8]>>,
    brotli: OnceLock<Arc<[u8]>>,
    zstd: OnceLock<Arc<[u8]>>,
}

impl Document {
    pub fn new(bytes: Vec<u8>, content_type: &'static str, last_modified: DateTime<Utc>) -> Self {
        let hash = format!("{:032x}", xxhash_rust::xxh3::xxh3_128(&bytes));
        Document {
            bytes: bytes.into(),
            hash,
            content_type,
            last_modified,
            gzip: OnceLock::new(),
            brotli: OnceLock::new(),
            zstd: OnceLock::new(),
        }
    }

    pub fn identity(&self) -> &Arc<[u8]> {
        &self.bytes
    }

    /// Strong ETag of one representation. Each coding has its own, since a
    /// strong validator promises byte-identical bodies.
    pub fn etag(&self, encoding: Encoding) -> String {
        format!("\"{}{}\"", self.hash, encoding.etag_suffix())
    }

    /// Does an entity tag (quoted, weak or strong) name any representation
    /// of this document? If-None-Match uses the weak comparison.
    pub fn matches(&self, tag: &str) -> bool {
        let tag = tag.trim().trim_start_matches("W/");
        let Some(opaque) = tag.strip_prefix('"').and_then(|t| t.strip_suffix('"')) else {
            return false;
        };
        let Some(rest) = opaque.strip_prefix(self.hash.as_str()) else {
            return false;
        };
        ["", "-gzip", "-br", "-zstd"].contains(&rest)
    }

    /// Whether the body in `encoding` is at hand without compressing.
    pub fn has(&self, encoding: Encoding) -> bool {
        match encoding {
            Encoding::Identity => true,
            Encoding::Gzip => self.gzip.get().is_some(),
            Encoding::Brotli => self.brotli.get().is_some(),
            Encoding::Zstd => self.zstd.get().is_some(),
        }
    }

    /// Bytes held: the body and the compressed forms made so far, what a
    /// cache bounded in bytes must count.
    pub fn stored_bytes(&self) -> usize {
        let forms = [&self.gzip, &self.brotli, &self.zstd];
        let compressed: usize = forms.iter().filter_map(|c| c.get()).map(|b| b.len()).sum();
        self.bytes.len() + compressed + self.hash.len()
    }

    /// The body in a coding, compressed on first use.
    pub fn encoded(&self, encoding: Encoding) -> Arc<[u8]> {
        let (cell, compress): (_, Compressor) = match encoding {
            Encoding::Identity => return self.bytes.clone(),
            Encoding::Gzip => (&self.gzip, gzip),
            Encoding::Brotli => (&self.brotli, brotli),
            Encoding::Zstd => (&self.zstd, zstd),
        };
        cell.get_or_init(|| compress(&self.bytes).into()).clone()
    }
}

type Compressor = fn(&[u8]) -> Vec<u8>;

/// Level 6: nginx's and zlib's default, a fair trade for feeds.
fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(6));
    // Writes into a Vec cannot fail.
    let _ = enc.write_all(bytes);
    enc.finish().unwrap_or_default()
}

/// Quality 5: most of brotli's gain at a tenth of quality 11's time.
fn brotli(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let params = brotli::enc::BrotliEncoderParams {
        quality: 5,
        lgwin: 22,
        ..Default::default()
    };
    let mut input = bytes;
    let _ = brotli::BrotliCompress(&mut input, &mut out, &params);
    out
}

fn zstd(bytes: &[u8]) -> Vec<u8> {
    zstd::bulk::compress(bytes, 3).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn doc() -> Document {
        Document::new(
            b"<rss>hello hello hello</rss>".to_vec(),
            "application/rss+xml",
            DateTime::UNIX_EPOCH,
        )
    }

    #[test]
    fn etags_differ_per_coding_and_match_weakly() {
        let d = doc();
        assert_ne!(d.etag(Encoding::Identity), d.etag(Encoding::Gzip));
        assert!(d.matches(&d.etag(Encoding::Brotli)));
        assert!(d.matches(&format!("W/{}", d.etag(Encoding::Identity))));
        assert!(!d.matches("\"other\""));
        assert!(!d.matches(&d.etag(Encoding::Identity).replace('"', "")));
    }

    #[test]
    fn codings_round_trip() {
        let d = doc();
        let mut out = String::new();
        flate2::read::GzDecoder::new(&d.encoded(Encoding::Gzip)[..])
            .read_to_string(&mut out)
            .unwrap();
        assert_eq!(out.as_bytes(), &d.identity()[..]);
        let z = zstd::bulk::decompress(&d.encoded(Encoding::Zstd), 1 << 20).unwrap();
        assert_eq!(&z[..], &d.identity()[..]);
        let mut b = Vec::new();
        brotli::BrotliDecompress(&mut &d.encoded(Encoding::Brotli)[..], &mut b).unwrap();
        assert_eq!(&b[..], &d.identity()[..]);
        // Computed once: the same allocation comes back.
        assert!(Arc::ptr_eq(
            &d.encoded(Encoding::Gzip),
            &d.encoded(Encoding::Gzip)
        ));
    }
}
