//! Each feed's HTML page at its channel link: what a reader following the
//! feed's website link, or a category link of an article, gets.

use crate::common;

use common::server::Refeed;
use common::tree;

fn post(title: &str, day: u32, categories: &str, tags: &str) -> String {
    format!(
        "---\ntitle: {title}\ndate: 2024-03-{day:02}T08:00:00Z\ncategories: {categories}\ntags: {tags}\n\
         description: summary of {title}\n---\n<p>{title} body</p>\n"
    )
}

fn archive() -> tempfile::TempDir {
    tree(&[
        ("a.md", &post("Oldest", 1, "[[News, World]]", "[Deep]")),
        ("b.md", &post("Middle", 2, "[[News]]", "[Deep]")),
        ("c.md", &post("Newest", 3, "[[News, World]]", "[]")),
    ])
}

/// The `<link>` of each feed's RSS channel and every `href` of its items'
/// pages answer 200: no link of a feed is dead on refeed's own origin.
#[test]
fn every_channel_link_and_article_link_answers() {
    let dir = archive();
    let server = Refeed::start(dir.path(), &[]);
    let opml = server.get("/opml.xml").text();
    let feeds: Vec<&str> = opml
        .split("xmlUrl=\"")
        .skip(1)
        .filter_map(|s| s.split('"').next())
        .collect();
    assert_eq!(feeds.len(), 4, "{opml}");
    for feed in feeds {
        let path = local(feed);
        let rss = server.get(&path).text();
        let doc = roxmltree::Document::parse(&rss).unwrap();
        let rss_links = doc
            .descendants()
            .filter(|n| n.has_tag_name("link") && n.tag_name().namespace().is_none());
        for link in rss_links {
            let target = local(link.text().unwrap_or_default());
            let r = server.get(&target);
            assert_eq!(r.status, 200, "{target}, linked from {path}");
            if target.ends_with('/') && target.matches('/').count() > 2 {
                for href in hrefs(&r.text()) {
                    let href = local(&href);
                    assert_eq!(server.get(&href).status, 200, "{href} on {target}");
                }
            }
        }
    }
}

#[test]
fn a_feed_page_lists_its_items_page_by_page_with_subscribe_links() {
    let dir = archive();
    let server = Refeed::start(dir.path(), &[("REFEED_FEED__LIMIT", "2")]);
    let first = server.get("/categories/News/");
    assert_eq!(first.status, 200);
    assert_eq!(
        first.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    let html = first.text();
    for wanted in [
        "News",
        "rel=\"alternate\" type=\"application/rss+xml\"",
        "value=\"http://127.0.0.1",
        "categories/News/atom.xml",
        "Newest",
        "summary of Middle",
        "page 1 of 2",
        "href=\"http://127.0.0.1:8080/categories/News/?page=2\"",
        "<time datetime=\"2024-03-03T08:00:00Z\">2024-03-03 08:00 UTC</time>",
    ] {
        assert!(html.contains(wanted), "{wanted} missing: {html}");
    }
    assert!(!html.contains("Oldest"), "{html}");
    let second = server.get("/categories/News/?page=2").text();
    assert!(
        second.contains("Oldest") && !second.contains("Newest"),
        "{second}"
    );
    let newer = "rel=\"prev\" href=\"http://127.0.0.1:8080/categories/News/\"";
    assert!(second.contains(newer), "{second}");
    assert_eq!(server.get("/categories/News/?page=3").status, 404);
    let huge = server.get("/categories/News/?page=99999999999999999999999");
    assert_eq!(huge.status, 404);
    assert_eq!(server.get("/categories/News/?page=0").status, 400);
    for same in ["/categories/News", "/categories/News/index.html"] {
        assert_eq!(server.get(same).text(), html, "{same}");
    }
    let tag = server.get("/tags/Deep/").text();
    assert!(tag.contains("Middle") && tag.contains("Oldest"), "{tag}");
}

/// A URL's path and query on refeed's origin.
fn local(url: &str) -> String {
    let url = url::Url::parse(url).unwrap_or_else(|e| panic!("{url}: {e}"));
    assert_eq!(url.host_str(), Some("127.0.0.1"), "{url}");
    match url.query() {
        Some(q) => format!("{}?{q}", url.path()),
        None => url.path().to_string(),
    }
}

fn hrefs(html: &str) -> Vec<String> {
    html.split("href=\"")
        .skip(1)
        .filter_map(|s| s.split('"').next())
        .filter(|h| h.starts_with("http"))
        .map(|h| h.replace("&amp;", "&"))
        .collect()
}
