//! URLs: every feed keeps a URL of its own that the server accepts, in
//! whatever order posts come and go (issue 10, faults 12 and 13).

use crate::common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::{Command, Output};

use refeed::snapshot::{Change, Route};

use common::server::{PATIENCE, Refeed, everywhere, nowhere, source_copy, write_atomically};
use common::{config, snapshot, tree};

const SITE: &str = "http://127.0.0.1:8080";

/// `refeed <args>` on `source`, with no `REFEED_*` from the environment.
fn refeed(source: &Path, args: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_refeed"));
    for (key, _) in std::env::vars() {
        if key.starts_with("REFEED_") {
            cmd.env_remove(key);
        }
    }
    cmd.arg("--source").arg(source).args(args);
    cmd.output().expect("run refeed")
}

/// `(title, path)` of every OPML outline, the path as a request sends it.
fn outlines(opml: &[u8]) -> Vec<(String, String)> {
    let doc = common::assert_well_formed(opml);
    doc.descendants()
        .filter(|n| n.has_tag_name("outline"))
        .map(|n| {
            let url = n.attribute("xmlUrl").expect("xmlUrl");
            let path = url.strip_prefix(SITE).expect("site URL");
            (n.attribute("title").unwrap().to_string(), path.to_string())
        })
        .collect()
}

/// The document's own title and its items' titles.
fn feed(bytes: &[u8]) -> (String, Vec<String>) {
    let f = feed_rs::parser::parse(bytes).unwrap_or_else(|e| panic!("feed-rs: {e}"));
    let items = f
        .entries
        .into_iter()
        .map(|e| e.title.map(|t| t.content).unwrap_or_default())
        .collect();
    (f.title.map(|t| t.content).unwrap_or_default(), items)
}

/// Every OPML outline is served, by the feed it names: returns the item
/// titles of each outline's feed by outline title.
fn reachable_outlines(server: &Refeed) -> BTreeMap<String, Vec<String>> {
    let opml = server.get("/opml.xml");
    assert_eq!(opml.status, 200);
    let mut out = BTreeMap::new();
    for (title, path) in outlines(&opml.body) {
        let r = server.get(&path);
        assert_eq!(r.status, 200, "{title} at {path}");
        let (own, items) = feed(&r.body);
        assert_eq!(own, title, "{path} serves another feed than OPML says");
        assert!(out.insert(title, items).is_none(), "listed twice");
    }
    // The index links the same feeds, and no others.
    let index = server.get("/").text();
    for (_, path) in outlines(&opml.body) {
        let href = format!("href=\"{SITE}{path}\"");
        assert!(index.contains(&href), "index lacks {href}");
    }
    assert_eq!(index.matches(">RSS</a>").count(), out.len(), "{index}");
    out
}

// --- fault 12 ---------------------------------------------------------------

#[test]
fn build_survives_long_category_names() {
    let cjk = "長".repeat(88);
    let huge = "x".repeat(20_000);
    let post = |title: &str, cats: &str| {
        format!(
            "---\ntitle: {title}\ndate: 2021-01-02\ncategories: [{cats}]\ntags: [t]\n---\nbody\n"
        )
    };
    let dir = tree(&[
        ("normal.md", &post("Normal", "Plain")),
        ("cjk.md", &post("Long CJK", &cjk)),
        ("huge.md", &post("Huge", &huge)),
    ]);
    let out = tempfile::tempdir().unwrap();
    let built = refeed(
        dir.path(),
        &["build", "--out", &out.path().display().to_string()],
    );
    assert!(
        built.status.success(),
        "{:?}: {}",
        built.status,
        String::from_utf8_lossy(&built.stderr)
    );
    // Every feed the OPML lists was written, and its URL is requestable.
    let opml = std::fs::read(out.path().join("opml.xml")).expect("opml.xml written");
    let listed = outlines(&opml);
    assert_eq!(
        listed.len(),
        5,
        "site, three categories, one tag: {listed:?}"
    );
    for (title, path) in &listed {
        assert!(path.len() < 4096, "{title}: {} bytes", path.len());
        let rel = percent_encoding::percent_decode_str(&path[1..])
            .decode_utf8()
            .unwrap();
        for file in [rel.to_string(), rel.replace("rss.xml", "atom.xml")] {
            assert!(out.path().join(&file).is_file(), "{title}: {file} missing");
        }
    }
    // The server answers every one of them.
    let server = Refeed::start(dir.path(), &[]);
    let titles = reachable_outlines(&server);
    assert_eq!(titles.len(), 5);
    assert!(titles.values().any(|items| items == &["Huge"]));
    assert!(titles.values().any(|items| items == &["Long CJK"]));
    // `check` reports the cut names, on the posts that carry them.
    let checked = refeed(dir.path(), &["check", "--json"]);
    let lines: Vec<serde_json::Value> = String::from_utf8(checked.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    for (path, status) in [
        ("cjk.md", "warning"),
        ("huge.md", "warning"),
        ("normal.md", "ok"),
    ] {
        let r = lines.iter().find(|r| r["path"] == path).unwrap();
        assert_eq!(r["status"], status, "{r}");
        if status == "warning" {
            assert!(
                r["messages"][0]["text"].as_str().unwrap().contains("cut"),
                "{r}"
            );
            assert_eq!(r["messages"][0]["field"], "categories");
        }
    }
}

#[test]
fn build_skips_what_it_cannot_write() {
    let post = "---\ntitle: One\ndate: 2021-01-02\ncategories: [A]\ntags: [t]\n---\nbody\n";
    let dir = tree(&[("one.md", post)]);
    let out = tempfile::tempdir().unwrap();
    // A folder where a document should go: that document cannot be written.
    std::fs::create_dir_all(out.path().join("tags/t/rss.xml")).unwrap();
    let built = refeed(
        dir.path(),
        &["build", "--out", &out.path().display().to_string()],
    );
    let stderr = String::from_utf8_lossy(&built.stderr);
    assert_eq!(built.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("tags/t/rss.xml"), "{stderr}");
    for file in [
        "rss.xml",
        "opml.xml",
        "index.html",
        "categories/A/rss.xml",
        "tags/t/atom.xml",
    ] {
        assert!(out.path().join(file).is_file(), "{file} missing: {stderr}");
    }
}

// --- fault 13 ---------------------------------------------------------------

#[test]
fn permalink_cannot_take_a_feed_url() {
    let dir = source_copy();
    let server = Refeed::start(dir.path(), &[]);
    let rust_feed = |s: &Refeed| {
        let r = s.get("/tags/rust/rss.xml");
        assert_eq!(r.status, 200, "{}", r.text());
        assert!(
            r.header("content-type")
                .unwrap()
                .starts_with("application/rss+xml")
        );
        feed(&r.body).1
    };
    let before = rust_feed(&server);
    assert!(before.contains(&"Ownership in practice".to_string()));

    let squatter = dir.path().join("squatter.md");
    write_atomically(
        &squatter,
        "---\ntitle: Squatter\ndate: 2021-08-01\npermalink: /tags/rust/rss.xml\n---\nmine\n",
    );
    let site = ["/rss.xml".to_string()];
    server.wait_for("the squatter in the site feed", PATIENCE, |s| {
        everywhere(s, &site, "Squatter")
    });
    assert_eq!(rust_feed(&server), before, "the feed keeps its URL");

    std::fs::remove_file(&squatter).unwrap();
    server.wait_for("the squatter gone", PATIENCE, |s| {
        nowhere(s, &site, "Squatter")
    });
    assert_eq!(rust_feed(&server), before, "and still has it after");
    server.signal(libc::SIGHUP);
    assert_eq!(rust_feed(&server), before);
}

#[test]
fn same_permalink_posts_survive_deletion() {
    let post = |title: &str| {
        format!("---\ntitle: {title}\ndate: 2021-01-02\npermalink: /same/\n---\nby {title}\n")
    };
    let dir = tree(&[("a.md", &post("First")), ("b.md", &post("Second"))]);
    let cfg = config(dir.path(), &[]);
    for (gone, stays, title) in [("a.md", "b.md", "Second"), ("b.md", "a.md", "First")] {
        let (pipeline, snap) = snapshot(&cfg);
        let pipeline = std::sync::Arc::new(pipeline);
        let pages = refeed::ondemand::Renderer::new(&cfg, pipeline.clone());
        // The first by source path is served, whatever the load order.
        assert_eq!(snap.route("same/"), Some(&Route::Article("a.md".into())));
        let snap = pipeline.apply(&snap, vec![Change::Remove(gone.into())]);
        assert_eq!(
            snap.route("same/"),
            Some(&Route::Article(stays.into())),
            "{gone} removed"
        );
        let entry = snap.catalog.entry(stays).expect("entry");
        let page = pages.article_page(&snap, entry).unwrap();
        let html = std::str::from_utf8(page.identity()).unwrap();
        assert!(html.contains(&format!("by {title}")), "{html}");
    }
    // `check` names the post that waits.
    let checked = refeed(dir.path(), &["check", "--json"]);
    let text = String::from_utf8(checked.stdout).unwrap();
    let b: serde_json::Value = serde_json::from_str(text.lines().nth(1).unwrap()).unwrap();
    assert_eq!(b["path"], "b.md");
    assert_eq!(b["messages"][0]["field"], "permalink", "{b}");
    assert!(
        b["messages"][0]["text"].as_str().unwrap().contains("a.md"),
        "{b}"
    );
}

#[test]
fn colliding_slugs_each_keep_a_feed() {
    let post = |title: &str, name: &str| {
        format!(
            "---\ntitle: {title}\ndate: 2021-08-01\ncategories: [Lang, \"{name}\"]\ntags: [\"{name}\"]\n---\nx\n"
        )
    };
    let dir = tree(&[
        ("c.md", &post("plain C", "C")),
        ("sharp.md", &post("C sharp", "C#")),
        ("plus.md", &post("C plus plus", "C++")),
    ]);
    let server = Refeed::start(dir.path(), &[]);
    // Each category and tag feed holds its own post, at a URL of its own.
    let check = |s: &Refeed, names: &[(&str, &str)]| {
        let feeds = reachable_outlines(s);
        for (title, name) in names {
            for suffix in [format!(" / {name}"), format!(" · #{name}")] {
                let (_, items) = feeds
                    .iter()
                    .find(|(t, _)| t.ends_with(&suffix))
                    .unwrap_or_else(|| panic!("no feed for {suffix} in {:?}", feeds.keys()));
                assert_eq!(items, &[title.to_string()], "{suffix}");
            }
        }
        feeds.len()
    };
    let all = check(
        &server,
        &[("plain C", "C"), ("C sharp", "C#"), ("C plus plus", "C++")],
    );
    // Nor do they share a channel link.
    let opml = server.get("/opml.xml");
    let doc = common::assert_well_formed(&opml.body);
    let links: BTreeSet<&str> = doc
        .descendants()
        .filter_map(|n| n.attribute("htmlUrl"))
        .collect();
    assert_eq!(links.len(), all, "{links:?}");

    std::fs::remove_file(dir.path().join("c.md")).unwrap();
    server.wait_for("plain C gone", PATIENCE, |s| {
        nowhere(s, &["/rss.xml".to_string()], "plain C")
    });
    let rest = check(&server, &[("C sharp", "C#"), ("C plus plus", "C++")]);
    assert_eq!(rest, all - 2, "OPML lists exactly the feeds that exist");
    // The name that sorts first now has the plain slug.
    let r = server.get("/categories/Lang/C/rss.xml");
    assert_eq!(feed(&r.body).1, ["C sharp"]);
}

/// Found by the third attack: a front-matter permalink with dot segments
/// or on one of refeed's own paths stayed the item link of a post that no
/// URL served. It resolves like a browser would, and one that leaves the
/// root or is refeed's own gives way to the site's pattern, with a
/// warning in `check`.
#[test]
fn front_matter_permalinks_resolve_or_give_way() {
    let post = |title: &str, permalink: &str| {
        format!(
            "---\ntitle: {title}\ndate: 2021-06-01 00:00:00\npermalink: {permalink}\n---\n<p>{title} body</p>\n"
        )
    };
    let dir = tree(&[
        ("escape.md", post("Escape", "../../../rss.xml").as_str()),
        ("dots.md", post("Dots", "a/b/../c/").as_str()),
        ("own.md", post("Own", "/healthz").as_str()),
    ]);
    let server = Refeed::start(dir.path(), &[]);
    let rss = server.get("/rss.xml").text();
    let doc = roxmltree::Document::parse(&rss).unwrap();
    for item in doc.descendants().filter(|n| n.has_tag_name("item")) {
        let text = |name: &str| {
            let node = item.children().find(|c| c.has_tag_name(name)).unwrap();
            node.text().unwrap_or_default().to_string()
        };
        let (title, link) = (text("title"), text("link"));
        let path = url::Url::parse(&link).unwrap().path().to_string();
        let page = server.get(&path);
        assert_eq!(page.status, 200, "{title}: {link}");
        assert!(
            page.text().contains(&format!("{title} body")),
            "{title}: {link}"
        );
        if title == "Dots" {
            assert_eq!(path, "/a/c/");
        }
    }
    let check = refeed(dir.path(), &["check", "--json"]);
    let out = String::from_utf8_lossy(&check.stdout);
    assert_eq!(
        out.matches("leaves the site root or is refeed's own URL")
            .count(),
        2,
        "{out}"
    );
}
