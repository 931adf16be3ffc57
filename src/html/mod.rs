//! Article bodies to feed-ready HTML and plain-text summaries.
//!
//! The usual path for one article:
//! ```
//! # use refeed::html::{Cleaner, body_to_html, summarize};
//! # let base = url::Url::parse("https://example.com/").unwrap();
//! # let cleaner = Cleaner::new(&base, &[]).unwrap();
//! # let body = "Hello *world*";
//! let html = cleaner.clean(&body_to_html(body)); // Markdown or HTML, tags expanded
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
pub use detect::looks_like_html;
pub use markdown::{expand_tag_plugins, markdown_to_html};
pub use more::split_more;
pub use summary::{plain_text, summarize};
pub use tags::expand_tag_plugins_html;

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

/// An article body as HTML, before cleaning: HTML bodies (see
/// [`looks_like_html`]) get their Hexo tag plugins expanded, everything else is
/// rendered as Markdown.
pub fn body_to_html(body: &str) -> String {
    if looks_like_html(body) {
        expand_tag_plugins_html(body)
    } else {
        markdown_to_html(body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_to_html_picks_the_renderer() {
        assert_eq!(body_to_html("<div><p>a</p></div>"), "<div><p>a</p></div>");
        assert_eq!(body_to_html("# T\n\ntext"), "<h1>T</h1>\n<p>text</p>\n");
    }
}
