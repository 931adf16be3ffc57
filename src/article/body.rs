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
/// matter's explicit summary.
pub fn render(
    path: &Path,
    body: &str,
    description: Option<&str>,
    cleaner: &Cleaner,
    summary_length: usize,
) -> Content {
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
