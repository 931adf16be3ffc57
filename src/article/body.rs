//! A post body -> cleaned HTML and a plain-text summary.

use std::path::Path;
use std::sync::Arc;

use super::spill::Spill;

use crate::html::{self, BodyFormat, Cleaner};

/// What a feed item shows of an article. Both fields are XML-safe (the
/// cleaner and the summarizer remove what XML forbids), which documents
/// rely on instead of checking again.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Content {
    /// Cleaned, sanitized, absolute-URL HTML of the whole body.
    pub html: String,
    /// Plain text: the front matter's description, else the part before
    /// `<!-- more -->`, else the body; cut to the configured length.
    pub summary: String,
    /// What `summary` was made from, so that it can be made again from a
    /// rewritten text ([`Content::rewritten`]).
    pub summary_of: SummaryOf,
}

/// A summary's source: the first `chars` characters of the text of
/// `part`, or of the content's own HTML when there is no `part`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SummaryOf {
    /// The front matter's description, or the body before `<!-- more -->`,
    /// as HTML.
    pub part: Option<Arc<str>>,
    pub chars: usize,
}

impl Content {
    /// This content with `rewrite` applied to its HTML (a conversion of
    /// its text), and a summary made from the rewritten HTML as this one's
    /// was made from the original: what the content keeps as written (code)
    /// the summary keeps too, and both read the same.
    pub fn rewritten(&self, rewrite: impl Fn(&str) -> String) -> Content {
        let html = rewrite(&self.html);
        let part: Option<Arc<str>> = self.summary_of.part.as_deref().map(|p| rewrite(p).into());
        let from = part.as_deref().unwrap_or(&html);
        Content {
            summary: html::summarize(from, self.summary_of.chars),
            summary_of: SummaryOf {
                part,
                chars: self.summary_of.chars,
            },
            html,
        }
    }

    /// This content with a summary of the first `chars` characters of its
    /// whole text (RSSHub's `brief`).
    pub fn briefed(&self, chars: usize) -> Content {
        Content {
            html: self.html.clone(),
            summary: html::summarize(&self.html, chars),
            summary_of: SummaryOf { part: None, chars },
        }
    }
}

/// A post's body text as a snapshot keeps it: in the [`Spill`] file when
/// it was read at start-up, else zstd-compressed in memory. It is only read
/// to render a content the snapshot does not hold yet (an older item of a
/// query, an article page). Clones share the bytes, as snapshots do.
#[derive(Clone)]
pub struct Packed {
    /// Bytes of the text, which reading and decompression need.
    len: usize,
    store: Store,
    /// Nothing but white space: what tells a file cut right after its
    /// front matter (see [`crate::article::cut_from`]), known without
    /// reading the text back.
    blank: bool,
}

#[derive(Clone)]
enum Store {
    /// Too short to gain from compression.
    Plain(Arc<[u8]>),
    Zstd(Arc<[u8]>),
    /// In the spill file at `at`, with the text's hash, so a disk that
    /// gives back other bytes is caught rather than served.
    Spilled {
        spill: Arc<Spill>,
        at: u64,
        hash: u64,
    },
}

/// Why a kept body cannot be given back.
#[derive(Debug, thiserror::Error)]
pub enum Lost {
    #[error("reading a kept body: {0}")]
    Read(#[from] std::io::Error),
    #[error("a kept body came back changed from the disk")]
    Changed,
    #[error("a kept body does not unpack")]
    Unpack,
}

impl std::fmt::Debug for Packed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.store {
            Store::Plain(b) | Store::Zstd(b) => {
                write!(f, "Packed({} bytes in {})", self.len, b.len())
            }
            Store::Spilled { at, .. } => write!(f, "Packed({} bytes at {at})", self.len),
        }
    }
}

/// zstd's fastest regular level. The "fast" level -1 costs a quarter fewer
/// instructions, but its ratio (2.1× on the shared corpus, against 2.4×)
/// made `serve` 8% larger at 100,000 posts.
const PACK_LEVEL: i32 = 1;

impl Packed {
    /// `text`, compressed in memory.
    pub fn new(text: &str) -> Self {
        thread_local! {
            static PACKER: std::cell::RefCell<Option<zstd::bulk::Compressor<'static>>> =
                zstd::bulk::Compressor::new(PACK_LEVEL).ok().into();
        }
        let packed = PACKER.with_borrow_mut(|c| c.as_mut()?.compress(text.as_bytes()).ok());
        let store = match packed {
            Some(bytes) if bytes.len() < text.len() => Store::Zstd(bytes.into()),
            // Too short to gain, or no compressor: kept as it is.
            _ => Store::Plain(text.as_bytes().into()),
        };
        Packed::kept(text, store)
    }

    /// `text`, written to `spill`; compressed in memory if it cannot be.
    pub fn spilled(spill: &Arc<Spill>, text: &str) -> Self {
        match spill.append(text.as_bytes()) {
            Some(at) => {
                let hash = xxhash_rust::xxh3::xxh3_64(text.as_bytes());
                let spill = spill.clone();
                Packed::kept(text, Store::Spilled { spill, at, hash })
            }
            None => Packed::new(text),
        }
    }

    /// This body, moved to memory if its spill failed after it was
    /// written: a failed spill is given up whole, so that its file closes
    /// and gives its space back. A body that cannot be read back stays
    /// where it is, to say so when asked for.
    pub fn settle(self) -> Self {
        match &self.store {
            Store::Spilled { spill, .. } if spill.failed() => match self.text() {
                Ok(text) => Packed::new(&text),
                Err(_) => self,
            },
            _ => self,
        }
    }

    fn kept(text: &str, store: Store) -> Self {
        Packed {
            len: text.len(),
            store,
            blank: text.trim().is_empty(),
        }
    }

    /// The text. Only ever fed bytes [`Packed::new`] or [`Packed::spilled`]
    /// kept, so it fails only on a broken disk or a bug.
    pub fn text(&self) -> Result<String, Lost> {
        thread_local! {
            // A context per call would cost more than decompressing a body.
            static UNPACKER: std::cell::RefCell<Option<zstd::bulk::Decompressor<'static>>> =
                zstd::bulk::Decompressor::new().ok().into();
        }
        let bytes = match &self.store {
            Store::Plain(b) => b.to_vec(),
            Store::Zstd(b) => UNPACKER
                .with_borrow_mut(|d| d.as_mut()?.decompress(b, self.len).ok())
                .ok_or(Lost::Unpack)?,
            Store::Spilled { spill, at, hash } => {
                let bytes = spill.read(*at, self.len)?;
                if xxhash_rust::xxh3::xxh3_64(&bytes) != *hash {
                    return Err(Lost::Changed);
                }
                bytes
            }
        };
        // SIMD validation and a copy: the standard library's check of
        // multi-byte text costs as much as the decompression.
        let text = simdutf8::basic::from_utf8(&bytes).map_err(|_| Lost::Unpack)?;
        Ok(text.to_owned())
    }

    /// Whether the text is nothing but white space.
    pub fn is_blank(&self) -> bool {
        self.blank
    }

    /// Bytes held in memory.
    pub fn stored_bytes(&self) -> usize {
        match &self.store {
            Store::Plain(b) | Store::Zstd(b) => b.len(),
            Store::Spilled { .. } => 0,
        }
    }
}

/// Renders the body of the file at `path`. `description` is the front
/// matter's explicit summary. Only the first [`Cleaner::max_body_bytes`] of
/// the body are rendered (see [`cut`]); loading warns about the rest.
pub fn render(
    path: &Path,
    body: &str,
    description: Option<&str>,
    cleaner: &Cleaner,
    summary_length: usize,
) -> Content {
    let body = cut(body, cleaner.max_body_bytes());
    let format = BodyFormat::detect(path, body);
    let (head, rest) = html::split_more(body);
    let to_html = |part: &str| cleaner.clean(&html::body_to_html(part, format));
    let html = to_html(body);
    let part: Option<Arc<str>> = match (description, rest) {
        (Some(d), _) => Some(d.into()),
        (None, Some(_)) => Some(to_html(head).into()),
        (None, None) => None,
    };
    let summary = html::summarize(part.as_deref().unwrap_or(&html), summary_length);
    Content {
        html,
        summary,
        summary_of: SummaryOf {
            part,
            chars: summary_length,
        },
    }
}

/// At most `max` bytes of `body`, ending at a line break when there is one
/// in the second half (Markdown blocks and most HTML tags end there), else
/// at a character boundary outside any character reference; a tag cut in
/// the middle is dropped by the parser.
pub fn cut(body: &str, max: usize) -> &str {
    if body.len() <= max {
        return body;
    }
    let end = body.floor_char_boundary(max);
    let end = match body[..end].rfind('\n').filter(|&i| i >= end / 2) {
        Some(i) => i + 1,
        None => outside_reference(body, end),
    };
    &body[..end]
}

/// The longest character reference HTML has (`&CounterClockwiseContourIntegral;`).
const MAX_REFERENCE: usize = 33;

/// `end`, moved back before a character reference it would cut in two (a
/// cut `&nbsp;` would show as a stray `&` and `nbs`).
fn outside_reference(body: &str, end: usize) -> usize {
    let from = body.floor_char_boundary(end.saturating_sub(MAX_REFERENCE));
    match body[from..end].rfind('&') {
        Some(i) => {
            let rest = &body[from + i + 1..end];
            let open = rest.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'#');
            if open { from + i } else { end }
        }
        None => end,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cut_prefers_a_line_break_and_keeps_characters_whole() {
        assert_eq!(cut("short", 10), "short");
        assert_eq!(cut("line one\nline two\n", 12), "line one\n");
        assert_eq!(cut("中文中文", 7), "中文");
        assert_eq!(cut("a\n中文中文中文", 10), "a\n中文");
    }

    #[test]
    fn bodies_are_never_cut_inside_a_character_reference() {
        let body = "&nbsp;".repeat(100);
        for max in 1..60 {
            let kept = cut(&body, max);
            assert!(kept.len().is_multiple_of(6), "{max}: {kept:?}");
        }
        assert_eq!(cut("a &amp b c d e", 5), "a ");
        assert_eq!(cut("x&y; done and more", 12), "x&y; done an");
    }

    /// In Markdown, an indented line after a blank line is a code block,
    /// even inside an HTML block; an HTML body has no Markdown code, so its
    /// tags are expanded wherever they stand and no raw `{% … %}` reaches
    /// a feed.
    #[test]
    fn html_bodies_expand_tags_on_indented_lines() {
        let base = url::Url::parse("https://example.com/").unwrap();
        let cleaner = Cleaner::new(&base, &[]).unwrap();
        let body = "<div>\n<p>intro</p>\n\n    <p>{% post_link x %}</p>\n</div>";
        let content = render(Path::new("post.md"), body, None, &cleaner, 200);
        assert!(!content.html.contains("{%"), "{}", content.html);
        assert!(!content.html.contains("<pre"), "{}", content.html);
        assert!(content.html.contains("<p>x</p>"), "{}", content.html);
        assert_eq!(content.summary, "intro x");
    }

    #[test]
    fn packed_bodies_unpack_to_their_text() {
        let repeated = "中文 body, repeated. ".repeat(500);
        for text in ["", "short", repeated.as_str()] {
            assert_eq!(Packed::new(text).text().unwrap(), text);
        }
        assert!(Packed::new(" \n\t").is_blank() && Packed::new("").is_blank());
        assert!(!Packed::new("\n.\n").is_blank());
        let long = "<p>the same paragraph</p>\n".repeat(1000);
        assert!(Packed::new(&long).stored_bytes() < long.len() / 10);
    }
}
