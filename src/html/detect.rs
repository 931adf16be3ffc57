//! Is a post body HTML or Markdown?

use std::path::Path;

use super::elements;

/// How a body is written. The RSS-to-Hexo pipeline writes HTML into `.md`
/// files, so the extension alone cannot tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum BodyFormat {
    Html,
    Markdown,
}

impl BodyFormat {
    /// An `.html` or `.htm` file is HTML; any other is HTML when its body
    /// [looks like it](looks_like_html).
    pub fn detect(path: &Path, body: &str) -> Self {
        let html_ext = path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| e.eq_ignore_ascii_case("html") || e.eq_ignore_ascii_case("htm"));
        if html_ext || looks_like_html(body) {
            BodyFormat::Html
        } else {
            BodyFormat::Markdown
        }
    }
}

/// Tags that make a body an HTML document whatever follows.
const DOCUMENT_TAGS: &[&str] = &["!doctype", "html", "head", "body"];

/// Tags an HTML body (an RSS item's content) typically starts with besides
/// the [block-level elements](elements::BLOCKS): the media and line-break
/// elements, forms and head elements that feed items open with.
const OTHER_HTML_OPENERS: &[&str] = &[
    "audio", "dialog", "fieldset", "form", "iframe", "img", "link", "meta", "noscript", "picture",
    "script", "style", "video",
];

/// Elements whose content is not markup, so their lines say nothing about Markdown.
const RAW_TEXT_ELEMENTS: &[(&str, &str)] = &[
    ("<pre", "</pre"),
    ("<script", "</script"),
    ("<style", "</style"),
    ("<textarea", "</textarea"),
];

/// Whether a post body is HTML (to be cleaned as is) rather than Markdown.
///
/// The RSS-to-Hexo pipeline writes the item's HTML after the front matter, with
/// some lines indented by 4+ spaces after blank lines; rendered as Markdown
/// those would become code blocks. Hexo Markdown posts, on the other hand,
/// often open with raw HTML (`<center><img …></center>`, `<div align=center>`)
/// and continue in Markdown. The rule:
///
/// 1. Skip leading whitespace, a BOM and HTML comments (`<!-- more -->` too).
/// 2. `<!DOCTYPE`, `<html>`, `<head>`, `<body>` there: HTML.
/// 3. Anything but a block-level or media tag there (`<div`, `<p`, `<section`,
///    `<table`, `<figure`, `<img`, `<h1`, `<ul`, `<br`, …): Markdown. This
///    includes text, `{% tag %}`, fences, inline tags such as `<span>`.
/// 4. Otherwise HTML, unless a line indented by less than 4 columns, outside
///    `<pre>`, `<script>`, `<style>`, `<textarea>` and comments, shows Markdown
///    structure: a fence, an ATX heading, a `> ` quote, a thematic break or
///    setext underline, a table delimiter row, a link reference definition, an
///    inline link `](`, or — right after a blank line — a list item or any
///    paragraph that does not start with `<`. Lines indented by 4+ columns are
///    ignored: they are the pipeline's indentation, not Markdown code.
pub fn looks_like_html(body: &str) -> bool {
    let body = body.strip_prefix('\u{FEFF}').unwrap_or(body);
    let start = skip_blanks_and_comments(body);
    let Some(tag) = leading_tag_name(start) else {
        return false;
    };
    if DOCUMENT_TAGS.contains(&tag.as_str()) {
        return true;
    }
    (elements::BLOCKS.contains(&tag.as_str()) || OTHER_HTML_OPENERS.contains(&tag.as_str()))
        && !has_markdown_structure(body)
}

fn skip_blanks_and_comments(mut s: &str) -> &str {
    loop {
        s = s.trim_start_matches(|c: char| c.is_whitespace() || c == '\u{FEFF}');
        if !s.starts_with("<!--") {
            return s;
        }
        // Searching from the `<!` keeps `<!-->` a complete (empty) comment, as in HTML.
        s = s.find("-->").map_or("", |end| &s[end + 3..]);
    }
}

/// Lower-cased name of the tag `s` starts with (`!doctype` for a doctype).
fn leading_tag_name(s: &str) -> Option<String> {
    let rest = s.strip_prefix('<')?;
    let (bang, rest) = match rest.strip_prefix('!') {
        Some(r) => ("!", r),
        None => ("", rest),
    };
    let end = rest
        .find(|c: char| !c.is_ascii_alphanumeric())
        .unwrap_or(rest.len());
    let name = &rest[..end];
    let terminated = rest[end..]
        .chars()
        .next()
        .is_none_or(|c| c.is_ascii_whitespace() || c == '>' || c == '/');
    let starts_with_letter = name.starts_with(|c: char| c.is_ascii_alphabetic());
    (starts_with_letter && terminated).then(|| format!("{bang}{}", name.to_ascii_lowercase()))
}

fn has_markdown_structure(body: &str) -> bool {
    let mut raw_until: Option<&str> = None;
    let mut after_blank = true;
    for line in body.lines() {
        if let Some(close) = raw_until {
            if contains_ignore_ascii_case(line, close) {
                raw_until = None;
            }
            after_blank = false;
            continue;
        }
        if line.trim().is_empty() {
            after_blank = true;
            continue;
        }
        if indentation(line) < 4 && is_markdown_line(line.trim(), after_blank) {
            return true;
        }
        raw_until = unclosed_raw_region(line);
        after_blank = false;
    }
    false
}

fn is_markdown_line(t: &str, after_blank: bool) -> bool {
    t.starts_with("```")
        || t.starts_with("~~~")
        || is_atx_heading(t)
        || t.starts_with("> ")
        || is_rule_or_underline(t)
        || is_table_delimiter_row(t)
        || is_link_reference_definition(t)
        || memchr::memmem::find(t.as_bytes(), b"](").is_some()
        || (after_blank && (is_list_item(t) || !(t.starts_with('<') || t.starts_with("{%"))))
}

fn is_atx_heading(t: &str) -> bool {
    let hashes = t.bytes().take_while(|&b| b == b'#').count();
    (1..=6).contains(&hashes)
        && t[hashes..]
            .chars()
            .next()
            .is_none_or(|c| c == ' ' || c == '\t')
}

/// `---`, `***`, `___`, `===` (spaces allowed between): thematic breaks and
/// setext heading underlines.
fn is_rule_or_underline(t: &str) -> bool {
    let Some(first) = t.chars().next().filter(|c| "-*_=".contains(*c)) else {
        return false;
    };
    let count = t.chars().filter(|&c| c == first).count();
    count >= 3 && t.chars().all(|c| c == first || c == ' ' || c == '\t')
}

fn is_table_delimiter_row(t: &str) -> bool {
    t.contains('|') && t.contains("--") && t.chars().all(|c| "|-: \t".contains(c))
}

fn is_link_reference_definition(t: &str) -> bool {
    t.strip_prefix('[')
        .and_then(|r| r.find("]:").map(|i| i > 0 && !r[..i].contains(']')))
        .unwrap_or(false)
}

fn is_list_item(t: &str) -> bool {
    let bullet =
        t.len() > 2 && matches!(t.as_bytes()[0], b'-' | b'*' | b'+') && t.as_bytes()[1] == b' ';
    let digits = t.bytes().take_while(u8::is_ascii_digit).count();
    let ordered = (1..=9).contains(&digits)
        && matches!(t.as_bytes().get(digits), Some(b'.' | b')'))
        && t.as_bytes().get(digits + 1) == Some(&b' ');
    bullet || ordered
}

/// Columns of leading indentation, a tab counting as 4.
fn indentation(line: &str) -> usize {
    line.chars()
        .map_while(|c| match c {
            ' ' => Some(1),
            '\t' => Some(4),
            _ => None,
        })
        .sum()
}

/// The closing marker to wait for when `line` opens a raw-text element or a
/// comment without closing it.
fn unclosed_raw_region(line: &str) -> Option<&'static str> {
    // memchr's searches: these run over every line of every HTML body.
    if let Some(open) = memchr::memmem::rfind(line.as_bytes(), b"<!--")
        && memchr::memmem::find(&line.as_bytes()[open..], b"-->").is_none()
    {
        return Some("-->");
    }
    RAW_TEXT_ELEMENTS.iter().find_map(|&(open, close)| {
        let opened = find_ignore_ascii_case(line, open)?;
        (!contains_ignore_ascii_case(&line[opened..], close)).then_some(close)
    })
}

/// `needle` must start with an ASCII character. Jumping between its
/// occurrences (`<` or `-` here, both rare in prose) instead of comparing
/// a window at every byte keeps long one-line HTML paragraphs cheap.
fn find_ignore_ascii_case(haystack: &str, needle: &str) -> Option<usize> {
    let n = needle.as_bytes();
    let first = char::from(*n.first()?);
    let h = haystack.as_bytes();
    haystack.match_indices(first).map(|(i, _)| i).find(|&i| {
        h.get(i..i + n.len())
            .is_some_and(|w| w.eq_ignore_ascii_case(n))
    })
}

pub(crate) fn contains_ignore_ascii_case(haystack: &str, needle: &str) -> bool {
    find_ignore_ascii_case(haystack, needle).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_bodies() {
        assert!(looks_like_html("<div>\n<p>text</p>\n</div>"));
        assert!(looks_like_html(
            "\n\n<p>　　上证报</p>\n\n            <!-- x -->\n            <style>\n  # not a heading\n            </style>\n<p class=\"e\">e</p>"
        ));
        assert!(looks_like_html(
            "<!DOCTYPE html><html><body><p>x</p></body></html>"
        ));
        assert!(looks_like_html("<!-- more --><section><p>x</p></section>"));
        assert!(looks_like_html("<img src=\"a.jpg\"><br>\n<p>caption</p>"));
        assert!(looks_like_html(
            "\u{FEFF}<TABLE><tr><td>1</td></tr></TABLE>"
        ));
        assert!(looks_like_html(
            "<pre>\n# comment\n- item\n</pre>\n<p>x</p>"
        ));
    }

    #[test]
    fn markdown_bodies() {
        assert!(!looks_like_html("# Title\n\ntext"));
        assert!(!looks_like_html("text with <b>html</b>"));
        assert!(!looks_like_html("<span>inline</span> start"));
        assert!(!looks_like_html("{% youtube x %}\n<div>a</div>"));
        assert!(!looks_like_html(
            "<!---more-->\n\n```cpp\nint main(){}\n```\n"
        ));
        assert!(!looks_like_html(
            "<center><img src=\"a.png\"></center>\n\n## Heading\n\ntext"
        ));
        assert!(!looks_like_html(
            "<img src=\"a.png\">\n\nA plain paragraph.\n"
        ));
        assert!(!looks_like_html(
            "<div align=center>x</div>\n\n- one\n- two\n"
        ));
        assert!(!looks_like_html("<p>a</p>\nsee [this](http://x)\n"));
        assert!(!looks_like_html("<p>a</p>\n\n| a | b |\n|---|---|\n"));
        assert!(!looks_like_html(""));
        assert!(!looks_like_html("<!-- only a comment -->"));
    }

    #[test]
    fn tag_names_are_matched_whole() {
        assert_eq!(leading_tag_name("<p>").as_deref(), Some("p"));
        assert_eq!(leading_tag_name("<P class=x>").as_deref(), Some("p"));
        assert_eq!(leading_tag_name("<pre>").as_deref(), Some("pre"));
        assert_eq!(leading_tag_name("<param>").as_deref(), Some("param"));
        assert_eq!(leading_tag_name("<br/>").as_deref(), Some("br"));
        assert_eq!(
            leading_tag_name("<!doctype html>").as_deref(),
            Some("!doctype")
        );
        assert_eq!(leading_tag_name("< p>"), None);
        assert_eq!(leading_tag_name("<1>"), None);
        assert_eq!(leading_tag_name("<p-x>"), None);
    }

    #[test]
    fn comments_are_skipped_wholly() {
        assert_eq!(skip_blanks_and_comments(" <!-- a --> \n<!--b--><p>"), "<p>");
        assert_eq!(skip_blanks_and_comments("<!--><p>"), "<p>");
        assert_eq!(skip_blanks_and_comments("<!-- unterminated <p>"), "");
    }
}
