//! `refeed serve` as a process on a real socket: live reload (file events,
//! SIGHUP, periodic rescans), signals, HEAD on the wire, and replicas.
//!
//! Every test runs the built binary on 127.0.0.1 with port 0 (it prints the
//! port it got) over its own copy of `examples/posts`, and kills it when the
//! test ends, passing or not. Every wait is a bounded poll, so a broken
//! reload fails the test instead of hanging it.

use crate::common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::{Duration, Instant};

use common::examples;
use common::server::{
    FORMATS, Launch, PATIENCE, Refeed, category, documents, everywhere, nowhere, source_copy, stop,
    write_atomically,
};

/// How fast a change must show in every feed it touches (issue 4).
const RELOAD_BOUND: Duration = Duration::from_secs(1);

const NEW_TITLE: &str = "Live reload arrives";
const NEW_POST: &str = "---
title: Live reload arrives
date: 2021-07-01 09:00:00
categories: [Tech, Rust, Live]
tags: [live-reload]
---

A post that did not exist when the server started.
";

/// The feeds `NEW_POST` belongs in: each level of its category, its tag.
fn new_post_feeds() -> Vec<String> {
    vec![
        category(&["Tech"], ""),
        category(&["Tech", "Rust"], ""),
        category(&["Tech", "Rust", "Live"], ""),
        "/tags/live-reload/".to_string(),
    ]
}

// --- live reload by file events -------------------------------------------

#[test]
fn a_post_renamed_into_place_reaches_all_its_feeds_within_a_second() {
    let dir = source_copy();
    let server = Refeed::start(dir.path(), &[]);
    let docs = documents(&new_post_feeds());
    assert!(nowhere(&server, &docs, NEW_TITLE));
    assert_eq!(
        server
            .get(&category(&["Tech", "Rust", "Live"], "rss.xml"))
            .status,
        404
    );

    write_atomically(&dir.path().join("tech/rust/live-reload.md"), NEW_POST);
    let took = server.wait_for("the new post in every feed", PATIENCE, |s| {
        everywhere(s, &docs, NEW_TITLE)
    });
    assert!(took <= RELOAD_BOUND, "took {took:?}");

    // Its item link resolves to its page, and the index and OPML know the
    // new category.
    let r = server.get("/feed.json");
    let feed = feed_rs::parser::parse(&r.body[..]).unwrap();
    let entry = feed
        .entries
        .iter()
        .find(|e| e.title.as_ref().is_some_and(|t| t.content == NEW_TITLE))
        .unwrap();
    let page = entry.links[0]
        .href
        .strip_prefix("http://127.0.0.1:8080")
        .unwrap();
    let r = server.get(page);
    assert_eq!(r.status, 200, "{page}");
    assert!(r.text().contains(NEW_TITLE));
    assert!(
        server
            .get("/opml.xml")
            .text()
            .contains("/categories/Tech/Rust/Live/rss.xml")
    );
    let health = server.health();
    assert_eq!(health["articles"], 12);
    assert_eq!(health["rejected_count"], 0);
}

#[test]
fn a_post_in_a_new_folder_is_found() {
    let dir = source_copy();
    let server = Refeed::start(dir.path(), &[]);
    let folder = dir.path().join("新栏目/子栏目");
    std::fs::create_dir_all(&folder).unwrap();
    std::fs::write(folder.join("文章.md"), NEW_POST).unwrap();
    let docs = documents(&new_post_feeds());
    let took = server.wait_for("the post of a new folder", PATIENCE, |s| {
        everywhere(s, &docs, NEW_TITLE)
    });
    assert!(took <= RELOAD_BOUND, "took {took:?}");
}

#[test]
fn a_post_written_in_place_in_two_steps_ends_in_its_final_form() {
    let dir = source_copy();
    let server = Refeed::start(dir.path(), &[]);
    let text = NEW_POST.replace(
        "did not exist when the server started.",
        "was written in two steps. THE-END",
    );
    // Cut inside the front matter, so the first half alone is no post.
    let cut = text.find("date:").unwrap() + 3;
    let path = dir.path().join("tech/rust/two-steps.md");
    let mut file = std::fs::File::create(&path).unwrap();
    file.write_all(&text.as_bytes()[..cut]).unwrap();
    file.flush().unwrap();
    std::thread::sleep(Duration::from_millis(100));
    file.write_all(&text.as_bytes()[cut..]).unwrap();
    file.flush().unwrap();
    drop(file);

    let docs = documents(&new_post_feeds());
    let took = server.wait_for("the final form in every feed", PATIENCE, |s| {
        everywhere(s, &docs, NEW_TITLE)
            && s.get("/feed.json").text().contains("THE-END")
            && s.health()["rejected_count"] == 0
    });
    assert!(took <= RELOAD_BOUND, "took {took:?}");
    // Exactly one item for the file: nothing left of the first half.
    assert_eq!(server.titles("/rss.xml").len(), 12);
    assert_eq!(server.health()["articles"], 12);
}

#[test]
fn an_edit_changes_the_etag_and_old_validators_get_the_new_version() {
    let dir = source_copy();
    let server = Refeed::start(dir.path(), &[]);
    let feed = category(&["Tech"], "rss.xml");
    let before = server.get(&feed);
    let old = before.etag();
    let r = server.request("GET", &feed, &[("If-None-Match", &old)]);
    assert_eq!(r.status, 304);

    let path = dir.path().join("tech/hello-world.md");
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(
        &path,
        text.replace("title: Hello World", "title: Hello, edited World"),
    )
    .unwrap();
    server.wait_for("a new ETag", PATIENCE, |s| s.get(&feed).etag() != old);

    let r = server.request("GET", &feed, &[("If-None-Match", &old)]);
    assert_eq!(r.status, 200, "the old ETag no longer validates");
    assert!(r.text().contains("Hello, edited World"));
    assert!(!r.text().contains("<title>Hello World</title>"));
    let new = r.etag();
    let r = server.request("GET", &feed, &[("If-None-Match", &new)]);
    assert_eq!(r.status, 304);
    assert!(r.body.is_empty());
    for doc in documents(&[category(&["Tech"], "")]) {
        assert!(
            server
                .titles(&doc)
                .iter()
                .any(|t| t == "Hello, edited World"),
            "{doc}"
        );
    }
}

#[test]
fn changes_that_keep_every_date_still_move_last_modified() {
    let dir = source_copy();
    let server = Refeed::start(dir.path(), &[]);
    let feed = category(&["Tech"], "atom.xml");
    // A fresh state_dir dates every feed from the start: in its first
    // second the header still says "now", not yet the date that stands.
    let mut modified = String::new();
    server.wait_for("a stable Last-Modified", PATIENCE, |s| {
        let r = s.get(&feed);
        modified = r
            .header("last-modified")
            .expect("Last-Modified")
            .to_string();
        s.request("GET", &feed, &[("If-Modified-Since", &modified)])
            .status
            == 304
    });

    // Neither the retitle nor the removal of an older item changes the
    // newest date in the feed.
    let path = dir.path().join("tech/hello-world.md");
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(
        &path,
        text.replace("title: Hello World", "title: Hello, quiet World"),
    )
    .unwrap();
    std::fs::remove_file(dir.path().join("tech/rust/cdata-and-escapes.md")).unwrap();
    server.wait_for("the edit and the delete", PATIENCE, |s| {
        let titles = s.titles(&feed);
        titles.iter().any(|t| t == "Hello, quiet World") && titles.len() == 2
    });
    let r = server.request("GET", &feed, &[("If-Modified-Since", &modified)]);
    assert_eq!(
        r.status, 200,
        "If-Modified-Since alone must not hide the change"
    );
    // Two changes in one second need two dates, so the second may be
    // stored a second ahead; the header never is (it says "now"), and the
    // client's copy validates once that second has passed.
    server.wait_for("a 304 for the new date", PATIENCE, |s| {
        let r = s.get(&feed);
        let newer = r.header("last-modified").expect("Last-Modified");
        s.request("GET", &feed, &[("If-Modified-Since", newer)])
            .status
            == 304
    });
}

#[test]
fn a_deleted_post_leaves_its_feeds() {
    let dir = source_copy();
    let server = Refeed::start(dir.path(), &[]);
    let title = "示例央行维持利率不变";
    let only = category(&["金融", "新浪财经", "新浪财经－国际"], "");
    let docs = documents(&[category(&["金融"], ""), category(&["金融", "新浪财经"], "")]);
    assert!(everywhere(&server, &docs, title));
    let page = server
        .titles(&format!("{only}rss.xml"))
        .into_iter()
        .next()
        .expect("the category's only post");
    assert_eq!(page, title);

    std::fs::remove_file(
        dir.path()
            .join(format!("金融/新浪财经/新浪财经－国际/{title}.md")),
    )
    .unwrap();
    let took = server.wait_for("the post gone from its feeds", PATIENCE, |s| {
        nowhere(s, &docs, title)
    });
    assert!(took <= RELOAD_BOUND, "took {took:?}");
    for f in FORMATS {
        let r = server.get(&format!("{only}{f}"));
        assert_eq!(r.status, 404, "the emptied category's {f} is gone");
    }
    let health = server.health();
    assert_eq!(health["articles"], 10);
    assert_eq!(health["files"], 11);
    assert!(!server.get("/opml.xml").text().contains("新浪财经－国际"));
}

#[test]
fn an_edit_into_invalid_yaml_keeps_the_last_good_version_and_is_reported() {
    let dir = source_copy();
    let server = Refeed::start(dir.path(), &[]);
    let path = dir.path().join("tech/hello-world.md");
    let feed = category(&["Tech"], "atom.xml");
    let good = server.get(&feed);
    std::fs::write(
        &path,
        "---\ntitle: [Hello, broken\ndate: 2021-06-10 12:00:00\ncategories: Tech\n---\n\nBROKEN-BODY\n",
    )
    .unwrap();
    server.wait_for("the file listed as rejected", PATIENCE, |s| {
        s.health()["rejected"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["path"] == "tech/hello-world.md")
    });
    let health = server.health();
    assert_eq!(health["status"], "ok");
    assert_eq!(health["rejected_count"], 1);
    let reasons = health["rejected"][0]["reasons"].as_array().unwrap();
    assert!(
        !reasons.is_empty()
            && reasons
                .iter()
                .all(|r| r.as_str().is_some_and(|r| !r.is_empty()))
    );
    assert_eq!(
        health["articles"], 11,
        "the last good version is still loaded"
    );
    let r = server.get(&feed);
    assert_eq!(r.body, good.body, "the feed is unchanged");
    assert_eq!(r.etag(), good.etag());
    for doc in documents(&[category(&["Tech"], ""), "/tags/meta/".into()]) {
        let titles = server.titles(&doc);
        assert!(
            titles.iter().any(|t| t == "Hello World"),
            "{doc}: {titles:?}"
        );
        assert!(!server.get(&doc).text().contains("BROKEN-BODY"), "{doc}");
    }
    assert!(
        server.log_text().contains("rejected=1"),
        "{}",
        server.log_text()
    );

    // Repaired, it loads again and leaves the list.
    std::fs::write(
        &path,
        "---\ntitle: Hello again\ndate: 2021-06-10 12:00:00\ncategories: Tech\n---\n\nFixed.\n",
    )
    .unwrap();
    server.wait_for("the repaired file", PATIENCE, |s| {
        s.health()["rejected_count"] == 0 && s.titles(&feed).iter().any(|t| t == "Hello again")
    });
}

// --- reloads without file events --------------------------------------------

#[test]
fn sighup_rescans_when_file_events_are_off() {
    let dir = source_copy();
    let server = Refeed::start(
        dir.path(),
        &[
            ("REFEED_WATCH__ENABLED", "false"),
            ("REFEED_WATCH__RESCAN_INTERVAL", "0"),
        ],
    );
    let docs = documents(&new_post_feeds());
    write_atomically(&dir.path().join("tech/rust/live-reload.md"), NEW_POST);
    std::fs::remove_file(dir.path().join("tech/hello-world.md")).unwrap();
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        nowhere(&server, &docs, NEW_TITLE),
        "no watcher, no rescan: nothing yet"
    );

    server.signal(libc::SIGHUP);
    server.wait_for("the rescan SIGHUP asked for", PATIENCE, |s| {
        everywhere(s, &docs, NEW_TITLE) && nowhere(s, &documents(&[]), "Hello World")
    });
    assert!(
        server.log_text().contains("SIGHUP"),
        "{}",
        server.log_text()
    );
    assert_eq!(server.health()["status"], "ok");
}

#[test]
fn the_periodic_rescan_picks_up_changes_when_file_events_are_off() {
    let dir = source_copy();
    let server = Refeed::start(
        dir.path(),
        &[
            ("REFEED_WATCH__ENABLED", "false"),
            ("REFEED_WATCH__RESCAN_INTERVAL", "1"),
        ],
    );
    let docs = documents(&new_post_feeds());
    write_atomically(&dir.path().join("tech/rust/live-reload.md"), NEW_POST);
    server.wait_for("the next rescan", PATIENCE, |s| {
        everywhere(s, &docs, NEW_TITLE)
    });
    // Edits in place are noticed by size and modification time.
    let path = dir.path().join("tech/rust/live-reload.md");
    std::fs::write(&path, NEW_POST.replace(NEW_TITLE, "Rescanned title")).unwrap();
    server.wait_for("the edit", PATIENCE, |s| {
        everywhere(s, &docs, "Rescanned title")
    });
    assert!(
        server.log_text().contains("interval"),
        "{}",
        server.log_text()
    );
}

// --- signals, the wire, replicas -----------------------------------------------

#[test]
fn sigterm_and_sigint_shut_down_gracefully() {
    for signal in [libc::SIGTERM, libc::SIGINT] {
        let mut server = Refeed::start(&examples(), &[]);
        // A reader holding an idle keep-alive connection does not delay it.
        let mut idle = TcpStream::connect(&server.addr).unwrap();
        idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap();
        let mut first = [0u8; 12];
        idle.read_exact(&mut first).unwrap();
        assert_eq!(&first, b"HTTP/1.1 200");

        let started = Instant::now();
        server.signal(signal);
        let status = server.wait_exit(Duration::from_secs(5));
        assert!(
            status.success(),
            "signal {signal}: {status:?}\n{}",
            server.log_text()
        );
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "{:?}",
            started.elapsed()
        );
        server.wait_for("the shutdown in the log", PATIENCE, |s| {
            s.log_text().contains("graceful shutdown")
        });
    }
}

#[test]
fn head_on_the_wire_has_the_headers_of_get_and_no_body() {
    let server = Refeed::start(&examples(), &[]);
    // Started without state, documents are dated the second after the
    // start and served with the current second until it comes (RELIABILITY:
    // Last-Modified); a GET and a HEAD either side of it would differ.
    std::thread::sleep(Duration::from_millis(1100));
    for path in ["/rss.xml", "/categories/Tech/feed.json", "/", "/opml.xml"] {
        for coding in ["identity", "gzip", "br"] {
            let headers = [("Accept-Encoding", coding)];
            let get = server.request("GET", path, &headers);
            let head = server.request("HEAD", path, &headers);
            assert_eq!(get.status, 200, "{path}");
            assert_eq!(head.status, 200, "{path}");
            assert!(head.body.is_empty(), "HEAD {path} {coding} sent a body");
            assert!(!get.body.is_empty());
            assert_eq!(
                head.header("content-length"),
                Some(get.body.len().to_string().as_str()),
                "HEAD {path} {coding}"
            );
            for name in [
                "etag",
                "last-modified",
                "content-type",
                "content-encoding",
                "cache-control",
                "vary",
            ] {
                assert_eq!(
                    head.header(name),
                    get.header(name),
                    "{name} of {path} {coding}"
                );
            }
            let etag = get.etag();
            for method in ["GET", "HEAD"] {
                let r = server.request(method, path, &[("If-None-Match", &etag), headers[0]]);
                assert_eq!(r.status, 304, "{method} {path}");
                assert!(r.body.is_empty(), "304 to {method} {path} sent a body");
                assert!(r.header("content-length").is_none_or(|l| l == "0"));
                assert_eq!(r.header("etag"), Some(etag.as_str()));
            }
        }
    }
    let r = server.request("HEAD", "/nope", &[]);
    assert_eq!(r.status, 404);
    assert!(r.body.is_empty());
}

#[test]
fn replicas_on_one_source_serve_identical_bytes_and_etags() {
    // Replicas deployed from one state (an image, a volume snapshot) agree
    // on every validator; without state each dates its documents from its
    // own start, so only the ETags would agree.
    let seeded = tempfile::tempdir().unwrap();
    stop(Launch::new(&examples()).state_dir(seeded.path()).start());
    // The seed dated its documents no earlier than its start, rounded up
    // to a whole second; until that second has come, a replica caps
    // `Last-Modified` at now (never in the future), so two replicas
    // answering on either side of it would differ by a second.
    let into_second = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    std::thread::sleep(Duration::from_nanos(1_050_000_000 - u64::from(into_second)));
    let (state_a, state_b) = (copy_dir(seeded.path()), copy_dir(seeded.path()));
    let a = Launch::new(&examples()).state_dir(state_a.path()).start();
    let b = Launch::new(&examples()).state_dir(state_b.path()).start();
    let mut paths = documents(&[
        category(&["Tech", "Rust"], ""),
        category(&["金融", "新浪财经"], ""),
        "/tags/rust/".to_string(),
    ]);
    paths.extend(
        [
            "/",
            "/opml.xml",
            "/rss.xml?limit=3",
            "/atom.xml?filter_title=Rust",
        ]
        .map(String::from),
    );
    let feed = feed_rs::parser::parse(&a.get("/rss.xml").body[..]).unwrap();
    paths.extend(feed.entries.iter().map(|e| {
        e.links[0]
            .href
            .strip_prefix("http://127.0.0.1:8080")
            .unwrap()
            .to_string()
    }));
    for path in &paths {
        for coding in ["identity", "gzip", "br", "zstd"] {
            let headers = [("Accept-Encoding", coding)];
            let (ra, rb) = (
                a.request("GET", path, &headers),
                b.request("GET", path, &headers),
            );
            assert_eq!(ra.status, 200, "{path}");
            assert_eq!(rb.status, 200, "{path}");
            assert!(ra.body == rb.body, "{path} {coding}: the bodies differ");
            for name in ["etag", "last-modified", "content-type", "content-encoding"] {
                assert_eq!(
                    ra.header(name),
                    rb.header(name),
                    "{name} of {path} {coding}"
                );
            }
            // Either replica validates what the other served.
            let r = b.request("GET", path, &[("If-None-Match", &ra.etag()), headers[0]]);
            assert_eq!(r.status, 304, "{path} {coding}");
        }
    }
}

// --- issue 10, fault 6: a relative source folder ----------------------------

/// A new post written under a server started in `cwd` with `source` as
/// given (relative, or the configured default) reaches the site feed by
/// file events alone (no periodic rescan).
fn assert_live_reload(
    cwd: &std::path::Path,
    source: Option<&std::path::Path>,
    posts: &std::path::Path,
) {
    let env = [("REFEED_WATCH__RESCAN_INTERVAL", "0")];
    let server = Launch::in_folder(cwd, source).env(&env).start();
    let docs = documents(&new_post_feeds());
    assert!(nowhere(&server, &docs, NEW_TITLE));
    write_atomically(&posts.join("tech/rust/live-reload.md"), NEW_POST);
    let took = server.wait_for("the new post in every feed", PATIENCE, |s| {
        everywhere(s, &docs, NEW_TITLE)
    });
    assert!(took <= RELOAD_BOUND, "took {took:?}");
    std::fs::remove_file(posts.join("tech/rust/live-reload.md")).unwrap();
    server.wait_for("the deleted post gone", PATIENCE, |s| {
        nowhere(s, &docs, NEW_TITLE)
    });
}

#[test]
fn live_reload_works_with_relative_source_path() {
    let cwd = tempfile::tempdir().unwrap();
    let posts = cwd.path().join("posts");
    common::server::copy_tree(&examples(), &posts);
    assert_live_reload(cwd.path(), Some(std::path::Path::new("posts")), &posts);
}

/// The README's first command, `refeed serve` with the built-in default
/// `examples/posts`, run from a copy of the repository's examples.
#[test]
fn live_reload_works_with_the_default_source_path() {
    let cwd = tempfile::tempdir().unwrap();
    let posts = cwd.path().join("examples/posts");
    common::server::copy_tree(&examples(), &posts);
    assert_live_reload(cwd.path(), None, &posts);
}

/// A copy of the files of `dir` (a state folder), in a new temporary folder.
fn copy_dir(dir: &Path) -> tempfile::TempDir {
    let copy = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), copy.path().join(entry.file_name())).unwrap();
    }
    copy
}
