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
//!   attribute filter (see [`too_costly_to_escape`]);
//! - `<xmp>` and `<plaintext>`, whose text is literal (no markup, so no
//!   separator can go in it) and which ammonia unwraps, become `<pre>` with
//!   their text escaped: a reader shows the same, and the text can be split.
//!   Every other element with literal text is dropped with its content.

use std::cell::Cell;
use std::rc::Rc;
use std::sync::OnceLock;

use lol_html::html_content::{ContentType, Element, TextChunk, TextType};
use lol_html::{DocumentContentHandlers, ElementContentHandlers, RewriteStrSettings, Selector};
use std::borrow::Cow;

use super::detect::contains_ignore_ascii_case;

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
    // Every body passes through here: memchr's SIMD search, not a byte loop.
    memchr::memchr2_iter(b'&', 0xC2, s.as_bytes()).count()
}

/// Whether an attribute value would cost the serializer more than
/// [`MAX_ESCAPABLE`] scans of itself.
pub(crate) fn too_costly_to_escape(value: &str) -> bool {
    count_escapable(value) > MAX_ESCAPABLE
}

/// Whether `html` needs the handlers of [`handlers`]: it may hold a text node
/// that is costly to serialize, or literal text that is kept.
pub(crate) fn needed(html: &str) -> bool {
    let n = count_escapable(html);
    (n > MAX_ESCAPABLE && n.saturating_mul(html.len()) > SCAN_BUDGET)
        || contains_ignore_ascii_case(html, "<xmp")
        || contains_ignore_ascii_case(html, "<plaintext")
}

fn literal_elements() -> &'static Selector {
    static LITERAL: OnceLock<Selector> = OnceLock::new();
    LITERAL.get_or_init(|| "xmp, plaintext".parse().expect("a valid selector"))
}

/// The lol_html handlers that put a separator before every
/// [`MAX_ESCAPABLE`]-th escapable character of text. Every text character
/// the parser produces as `&` or U+0080..U+00BF starts with one of those
/// bytes in the markup (a reference starts with `&`), and a separator before
/// `&` never cuts a reference, so the text itself is unchanged.
pub(crate) fn handlers<'h>() -> (
    (Cow<'static, Selector>, ElementContentHandlers<'h>),
    DocumentContentHandlers<'h>,
) {
    let in_literal = Rc::new(Cell::new(false));
    let opened = Rc::clone(&in_literal);
    let literal = ElementContentHandlers::default().element(move |el: &mut Element| {
        literal_to_pre(el, &opened);
        Ok(())
    });
    let mut since_separator = 0usize;
    let text = DocumentContentHandlers::default().text(move |chunk: &mut TextChunk| {
        let split = match chunk.text_type() {
            TextType::Data => split(chunk.as_str(), &mut since_separator),
            TextType::RawText | TextType::PlainText if in_literal.get() => {
                let escaped = chunk.as_str().replace('&', "&amp;").replace('<', "&lt;");
                Some(split(&escaped, &mut since_separator).unwrap_or(escaped))
            }
            _ => None,
        };
        if let Some(split) = split {
            chunk.replace(&split, ContentType::Html);
        }
        Ok(())
    });
    ((Cow::Borrowed(literal_elements()), literal), text)
}

/// `<xmp>`/`<plaintext>` to `<pre>`; the text handler escapes what is inside
/// while `in_literal` is set. The parser drops a newline right after `<pre>`
/// (not after `<xmp>`), hence the one added.
fn literal_to_pre(el: &mut Element, in_literal: &Rc<Cell<bool>>) {
    // `pre` is a valid name, so this cannot fail.
    let _ = el.set_tag_name("pre");
    el.prepend("\n", ContentType::Text);
    in_literal.set(true);
    let closed = Rc::clone(in_literal);
    if let Some(handlers) = el.end_tag_handlers() {
        handlers.push(Box::new(move |_| {
            closed.set(false);
            Ok(())
        }));
    }
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

/// `html` with long text runs split and literal text made ordinary (see the
/// module documentation); borrowed when it needs neither.
pub(crate) fn split_long_runs(html: &str) -> Cow<'_, str> {
    if !needed(html) {
        return Cow::Borrowed(html);
    }
    let (literal, text) = handlers();
    let settings = RewriteStrSettings::new()
        .with_strict(false)
        .with_enable_esi_tags(false)
        .append_element_content_handler(literal)
        .append_document_content_handler(text);
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
    fn literal_text_becomes_escaped_preformatted_text() {
        let amps = "&".repeat(100);
        let html = format!("<XMP>\n<b>{amps}</b></XMP>x&amp;");
        let split = split_long_runs(&html);
        assert_eq!(
            split.replace(SEPARATOR, ""),
            format!("<pre>\n\n&lt;b>{}&lt;/b></pre>x&amp;", "&amp;".repeat(100))
        );
        assert!(split.contains(SEPARATOR));
        let split = split_long_runs("<plaintext>a & <b>");
        assert_eq!(split, "<pre>\na &amp; &lt;b>");
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
