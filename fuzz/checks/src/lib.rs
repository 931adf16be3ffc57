//! What each fuzz target runs, shared with the integration tests
//! (`tests/it/`: `fuzz_regressions`, `malicious`, `properties`), so that every
//! minimized crash in `tests/fixtures/fuzz/<target>/` replays through exactly
//! the same code in a plain `cargo test`.
//!
//! Every function takes raw bytes, never panics on its own account, and
//! panics (so libFuzzer records a crash) when refeed breaks a promise:
//! - `article`: decoding and parsing return Ok or Err, never panic; a
//!   loaded post has an id, a four-digit year and a body that renders to
//!   inert HTML.
//! - `date`: a parsed date has a four-digit year and survives a round trip
//!   through RFC 3339; so does a file-stem date's year.
//! - `html`: cleaned HTML is inert (no script-like element, no event
//!   handler, no `javascript:`/`vbscript:` URL, `data:` only for raster
//!   images in `img`) and carries no XML-forbidden character; plain text and
//!   summaries are XML-safe and no longer than asked.
//! - `feed`: every document of every feed is well-formed (roxmltree for XML,
//!   serde_json for JSON), ids are unique within each feed, and every HTML
//!   field is inert as above.

use std::cell::RefCell;
use std::collections::HashSet;
use std::path::Path;
use std::sync::{Arc, OnceLock};

use refeed::article::Loader;
use refeed::config::Config;
use refeed::date::{CstMeaning, DateContext};
use refeed::feed::Format;
use refeed::html::Cleaner;
use refeed::source::{Role, SourceFile};

pub fn config() -> &'static Config {
    static CONFIG: OnceLock<Config> = OnceLock::new();
    CONFIG.get_or_init(|| Config::default_embedded().expect("embedded configuration"))
}

pub fn loader() -> &'static Loader {
    static LOADER: OnceLock<Loader> = OnceLock::new();
    LOADER.get_or_init(|| refeed::setup::loader(config()))
}

fn cleaner() -> &'static Cleaner {
    static CLEANER: OnceLock<Cleaner> = OnceLock::new();
    CLEANER.get_or_init(|| {
        let c = config();
        Cleaner::new(&c.site.url, &c.load.remove_selectors).expect("cleaner")
    })
}

// ---------------------------------------------------------------- article

/// Arbitrary bytes as a post file: decoded as `Loader::read` does, then
/// parsed as a post, a draft and an `.html` page; the body is rendered too.
pub fn article(data: &[u8]) {
    let Ok((text, _warning)) = refeed::source::decode(data.to_vec()) else {
        return;
    };
    let files = [
        ("_posts/a/2021-06-22-post.md", Role::Post),
        ("_drafts/draft.markdown", Role::Draft),
        ("about/index.html", Role::Page),
    ];
    for (rel, role) in files {
        let file = SourceFile {
            path: Path::new("/nonexistent/source").join(rel),
            rel: Arc::from(rel),
            role,
            linked: false,
        };
        let modified = Some(std::time::SystemTime::UNIX_EPOCH);
        let Ok(parsed) = loader().parse(&file, &text, modified) else {
            continue;
        };
        let a = &parsed.article;
        assert!(
            text.is_char_boundary(parsed.body_start),
            "body_start inside a character"
        );
        assert!(
            a.explicit_id
                .as_deref()
                .is_none_or(|i| !i.is_empty() && i.trim() == i),
            "an explicit id is trimmed and not empty"
        );
        let year = chrono::Datelike::year(&a.date);
        assert!(
            (1000..=9999).contains(&year),
            "date {} out of range",
            a.date
        );
        let body = &text[parsed.body_start..];
        let content = refeed::article::body::render(
            &file.path,
            body,
            a.description.as_deref(),
            cleaner(),
            config().load.summary_length,
        );
        assert_inert(&content.html, "article body");
        assert_xml_safe(&content.summary, "summary");
    }
}

// ------------------------------------------------------------------- date

/// Arbitrary text as a front-matter date (in three contexts) and as a file
/// stem.
pub fn date(data: &[u8]) {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    let contexts = [
        DateContext::default(),
        DateContext {
            timezone: chrono_tz::Tz::America__New_York,
            cst: CstMeaning::UsCentral,
        },
        DateContext {
            timezone: chrono_tz::Tz::Asia__Shanghai,
            cst: CstMeaning::China,
        },
    ];
    for ctx in &contexts {
        match refeed::date::parse_date(s, ctx) {
            Ok(d) => {
                let year = chrono::Datelike::year(&d);
                assert!((1000..=9999).contains(&year), "{s:?} -> {d}: year");
                // What refeed writes into feeds reads back as the same instant.
                let written = d.to_rfc3339();
                assert_eq!(
                    refeed::date::parse_date(&written, ctx),
                    Ok(d),
                    "{s:?} -> {written} does not round-trip"
                );
            }
            Err(e) => {
                let _ = (e.to_string(), e.is_impossible());
            }
        }
        if let Some(d) = refeed::date::date_from_file_stem(s, ctx) {
            let year = chrono::Datelike::year(&d);
            assert!((1000..=9999).contains(&year), "stem {s:?} -> {d}: year");
        }
    }
}

// ------------------------------------------------------------------- html

/// Arbitrary text as an article body through every HTML helper.
pub fn html(data: &[u8]) {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    let cleaner = cleaner();
    let cleaned = cleaner.clean(s);
    assert_inert(&cleaned, "clean(input)");
    assert_xml_safe(&cleaned, "clean(input)");
    let md = refeed::html::markdown_to_html(s);
    let cleaned_md = cleaner.clean(&md);
    assert_inert(&cleaned_md, "clean(markdown_to_html(input))");
    assert_xml_safe(&cleaned_md, "clean(markdown_to_html(input))");
    let tags = refeed::html::expand_tag_plugins(s);
    let cleaned_tags = cleaner.clean(&tags);
    assert_inert(&cleaned_tags, "clean(expand_tag_plugins(input))");
    assert_xml_safe(&cleaned_tags, "clean(expand_tag_plugins(input))");
    let text = refeed::html::plain_text(s);
    assert_xml_safe(&text, "plain_text");
    let summary = refeed::html::summarize(s, 20);
    assert!(summary.chars().count() <= 20, "summary longer than asked");
    assert_xml_safe(&summary, "summarize");
}

// ------------------------------------------------------------------- feed

/// Separates the post files within one input.
pub const FILE_SEPARATOR: &[u8] = b"\n%%%%\n";

/// Names of the (up to three) post files written from one input: different
/// extensions, a date in a file name, a category folder.
const FEED_FILES: [&str; 3] = ["a/first.md", "2021-02-03-second.html", "b/c/third.markdown"];

/// Arbitrary bytes as 1-3 post files (split at [`FILE_SEPARATOR`]) in a
/// fresh folder; the snapshot over it must hold only sound documents.
pub fn feed(data: &[u8]) {
    let dir = tempfile::tempdir().expect("tempdir");
    for (i, part) in split_files(data).into_iter().enumerate() {
        let path = dir.path().join(FEED_FILES[i]);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(&path, part).expect("write");
    }
    let mut config = config().clone();
    config.source_dir = dir.path().to_path_buf();
    let pipeline = refeed::snapshot::Pipeline::new(&config).expect("pipeline");
    let snap = pipeline.initial().expect("snapshot");
    for (key, docs) in snap.feeds.iter() {
        for format in Format::ALL {
            let bytes = docs.doc(format).identity();
            let what = format!("{key:?} {format:?}");
            match format {
                Format::Json => check_json_feed(bytes, &what),
                Format::Rss | Format::Atom => check_xml_feed(bytes, &what),
            }
        }
    }
    check_xml(snap.opml.identity(), "opml");
}

fn split_files(data: &[u8]) -> Vec<&[u8]> {
    let mut parts = Vec::new();
    let mut rest = data;
    while parts.len() < FEED_FILES.len() - 1 {
        match find(rest, FILE_SEPARATOR) {
            Some(i) => {
                parts.push(&rest[..i]);
                rest = &rest[i + FILE_SEPARATOR.len()..];
            }
            None => break,
        }
    }
    parts.push(rest);
    parts
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// A strict XML 1.0 parse; the document must be UTF-8.
pub fn check_xml<'a>(bytes: &'a [u8], what: &str) -> roxmltree::Document<'a> {
    let text = std::str::from_utf8(bytes).unwrap_or_else(|e| panic!("{what}: not UTF-8: {e}"));
    roxmltree::Document::parse(text)
        .unwrap_or_else(|e| panic!("{what}: not well-formed XML: {e}\n{text}"))
}

/// An RSS or Atom document: well-formed, unique item ids, inert HTML fields.
pub fn check_xml_feed(bytes: &[u8], what: &str) {
    let doc = check_xml(bytes, what);
    let mut ids = HashSet::new();
    for node in doc.descendants().filter(|n| n.is_element()) {
        let name = node.tag_name().name();
        let in_item = node
            .parent_element()
            .is_some_and(|p| matches!(p.tag_name().name(), "item" | "entry"));
        if !in_item {
            continue;
        }
        let text = node.text().unwrap_or("");
        match name {
            "guid" | "id" => {
                assert!(!text.is_empty(), "{what}: empty item id");
                assert!(ids.insert(text.to_string()), "{what}: duplicate id {text}");
            }
            // RSS description and content:encoded, Atom html content.
            "description" | "encoded" | "content" => assert_inert(text, what),
            _ => {}
        }
    }
    let items = doc
        .descendants()
        .filter(|n| matches!(n.tag_name().name(), "item" | "entry"))
        .count();
    assert_eq!(items, ids.len(), "{what}: an item without an id");
}

/// A JSON Feed: valid JSON, unique item ids, inert `content_html`.
pub fn check_json_feed(bytes: &[u8], what: &str) {
    let json: serde_json::Value =
        serde_json::from_slice(bytes).unwrap_or_else(|e| panic!("{what}: invalid JSON: {e}"));
    let items = json["items"]
        .as_array()
        .unwrap_or_else(|| panic!("{what}: no items array"));
    let mut ids = HashSet::new();
    for item in items {
        let id = item["id"]
            .as_str()
            .unwrap_or_else(|| panic!("{what}: item without a string id"));
        assert!(!id.is_empty(), "{what}: empty item id");
        assert!(ids.insert(id.to_string()), "{what}: duplicate id {id}");
        if let Some(html) = item["content_html"].as_str() {
            assert_inert(html, what);
            assert_xml_safe(html, what);
        }
    }
}

// ------------------------------------------------------------ inertness

/// Elements that run code, load other documents or restyle the page.
const ACTIVE_ELEMENTS: &[&str] = &[
    "script", "iframe", "frame", "frameset", "object", "embed", "applet", "form", "style", "link",
    "meta", "base", "svg", "math", "template", "noscript",
];

/// Panics unless `html`, parsed, can run no code: no element of
/// [`ACTIVE_ELEMENTS`], no `on*` or `style` attribute, no attribute value
/// that is a `javascript:`/`vbscript:` URL (after decoding character
/// references and dropping the controls and spaces browsers ignore), and
/// `data:` URLs only as non-SVG images in `img`/`source`.
pub fn assert_inert(html: &str, what: &str) {
    let problems = inert_problems(html);
    assert!(problems.is_empty(), "{what}: {problems:?}\n{html}");
}

/// What [`assert_inert`] objects to, for tests that expect something.
pub fn inert_problems(html: &str) -> Vec<String> {
    use lol_html::{RewriteStrSettings, element, rewrite_str};
    let problems = RefCell::new(Vec::new());
    let settings = RewriteStrSettings::new().append_element_content_handler(element!("*", |el| {
        let tag = el.tag_name().to_ascii_lowercase();
        if ACTIVE_ELEMENTS.contains(&tag.as_str()) {
            problems.borrow_mut().push(format!("<{tag}>"));
        }
        for attr in el.attributes() {
            let name = attr.name().to_ascii_lowercase();
            if name.starts_with("on") || name == "style" {
                problems.borrow_mut().push(format!("<{tag} {name}=>"));
            }
            // Each URL the attribute holds (srcset holds several), as a
            // browser reads its scheme.
            let decoded = decode_references(&attr.value());
            let urls: Vec<String> = if name == "srcset" {
                decoded.split([' ', ',']).map(url_like).collect()
            } else {
                vec![url_like(&decoded)]
            };
            let is_url = URL_ATTRIBUTES.contains(&name.as_str());
            let scheme_ok = !is_url
                || urls.iter().all(|url| {
                    if url.starts_with("javascript:") || url.starts_with("vbscript:") {
                        false
                    } else if url.starts_with("data:") {
                        matches!(tag.as_str(), "img" | "source")
                            && matches!(name.as_str(), "src" | "srcset")
                            && is_raster_data(url)
                    } else {
                        true
                    }
                });
            if !scheme_ok {
                problems
                    .borrow_mut()
                    .push(format!("<{tag} {name}={}>", attr.value()));
            }
        }
        Ok(())
    }));
    // A fragment lol_html cannot parse at all would be a finding too.
    if let Err(e) = rewrite_str(html, settings) {
        return vec![format!("unparsable HTML: {e}")];
    }
    problems.into_inner()
}

/// Attributes a browser reads as URLs (alt or title text may say
/// "javascript:" harmlessly).
const URL_ATTRIBUTES: &[&str] = &[
    "href",
    "src",
    "srcset",
    "poster",
    "cite",
    "action",
    "formaction",
    "data",
    "background",
    "xlink:href",
    "longdesc",
    "usemap",
    "manifest",
    "ping",
    "lowsrc",
    "dynsrc",
    "codebase",
    "archive",
    "classid",
    "profile",
    "icon",
    "content",
];

fn is_raster_data(url: &str) -> bool {
    ["png", "jpeg", "jpg", "gif", "webp", "avif", "bmp"]
        .iter()
        .any(|t| url.starts_with(&format!("data:image/{t}")))
}

/// A (decoded) attribute value as a browser reads a URL scheme: controls
/// and whitespace dropped, lower-cased.
fn url_like(decoded: &str) -> String {
    decoded
        .chars()
        .filter(|c| !c.is_control() && !c.is_whitespace())
        .flat_map(char::to_lowercase)
        .collect()
}

/// Numeric and the few named character references that can spell a scheme.
fn decode_references(s: &str) -> String {
    const NAMED: &[(&str, char)] = &[
        ("colon", ':'),
        ("tab", '\t'),
        ("newline", '\n'),
        ("amp", '&'),
        ("lt", '<'),
        ("gt", '>'),
        ("quot", '"'),
        ("apos", '\''),
        ("sol", '/'),
        ("nbsp", '\u{a0}'),
    ];
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        rest = &rest[i + 1..];
        let end = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '#'))
            .unwrap_or(rest.len());
        let name = &rest[..end];
        let decoded = if let Some(num) = name.strip_prefix('#') {
            let n = match num.strip_prefix(['x', 'X']) {
                Some(hex) => u32::from_str_radix(hex, 16).ok(),
                None => num.parse().ok(),
            };
            n.map(|n| char::from_u32(n).unwrap_or('\u{fffd}'))
        } else {
            NAMED
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, c)| *c)
        };
        match decoded {
            Some(c) => {
                out.push(c);
                rest = &rest[end..];
                rest = rest.strip_prefix(';').unwrap_or(rest);
            }
            None => out.push('&'),
        }
    }
    out.push_str(rest);
    out
}

/// Panics if `s` holds a character XML 1.0 forbids.
pub fn assert_xml_safe(s: &str, what: &str) {
    if let Some(c) = s.chars().find(|&c| !refeed::text::is_xml_char(c)) {
        panic!("{what}: XML-forbidden character {c:?} in {s:?}");
    }
}
