//! Hostile and broken input: every file of `tests/fixtures/malicious/`
//! (plus a few generated here rather than committed: a file one byte over
//! the size limit, a binary file, a wide alias bomb) has a test named after
//! its expected outcome. One snapshot is built over all of them, as
//! `refeed serve` would, and every document it holds is checked with parsers:
//! well-formed XML / valid JSON, unique ids, and HTML that cannot run code.

use crate::common;

use std::path::Path;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use refeed::article::{Article, Content, FileReport, Status};
use refeed::config::Config;
use refeed::feed::Format;
use refeed::ondemand::Renderer;
use refeed::snapshot::{Pipeline, Snapshot};

const MAX_FILE_SIZE: usize = 10 * 1024 * 1024;

struct Malicious {
    dir: tempfile::TempDir,
    config: Config,
    /// Renders article pages from `snap`.
    pages: Renderer,
    snap: Snapshot,
    /// How long the initial load of the whole folder took.
    took: Duration,
}

/// The committed fixtures and the generated ones in one folder, loaded once.
fn malicious() -> &'static Malicious {
    static M: OnceLock<Malicious> = OnceLock::new();
    M.get_or_init(|| {
        let dir = tempfile::tempdir().expect("tempdir");
        let fixtures = common::fixtures().join("malicious");
        for entry in std::fs::read_dir(&fixtures).expect("fixtures") {
            let path = entry.expect("entry").path();
            std::fs::copy(&path, dir.path().join(path.file_name().unwrap())).expect("copy");
        }
        generate(dir.path());
        let config = common::config(dir.path(), &[("feed.limit", "100")]);
        assert_eq!(config.load.max_file_size, MAX_FILE_SIZE as u64);
        let pipeline = Arc::new(Pipeline::new(&config).expect("pipeline"));
        let started = Instant::now();
        let snap = pipeline.initial().expect("snapshot");
        let took = started.elapsed();
        let pages = Renderer::new(&config, pipeline);
        Malicious {
            dir,
            config,
            pages,
            snap,
            took,
        }
    })
}

/// Files too big, too binary or too repetitive to commit.
fn generate(dir: &Path) {
    let head = "---\ntitle: too large\ndate: 2021-06-22 10:00:00\n---\n<p>";
    let mut big = head.as_bytes().to_vec();
    big.resize(MAX_FILE_SIZE + 1, b'a');
    std::fs::write(dir.join("too_large.md"), big).unwrap();

    // A PNG header, then every byte value: NULs make it binary.
    let mut binary = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
    binary.extend((0..=255u8).cycle().take(4096));
    std::fs::write(dir.join("binary.md"), binary).unwrap();

    // 6,000 aliases of a 6,000-element anchor: 36 million values from 30 KB
    // (20 s and 3.7 GB in serde_yaml 0.9 without the guard).
    let n = 6000;
    let wide = format!(
        "---\ntitle: wide\ndate: 2021-06-22 10:00:00\na: &a [{}]\nb: [{}]\n---\nbody\n",
        vec!["x"; n].join(","),
        vec!["*a"; n].join(",")
    );
    std::fs::write(dir.join("yaml_alias_wide.md"), wide).unwrap();

    // 1,000 tags in 13 KB: each tag is a feed holding the post with all of
    // its tags (1,001 feeds and 196 MB of documents without the limit).
    let tags: String = (0..1000).map(|i| format!("  - tag{i:04}\n")).collect();
    let many_tags =
        format!("---\ntitle: many tags\ndate: 2021-06-22 10:00:00\ntags:\n{tags}---\nbody\n");
    std::fs::write(dir.join("many_tags.md"), many_tags).unwrap();

    // 10,000 values of the wrong shape after 10,000 lines: a warning each,
    // each searching the front matter for its key's line (quadratic).
    let filler = "  filler\n".repeat(10_000);
    let lists = "  - - x\n".repeat(10_000);
    let bad = format!(
        "---\ntitle: many warnings\ndate: 2021-06-22 10:00:00\ndescription: |\n{filler}tags:\n{lists}---\nbody\n"
    );
    std::fs::write(dir.join("many_bad_values.md"), bad).unwrap();
}

fn report(name: &str) -> &'static FileReport {
    malicious()
        .snap
        .reports
        .get(name)
        .unwrap_or_else(|| panic!("no report for {name}"))
}

/// The article and the content feeds show for a file that must load.
fn loaded(name: &str, status: Status) -> (&'static Article, &'static Content) {
    let r = report(name);
    assert_eq!(r.status(), status, "{name}: {:?}", r.messages);
    let article = r.article.as_deref().expect("article");
    let content = malicious()
        .snap
        .content(name)
        .unwrap_or_else(|| panic!("{name}: no content rendered"));
    assert!(
        fuzz_checks::inert_problems(&content.html).is_empty(),
        "{name}"
    );
    (article, content)
}

/// Asserts a file was rejected with a message containing `reason`, on
/// `line` when given.
fn rejected(name: &str, reason: &str, line: Option<usize>) {
    let r = report(name);
    assert_eq!(r.status(), Status::Rejected, "{name}");
    let m = &r.messages[0];
    assert!(m.text.contains(reason), "{name}: {m:?}");
    if line.is_some() {
        assert_eq!(m.line, line, "{name}: {m:?}");
    }
}

fn lower(s: &str) -> String {
    s.to_ascii_lowercase()
}

// ------------------------------------------------------------- the whole

#[test]
fn no_document_can_run_code_and_every_one_is_well_formed() {
    let m = malicious();
    assert!(m.snap.feeds.len() >= 5, "{}", m.snap.feeds.len());
    for (key, docs) in m.snap.feeds.iter() {
        for format in Format::ALL {
            let bytes = docs.doc(format).identity();
            let what = format!("{key:?} {format:?}");
            match format {
                Format::Json => fuzz_checks::check_json_feed(bytes, &what),
                _ => fuzz_checks::check_xml_feed(bytes, &what),
            }
        }
    }
    fuzz_checks::check_xml(m.snap.opml.identity(), "opml");
    let index = std::str::from_utf8(m.snap.index.identity()).unwrap();
    assert_page_inert(index, "index.html");
}

/// A whole HTML page of refeed's: its own head has one `<style>`, `<meta>`s
/// and `<link>`s; nothing else may be active.
fn assert_page_inert(html: &str, what: &str) {
    let problems: Vec<String> = fuzz_checks::inert_problems(html)
        .into_iter()
        .filter(|p| !matches!(p.as_str(), "<meta>" | "<link>" | "<style>"))
        .collect();
    assert!(problems.is_empty(), "{what}: {problems:?}");
    assert_eq!(lower(html).matches("<style").count(), 1, "{what}: {html}");
}

#[test]
fn article_pages_can_run_no_code() {
    let m = malicious();
    for entry in m.snap.catalog.entries() {
        let page = m.pages.article_page(&m.snap, entry).unwrap();
        let html = std::str::from_utf8(page.identity()).unwrap();
        assert_page_inert(html, &entry.article.rel);
    }
}

#[test]
fn the_whole_folder_loads_quickly() {
    // Debug build, two cores shared; without the YAML guards the two
    // alias bombs alone take minutes and gigabytes.
    let m = malicious();
    assert!(m.took < Duration::from_secs(30), "{:?}", m.took);
    let rejected = m.snap.rejected().count();
    assert_eq!(
        rejected,
        12,
        "{:?}",
        m.snap.rejected().map(|r| &r.rel).collect::<Vec<_>>()
    );
    let site = &m.snap.feeds[&refeed::catalog::FeedKey::Site];
    assert_eq!(site.count, m.snap.catalog.len());
}

// --------------------------------------------------------- active content

#[test]
fn script_md_loads_without_any_script() {
    let (_, c) = loaded("script.md", Status::Ok);
    assert!(c.html.contains("<p>before</p>") && c.html.contains("<p>after</p>"));
    assert!(!lower(&c.html).contains("<script"), "{}", c.html);
    assert!(!c.html.contains("alert(1)") && !c.html.contains("alert(3)"));
    assert!(!c.html.contains("onerror"), "{}", c.html);
}

#[test]
fn handlers_md_loads_without_event_handlers() {
    let (_, c) = loaded("handlers.md", Status::Ok);
    assert!(!lower(&c.html).contains(" on"), "{}", c.html);
    assert!(
        c.html
            .contains(r#"<img src="http://127.0.0.1:8080/a.png">"#)
    );
    assert!(c.html.contains(r#"<a href="http://127.0.0.1:8080/ok""#));
    assert!(!lower(&c.html).contains("<svg"));
}

#[test]
fn javascript_links_md_loads_with_the_links_disarmed() {
    let (_, c) = loaded("javascript_links.md", Status::Ok);
    assert!(!lower(&c.html).contains("javascript:"), "{}", c.html);
    assert!(!lower(&c.html).contains("vbscript:"));
    assert!(!lower(&c.html).contains("<form"));
    // The link texts stay; only the URLs go.
    assert!(c.html.contains(">entity tab</a>") && c.html.contains(">named colon</a>"));
    assert!(
        c.html
            .contains(r#"href="http://127.0.0.1:8080/fine/relative""#)
    );
}

#[test]
fn javascript_links_markdown_md_loads_with_the_links_disarmed() {
    let (_, c) = loaded("javascript_links_markdown.md", Status::Ok);
    assert!(!c.html.contains("href=\"javascript"), "{}", c.html);
    assert!(!c.html.contains("src=\"javascript"), "{}", c.html);
    assert!(c.html.contains(">markdown link</a>"));
}

#[test]
fn data_links_md_keeps_only_inline_raster_images() {
    let (_, c) = loaded("data_links.md", Status::Ok);
    assert!(
        c.html
            .contains(r#"<img src="data:image/png;base64,iVBORw0KGgo=" alt="inline png">"#),
        "{}",
        c.html
    );
    assert_eq!(c.html.matches("data:").count(), 1, "{}", c.html);
    assert!(c.html.contains(r#"<img alt="svg">"#));
    assert!(!lower(&c.html).contains("<iframe") && !lower(&c.html).contains("<object"));
}

#[test]
fn iframe_md_loads_with_iframes_turned_into_links() {
    let (_, c) = loaded("iframe.md", Status::Ok);
    assert!(!lower(&c.html).contains("<iframe") && !lower(&c.html).contains("<frame"));
    assert!(
        c.html
            .contains(r#"<a href="https://www.youtube.com/embed/xyz""#)
    );
    assert!(
        !c.html.contains("srcdoc") && !c.html.contains("alert"),
        "{}",
        c.html
    );
}

#[test]
fn object_md_loads_without_objects_embeds_or_applets() {
    let (_, c) = loaded("object.md", Status::Ok);
    for tag in ["<object", "<embed", "<applet", "<param", ".swf"] {
        assert!(!lower(&c.html).contains(tag), "{tag}: {}", c.html);
    }
    assert!(c.html.contains("<p>after</p>"));
}

#[test]
fn css_expressions_md_loads_without_styles() {
    let (_, c) = loaded("css_expressions.md", Status::Ok);
    for needle in [
        "expression(",
        "style=",
        "<style",
        "<link",
        "url(",
        "-moz-binding",
        "behavior:",
    ] {
        assert!(!lower(&c.html).contains(needle), "{needle}: {}", c.html);
    }
    assert!(c.html.contains("<p>style attribute</p>"));
}

#[test]
fn hostile_metadata_md_loads_with_markup_kept_as_text() {
    let (a, c) = loaded("hostile_metadata.md", Status::Ok);
    // Titles, authors and names are text: kept verbatim in the article and
    // escaped in every document (checked as documents by the whole-folder
    // test); URLs with other schemes than http(s) are dropped.
    assert!(a.title.starts_with("<script>alert(1)</script>"));
    assert_eq!(a.image, None);
    assert_eq!(a.link, None);
    assert_eq!(c.summary, "description");
    let entry = malicious()
        .snap
        .catalog
        .entry("hostile_metadata.md")
        .unwrap();
    assert!(
        entry
            .url(malicious().snap.catalog.scheme())
            .starts_with("http://127.0.0.1:8080/")
    );
    let json = &malicious().snap.feeds[&refeed::catalog::FeedKey::Site];
    let doc: serde_json::Value = serde_json::from_slice(json.doc(Format::Json).identity()).unwrap();
    let item = doc["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["id"].as_str().unwrap().ends_with("hostile_metadata.md"))
        .unwrap();
    assert_eq!(item["title"].as_str().unwrap(), a.title);
    assert_eq!(item["content_html"], "<p>body</p>");
}

// ------------------------------------------------------------- characters

#[test]
fn forbidden_chars_md_loads_and_feeds_drop_every_forbidden_character() {
    let (a, c) = loaded("forbidden_chars.md", Status::Ok);
    // The article keeps what YAML decoded; documents drop it on the way out.
    assert!(a.title.contains('\u{1}') && a.title.contains('\u{FFFF}'));
    assert_eq!(c.html, "<p>body text</p>\n<p>\u{FFFD} entities</p>");
    let rss = &malicious().snap.feeds[&refeed::catalog::FeedKey::Site];
    let bytes = rss.doc(Format::Rss).identity();
    let doc = fuzz_checks::check_xml(bytes, "rss");
    let item = doc
        .descendants()
        .find(|n| {
            n.has_tag_name("item") && n.children().any(|t| t.text() == Some("Forbidden chars"))
        })
        .expect("item titled without its control characters");
    let texts: Vec<&str> = item.descendants().filter_map(|n| n.text()).collect();
    assert!(texts.contains(&"Author"), "{texts:?}");
    assert!(
        texts.contains(&"malicious") && texts.contains(&"tag"),
        "{texts:?}"
    );
    for format in Format::ALL {
        let text = std::str::from_utf8(rss.doc(format).identity()).unwrap();
        let bad = text
            .chars()
            .find(|&c| !refeed::text::is_xml_char(c) || matches!(c, '\u{FFFE}' | '\u{FFFF}'));
        assert_eq!(bad, None, "{format:?}");
        // JSON could spell them as escapes instead.
        assert!(
            !text.contains("\\u0001") && !text.contains("\\u001f"),
            "{format:?}"
        );
    }
}

#[test]
fn forbidden_chars_raw_md_is_rejected_as_invalid_yaml() {
    // Raw C0 controls are not allowed in a YAML stream at all.
    rejected(
        "forbidden_chars_raw.md",
        "control characters are not allowed",
        Some(2),
    );
}

#[test]
fn lone_surrogates_md_loads_with_replacement_characters() {
    let (a, c) = loaded("lone_surrogates.md", Status::Ok);
    assert_eq!(a.title, "Surrogate &#xD800; in a title");
    assert_eq!(
        c.html,
        "<p>high \u{FFFD} low \u{FFFD} pair \u{FFFD}\u{FFFD} decimal \u{FFFD} out of range \u{FFFD} ok 😀</p>"
    );
}

#[test]
fn lone_surrogate_yaml_md_is_rejected_for_its_escape() {
    rejected(
        "lone_surrogate_yaml.md",
        "invalid Unicode character escape",
        Some(2),
    );
}

#[test]
fn cdata_end_md_loads_and_round_trips_through_every_format() {
    let (a, c) = loaded("cdata_end.md", Status::Ok);
    assert_eq!(a.title, "a ]]> b <![CDATA[ c ]]>");
    assert_eq!(a.categories, vec![vec!["x]]>y".to_string()]]);
    assert!(c.html.starts_with("<p>body ]]&gt; text"), "{}", c.html);
    assert!(!c.html.contains("<script"), "{}", c.html);
    let site = &malicious().snap.feeds[&refeed::catalog::FeedKey::Site];
    for format in [Format::Rss, Format::Atom] {
        let doc = fuzz_checks::check_xml(site.doc(format).identity(), "feed");
        assert!(
            doc.descendants()
                .any(|n| n.has_tag_name("title") && n.text() == Some(a.title.as_str())),
            "{format:?}"
        );
    }
}

// -------------------------------------------------------------- encodings

#[test]
fn invalid_utf8_md_is_rejected_as_not_text() {
    rejected("invalid_utf8.md", "neither UTF-8 nor GB18030", None);
}

#[test]
fn gb18030_md_loads_with_a_warning() {
    let (a, c) = loaded("gb18030.md", Status::Warning);
    assert!(report("gb18030.md").messages[0].text.contains("GB18030"));
    assert_eq!(a.title, "工信部召开座谈会");
    assert_eq!(
        a.categories,
        vec![vec!["金融".to_string(), "新浪财经".into()]]
    );
    assert!(c.html.contains("上证报中国证券网讯"));
}

/// An empty file is what a truncation leaves: no post (issue 10, fault 8).
#[test]
fn empty_md_is_rejected_as_cut_short() {
    rejected("empty.md", "cut short", None);
}

#[test]
fn too_large_md_is_rejected_for_its_size() {
    rejected("too_large.md", "over the 10485760-byte limit", None);
}

#[test]
fn binary_md_is_rejected_as_binary() {
    rejected("binary.md", "binary file", None);
}

// ------------------------------------------------------------ YAML bombs

#[test]
fn yaml_deep_nesting_md_is_rejected_before_parsing() {
    rejected("yaml_deep_nesting.md", "YAML nesting bomb", Some(2));
}

#[test]
fn yaml_billion_laughs_md_is_rejected() {
    rejected("yaml_billion_laughs.md", "billion laughs", Some(2));
}

#[test]
fn yaml_alias_wide_md_is_rejected() {
    rejected("yaml_alias_wide.md", "billion laughs", Some(2));
}

#[test]
fn yaml_bombs_are_rejected_quickly_one_by_one() {
    let loader = refeed::setup::loader(&malicious().config);
    let dir = malicious().dir.path();
    for name in [
        "yaml_deep_nesting.md",
        "yaml_billion_laughs.md",
        "yaml_alias_wide.md",
    ] {
        let file = refeed::source::SourceFile {
            path: dir.join(name),
            rel: name.into(),
            role: refeed::source::Role::Post,
            linked: false,
        };
        let started = Instant::now();
        assert!(loader.read(&file, |_| ()).is_err(), "{name}");
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{name}: {:?}",
            started.elapsed()
        );
    }
}

#[test]
fn many_tags_md_loads_with_the_first_32_tags_and_a_warning() {
    let (a, _) = loaded("many_tags.md", Status::Warning);
    assert_eq!(a.tags.len(), 32);
    assert_eq!(a.tags[31], "tag0031");
    let m = &report("many_tags.md").messages;
    assert_eq!(m.len(), 1, "{m:?}");
    assert!(m[0].text.contains("968 more ignored"), "{m:?}");
    assert_eq!(m[0].line, Some(4));
    let tag_feeds = malicious()
        .snap
        .feeds
        .keys()
        .filter(|k| matches!(k, refeed::catalog::FeedKey::Tag(t) if t.starts_with("tag0")))
        .count();
    assert_eq!(tag_feeds, 32);
}

#[test]
fn many_bad_values_md_loads_with_its_warnings_capped() {
    let (a, _) = loaded("many_bad_values.md", Status::Warning);
    assert!(a.tags.is_empty());
    let m = &report("many_bad_values.md").messages;
    assert_eq!(m.len(), 21, "{m:?}");
    assert_eq!(m[0].line, Some(10_005));
    assert!(m[0].text.contains("a list is not a name"));
    assert_eq!(m[20].text, "9980 more warnings like these");
}

// ------------------------------------------------------- broken structure

#[test]
fn tab_indented_md_is_rejected_naming_the_line() {
    rejected("tab_indented.md", "tab character", Some(3));
}

#[test]
fn tab_indented_list_md_is_rejected_naming_the_line() {
    rejected("tab_indented_list.md", "invalid YAML", Some(5));
}

#[test]
fn feb31_md_is_rejected_as_an_impossible_date() {
    rejected(
        "feb31.md",
        "impossible date: day 31 does not exist in February 2021",
        Some(3),
    );
    assert_eq!(
        report("feb31.md").messages[0].field.as_deref(),
        Some("date")
    );
}
