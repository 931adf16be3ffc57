//! Plain text from HTML, for summaries and descriptions.
//!
//! html5ever (through ammonia) does the parsing and decodes every entity; it
//! is asked to keep only block-level elements, without attributes, and to drop
//! `<script>`, `<style>`, `<template>` (and similar) with their content. Its
//! serialization is canonical (`<` in text is always `&lt;`), so the remaining
//! tags can be turned into spaces by a trivial scan: block boundaries separate
//! words, inline boundaries join text as written ("的<b>所有权</b>规则" stays
//! "的所有权规则").

use std::sync::OnceLock;

use ammonia::Builder;

use super::elements::{BLOCK_PARTS, BLOCKS, DROPPED_WITH_CONTENT};
use super::{nesting, runs};
use crate::text;

/// Content that is not prose besides what the cleaner drops: media, and ruby
/// annotations (which would otherwise be glued to the base text).
const ALSO_SKIPPED_WITH_CONTENT: &[&str] = &["audio", "rp", "rt", "video"];

fn text_extractor() -> &'static Builder<'static> {
    static EXTRACTOR: OnceLock<Builder<'static>> = OnceLock::new();
    EXTRACTOR.get_or_init(|| {
        let mut builder = Builder::empty();
        builder
            .tags(BLOCKS.iter().chain(BLOCK_PARTS).copied().collect())
            .clean_content_tags(
                DROPPED_WITH_CONTENT
                    .iter()
                    .chain(ALSO_SKIPPED_WITH_CONTENT)
                    .copied()
                    .collect(),
            )
            .link_rel(None)
            .strip_comments(true);
        builder
    })
}

/// The text content of an HTML fragment: entities decoded, block boundaries
/// (p, div, br, li, headings, table cells, …) as spaces, inline boundaries
/// adding nothing, `<script>`/`<style>`/`<template>` skipped, then
/// [`text::collapse_whitespace`] (so a vertical tab counts as a space) and
/// [`text::xml_safe`].
pub fn plain_text(html: &str) -> String {
    let limited = nesting::limit_depth(html);
    let canonical = text_extractor()
        .clean(&runs::split_long_runs(&limited))
        .to_string();
    let mut out = String::with_capacity(canonical.len());
    let mut rest = canonical.as_str();
    while let Some(i) = rest.find(['<', '&']) {
        out.push_str(&rest[..i]);
        rest = &rest[i..];
        rest = if rest.starts_with('<') {
            out.push(' ');
            rest.find('>').map_or("", |end| &rest[end + 1..])
        } else {
            decode_serializer_entity(rest, &mut out)
        };
    }
    out.push_str(rest);
    text::xml_safe(&text::collapse_whitespace(&out)).into_owned()
}

/// The html5ever serializer writes only these references in text.
fn decode_serializer_entity<'a>(s: &'a str, out: &mut String) -> &'a str {
    const ENTITIES: [(&str, char); 5] = [
        ("&amp;", '&'),
        ("&lt;", '<'),
        ("&gt;", '>'),
        ("&nbsp;", '\u{A0}'),
        ("&quot;", '"'),
    ];
    for (entity, c) in ENTITIES {
        if let Some(rest) = s.strip_prefix(entity) {
            out.push(c);
            return rest;
        }
    }
    out.push('&');
    &s[1..]
}

/// [`plain_text`] cut to at most `max_chars` characters (ellipsis included),
/// see [`text::truncate_chars`].
///
/// Only the beginning of an article can reach its summary, so the text is
/// taken from a prefix of the HTML, grown until it yields clearly more
/// characters than needed: the cost follows the summary's length, not the
/// article's. Whatever a cut in the middle of a tag or entity leaves at the
/// prefix's end lies beyond the [`MARGIN`] and is cut off with it.
pub fn summarize(html: &str, max_chars: usize) -> String {
    let mut budget = max_chars.saturating_mul(8).max(1024);
    while budget < html.len() {
        let prefix = &html[..html.floor_char_boundary(budget)];
        let text = plain_text(prefix);
        if text.chars().count() > max_chars.saturating_add(MARGIN) {
            return text::truncate_chars(&text, max_chars);
        }
        budget = budget.saturating_mul(4);
    }
    text::truncate_chars(&plain_text(html), max_chars)
}

/// Characters of prefix text kept beyond a summary's length: more than
/// [`text::truncate_chars`] looks back for a word boundary, plus whatever
/// a cut tag or entity can leave.
const MARGIN: usize = 64;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summaries_from_a_prefix_equal_summaries_of_the_whole() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/reference_body.html"
        );
        let body = std::fs::read_to_string(path).unwrap();
        let long = format!(
            "<div>{}</div>",
            "<p>一段<b>加粗</b>文字&amp;符号 <a href=\"x\">链接</a></p>\n".repeat(300)
        );
        let entity_heavy = format!("<p>{}</p>", "&lt;&#123;&hellip;x ".repeat(2000));
        for html in [&body, &long, &entity_heavy] {
            for n in [1, 10, 50, 200, 1000] {
                let whole = text::truncate_chars(&plain_text(html), n);
                assert_eq!(summarize(html, n), whole, "{n}");
            }
        }
    }

    #[test]
    fn inline_boundaries_add_no_space() {
        assert_eq!(plain_text("<p>的<b>所有权</b>规则</p>"), "的所有权规则");
        assert_eq!(plain_text("<p>un<em>believ</em>able</p>"), "unbelievable");
        assert_eq!(
            plain_text(r#"<p><a href="x">链接</a>文字<span>继续</span></p>"#),
            "链接文字继续"
        );
    }

    #[test]
    fn block_boundaries_separate_words() {
        assert_eq!(
            plain_text("<p>一</p><p>二</p><div>三<br>四</div><ul><li>五</li><li>六</li></ul>"),
            "一 二 三 四 五 六"
        );
        assert_eq!(
            plain_text("<table><tr><td>a</td><td>b</td></tr><tr><th>c</th></tr></table>"),
            "a b c"
        );
        assert_eq!(plain_text("<h1>T</h1>text"), "T text");
    }

    #[test]
    fn scripts_styles_and_templates_are_skipped() {
        assert_eq!(
            plain_text(
                "<p>a</p><script>var x = '<p>no</p>';</script><style>p{color:red}</style><template><p>t</p></template><!-- c --><p>b</p>"
            ),
            "a b"
        );
    }

    #[test]
    fn entities_are_decoded() {
        assert_eq!(
            plain_text("&#123;x&#125; &amp;amp; &lt;b&gt; &hellip;&nbsp;&quot;q&quot; &#x4E2D;"),
            "{x} &amp; <b> … \"q\" 中"
        );
        assert_eq!(plain_text("a & b < c"), "a & b < c");
    }

    #[test]
    fn whitespace_and_forbidden_chars_are_tidied() {
        assert_eq!(
            plain_text("<p>　　上证报\u{200B}中国\n\n证券网\u{b}讯&#x1;</p>"),
            "上证报中国 证券网 讯"
        );
    }

    #[test]
    fn ruby_annotations_are_left_out() {
        assert_eq!(
            plain_text("<ruby>漢<rp>(</rp><rt>kan</rt><rp>)</rp>字</ruby>"),
            "漢字"
        );
    }

    #[test]
    fn summarize_truncates_plain_text() {
        let html = format!("<p>{}</p><p>{}</p>", "中".repeat(150), "文".repeat(150));
        let s = summarize(&html, 200);
        assert_eq!(s.chars().count(), 200);
        assert!(s.starts_with(&"中".repeat(150)));
        assert!(s.ends_with("文…"));
        assert_eq!(summarize("<p>short</p>", 200), "short");
    }
}
