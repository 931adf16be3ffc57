//! Article bodies to feed-ready HTML and plain-text summaries.
//!
//! The usual path for one article:
//! ```
//! # use refeed::html::{BodyFormat, Cleaner, body_to_html, summarize};
//! # let base = url::Url::parse("https://example.com/").unwrap();
//! # let cleaner = Cleaner::new(&base, &[]).unwrap();
//! # let body = "Hello *world*";
//! let format = BodyFormat::detect("post.md".as_ref(), body);
//! let html = cleaner.clean(&body_to_html(body, format)); // tags expanded
//! let summary = summarize(&html, 200);
//! # assert_eq!(summary, "Hello world");
//! ```

mod clean;
mod detect;
mod elements;
mod markdown;
mod more;
mod nesting;
mod runs;
mod summary;
mod tags;
mod urls;

pub use clean::{Cleaner, DEFAULT_MAX_BODY_BYTES, parse_selector};
pub use detect::{BodyFormat, looks_like_html};
pub use markdown::{expand_tag_plugins, markdown_to_html};
pub use more::split_more;
pub use summary::{plain_text, summarize};
use tags::expand_tag_plugins_html;

/// Configuration errors, reported once at start-up.
#[derive(Debug, thiserror::Error)]
pub enum HtmlError {
    /// A configured CSS selector that lol_html cannot use.
    #[error("invalid CSS selector `{selector}`: {reason}")]
    Selector { selector: String, reason: String },
    /// A base URL that relative links cannot be resolved against.
    #[error("unusable base url `{url}`: {reason}")]
    Base { url: String, reason: String },
}

/// An article body as HTML, before cleaning: the one dispatcher. An HTML
/// body has no Markdown code, so its Hexo tag plugins are expanded wherever
/// they stand; a Markdown body is rendered with its code left alone.
pub fn body_to_html(body: &str, format: BodyFormat) -> String {
    match format {
        BodyFormat::Html => expand_tag_plugins_html(body),
        BodyFormat::Markdown => markdown_to_html(body),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_to_html_renders_each_format_its_way() {
        let html = |body| body_to_html(body, BodyFormat::Html);
        let markdown = |body| body_to_html(body, BodyFormat::Markdown);
        assert_eq!(html("<div><p>a</p></div>"), "<div><p>a</p></div>");
        assert_eq!(markdown("# T\n\ntext"), "<h1>T</h1>\n<p>text</p>\n");
        // Indented after a blank line: code in Markdown, not in HTML.
        let indented = "<p>a</p>\n\n    {% post_link x %}\n";
        assert_eq!(html(indented), "<p>a</p>\n\n    x\n");
        assert!(markdown(indented).contains("<pre><code>{% post_link x %}"));
    }
}
