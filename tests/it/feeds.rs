//! Feed documents: what each feed holds, ids, escaping, limits, and a
//! round trip through feed-rs and a strict XML parser.

use crate::common;

use std::collections::BTreeSet;

use refeed::catalog::FeedKey;
use refeed::feed::Format;
use refeed::snapshot::{Route, Snapshot};

use common::{assert_well_formed, config, examples, fixtures, snapshot, tree};

fn doc<'a>(snap: &'a Snapshot, path: &str) -> &'a [u8] {
    match snap.route(path) {
        Some(Route::Feed(key, format)) => snap.feeds[key].doc(*format).identity(),
        other => panic!("{path}: {other:?}"),
    }
}

fn parse(bytes: &[u8]) -> feed_rs::model::Feed {
    feed_rs::parser::parse(bytes).unwrap_or_else(|e| panic!("feed-rs: {e}"))
}

#[test]
fn reference_item_has_one_id_in_all_three_category_feeds() {
    let (_, snap) = snapshot(&config(&fixtures().join("reference"), &[]));
    let mut ids = BTreeSet::new();
    for path in [
        "categories/金融/rss.xml",
        "categories/金融/新浪财经/rss.xml",
        "categories/金融/新浪财经/新浪财经－国內/rss.xml",
        "rss.xml",
    ] {
        let feed = parse(doc(&snap, path));
        assert_eq!(feed.entries.len(), 1, "{path}");
        let e = &feed.entries[0];
        assert_eq!(
            e.title.as_ref().unwrap().content,
            "工信部召开部分省市上半年工业经济运行情况座谈会"
        );
        ids.insert(e.id.clone());
    }
    for path in [
        "categories/金融/新浪财经/新浪财经－国內/atom.xml",
        "categories/金融/新浪财经/新浪财经－国內/feed.json",
    ] {
        ids.insert(parse(doc(&snap, path)).entries[0].id.clone());
    }
    assert_eq!(ids.len(), 1, "{ids:?}");
    let id = ids.into_iter().next().unwrap();
    assert!(
        id.starts_with("tag:refeed.invalid,2021-01-01:post/"),
        "{id}"
    );
}

#[test]
fn ids_do_not_depend_on_url_permalink_or_title() {
    let dir = tree(&[("a/post.md", "---\ntitle: One\ndate: 2021-01-01\n---\nx")]);
    let id_with = |overrides: &[(&str, &str)], title: &str| {
        std::fs::write(
            dir.path().join("a/post.md"),
            format!("---\ntitle: {title}\ndate: 2021-01-01\n---\nx"),
        )
        .unwrap();
        let (_, snap) = snapshot(&config(dir.path(), overrides));
        parse(doc(&snap, "atom.xml")).entries[0].id.clone()
    };
    let base = id_with(&[], "One");
    assert_eq!(
        base,
        id_with(&[("url", "https://elsewhere.example/blog/")], "One")
    );
    assert_eq!(base, id_with(&[("permalink", ":title.html")], "One"));
    assert_eq!(base, id_with(&[], "Two"));
}

#[test]
fn list_of_lists_article_is_in_both_hierarchies() {
    let (_, snap) = snapshot(&config(&examples(), &[]));
    let title = "示例平台调整内容推荐规则";
    for path in [
        "categories/科技/互联网/atom.xml",
        "categories/科技/atom.xml",
        "categories/金融/新浪财经/新浪财经－国內/atom.xml",
        "categories/金融/atom.xml",
    ] {
        let feed = parse(doc(&snap, path));
        assert!(
            feed.entries
                .iter()
                .any(|e| e.title.as_ref().unwrap().content == title),
            "{path}"
        );
    }
    let intl = parse(doc(
        &snap,
        "categories/金融/新浪财经/新浪财经－国际/atom.xml",
    ));
    assert!(
        intl.entries
            .iter()
            .all(|e| e.title.as_ref().unwrap().content != title)
    );
}

#[test]
fn tag_feeds_and_drafts() {
    let (_, snap) = snapshot(&config(&examples(), &[]));
    let rust = parse(doc(&snap, "tags/rust/rss.xml"));
    let titles: BTreeSet<String> = rust
        .entries
        .iter()
        .map(|e| e.title.clone().unwrap().content)
        .collect();
    assert_eq!(
        titles,
        BTreeSet::from([
            "Ownership in practice".to_string(),
            "Escaping: <tags>, & \"quotes\" and ]]>".to_string()
        ])
    );
    // C++ slugizes to C, as in Hexo.
    assert!(snap.route("tags/C/rss.xml").is_some());
    for (key, feed) in &snap.feeds {
        for format in Format::ALL {
            let text = String::from_utf8(feed.doc(format).identity().to_vec()).unwrap();
            assert!(!text.contains("An unpublished idea"), "draft in {key:?}");
        }
    }
}

#[test]
fn newest_first_with_limit() {
    let (_, snap) = snapshot(&config(&examples(), &[("feed.limit", "3")]));
    let feed = parse(doc(&snap, "atom.xml"));
    assert_eq!(feed.entries.len(), 3);
    let dates: Vec<_> = feed.entries.iter().map(|e| e.published.unwrap()).collect();
    assert!(dates.windows(2).all(|w| w[0] >= w[1]), "{dates:?}");
    assert_eq!(feed.entries[0].title.as_ref().unwrap().content, "2048");
}

#[test]
fn byte_cap_drops_the_oldest_items() {
    let files: Vec<(String, String)> = (0..10)
        .map(|i| {
            let body = "长".repeat(2000);
            (
                format!("p{i}.md"),
                format!("---\ntitle: p{i}\ndate: 2021-01-{:02}\n---\n{body}", i + 1),
            )
        })
        .collect();
    let refs: Vec<(&str, &str)> = files
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    let dir = tree(&refs);
    let (_, snap) = snapshot(&config(dir.path(), &[("feed.max_bytes", "20000")]));
    for format in ["rss.xml", "atom.xml", "feed.json"] {
        let bytes = doc(&snap, format);
        assert!(bytes.len() <= 20000, "{format}: {}", bytes.len());
        let feed = parse(bytes);
        assert!(
            (1..10).contains(&feed.entries.len()),
            "{format}: {}",
            feed.entries.len()
        );
        assert_eq!(
            feed.entries[0].title.as_ref().unwrap().content,
            "p9",
            "newest kept"
        );
    }
}

#[test]
fn hostile_titles_and_cdata() {
    let dir = tree(&[(
        "x.md",
        "---\ntitle: \"a <b> & 'c' \\\"d\\\" \\x0b\\x02 e\"\ndate: 2021-01-01\nauthor: \"x\\x01y\"\ncategories: [\"c\\x0bd\"]\n---\n<p>before ]]> after \u{b}</p>\n",
    )]);
    let (_, snap) = snapshot(&config(dir.path(), &[]));
    let expected = "a <b> & 'c' \"d\"  e";
    for path in ["rss.xml", "atom.xml", "categories/cd/rss.xml", "feed.json"] {
        let bytes = doc(&snap, path);
        if !path.ends_with(".json") {
            assert_well_formed(bytes);
        }
        let text = std::str::from_utf8(bytes).unwrap();
        assert!(
            !text.contains('\u{b}') && !text.contains('\u{2}') && !text.contains('\u{1}'),
            "{path}"
        );
        let feed = parse(bytes);
        let e = &feed.entries[0];
        assert_eq!(e.title.as_ref().unwrap().content, expected, "{path}");
        let content = e
            .content
            .as_ref()
            .and_then(|c| c.body.clone())
            .unwrap_or_default();
        assert!(
            content.contains("before ]]&gt; after") || content.contains("before ]]> after"),
            "{path}: {content}"
        );
    }
    let rss = std::str::from_utf8(doc(&snap, "rss.xml")).unwrap();
    assert!(
        rss.contains("<title>a &#x3C;b&gt; &#x26; &apos;c&apos; &quot;d&quot;  e</title>"),
        "{rss}"
    );
}

#[test]
fn rss_has_every_required_element() {
    let (_, snap) = snapshot(&config(&fixtures().join("reference"), &[]));
    let bytes = doc(&snap, "categories/金融/rss.xml");
    let xml = assert_well_formed(bytes);
    let channel = xml
        .descendants()
        .find(|n| n.has_tag_name("channel"))
        .unwrap();
    let child = |name: &str| {
        channel
            .children()
            .find(|n| n.has_tag_name(name))
            .and_then(|n| n.text())
            .map(str::to_string)
    };
    assert_eq!(child("title").unwrap(), "refeed examples · 金融");
    assert_eq!(
        child("lastBuildDate").unwrap(),
        "Tue, 22 Jun 2021 03:05:53 +0000"
    );
    assert_eq!(child("language").unwrap(), "zh-CN");
    let atom_ns = "http://www.w3.org/2005/Atom";
    let link = |rel: &str| {
        channel
            .children()
            .find(|n| n.has_tag_name((atom_ns, "link")) && n.attribute("rel") == Some(rel))
            .and_then(|n| n.attribute("href"))
    };
    assert_eq!(
        link("self"),
        Some("http://127.0.0.1:8080/categories/%E9%87%91%E8%9E%8D/rss.xml")
    );
    assert_eq!(link("hub"), Some("http://127.0.0.1:8080/websub"));
    let item = channel.children().find(|n| n.has_tag_name("item")).unwrap();
    let field = |(ns, name): (&str, &str)| {
        item.children()
            .find(|n| n.tag_name().name() == name && n.tag_name().namespace().unwrap_or("") == ns)
            .unwrap_or_else(|| panic!("{name}"))
    };
    assert_eq!(
        field(("", "pubDate")).text(),
        Some("Tue, 22 Jun 2021 03:05:53 +0000")
    );
    assert_eq!(field(("", "guid")).attribute("isPermaLink"), Some("false"));
    assert_eq!(
        field(("", "link")).text(),
        Some(
            "http://127.0.0.1:8080/2021/06/22/%E9%87%91%E8%9E%8D/%E6%96%B0%E6%B5%AA%E8%B4%A2%E7%BB%8F/%E6%96%B0%E6%B5%AA%E8%B4%A2%E7%BB%8F%EF%BC%8D%E5%9B%BD%E5%85%A7/%E5%B7%A5%E4%BF%A1%E9%83%A8%E5%8F%AC%E5%BC%80%E9%83%A8%E5%88%86%E7%9C%81%E5%B8%82%E4%B8%8A%E5%8D%8A%E5%B9%B4%E5%B7%A5%E4%B8%9A%E7%BB%8F%E6%B5%8E%E8%BF%90%E8%A1%8C%E6%83%85%E5%86%B5%E5%BA%A7%E8%B0%88%E4%BC%9A/"
        )
    );
    assert_eq!(
        field(("http://purl.org/dc/elements/1.1/", "creator")).text(),
        Some("新浪财经")
    );
    let enclosure = field(("", "enclosure"));
    assert_eq!(enclosure.attribute("type"), Some("image/png"));
    assert_eq!(
        enclosure.attribute("length"),
        Some("1"),
        "positive, as validators require"
    );
    let thumb = field(("http://search.yahoo.com/mrss/", "thumbnail"));
    assert!(thumb.attribute("url").unwrap().ends_with("343233024.png"));
    assert!(
        item.children().all(|n| !n.has_tag_name("comments")),
        "comments: false"
    );
    let categories: Vec<_> = item
        .children()
        .filter(|n| n.has_tag_name("category"))
        .filter_map(|n| n.text())
        .collect();
    assert_eq!(categories, ["金融", "新浪财经", "新浪财经－国內"]);
    let encoded = field(("http://purl.org/rss/1.0/modules/content/", "encoded"))
        .text()
        .unwrap();
    assert!(encoded.contains("上证报中国证券网讯") && !encoded.contains("appendQr"));
}

#[test]
fn atom_has_every_required_element() {
    let (_, snap) = snapshot(&config(&fixtures().join("reference"), &[]));
    let bytes = doc(&snap, "atom.xml");
    let xml = assert_well_formed(bytes);
    let ns = "http://www.w3.org/2005/Atom";
    let root = xml.root_element();
    let has = |n: roxmltree::Node, name: &str| n.children().any(|c| c.has_tag_name((ns, name)));
    for name in ["id", "title", "updated", "generator", "author"] {
        assert!(has(root, name), "feed {name}");
    }
    let rels: Vec<_> = root
        .children()
        .filter(|c| c.has_tag_name((ns, "link")))
        .filter_map(|c| c.attribute("rel"))
        .collect();
    assert_eq!(rels, ["self", "alternate", "hub"]);
    let entry = root
        .children()
        .find(|c| c.has_tag_name((ns, "entry")))
        .unwrap();
    for name in [
        "id",
        "title",
        "published",
        "updated",
        "author",
        "summary",
        "content",
        "category",
    ] {
        assert!(has(entry, name), "entry {name}");
    }
    let content = entry
        .children()
        .find(|c| c.has_tag_name((ns, "content")))
        .unwrap();
    assert_eq!(content.attribute("type"), Some("html"));
    let category = entry
        .children()
        .find(|c| c.has_tag_name((ns, "category")))
        .unwrap();
    assert_eq!(category.attribute("term"), Some("金融"));
    assert!(
        category
            .attribute("scheme")
            .unwrap()
            .starts_with("http://127.0.0.1:8080/categories/")
    );
    let enclosure = entry
        .children()
        .find(|c| c.has_tag_name((ns, "link")) && c.attribute("rel") == Some("enclosure"))
        .unwrap();
    assert_eq!(enclosure.attribute("type"), Some("image/png"));
}

#[test]
fn output_is_byte_identical_across_runs() {
    let cfg = config(&examples(), &[]);
    let (_, a) = snapshot(&cfg);
    let (_, b) = snapshot(&cfg);
    assert_eq!(a.feeds.len(), b.feeds.len());
    for (key, feed) in &a.feeds {
        for format in Format::ALL {
            assert_eq!(
                feed.doc(format).identity(),
                b.feeds[key].doc(format).identity(),
                "{key:?} {format:?}"
            );
            assert_eq!(
                feed.doc(format).etag(refeed::render::Encoding::Gzip),
                b.feeds[key]
                    .doc(format)
                    .etag(refeed::render::Encoding::Gzip)
            );
        }
    }
    assert_eq!(a.opml.identity(), b.opml.identity());
}

#[test]
fn every_example_document_round_trips_through_feed_rs() {
    let cfg = config(&examples(), &[]);
    let (pipeline, snap) = snapshot(&cfg);
    let reports = common::load(&examples());
    for (key, feed) in &snap.feeds {
        let count = feed.count.min(20);
        for format in Format::ALL {
            let bytes = feed.doc(format).identity();
            if format != Format::Json {
                assert_well_formed(bytes);
            } else {
                serde_json::from_slice::<serde_json::Value>(bytes).unwrap();
            }
            let parsed = parse(bytes);
            assert_eq!(parsed.entries.len(), count, "{key:?} {format:?}");
            for e in &parsed.entries {
                let a = reports
                    .iter()
                    .filter_map(|r| r.article.as_ref())
                    .find(|a| a.id(&pipeline.settings().ids) == e.id)
                    .unwrap_or_else(|| panic!("unknown id {}", e.id));
                assert_eq!(e.title.as_ref().unwrap().content, a.title);
                assert_eq!(e.published.unwrap(), a.date, "{}", a.title);
                assert!(e.links[0].href.starts_with("http://127.0.0.1:8080/"));
            }
        }
    }
    assert!(snap.feeds.contains_key(&FeedKey::Site));
}

#[test]
fn query_representations_name_themselves_in_self_links() {
    let cfg = config(&examples(), &[]);
    let (pipeline, snap) = snapshot(&cfg);
    let limits = refeed::feed::query::Limits {
        default_limit: 20,
        max_limit: 100,
        max_pattern_bytes: 256,
    };
    let query = refeed::feed::query::Query::parse("limit=2&filter=%E7%A4%BA%E4%BE%8B&x=1", &limits)
        .unwrap();
    let renderer = refeed::ondemand::Renderer::new(&cfg, std::sync::Arc::new(pipeline));
    let doc = renderer
        .variant(&snap, &snap.feeds[&FeedKey::Site], &query, Format::Rss)
        .unwrap();
    let text = std::str::from_utf8(doc.identity()).unwrap();
    assert!(
        text.contains(
            "href=\"http://127.0.0.1:8080/rss.xml?filter=%E7%A4%BA%E4%BE%8B&amp;limit=2\""
        ),
        "{text}"
    );
    assert_eq!(parse(doc.identity()).entries.len(), 2);
}

#[test]
fn sibling_categories_with_one_slug_resolve_deterministically() {
    let dir = tree(&[
        (
            "a.md",
            "---\ntitle: sharp\ndate: 2021-01-02\ncategories: [Lang, \"C#\"]\n---\nx",
        ),
        (
            "b.md",
            "---\ntitle: plus\ndate: 2021-01-01\ncategories: [Lang, \"C++\"]\n---\ny",
        ),
    ]);
    let (_, snap) = snapshot(&config(dir.path(), &[]));
    let feed = parse(doc(&snap, "categories/Lang/C/atom.xml"));
    let titles: Vec<_> = feed
        .entries
        .iter()
        .map(|e| e.title.clone().unwrap().content)
        .collect();
    // "C#" < "C++": the smaller name keeps the shared URL.
    assert_eq!(titles, ["sharp"]);
    let out = tempfile::tempdir().unwrap();
    refeed::build::write(&snap, out.path(), &indicatif::ProgressBar::hidden()).unwrap();
    let built = std::fs::read(out.path().join("categories/Lang/C/atom.xml")).unwrap();
    assert_eq!(built, doc(&snap, "categories/Lang/C/atom.xml"));
}

/// Issue 10, fault 15: a 5.4 MB newest post pushed every other item out of
/// the site feed (16 → 1), and the document was still over `feed.max_bytes`.
#[test]
fn one_huge_post_cannot_empty_a_feed() {
    let mut files: Vec<(String, String)> = (0..16)
        .map(|i| {
            (
                format!("p{i}.md"),
                format!(
                    "---\ntitle: p{i}\ndate: 2021-01-{:02}\n---\n{}",
                    i + 1,
                    "普通的一段文字。\n\n".repeat(100)
                ),
            )
        })
        .collect();
    let huge = "A long paragraph of text, over and over.\n\n".repeat(130_000);
    assert!(huge.len() > 5_000_000);
    files.push((
        "huge.md".into(),
        format!("---\ntitle: huge\ndate: 2021-02-01\n---\n{huge}"),
    ));
    let refs: Vec<(&str, &str)> = files
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    let dir = tree(&refs);
    let cfg = config(dir.path(), &[]);
    let (_, snap) = snapshot(&cfg);
    for format in ["rss.xml", "atom.xml", "feed.json"] {
        let bytes = doc(&snap, format);
        assert!(
            bytes.len() <= cfg.feed.max_bytes,
            "{format}: {} bytes",
            bytes.len()
        );
        let feed = parse(bytes);
        assert_eq!(feed.entries.len(), 17, "{format}");
        let first = &feed.entries[0];
        assert_eq!(first.title.as_ref().unwrap().content, "huge", "{format}");
        let link = &first.links[0].href;
        let content = first.content.as_ref().and_then(|c| c.body.clone());
        let content = content.unwrap_or_default();
        assert!(
            content.contains(&format!("href=\"{link}\"")),
            "{format}: the huge item links to its page: {content}"
        );
        assert!(content.contains("A long paragraph"), "{format}: {content}");
        assert!(content.len() < 2000, "{format}: {}", content.len());
    }
}
