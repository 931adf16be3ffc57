//! Turns an article's HTML into a fragment that is safe to embed in a feed.
//!
//! Two parsers, each doing what it is good at:
//! 1. lol_html (streaming, CSS selectors) removes the configured boilerplate,
//!    promotes lazy-loaded image sources, turns iframes into links and caps
//!    nesting depth (see `nesting`).
//! 2. ammonia (html5ever + allow-list) sanitizes. URLs are made absolute in its
//!    attribute filter because there values arrive with entities decoded
//!    (`&#x2F;`, `&amp;`), whereas lol_html hands out raw attribute text.
//!
//! Finally, characters XML 1.0 forbids are dropped (html5ever keeps `\x0b` and
//! decodes `&#x1;` to U+0001).

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};

use ammonia::{Builder, UrlRelative};
use lol_html::html_content::{ContentType, Element};
use lol_html::{ElementContentHandlers, RewriteStrSettings, Selector};
use url::Url;

use super::elements::DROPPED_WITH_CONTENT;
use super::urls::{UrlKind, resolve, resolve_srcset};
use super::{HtmlError, nesting, runs};
use crate::text;

/// Elements kept (attributes are listed separately in [`tag_attributes`]).
/// `data` must stay out: it separates long text runs (see [`runs`]).
#[rustfmt::skip]
const ALLOWED_TAGS: &[&str] = &[
    "a", "abbr", "address", "article", "aside", "audio", "b", "bdi", "bdo", "blockquote", "br",
    "caption", "center", "cite", "code", "col", "colgroup", "dd", "del", "details", "dfn", "div",
    "dl", "dt", "em", "figcaption", "figure", "footer", "h1", "h2", "h3", "h4", "h5", "h6",
    "header", "hgroup", "hr", "i", "img", "ins", "kbd", "li", "main", "mark", "nav", "ol", "p",
    "picture", "pre", "q", "rp", "rt", "ruby", "s", "samp", "section", "small", "source", "span",
    "strike", "strong", "sub", "summary", "sup", "table", "tbody", "td", "tfoot", "th", "thead",
    "time", "tr", "track", "tt", "u", "ul", "var", "video", "wbr",
];

const GENERIC_ATTRIBUTES: &[&str] = &["title", "lang", "dir"];

/// `data:` is listed so inline images reach the attribute filter, which then
/// refuses every `data:` URL except small raster images in `img src`.
const URL_SCHEMES: &[&str] = &["http", "https", "mailto", "tel", "ftp", "data"];

fn tag_attributes() -> HashMap<&'static str, HashSet<&'static str>> {
    let table: &[(&str, &[&str])] = &[
        ("a", &["href", "hreflang"]),
        (
            "img",
            &[
                "src",
                "srcset",
                "sizes",
                "alt",
                "width",
                "height",
                "referrerpolicy",
                "loading",
                "decoding",
            ],
        ),
        ("source", &["src", "srcset", "sizes", "type", "media"]),
        (
            "video",
            &[
                "src",
                "poster",
                "controls",
                "width",
                "height",
                "loop",
                "muted",
                "playsinline",
                "preload",
            ],
        ),
        ("audio", &["src", "controls", "loop", "muted", "preload"]),
        ("track", &["src", "kind", "srclang", "label", "default"]),
        ("blockquote", &["cite"]),
        ("q", &["cite"]),
        ("del", &["cite", "datetime"]),
        ("ins", &["cite", "datetime"]),
        ("time", &["datetime"]),
        ("code", &["class"]),
        ("pre", &["class"]),
        ("ol", &["start", "reversed", "type"]),
        ("li", &["value"]),
        ("td", &["colspan", "rowspan", "align"]),
        ("th", &["colspan", "rowspan", "align", "scope"]),
        ("col", &["span"]),
        ("colgroup", &["span"]),
        ("details", &["open"]),
    ];
    table
        .iter()
        .map(|(tag, attrs)| (*tag, attrs.iter().copied().collect()))
        .collect()
}

/// A video or audio element without controls cannot be played in a reader.
fn forced_attributes() -> HashMap<&'static str, HashMap<&'static str, &'static str>> {
    ["video", "audio"]
        .into_iter()
        .map(|tag| (tag, HashMap::from([("controls", "")])))
        .collect()
}

/// Attributes that may hold the real source of a lazily loaded image.
const LAZY_SRC_ATTRIBUTES: &[&str] = &[
    "data-src",
    "data-original",
    "data-lazy-src",
    "data-actualsrc",
];
const LAZY_SRCSET_ATTRIBUTES: &[&str] = &["data-srcset", "data-lazy-srcset"];

/// Cleans article HTML for feeds. Built once from configuration; `clean` takes
/// `&self`, so one `Cleaner` serves every thread.
pub struct Cleaner {
    remove: Vec<Selector>,
    lazy_media: Selector,
    iframes: Selector,
    sanitizer: Builder<'static>,
    max_body_bytes: usize,
}

/// Default of `load.max_body_bytes`: 17 times the largest post of the
/// reference corpus (60 KB), and about 1 s of cleaning on one core.
pub const DEFAULT_MAX_BODY_BYTES: usize = 1 << 20;

impl std::fmt::Debug for Cleaner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cleaner")
            .field("remove", &self.remove.len())
            .finish_non_exhaustive()
    }
}

impl Cleaner {
    /// `base`: the site's absolute URL (e.g. `https://example.com/blog/`), against
    /// which relative URLs in articles are resolved. `remove`: CSS selectors of
    /// boilerplate to drop (lol_html syntax: no `+`/`~` combinators, simple `:not`).
    ///
    /// Every relative URL resolves against `base`, not against the post's own
    /// URL: a fragment-only `#note` becomes `base#note`, `img.png` becomes
    /// `base` + `img.png`. Hexo posts mostly use root-relative paths, for which
    /// the two agree.
    ///
    /// Fails, naming the culprit, on an unusable base URL or selector, so a bad
    /// configuration is reported at start-up rather than per article.
    pub fn new(base: &Url, remove: &[String]) -> Result<Self, HtmlError> {
        check_base(base)?;
        let remove = remove
            .iter()
            .map(|s| parse_selector(s))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            remove,
            lazy_media: parse_selector("img, source, video, audio")?,
            iframes: parse_selector("iframe")?,
            sanitizer: sanitizer(base.clone()),
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
        })
    }

    /// Bodies longer than `bytes` are cut before they are rendered and
    /// cleaned (see [`crate::article::body::render`]), so that no one
    /// article can cost more than that much work.
    #[must_use]
    pub fn with_max_body_bytes(mut self, bytes: usize) -> Self {
        self.max_body_bytes = bytes;
        self
    }

    pub fn max_body_bytes(&self) -> usize {
        self.max_body_bytes
    }

    /// Cleaned, sanitized HTML fragment, safe to embed in a feed: configured
    /// boilerplate removed, scripts/styles/comments/embeds gone, URLs absolute,
    /// entities decoded where they are text, XML-forbidden characters dropped.
    pub fn clean(&self, html: &str) -> String {
        let prepared = self.rewrite(html);
        let sanitized = self.sanitizer.clean(&prepared).to_string();
        // ASCII whitespace at the edges of a fragment renders as nothing
        // (U+3000 indentation does render, so it stays).
        let trimmed = sanitized.trim_matches(|c: char| c.is_ascii_whitespace());
        match text::xml_safe(trimmed) {
            Cow::Borrowed(safe) if safe.len() == sanitized.len() => sanitized,
            safe => safe.into_owned(),
        }
    }

    /// The lol_html pass; skipped when it has nothing to do.
    fn rewrite<'a>(&self, html: &'a str) -> Cow<'a, str> {
        let too_deep = nesting::may_exceed(html);
        let runs = runs::needed(html);
        if self.remove.is_empty() && !too_deep && !runs && !needs_media_rewrite(html) {
            return Cow::Borrowed(html);
        }
        let remove_element = || {
            ElementContentHandlers::default().element(|el: &mut Element| {
                el.remove();
                Ok(())
            })
        };
        let mut settings = RewriteStrSettings::new()
            .with_strict(false)
            .with_enable_esi_tags(false);
        if too_deep {
            settings = settings.append_element_content_handler(nesting::depth_limiter());
        }
        if runs {
            let (literal, text) = runs::handlers();
            settings = settings
                .append_element_content_handler(literal)
                .append_document_content_handler(text);
        }
        for selector in &self.remove {
            settings = settings
                .append_element_content_handler((Cow::Borrowed(selector), remove_element()));
        }
        settings = settings
            .append_element_content_handler((
                Cow::Borrowed(&self.lazy_media),
                ElementContentHandlers::default().element(|el: &mut Element| {
                    promote_lazy_sources(el);
                    Ok(())
                }),
            ))
            .append_element_content_handler((
                Cow::Borrowed(&self.iframes),
                ElementContentHandlers::default().element(|el: &mut Element| {
                    iframe_to_link(el);
                    Ok(())
                }),
            ));
        // A rewriting error leaves the boilerplate in, but ammonia still
        // sanitizes the result, so safety does not depend on this pass.
        lol_html::rewrite_str(html, settings).map_or(Cow::Borrowed(html), Cow::Owned)
    }
}

fn check_base(base: &Url) -> Result<(), HtmlError> {
    let reason = if base.cannot_be_a_base() {
        Some("it cannot be a base for relative URLs")
    } else if !matches!(base.scheme(), "http" | "https") {
        Some("the scheme must be http or https")
    } else {
        None
    };
    match reason {
        Some(reason) => Err(HtmlError::Base {
            url: base.to_string(),
            reason: reason.to_owned(),
        }),
        None => Ok(()),
    }
}

/// Also the configuration's check of `load.remove_selectors`, so that
/// `check` refuses what `serve` and `build` would.
pub fn parse_selector(selector: &str) -> Result<Selector, HtmlError> {
    let error = |reason: String| HtmlError::Selector {
        selector: selector.to_owned(),
        reason,
    };
    if selector.trim().is_empty() {
        return Err(error("the selector is empty".to_owned()));
    }
    selector
        .parse::<Selector>()
        .map_err(|e| error(e.to_string()))
}

fn needs_media_rewrite(html: &str) -> bool {
    html.contains("data-") || super::detect::contains_ignore_ascii_case(html, "<iframe")
}

/// Lazy-loading scripts keep the real URL in `data-*` and put a placeholder
/// (nothing, a `data:` pixel, `blank.gif`, …) in `src`; readers run no script.
fn promote_lazy_sources(el: &mut Element) {
    promote(el, "src", LAZY_SRC_ATTRIBUTES);
    promote(el, "srcset", LAZY_SRCSET_ATTRIBUTES);
}

fn promote(el: &mut Element, target: &str, candidates: &[&str]) {
    if el
        .get_attribute(target)
        .is_some_and(|v| !is_placeholder(&v))
    {
        return;
    }
    let real = candidates
        .iter()
        .find_map(|name| el.get_attribute(name).filter(|v| !v.trim().is_empty()));
    if let Some(real) = real {
        // Raw attribute text is copied as-is; ammonia decodes it later.
        // The name is a valid literal, so this cannot fail.
        let _ = el.set_attribute(target, &real);
    }
}

fn is_placeholder(src: &str) -> bool {
    const MARKERS: &[&str] = &[
        "placeholder",
        "blank.gif",
        "pixel.gif",
        "spacer.gif",
        "grey.gif",
        "gray.gif",
        "transparent.gif",
        "loading.gif",
        "lazy.gif",
        "lazyload",
    ];
    let src = src.trim().to_ascii_lowercase();
    src.is_empty() || src.starts_with("data:") || MARKERS.iter().any(|m| src.contains(m))
}

/// Readers do not run embedded players; a link to the embedded page keeps the
/// content reachable (video embeds are common in Chinese news items).
fn iframe_to_link(el: &mut Element) {
    let src = el
        .get_attribute("src")
        .filter(|s| !s.trim().is_empty())
        .or_else(|| el.get_attribute("data-src"));
    match src.filter(|s| is_web_reference(s)) {
        Some(src) => {
            let link = format!(
                "<a href=\"{}\">{}</a>",
                src.trim().replace('"', "&quot;"),
                src.trim().replace('<', "&lt;").replace('>', "&gt;")
            );
            el.replace(&link, ContentType::Html);
        }
        None => el.remove(),
    }
}

/// A URL that is web-relative or http(s); anything else (`javascript:`,
/// `about:blank`, `data:`) is not worth a link.
fn is_web_reference(raw: &str) -> bool {
    let s = raw.trim().to_ascii_lowercase();
    if s.starts_with("http://") || s.starts_with("https://") || s.starts_with("//") {
        return true;
    }
    let before_path = s.split(['/', '?', '#']).next().unwrap_or_default();
    !before_path.contains(':') && !before_path.contains('&')
}

fn sanitizer(base: Url) -> Builder<'static> {
    let mut builder = Builder::default();
    builder
        .tags(ALLOWED_TAGS.iter().copied().collect())
        // Any other element not allowed is unwrapped: its text stays.
        .clean_content_tags(DROPPED_WITH_CONTENT.iter().copied().collect())
        .tag_attributes(tag_attributes())
        .tag_attribute_values(HashMap::new())
        .set_tag_attribute_values(forced_attributes())
        .generic_attributes(GENERIC_ATTRIBUTES.iter().copied().collect())
        .url_schemes(URL_SCHEMES.iter().copied().collect())
        // Relative URLs must reach the attribute filter, which resolves them.
        .url_relative(UrlRelative::PassThrough)
        .attribute_filter(move |element, attribute, value| {
            filter_attribute(&base, element, attribute, value)
        })
        .link_rel(Some("noopener noreferrer"))
        .strip_comments(true);
    builder
}

/// Runs after ammonia's allow-list, on entity-decoded values. A value that
/// would be costly to serialize (see [`runs`]) is dropped: no real URL, alt
/// or title holds that many `&`, NBSP or U+0080..U+00BF characters.
fn filter_attribute<'v>(
    base: &Url,
    element: &str,
    attribute: &str,
    value: &'v str,
) -> Option<Cow<'v, str>> {
    allowed_value(base, element, attribute, value).filter(|v| !runs::too_costly_to_escape(v))
}

fn allowed_value<'v>(
    base: &Url,
    element: &str,
    attribute: &str,
    value: &'v str,
) -> Option<Cow<'v, str>> {
    if attribute == "srcset" {
        return resolve_srcset(base, value).map(Cow::Owned);
    }
    if let Some(kind) = UrlKind::of(element, attribute) {
        return resolve(base, value, kind).map(|url| Cow::Owned(url.into()));
    }
    match attribute {
        "class" => language_class(value),
        "width" | "height" => dimension(value),
        _ => Some(Cow::Borrowed(value)),
    }
}

/// Only syntax-highlighting hints survive in `class` (`language-rust`, `lang-js`).
fn language_class(value: &str) -> Option<Cow<'_, str>> {
    let kept: Vec<&str> = value
        .split_ascii_whitespace()
        .filter(|c| c.starts_with("language-") || c.starts_with("lang-"))
        .collect();
    match kept.as_slice() {
        [] => None,
        [only] if *only == value => Some(Cow::Borrowed(value)),
        _ => Some(Cow::Owned(kept.join(" "))),
    }
}

/// Plain numbers or percentages; `300px` becomes `300`.
fn dimension(value: &str) -> Option<Cow<'_, str>> {
    let v = value.trim();
    let v = v.strip_suffix("px").unwrap_or(v);
    let digits = v.strip_suffix('%').unwrap_or(v);
    let ok = !digits.is_empty() && digits.len() <= 6 && digits.bytes().all(|b| b.is_ascii_digit());
    ok.then(|| Cow::Owned(v.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cleaner(remove: &[&str]) -> Cleaner {
        let base = Url::parse("https://example.com/blog/").expect("static url");
        let remove: Vec<String> = remove.iter().map(|s| (*s).to_owned()).collect();
        Cleaner::new(&base, &remove).expect("valid selectors")
    }

    fn clean(html: &str) -> String {
        cleaner(&[]).clean(html)
    }

    #[test]
    fn cleaner_is_send_and_sync() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<Cleaner>();
    }

    #[test]
    fn relative_urls_become_absolute() {
        assert_eq!(
            clean(r#"<a href="post/x.html">x</a><img src="/img/a.png">"#),
            r#"<a href="https://example.com/blog/post/x.html" rel="noopener noreferrer">x</a><img src="https://example.com/img/a.png">"#
        );
    }

    #[test]
    fn protocol_relative_urls_take_the_base_scheme() {
        assert_eq!(
            clean(r#"<img src="//n.sinaimg.cn/a.png" referrerpolicy="no-referrer">"#),
            r#"<img src="https://n.sinaimg.cn/a.png" referrerpolicy="no-referrer">"#
        );
    }

    #[test]
    fn srcset_and_poster_are_absolutized() {
        assert_eq!(
            clean(r#"<img src="a.jpg" srcset="a.jpg 1x, //cdn.example.org/a@2x.jpg 2x">"#),
            r#"<img src="https://example.com/blog/a.jpg" srcset="https://example.com/blog/a.jpg 1x, https://cdn.example.org/a@2x.jpg 2x">"#
        );
        assert_eq!(
            clean(r#"<video src="v.mp4" poster="/p.jpg" autoplay onplay="x()"></video>"#),
            r#"<video src="https://example.com/blog/v.mp4" poster="https://example.com/p.jpg" controls=""></video>"#
        );
        assert_eq!(
            clean(
                r#"<picture><source srcset="/a.webp" type="image/webp"><img src="/a.jpg"></picture>"#
            ),
            r#"<picture><source srcset="https://example.com/a.webp" type="image/webp"><img src="https://example.com/a.jpg"></picture>"#
        );
    }

    #[test]
    fn entities_in_urls_are_decoded_before_resolving() {
        assert_eq!(
            clean(r#"<a href="&#x2F;x?a=1&amp;b=2">x</a>"#),
            r#"<a href="https://example.com/x?a=1&amp;b=2" rel="noopener noreferrer">x</a>"#
        );
    }

    #[test]
    fn script_urls_and_handlers_are_dropped() {
        assert_eq!(
            clean(r#"<a href="javascript:alert(1)" onclick="evil()">x</a>"#),
            r#"<a rel="noopener noreferrer">x</a>"#
        );
        assert_eq!(
            clean(r#"<a href="jav&#x61;script:alert(1)">x</a>"#),
            r#"<a rel="noopener noreferrer">x</a>"#
        );
        assert_eq!(
            clean(r#"<a href="vbscript:msgbox(1)">x</a>"#),
            r#"<a rel="noopener noreferrer">x</a>"#
        );
        assert_eq!(
            clean(r#"<p onclick="evil()" style="x:expression(1)">t</p>"#),
            "<p>t</p>"
        );
        assert_eq!(
            clean(r#"<img src="data:text/html;base64,PHNjcmlwdD4=">"#),
            "<img>"
        );
    }

    #[test]
    fn small_raster_data_images_are_kept() {
        let html = r#"<img src="data:image/png;base64,iVBORw0KGgo=">"#;
        assert_eq!(clean(html), html);
        assert_eq!(
            clean(r#"<a href="data:image/png;base64,iVBORw0KGgo=">x</a>"#),
            r#"<a rel="noopener noreferrer">x</a>"#
        );
    }

    #[test]
    fn active_content_is_gone() {
        let html = r#"<p>a</p><script>alert(1)</script><style>p{}</style><iframe src="javascript:x"></iframe><object data="x.swf"><p>fallback</p></object><embed src="y.swf"><form action="/post"><input name="q">label</form><p>b</p>"#;
        assert_eq!(clean(html), "<p>a</p>label<p>b</p>");
    }

    #[test]
    fn iframes_become_links() {
        assert_eq!(
            clean(r#"<iframe src="//player.example.com/v?id=1&amp;x=2" width="500"></iframe>"#),
            r#"<a href="https://player.example.com/v?id=1&amp;x=2" rel="noopener noreferrer">//player.example.com/v?id=1&amp;x=2</a>"#
        );
    }

    #[test]
    fn only_ascii_whitespace_is_trimmed_at_the_edges() {
        assert_eq!(clean("\n  　　正文 \n"), "　　正文");
    }

    #[test]
    fn comments_are_removed() {
        assert_eq!(
            clean("<p>a<!-- hidden --></p><!-- news_keyword_pub -->"),
            "<p>a</p>"
        );
    }

    #[test]
    fn entities_are_decoded_where_they_are_text() {
        assert_eq!(
            clean("<p>&#123;x&#125; &amp; &lt;b&gt; &hellip;</p>"),
            "<p>{x} &amp; &lt;b&gt; …</p>"
        );
    }

    #[test]
    fn xml_forbidden_characters_are_removed() {
        assert_eq!(
            clean("<p>a\u{b}b&#x1;c&#0;d&#xD800;e&#xFFFF;f\u{2}</p>"),
            "<p>abc\u{FFFD}d\u{FFFD}ef</p>"
        );
    }

    #[test]
    fn presentation_is_kept() {
        let html = r#"<figure><img src="https://x.example/a.png" alt="a" width="300px" height="auto" loading="lazy" referrerpolicy="no-referrer"><figcaption>cap</figcaption></figure><pre><code class="language-rust hljs">fn main() {}</code></pre><details><summary>s</summary>d</details><ruby>漢<rp>(</rp><rt>kan</rt><rp>)</rp></ruby>"#;
        assert_eq!(
            clean(html),
            r#"<figure><img src="https://x.example/a.png" alt="a" width="300" referrerpolicy="no-referrer" loading="lazy"><figcaption>cap</figcaption></figure><pre><code class="language-rust">fn main() {}</code></pre><details><summary>s</summary>d</details><ruby>漢<rp>(</rp><rt>kan</rt><rp>)</rp></ruby>"#
        );
    }

    #[test]
    fn configured_selectors_remove_elements() {
        let c = cleaner(&[".ad", "p.article-editor", "div:not(.keep) > span"]);
        assert_eq!(
            c.clean(r#"<div class="keep"><span>k</span></div><div><span>x</span></div><p class="ad">ad</p><p class="article-editor">责任编辑</p><p>t</p>"#),
            r#"<div><span>k</span></div><div></div><p>t</p>"#
        );
    }

    #[test]
    fn invalid_selectors_are_reported_by_name() {
        let base = Url::parse("https://example.com/").expect("static url");
        for bad in ["h1 + p", "p ~ span", "div >", "", "p:hover", "[=x]"] {
            match Cleaner::new(&base, &[".ok".to_owned(), bad.to_owned()]) {
                Err(HtmlError::Selector { selector, reason }) => {
                    assert_eq!(selector, bad);
                    assert!(!reason.is_empty());
                }
                other => panic!("{bad:?} should be rejected, got {other:?}"),
            }
        }
        let err = Cleaner::new(&base, &["a + b".to_owned()]).expect_err("bad selector");
        assert!(err.to_string().contains("a + b"), "{err}");
    }

    #[test]
    fn base_must_be_http() {
        let base = Url::parse("mailto:a@example.com").expect("static url");
        assert!(matches!(
            Cleaner::new(&base, &[]),
            Err(HtmlError::Base { .. })
        ));
    }

    #[test]
    fn lazy_images_are_promoted() {
        assert_eq!(
            clean(
                r#"<img src="data:image/gif;base64,R0lGODlhAQABAAAAACw=" data-src="/real.jpg"><img data-original="b.jpg"><img src="/loading.gif" data-srcset="c.jpg 2x" data-src="c.jpg"><img src="keep.jpg" data-src="other.jpg">"#
            ),
            r#"<img src="https://example.com/real.jpg"><img src="https://example.com/blog/b.jpg"><img src="https://example.com/blog/c.jpg" srcset="https://example.com/blog/c.jpg 2x"><img src="https://example.com/blog/keep.jpg">"#
        );
    }

    #[test]
    fn cite_is_absolutized_and_checked() {
        assert_eq!(
            clean(r#"<blockquote cite="/src">q</blockquote><q cite="javascript:x">y</q>"#),
            r#"<blockquote cite="https://example.com/src">q</blockquote><q>y</q>"#
        );
    }

    #[test]
    fn long_runs_of_escaped_text_clean_to_the_same_text() {
        let run = "&amp;&nbsp;©".repeat(20_000);
        assert_eq!(clean(&format!("<p>{run}</p>")), format!("<p>{run}</p>"));
        // Foster-parented out of a table, the text stays whole and in place.
        let amps = "&".repeat(20_000);
        assert_eq!(
            clean(&format!("<table><tr><td>x</td>{amps}</tr></table>")),
            format!(
                "{}<table><tbody><tr><td>x</td></tr></tbody></table>",
                "&amp;".repeat(20_000)
            )
        );
    }

    #[test]
    fn literal_text_elements_become_preformatted_text() {
        assert_eq!(
            clean("<p>a<xmp><b>x & y</b></xmp>"),
            "<p>a</p><pre>&lt;b&gt;x &amp; y&lt;/b&gt;</pre>"
        );
        assert_eq!(clean("<plaintext>\n<i>i"), "<pre>\n&lt;i&gt;i</pre>");
    }

    #[test]
    fn attribute_values_too_costly_to_escape_are_dropped() {
        let costly = "&amp;".repeat(100);
        assert_eq!(
            clean(&format!(
                r#"<img src="/a.png" alt="{costly}" title="a &amp; b">"#
            )),
            r#"<img src="https://example.com/a.png" title="a &amp; b">"#
        );
    }

    #[test]
    fn code_class_keeps_only_language_hints() {
        assert_eq!(clean(r#"<code class="hljs">x</code>"#), "<code>x</code>");
        assert_eq!(
            clean(r#"<pre class="lang-js x">x</pre>"#),
            r#"<pre class="lang-js">x</pre>"#
        );
        assert_eq!(clean(r#"<p class="language-x">x</p>"#), "<p>x</p>");
    }
}
