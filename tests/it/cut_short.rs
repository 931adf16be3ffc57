//! Files that look cut short under a running `refeed serve` (found by the
//! second attack): a deploy that copies a post while refeed reads it, and a
//! post truncated to its first few bytes. Either way the last good version
//! is served until the complete file is there, and then the complete file.

use crate::common;

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use common::server::{PATIENCE, Refeed, request};

/// The reasons `/healthz` gives for a rejected path, if it lists it.
fn rejected_reason(server: &Refeed, rel: &str) -> Option<String> {
    server.health()["rejected"]
        .as_array()?
        .iter()
        .find(|r| r["path"] == rel)
        .map(|r| r["reasons"].to_string())
}

fn rejected_count(server: &Refeed) -> usize {
    server.health()["rejected"]
        .as_array()
        .map_or(usize::MAX, Vec::len)
}

/// `n` posts of a few KB each (multi-byte text, so that a copy caught
/// half-way is often cut inside a character), each ending with `mark`.
fn write_tree(dir: &Path, n: usize, mark: &str) {
    let filler = "中文測試的正文，一段又一段。Some plain words as well. ".repeat(60);
    for i in 0..n {
        let path = dir.join(format!("s{}/post-{i:03}.md", i % 4));
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        let date = format!("2021-01-01 {:02}:{:02}:00", i / 60 % 24, i % 60);
        let text = format!("---\ntitle: Post {i}\ndate: {date}\n---\n\n{filler}\n\n{mark}\n");
        std::fs::write(path, text).unwrap();
    }
}

/// The paths of every article page, from the JSON feed.
fn article_paths(server: &Refeed) -> Vec<String> {
    let feed: serde_json::Value =
        serde_json::from_slice(&server.get("/feed.json?limit=1000").body).unwrap();
    feed["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            let url = i["url"].as_str().unwrap();
            let path = url.split_once("://").map_or(url, |(_, rest)| rest);
            path[path.find('/').unwrap()..].to_string()
        })
        .collect()
}

/// Pages of `paths` that do not show `mark` (at most a few).
fn pages_without(server: &Refeed, paths: &[String], mark: &str) -> Vec<String> {
    paths
        .iter()
        .filter(|p| !server.get(p).text().contains(mark))
        .take(5)
        .cloned()
        .collect()
}

/// `rm -rf posts && mkdir posts && cp -r staged/. posts/` while clients
/// poll: every post ends up served in its new version and nothing stays
/// rejected, without waiting for a rescan or another change of the file.
#[test]
fn deploy_never_leaves_a_post_stuck() {
    const POSTS: usize = 400;
    let parent = tempfile::tempdir().unwrap();
    let live = parent.path().join("corpus");
    write_tree(&live, POSTS, "MARK-0");
    let env = [
        ("REFEED_WATCH__RESCAN_INTERVAL", "0"),
        ("REFEED_FEED__LIMIT", "1000"),
        ("REFEED_FEED__MAX_LIMIT", "1000"),
        ("REFEED_FEED__MAX_BYTES", "100000000"),
    ];
    let server = Refeed::start(&live, &env);
    let paths = article_paths(&server);
    assert_eq!(paths.len(), POSTS);

    let stop = Arc::new(AtomicBool::new(false));
    let poller = {
        let (stop, addr) = (stop.clone(), server.addr.clone());
        std::thread::spawn(move || {
            let mut n = 0;
            while !stop.load(Ordering::Relaxed) && n < 100_000 {
                for p in ["/healthz", "/rss.xml"] {
                    request(&addr, "GET", p, &[]);
                    n += 1;
                }
            }
        })
    };
    for round in 1..=4 {
        let mark = format!("MARK-{round}");
        let staged = parent.path().join(format!("staged-{round}"));
        write_tree(&staged, POSTS, &mark);
        let live = live.display();
        let staged = staged.display();
        let status = std::process::Command::new("sh")
            .arg("-c")
            .arg(format!(
                "rm -rf '{live}' && mkdir '{live}' && cp -r '{staged}/.' '{live}/'"
            ))
            .status()
            .unwrap();
        assert!(status.success());
        server.wait_for(
            &format!("round {round}: every post in {mark}"),
            PATIENCE,
            |s| rejected_count(s) == 0 && pages_without(s, &paths, &mark).is_empty(),
        );
        assert_eq!(
            article_paths(&server).len(),
            POSTS,
            "round {round}: every post listed"
        );
    }
    stop.store(true, Ordering::Relaxed);
    poller.join().unwrap();
}

/// A post cut to its first bytes (`---\n`, `-`, the opening fence and a
/// line, everything up to the closing fence) is reported as cut short and
/// keeps its last good version: title, body and place in the feeds.
#[test]
fn truncated_to_its_first_bytes_keeps_last_good_version() {
    let dir = common::tree(&[(
        "other.md",
        "---\ntitle: Other\ndate: 2020-01-01\n---\n\nOther body.\n",
    )]);
    let env = [("REFEED_WATCH__RESCAN_INTERVAL", "0")];
    let server = Refeed::start(dir.path(), &env);
    let rel = "merge.md";
    let path = dir.path().join(rel);
    let good =
        "---\ntitle: Merge Good\ndate: 2021-07-01 09:00:00\n---\n\nThe good body of merge.\n";
    let restore = || {
        std::fs::write(&path, good).unwrap();
        server.wait_for("the good version", PATIENCE, |s| {
            rejected_reason(s, rel).is_none()
                && s.titles("/rss.xml").contains(&"Merge Good".to_string())
        });
    };
    restore();
    let cuts = [
        "---\n",
        "-",
        "---\ntitle: Merge Good\n",
        "---\nti",
        "---\ntitle: Merge Good\ndate: 2021-07-01 09:00:00\n---\n",
        "---\ntitle: Merge Good\ndate: 2021-07-01 09:00:00\n---\n\n",
    ];
    for cut in cuts {
        std::fs::write(&path, cut).unwrap();
        server.wait_for(&format!("{cut:?} reported"), PATIENCE, |s| {
            rejected_reason(s, rel).is_some()
        });
        let reason = rejected_reason(&server, rel).unwrap();
        assert!(reason.contains("cut short"), "{cut:?}: {reason}");
        let titles = server.titles("/rss.xml");
        assert_eq!(titles, ["Merge Good", "Other"], "{cut:?}");
        let json = server.get("/feed.json").text();
        assert!(json.contains("The good body of merge."), "{cut:?}: {json}");
        restore();
    }
    // A body emptied on purpose keeps some text; that is an edit.
    let emptied = "---\ntitle: Merge Good\ndate: 2021-07-01 09:00:00\n---\n\n<!-- empty -->\n";
    std::fs::write(&path, emptied).unwrap();
    server.wait_for("the emptied body", PATIENCE, |s| {
        !s.get("/feed.json")
            .text()
            .contains("The good body of merge.")
    });
    assert!(rejected_reason(&server, rel).is_none());
}

/// A file read while it is being written, and finished while the rest of
/// the change is still loading, is reported with the fingerprint of what
/// was read: a rescan compares fingerprints, and must see that the file
/// changed since. (48547a4 took the fingerprint with a later `stat`, after
/// the whole change was read, so the report claimed to describe the
/// finished file and no rescan read it again.)
#[test]
fn a_file_read_while_being_written_is_read_again_by_a_rescan() {
    use refeed::snapshot::Change;
    use refeed::source::{Fingerprint, classify};
    const OTHERS: usize = 500;
    let dir = tempfile::tempdir().unwrap();
    let filler = "中文測試的正文，一段又一段。".repeat(200);
    let whole = format!("---\ntitle: Half\ndate: 2021-01-01\n---\n\n{filler}\n");
    let cut = (whole.len() / 2..)
        .find(|&i| !whole.is_char_boundary(i))
        .unwrap();
    let half = &whole.as_bytes()[..cut];
    assert!(std::str::from_utf8(half).is_err(), "cut inside a character");
    let x = dir.path().join("a-half.md");
    std::fs::write(&x, "---\ntitle: Half\ndate: 2021-01-01\n---\n\nFirst.\n").unwrap();
    let others: Vec<_> = (0..OTHERS)
        .map(|i| {
            let p = dir.path().join(format!("b/{i:04}.md"));
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            let fm: String = (0..40).map(|k| format!("key{k}: value {k}\n")).collect();
            std::fs::write(
                &p,
                format!("---\ntitle: P{i}\ndate: 2021-01-01\n{fm}---\n\n{filler}\n"),
            )
            .unwrap();
            p
        })
        .collect();
    let config = common::config(dir.path(), &[]);
    let (pipeline, snap) = common::snapshot(&config);
    std::fs::write(&x, half).unwrap();
    let mut changes = vec![Change::Write(classify(dir.path(), &x).unwrap())];
    changes.extend(
        others
            .iter()
            .map(|p| Change::Write(classify(dir.path(), p).unwrap())),
    );
    // The writer finishes the file soon after the change starts loading,
    // long before the thousands of other files are read.
    let writer = {
        let (x, whole) = (x.clone(), whole.clone());
        std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(100));
            std::fs::write(&x, whole).unwrap();
        })
    };
    let started = std::time::Instant::now();
    let next = pipeline.apply(&snap, changes);
    let took = started.elapsed();
    writer.join().unwrap();
    let report = next.reports.get("a-half.md").unwrap();
    // Read first, while half written (the scenario itself, not the fix).
    assert!(report.looks_cut(), "{:?} (took {took:?})", report.messages);
    assert_ne!(
        report.fingerprint,
        Fingerprint::of(&x),
        "rejected as cut, yet described as the finished file (load took {took:?})"
    );
    // The next change reads the finished file.
    let again = pipeline.apply(
        &next,
        vec![Change::Write(classify(dir.path(), &x).unwrap())],
    );
    assert!(again.reports.get("a-half.md").unwrap().article.is_some());
}

/// Found by the fourth attack: a post cut right after its front matter is
/// kept at its last good version while serving, but at start-up there is
/// none, and `check` called it ok. It loads, with a warning that says
/// what it looks like.
#[test]
fn an_empty_body_after_a_front_matter_is_warned_about() {
    let dir = common::tree(&[
        ("cut.md", "---\ntitle: Cut\ndate: 2021-06-01\n---\n\n"),
        ("full.md", "---\ntitle: Full\ndate: 2021-06-01\n---\nbody\n"),
        ("bare.md", "no front matter at all\n"),
    ]);
    let reports = common::load(dir.path());
    let warned = |rel: &str| {
        let r = reports.iter().find(|r| &*r.rel == rel).unwrap();
        assert!(r.article.is_some(), "{rel} loads");
        r.messages
            .iter()
            .any(|m| m.to_string().contains("empty body"))
    };
    assert!(warned("cut.md"));
    assert!(!warned("full.md"));
    assert!(!warned("bare.md"));
}
