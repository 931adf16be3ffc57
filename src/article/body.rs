//! A post body -> cleaned HTML and a plain-text summary.

use std::path::Path;

use crate::html::{self, Cleaner};

/// How a body is written. The RSS-to-Hexo pipeline writes HTML into `.md`
/// files, so the extension alone cannot tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum BodyFormat {
    Html,
    Markdown,
}

impl BodyFormat {
    pub fn detect(path: &Path, body: &str) -> Self {
        let html_ext = path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| e.eq_ignore_ascii_case("html") || e.eq_ignore_ascii_case("htm"));
        if html_ext || html::looks_like_html(body) {
            BodyFormat::Html
        } else {
            BodyFormat::Markdown
        }
    }
}

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
    let to_html = |part: &str| match format {
        BodyFormat::Html => cleaner.clean(&html::expand_tag_plugins(part)),
        BodyFormat::Markdown => cleaner.clean(&html::markdown_to_html(part)),
    };
    let html = to_html(body);
    let summary = match (description, rest) {
        (Some(d), _) => html::summarize(d, summary_length),
        (None, Some(_)) => html::summarize(&to_html(head), summary_length),
        (None, None) => html::summarize(&html, summary_length),
    };
    Content { html, summary }
}

/// At most `max` bytes of `body`, ending at a line break when there is one
/// in the second half (Markdown blocks and most HTML tags end there), else
/// at a character boundary; a tag cut in the middle is dropped by the parser.
pub fn cut(body: &str, max: usize) -> &str {
    if body.len() <= max {
        return body;
    }
    let end = body.floor_char_boundary(max);
    let end = body[..end]
        .rfind('\n')
        .filter(|&i| i >= end / 2)
        .map_or(end, |i| i + 1);
    &body[..end]
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
}
