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

    /// Does an entity tag name the representation in `encoding`? Each
    /// coding has its own tag, so a client holding the gzip bytes does not
    /// validate an identity response (RFC 9110 §8.8.3). The weak comparison
    /// (If-None-Match) ignores a `W/` prefix; the strong one (If-Match)
    /// never matches a weak tag.
    pub fn matches(&self, tag: &str, encoding: Encoding, comparison: Comparison) -> bool {
        let tag = tag.trim();
        let tag = match (tag.strip_prefix("W/"), comparison) {
            (Some(_), Comparison::Strong) => return false,
            (Some(weak), Comparison::Weak) => weak,
            (None, _) => tag,
        };
        let Some(opaque) = tag.strip_prefix('"').and_then(|t| t.strip_suffix('"')) else {
            return false;
        };
        opaque
            .strip_prefix(self.hash.as_str())
            .is_some_and(|rest| rest == encoding.etag_suffix())
    }

    /// What a client may hold of this version: compared with the next
    /// version of the same path to keep `Last-Modified` moving forward.
    pub fn validator(&self) -> Validator {
        Validator {
            hash: self.hash.clone(),
            last_modified: self.last_modified,
        }
    }

    /// This document dated after `earlier`, the last version served at its
    /// path: see [`Validator::next`].
    pub fn after(mut self, earlier: Earlier<'_>, now: DateTime<Utc>) -> Self {
        self.last_modified = earlier.next(&self.hash, self.last_modified, now);
        self
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

/// Entity-tag comparison functions of RFC 9110 §8.8.3.2.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Comparison {
    Strong,
    Weak,
}

/// A version of a document as a client may have validated it: the hash of
/// its bytes (the ETag) and its `Last-Modified`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Validator {
    pub hash: String,
    pub last_modified: DateTime<Utc>,
}

/// What is known of the versions a path served before this one.
#[derive(Debug, Clone, Copy)]
pub enum Earlier<'a> {
    /// Nothing was served, or nothing matters (`refeed build`): the date
    /// is the newest `updated` of the content alone.
    Nothing,
    /// This version was served last.
    Served(&'a Validator),
    /// Something may have been served (by a process whose state was lost)
    /// but not before `since`.
    Unknown { since: DateTime<Utc> },
}

impl Earlier<'_> {
    /// `Last-Modified` of a version whose hash is `hash` and whose items
    /// were last updated at `updated`. Never in the future (RFC 9110
    /// §8.8.2.1), and whenever the bytes differ from a version a client may
    /// hold, later than that version's date: an `If-Modified-Since` client
    /// then never gets a 304 for bytes it has not seen. Same bytes, same
    /// date, across reloads and restarts.
    fn next(self, hash: &str, updated: DateTime<Utc>, now: DateTime<Utc>) -> DateTime<Utc> {
        let now = whole_seconds(now);
        // Within what an HTTP date can tell apart: two dates before 1970
        // would be sent alike.
        let updated = whole_seconds(updated).max(DateTime::UNIX_EPOCH).min(now);
        match self {
            Earlier::Nothing => updated,
            Earlier::Served(v) if v.hash == hash => v.last_modified,
            Earlier::Served(v) if updated > v.last_modified => updated,
            // The clock may have gone back since `v`: one second past it
            // then, however far ahead; HTTP only ever sees it clamped.
            Earlier::Served(v) => now.max(one_second_after(v.last_modified)),
            // Rounded up: a version served in the same second as `since`
            // must still compare older.
            Earlier::Unknown { since } => updated.max(next_second(since)),
        }
    }
}

/// HTTP dates carry whole seconds; a sub-second part would let a later
/// version compare equal to the date an earlier one was served with.
fn whole_seconds(t: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp(t.timestamp(), 0).unwrap_or(t)
}

fn next_second(t: DateTime<Utc>) -> DateTime<Utc> {
    let floor = whole_seconds(t);
    if floor == t {
        t
    } else {
        one_second_after(floor)
    }
}

/// Saturating: a stored date at the end of time stays there.
fn one_second_after(t: DateTime<Utc>) -> DateTime<Utc> {
    t.checked_add_signed(chrono::TimeDelta::seconds(1))
        .unwrap_or(t)
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
        let weak = Comparison::Weak;
        assert!(d.matches(&d.etag(Encoding::Brotli), Encoding::Brotli, weak));
        assert!(!d.matches(&d.etag(Encoding::Gzip), Encoding::Identity, weak));
        assert!(!d.matches(&d.etag(Encoding::Identity), Encoding::Gzip, weak));
        let w = format!("W/{}", d.etag(Encoding::Identity));
        assert!(d.matches(&w, Encoding::Identity, weak));
        assert!(!d.matches(&w, Encoding::Identity, Comparison::Strong));
        assert!(d.matches(&d.etag(Encoding::Zstd), Encoding::Zstd, Comparison::Strong));
        assert!(!d.matches("\"other\"", Encoding::Identity, weak));
        let bare = d.etag(Encoding::Identity).replace('"', "");
        assert!(!d.matches(&bare, Encoding::Identity, weak));
    }

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn last_modified_moves_forward_and_never_into_the_future() {
        let now = at("2026-01-01T00:00:00.700Z");
        let hash = "h2";
        let far = at("9999-12-31T23:59:59Z");
        assert_eq!(
            Earlier::Nothing.next(hash, far, now),
            at("2026-01-01T00:00:00Z")
        );
        let old = at("2021-06-26T01:02:03Z");
        assert_eq!(Earlier::Nothing.next(hash, old, now), old);
        let same = Validator {
            hash: hash.into(),
            last_modified: at("2025-01-01T00:00:00Z"),
        };
        assert_eq!(
            Earlier::Served(&same).next(hash, old, now),
            same.last_modified
        );
        let other = Validator {
            hash: "h1".into(),
            ..same.clone()
        };
        assert_eq!(
            Earlier::Served(&other).next(hash, old, now),
            at("2026-01-01T00:00:00Z"),
            "changed bytes with old dates: the time of the change"
        );
        let ahead = Validator {
            hash: "h1".into(),
            last_modified: at("2027-01-01T00:00:00Z"),
        };
        assert_eq!(
            Earlier::Served(&ahead).next(hash, old, now),
            at("2027-01-01T00:00:01Z"),
            "past a date served before the clock went back"
        );
        let since = at("2025-06-01T00:00:00.5Z");
        assert_eq!(
            Earlier::Unknown { since }.next(hash, old, now),
            at("2025-06-01T00:00:01Z")
        );
        // Before 1970 every HTTP date reads 1970-01-01: a newer old post
        // must still move the date the client can see.
        let ancient = Validator {
            hash: "h1".into(),
            last_modified: Earlier::Nothing.next("h1", at("1500-01-01T00:00:00Z"), now),
        };
        assert_eq!(ancient.last_modified, DateTime::UNIX_EPOCH);
        let newer = Earlier::Served(&ancient).next(hash, at("1600-01-01T00:00:00Z"), now);
        assert_eq!(newer, at("2026-01-01T00:00:00Z"));
        let end = Validator {
            hash: "h1".into(),
            last_modified: DateTime::<Utc>::MAX_UTC,
        };
        assert_eq!(
            Earlier::Served(&end).next(hash, old, now),
            DateTime::<Utc>::MAX_UTC
        );
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
