//! Keeps html5ever's serializer linear in the size of its input.
//!
//! `HtmlSerializer::write_escaped` (html5ever 0.40) looks for the next
//! character to escape in two steps: `memchr3` for `<`, `>` (and `"` in
//! attributes) over the whole rest of the string, then `memchr2` for `&` and
//! the byte 0xC2 (NBSP and every other U+0080..U+00BF character) before that
//! point. The first result is thrown away after each escape, so every `&`,
//! NBSP, `©`, `·`, … costs a scan to the next `<`/`>` of its text node: a text
//! node of n such characters costs n²/2 (800 KB of `&` took seconds).
//!
//! No text node reaching the serializer may hold more than [`MAX_ESCAPABLE`]
//! of those characters, which makes the cost at most that many times the
//! length of the text:
//! - long runs of text get an empty separator element every [`MAX_ESCAPABLE`]
//!   of them, before the parser sees the markup (lol_html knows where text
//!   is); ammonia unwraps the unknown element and keeps the text nodes on
//!   either side apart (it appends nodes, it never merges text);
//! - attribute values holding more than that are dropped by the cleaner's
//!   attribute filter (see [`too_costly_to_escape`]).

use lol_html::html_content::{ContentType, TextChunk, TextType};
use lol_html::{DocumentContentHandlers, RewriteStrSettings};
use std::borrow::Cow;

/// Characters the serializer escapes by rescanning, allowed per text node or
/// attribute value.
pub(crate) const MAX_ESCAPABLE: usize = 32;

/// Below this estimate of the serializer's work (escapable characters times
/// bytes), markup is left alone, so ordinary articles skip the extra pass.
const SCAN_BUDGET: usize = 1 << 22;

/// An element no allow-list here holds, so ammonia drops its tags. Being an
/// element rather than a comment, it is foster-parented out of tables with
/// the text around it, so it splits that text too. `data` parses as an
/// ordinary element and its name is one of html5ever's static atoms, which
/// makes it twice as cheap as a custom name.
const SEPARATOR: &str = "<data></data>";

/// The bytes that make `write_escaped` restart its search: `&`, and the lead
/// byte of U+0080..U+00BF.
fn escapable(b: u8) -> bool {
    b == b'&' || b == 0xC2
}

fn count_escapable(s: &str) -> usize {
    s.bytes().filter(|&b| escapable(b)).count()
}

/// Whether an attribute value would cost the serializer more than
/// [`MAX_ESCAPABLE`] scans of itself.
pub(crate) fn too_costly_to_escape(value: &str) -> bool {
    count_escapable(value) > MAX_ESCAPABLE
}

/// Whether `html` may hold a text node that is costly to serialize.
pub(crate) fn may_be_costly(html: &str) -> bool {
    let n = count_escapable(html);
    n > MAX_ESCAPABLE && n.saturating_mul(html.len()) > SCAN_BUDGET
}

/// A lol_html handler that puts a separator before every
/// [`MAX_ESCAPABLE`]-th escapable character of ordinary text. Every text
/// character the parser produces as `&` or U+0080..U+00BF starts with one of
/// those bytes in the markup (a reference starts with `&`), and a separator
/// before `&` never cuts a reference, so the text itself is unchanged.
pub(crate) fn splitter<'h>() -> DocumentContentHandlers<'h> {
    let mut since_separator = 0usize;
    DocumentContentHandlers::default().text(move |chunk: &mut TextChunk| {
        if chunk.text_type() == TextType::Data
            && let Some(split) = split(chunk.as_str(), &mut since_separator)
        {
            chunk.replace(&split, ContentType::Html);
        }
        Ok(())
    })
}

/// `text` with separators, or `None` when it needs none.
fn split(text: &str, since_separator: &mut usize) -> Option<String> {
    let mut out: Option<String> = None;
    let mut copied = 0;
    for (i, b) in text.bytes().enumerate() {
        if !escapable(b) {
            continue;
        }
        if *since_separator == MAX_ESCAPABLE {
            let out = out.get_or_insert_with(|| String::with_capacity(text.len() * 2));
            // `&` and 0xC2 begin a character, so `i` is a boundary.
            out.push_str(&text[copied..i]);
            out.push_str(SEPARATOR);
            copied = i;
            *since_separator = 0;
        }
        *since_separator += 1;
    }
    out.map(|mut out| {
        out.push_str(&text[copied..]);
        out
    })
}

/// `html` with long text runs split (see the module documentation);
/// borrowed when nothing in it can be costly.
pub(crate) fn split_long_runs(html: &str) -> Cow<'_, str> {
    if !may_be_costly(html) {
        return Cow::Borrowed(html);
    }
    let settings = RewriteStrSettings::new()
        .with_strict(false)
        .with_enable_esi_tags(false)
        .append_document_content_handler(splitter());
    lol_html::rewrite_str(html, settings).map_or(Cow::Borrowed(html), Cow::Owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_or_plain_markup_is_untouched() {
        assert!(matches!(
            split_long_runs("<p>a &amp; b</p>"),
            Cow::Borrowed(_)
        ));
        let plain = "x".repeat(1 << 20);
        assert!(matches!(split_long_runs(&plain), Cow::Borrowed(_)));
    }

    #[test]
    fn separators_go_before_every_nth_escapable_character_of_text() {
        let text = "&amp;\u{A0}x".repeat(20_000);
        let html = format!("<p>{text}</p><table><td>{text}</table>");
        let split = split_long_runs(&html);
        let runs: Vec<&str> = split.split(SEPARATOR).collect();
        assert!(runs.len() > 1000);
        assert!(runs.iter().all(|r| count_escapable(r) <= MAX_ESCAPABLE));
        assert_eq!(split.replace(SEPARATOR, ""), html);
    }

    #[test]
    fn attributes_are_left_whole() {
        let value = "&amp;".repeat(100_000);
        let html = format!("<p title=\"{value}\">x</p>");
        assert_eq!(split_long_runs(&html), html);
    }

    #[test]
    fn raw_text_is_not_split() {
        let script = format!("<script>{}</script>", "&".repeat(100_000));
        assert_eq!(split_long_runs(&script), script);
    }

    #[test]
    fn costly_attribute_values_are_recognized() {
        assert!(!too_costly_to_escape("https://x.example/?a=1&b=2&c=3"));
        assert!(too_costly_to_escape(&"&".repeat(MAX_ESCAPABLE + 1)));
        assert!(too_costly_to_escape(&"©".repeat(MAX_ESCAPABLE + 1)));
    }
}
