//! File-system faults under a running `refeed serve` (issue 6): files that
//! vanish mid-scan, permission denied, a symbolic link loop, a folder
//! replaced by a file, the whole source folder going away and coming back,
//! a burst of 1,000 files, an editor's save dance, a file written in two
//! parts, and a FIFO where a post was.
//!
//! Each test runs the real binary over its own copy of `examples/posts`,
//! keeps polling while it injects the fault (every answer must be a 200 or
//! a 404 for a feed that is legitimately gone, never a 5xx), and ends by
//! checking that the served state equals what a fresh load of the folder
//! would give. Every wait is bounded.

use crate::common;

use std::collections::BTreeSet;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::examples;
use common::server::{
    Launch, PATIENCE, Refeed, category, documents, everywhere, nowhere, source_copy,
};

/// `nobody`: a user the kernel checks permissions for, unlike root.
const NOBODY: u32 = 65534;

fn post(title: &str, date: &str, categories: &str, tags: &str) -> String {
    format!(
        "---\ntitle: {title}\ndate: {date}\ncategories: {categories}\ntags: {tags}\n---\n\nBody of {title}.\n"
    )
}

/// What a fresh start on the same folder serves: a second server, started
/// after the dust settled, is the reference a reloaded one must equal.
fn assert_same_as_fresh_start(server: &Refeed, source: &Path, env: &[(&str, &str)]) {
    assert_same_as(server, Refeed::start(source, env));
}

fn assert_same_as(server: &Refeed, fresh: Refeed) {
    let (a, b) = (server.health(), fresh.health());
    for key in ["articles", "feeds", "files", "rejected_count"] {
        assert_eq!(a[key], b[key], "{key}: reloaded {a} vs fresh {b}");
    }
    let paths = |h: &serde_json::Value| -> Vec<String> {
        h["rejected"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["path"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(paths(&a), paths(&b), "rejected files");
    for path in ["/rss.xml", "/opml.xml", "/"] {
        let (ra, rb) = (server.get(path), fresh.get(path));
        assert_eq!(ra.status, rb.status, "{path}");
        assert!(ra.body == rb.body, "{path}: reloaded and fresh differ");
    }
}

/// The reason `/healthz` gives for a rejected path, if it lists it.
fn rejected_reason(server: &Refeed, rel: &str) -> Option<String> {
    let health = server.health();
    health["rejected"]
        .as_array()?
        .iter()
        .find(|r| r["path"] == rel)
        .map(|r| r["reasons"].to_string())
}

/// Polls the site feed and `/healthz` from a thread until stopped; collects
/// every status that is not a 200.
struct Poller {
    stop: Arc<AtomicBool>,
    bad: Arc<Mutex<Vec<String>>>,
    thread: Option<std::thread::JoinHandle<usize>>,
}

impl Poller {
    fn start(addr: &str, paths: &[&str]) -> Poller {
        let stop = Arc::new(AtomicBool::new(false));
        let bad = Arc::new(Mutex::new(Vec::new()));
        let (addr, paths) = (
            addr.to_string(),
            paths.iter().map(|p| p.to_string()).collect::<Vec<_>>(),
        );
        let (s, b) = (stop.clone(), bad.clone());
        let thread = std::thread::spawn(move || {
            let mut n = 0;
            while !s.load(Ordering::Relaxed) {
                for p in &paths {
                    let r = common::server::request(&addr, "GET", p, &[]);
                    n += 1;
                    // The site feed and the OPML always exist; /healthz may
                    // say 503 while the folder is gone.
                    let ok = r.status == 200 || (p == "/healthz" && r.status == 503);
                    if !ok {
                        b.lock().unwrap().push(format!("{p}: {}", r.status));
                    }
                    if p.ends_with(".xml")
                        && r.status == 200
                        && let Err(e) = roxmltree::Document::parse(&r.text())
                    {
                        b.lock().unwrap().push(format!("{p}: not XML: {e}"));
                    }
                }
            }
            n
        });
        Poller {
            stop,
            bad,
            thread: Some(thread),
        }
    }

    /// Stops and returns the number of requests; panics on any bad answer.
    fn finish(mut self) -> usize {
        self.stop.store(true, Ordering::Relaxed);
        let n = self.thread.take().unwrap().join().expect("poller");
        let bad = self.bad.lock().unwrap();
        assert!(bad.is_empty(), "bad answers while faulting: {bad:?}");
        n
    }
}

fn chmod(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// A copy of the examples that `nobody` may read and write, for a server
/// run as `nobody`.
fn source_for_nobody() -> tempfile::TempDir {
    let dir = source_copy();
    chmod(dir.path(), 0o777);
    for entry in walk(dir.path()) {
        let mode = if entry.is_dir() { 0o777 } else { 0o666 };
        chmod(&entry, mode);
    }
    dir
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(walk(&path));
        }
        out.push(path);
    }
    out
}

fn running_as_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// A server that file permissions apply to: as root (CAP_DAC_OVERRIDE reads
/// a mode-000 file), run it as `nobody` instead.
fn start_subject_to_permissions(source: &Path, env: &[(&str, &str)]) -> Refeed {
    let launch = Launch::new(source).env(env);
    if running_as_root() {
        launch.uid(NOBODY).start()
    } else {
        launch.start()
    }
}

// --- files that vanish during a scan ------------------------------------------

#[test]
fn files_deleted_and_renamed_during_scans_leave_a_consistent_state() {
    for watch in ["true", "false"] {
        let dir = source_copy();
        let env = [
            ("REFEED_WATCH__ENABLED", watch),
            ("REFEED_WATCH__RESCAN_INTERVAL", "0"),
        ];
        let server = Refeed::start(dir.path(), &env);
        let poller = Poller::start(&server.addr, &["/rss.xml", "/healthz", "/opml.xml"]);
        let churn_dir = dir.path().join("tech/churn");
        std::fs::create_dir_all(&churn_dir).unwrap();
        let started = Instant::now();
        let mut i = 0;
        while started.elapsed() < Duration::from_secs(3) {
            // Created, renamed, rewritten and deleted, over and over, while
            // SIGHUP asks for full rescans that walk and read the folder.
            let a = churn_dir.join(format!("churn-{}.md", i % 7));
            let b = churn_dir.join(format!("renamed-{}.md", i % 5));
            std::fs::write(
                &a,
                post(&format!("Churn {i}"), "2021-07-01", "Churn", "churn"),
            )
            .unwrap();
            if i % 2 == 0 {
                let _ = std::fs::rename(&a, &b);
            }
            if i % 3 == 0 {
                let _ = std::fs::remove_file(&b);
            }
            if i % 4 == 0 {
                let sub = churn_dir.join("sub");
                std::fs::create_dir_all(&sub).unwrap();
                std::fs::write(
                    sub.join("x.md"),
                    post("Churn sub", "2021-07-02", "Churn", "churn"),
                )
                .unwrap();
                let _ = std::fs::remove_dir_all(&sub);
            }
            if i % 5 == 0 {
                server.signal(libc::SIGHUP);
            }
            i += 1;
            std::thread::sleep(Duration::from_millis(2));
        }
        // Settle: only the final file remains.
        std::fs::remove_dir_all(&churn_dir).unwrap();
        std::fs::create_dir_all(&churn_dir).unwrap();
        std::fs::write(
            churn_dir.join("final.md"),
            post("Churn final", "2021-07-03", "Churn", "churn"),
        )
        .unwrap();
        std::thread::sleep(Duration::from_millis(300));
        server.signal(libc::SIGHUP);
        let docs = documents(&[category(&["Churn"], ""), "/tags/churn/".into()]);
        server.wait_for("the final state", PATIENCE, |s| {
            s.titles("/tags/churn/rss.xml") == ["Churn final"]
                && everywhere(s, &docs, "Churn final")
                && s.health()["rejected_count"] == 0
        });
        let requests = poller.finish();
        eprintln!("watch={watch}: {i} churn rounds, {requests} requests answered");
        assert_same_as_fresh_start(&server, dir.path(), &env);
    }
}

// --- permission denied ---------------------------------------------------------

#[test]
fn an_unreadable_post_is_rejected_with_its_reason_and_the_others_are_unaffected() {
    // Both with file events and with rescans alone: a change of mode moves
    // neither the size nor the modification time of a file.
    for watch in ["true", "false"] {
        let dir = source_for_nobody();
        let env = [
            ("REFEED_WATCH__ENABLED", watch),
            ("REFEED_WATCH__RESCAN_INTERVAL", "0"),
        ];
        let server = start_subject_to_permissions(dir.path(), &env);
        let before = server.health();
        let feed = category(&["Tech"], "rss.xml");
        let tech = server.get(&feed);
        let path = dir.path().join("tech/hello-world.md");
        // A new post that was never readable, and a known one that stops
        // being readable.
        let locked = dir.path().join("tech/locked.md");
        std::fs::write(&locked, post("Locked", "2021-07-01", "Tech", "t")).unwrap();
        chmod(&locked, 0o000);
        chmod(&path, 0o000);
        server.signal(libc::SIGHUP);
        server.wait_for("both files rejected", PATIENCE, |s| {
            rejected_reason(s, "tech/hello-world.md").is_some()
                && rejected_reason(s, "tech/locked.md").is_some()
        });
        for rel in ["tech/hello-world.md", "tech/locked.md"] {
            let reason = rejected_reason(&server, rel).unwrap();
            assert!(reason.contains("Permission denied"), "{rel}: {reason}");
        }
        let health = server.health();
        assert_eq!(health["status"], "ok");
        assert_eq!(
            health["articles"], before["articles"],
            "the last good version of the unreadable post is kept"
        );
        let r = server.get(&feed);
        assert_eq!(r.status, 200);
        assert!(r.body == tech.body, "the Tech feed is unchanged");
        assert!(nowhere(&server, &documents(&[]), "Locked"));

        // Readable again: no size or time changed, yet both load.
        chmod(&path, 0o666);
        chmod(&locked, 0o666);
        server.signal(libc::SIGHUP);
        server.wait_for("both files readable again", PATIENCE, |s| {
            s.health()["rejected_count"] == 0 && everywhere(s, &documents(&[]), "Locked")
        });
        assert_same_as(&server, start_subject_to_permissions(dir.path(), &env));
    }
}

#[test]
fn an_unreadable_folder_is_reported_and_its_posts_are_not_dropped() {
    let dir = source_for_nobody();
    let env = [("REFEED_WATCH__RESCAN_INTERVAL", "0")];
    let server = start_subject_to_permissions(dir.path(), &env);
    let before = server.health();
    let rust = documents(&[category(&["Tech", "Rust"], "")]);
    assert!(everywhere(&server, &rust, "Ownership in practice"));

    let folder = dir.path().join("tech/rust");
    chmod(&folder, 0o000);
    server.signal(libc::SIGHUP);
    server.wait_for("the folder reported", PATIENCE, |s| {
        rejected_reason(s, "tech/rust").is_some()
    });
    let reason = rejected_reason(&server, "tech/rust").unwrap();
    assert!(reason.contains("Permission denied"), "{reason}");
    // Another rescan must not read the invisible posts as deleted.
    server.signal(libc::SIGHUP);
    std::thread::sleep(Duration::from_millis(300));
    let health = server.health();
    assert_eq!(health["articles"], before["articles"], "{health}");
    assert!(everywhere(&server, &rust, "Ownership in practice"));

    chmod(&folder, 0o777);
    server.signal(libc::SIGHUP);
    server.wait_for("the folder readable again", PATIENCE, |s| {
        s.health()["rejected_count"] == 0
    });
    assert_same_as(&server, start_subject_to_permissions(dir.path(), &env));
}

#[test]
fn the_source_folder_made_unreadable_keeps_the_last_snapshot() {
    let dir = source_for_nobody();
    let env = [("REFEED_WATCH__RESCAN_INTERVAL", "0")];
    let server = start_subject_to_permissions(dir.path(), &env);
    let site = server.get("/rss.xml");
    let poller = Poller::start(&server.addr, &["/rss.xml", "/healthz"]);
    // Listing the folder fails: that is no empty archive.
    chmod(dir.path(), 0o000);
    server.signal(libc::SIGHUP);
    server.wait_for("503 source-unavailable", PATIENCE, |s| {
        s.get("/healthz").status == 503
    });
    let health = server.health();
    assert_eq!(health["status"], "source-unavailable");
    let why = health["source_error"].as_str().unwrap_or_default();
    assert!(why.contains("Permission denied"), "{why}");
    let r = server.get("/rss.xml");
    assert!(r.body == site.body, "the last snapshot is served");
    assert_eq!(health["articles"], server.health()["articles"]);

    chmod(dir.path(), 0o777);
    server.wait_for("healthy again", PATIENCE, |s| {
        s.get("/healthz").status == 200
    });
    assert!(server.get("/rss.xml").body == site.body);
    // File events work again.
    let path = dir.path().join("tech/after.md");
    std::fs::write(&path, post("After the lockout", "2021-07-01", "Tech", "t")).unwrap();
    server.wait_for("a post written afterwards", PATIENCE, |s| {
        everywhere(s, &documents(&[]), "After the lockout")
    });
    poller.finish();
}

#[test]
fn live_reload_works_beside_a_folder_it_cannot_read() {
    let dir = source_for_nobody();
    let locked = dir.path().join("lost+found");
    std::fs::create_dir(&locked).unwrap();
    chmod(&locked, 0o000);
    let server =
        start_subject_to_permissions(dir.path(), &[("REFEED_WATCH__RESCAN_INTERVAL", "0")]);
    if running_as_root() {
        assert!(rejected_reason(&server, "lost+found").is_some());
    }
    // File events still arrive for everything else.
    let path = dir.path().join("tech/new.md");
    std::fs::write(
        &path,
        post("Beside a locked folder", "2021-07-01", "Tech", "t"),
    )
    .unwrap();
    chmod(&path, 0o666);
    server.wait_for("the new post, by file events", PATIENCE, |s| {
        everywhere(s, &documents(&[]), "Beside a locked folder")
    });
}

// --- links, folders and files trading places -------------------------------

#[test]
fn a_symbolic_link_loop_is_reported_and_changes_nothing_else() {
    let dir = source_copy();
    // One loop present at start, one made while serving.
    std::os::unix::fs::symlink(".", dir.path().join("loop")).unwrap();
    let env = [("REFEED_WATCH__RESCAN_INTERVAL", "0")];
    let server = Refeed::start(dir.path(), &env);
    let reason = rejected_reason(&server, "loop").expect("the loop is reported");
    assert!(reason.contains("loop"), "{reason}");
    let before = server.health();

    std::os::unix::fs::symlink(".", dir.path().join("tech/again")).unwrap();
    server.wait_for("the second loop reported", PATIENCE, |s| {
        rejected_reason(s, "tech/again").is_some()
    });
    server.signal(libc::SIGHUP);
    std::thread::sleep(Duration::from_millis(300));
    for rel in ["loop", "tech/again"] {
        let reason =
            rejected_reason(&server, rel).unwrap_or_else(|| panic!("{rel} still reported"));
        assert!(reason.contains("loop"), "{rel}: {reason}");
    }
    let health = server.health();
    assert_eq!(health["articles"], before["articles"], "no post twice");
    assert_same_as_fresh_start(&server, dir.path(), &env);

    // Gone again, and so are the reports.
    std::fs::remove_file(dir.path().join("loop")).unwrap();
    std::fs::remove_file(dir.path().join("tech/again")).unwrap();
    server.wait_for("no more reports", PATIENCE, |s| {
        s.health()["rejected_count"] == 0
    });
}

#[test]
fn a_folder_replaced_by_a_file_of_the_same_name_and_back() {
    let dir = source_copy();
    let aside = tempfile::tempdir().unwrap();
    let env = [("REFEED_WATCH__RESCAN_INTERVAL", "0")];
    let server = Refeed::start(dir.path(), &env);
    let docs = documents(&[category(&["Tech"], "")]);
    assert!(everywhere(&server, &docs, "Ownership in practice"));

    // `mv tech/rust elsewhere; echo … > tech/rust`: the only event inside
    // the tree names a path that is now a file.
    let folder = dir.path().join("tech/rust");
    std::fs::rename(&folder, aside.path().join("rust")).unwrap();
    std::fs::write(&folder, "not a folder any more\n").unwrap();
    server.wait_for("the folder's posts gone", PATIENCE, |s| {
        nowhere(s, &docs, "Ownership in practice")
    });
    assert_eq!(
        server.get(&category(&["Tech", "Rust"], "rss.xml")).status,
        404
    );
    assert_same_as_fresh_start(&server, dir.path(), &env);

    // And back: the file goes, the folder returns.
    std::fs::remove_file(&folder).unwrap();
    std::fs::rename(aside.path().join("rust"), &folder).unwrap();
    server.wait_for("the folder's posts back", PATIENCE, |s| {
        everywhere(s, &docs, "Ownership in practice")
    });

    // A file replaced by a folder of the same name.
    let file = dir.path().join("tech/hello-world.md");
    std::fs::remove_file(&file).unwrap();
    std::fs::create_dir(&file).unwrap();
    std::fs::write(
        file.join("index.md"),
        post("Hello from a folder", "2021-07-01", "Tech", "t"),
    )
    .unwrap();
    server.wait_for("the folder's post in place of the file's", PATIENCE, |s| {
        everywhere(s, &docs, "Hello from a folder") && nowhere(s, &docs, "Hello World")
    });
    assert_same_as_fresh_start(&server, dir.path(), &env);
}

#[test]
fn a_folder_with_a_post_extension_moved_away_takes_its_posts_along() {
    let dir = source_copy();
    let aside = tempfile::tempdir().unwrap();
    let env = [("REFEED_WATCH__RESCAN_INTERVAL", "0")];
    let odd = dir.path().join("tech/odd.md");
    std::fs::create_dir(&odd).unwrap();
    std::fs::write(
        odd.join("inside.md"),
        post("Inside odd.md", "2021-07-01", "Tech", "t"),
    )
    .unwrap();
    let server = Refeed::start(dir.path(), &env);
    assert!(everywhere(&server, &documents(&[]), "Inside odd.md"));
    std::fs::rename(&odd, aside.path().join("odd.md")).unwrap();
    server.wait_for("its post gone", PATIENCE, |s| {
        nowhere(s, &documents(&[]), "Inside odd.md")
    });
    assert_same_as_fresh_start(&server, dir.path(), &env);
}

// --- the source folder itself ----------------------------------------------------

/// `parent/src`, a copy of the examples, so that `src` itself can be moved.
fn movable_source() -> (tempfile::TempDir, PathBuf) {
    let parent = tempfile::tempdir().unwrap();
    let src = parent.path().join("src");
    common::server::copy_tree(&examples(), &src);
    (parent, src)
}

#[test]
fn the_source_folder_removed_while_serving_keeps_the_last_snapshot_then_recovers() {
    let (parent, src) = movable_source();
    let env = [("REFEED_WATCH__RESCAN_INTERVAL", "0")];
    let server = Refeed::start(&src, &env);
    let site = server.get("/rss.xml");
    let poller = Poller::start(&server.addr, &["/rss.xml", "/opml.xml"]);

    // Moved away: unhealthy, still serving the same bytes.
    let away = parent.path().join("away");
    std::fs::rename(&src, &away).unwrap();
    server.wait_for("503 source-unavailable", PATIENCE, |s| {
        let r = s.get("/healthz");
        r.status == 503 && s.health()["status"] == "source-unavailable"
    });
    assert!(server.health()["source_error"].is_string());
    std::thread::sleep(Duration::from_millis(1500));
    let r = server.get("/rss.xml");
    assert_eq!(r.status, 200);
    assert!(r.body == site.body, "the last snapshot is served");
    assert_eq!(r.etag(), site.etag());

    // Back, with a new post: healthy, the post visible.
    std::fs::write(
        away.join("tech/while-away.md"),
        post("Written while away", "2021-07-01", "Tech", "t"),
    )
    .unwrap();
    std::fs::rename(&away, &src).unwrap();
    server.wait_for("healthy with the new post", PATIENCE, |s| {
        s.get("/healthz").status == 200 && everywhere(s, &documents(&[]), "Written while away")
    });
    // And file events work again (no periodic rescan is configured).
    std::fs::write(
        src.join("tech/after.md"),
        post("Written after the return", "2021-07-02", "Tech", "t"),
    )
    .unwrap();
    server.wait_for("a post written after the return", PATIENCE, |s| {
        everywhere(s, &documents(&[]), "Written after the return")
    });

    // Deleted outright: same story.
    let site = server.get("/rss.xml");
    std::fs::remove_dir_all(&src).unwrap();
    server.wait_for("503 source-unavailable", PATIENCE, |s| {
        s.get("/healthz").status == 503
    });
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        server.get("/rss.xml").body == site.body,
        "the last snapshot is served\n{}",
        server
            .log_text()
            .lines()
            .filter(|l| !l.contains("refeed::access"))
            .collect::<Vec<_>>()
            .join("\n")
    );
    common::server::copy_tree(&examples(), &src);
    server.wait_for("healthy again", PATIENCE, |s| {
        s.get("/healthz").status == 200 && nowhere(s, &documents(&[]), "Written while away")
    });
    poller.finish();
    assert_same_as_fresh_start(&server, &src, &env);
}

#[test]
fn the_source_folder_swapped_for_another_is_watched_again() {
    let (parent, src) = movable_source();
    let env = [("REFEED_WATCH__RESCAN_INTERVAL", "0")];
    let server = Refeed::start(&src, &env);
    // A deploy: the new tree is prepared beside the old one and swapped in
    // with two renames, faster than the debounce.
    let next = parent.path().join("next");
    common::server::copy_tree(&examples(), &next);
    std::fs::write(
        next.join("tech/deployed.md"),
        post("Deployed", "2021-07-01", "Tech", "t"),
    )
    .unwrap();
    std::fs::rename(&src, parent.path().join("old")).unwrap();
    std::fs::rename(&next, &src).unwrap();
    server.wait_for("the swapped-in tree", PATIENCE, |s| {
        everywhere(s, &documents(&[]), "Deployed")
    });
    assert_eq!(server.health()["status"], "ok");
    // Events from the new folder, not the old one.
    std::fs::write(
        src.join("tech/later.md"),
        post("Later", "2021-07-02", "Tech", "t"),
    )
    .unwrap();
    server.wait_for("a post in the new tree, by file events", PATIENCE, |s| {
        everywhere(s, &documents(&[]), "Later")
    });
    std::fs::write(
        parent.path().join("old/tech/ghost.md"),
        post("Ghost", "2021-07-03", "Tech", "t"),
    )
    .unwrap();
    std::thread::sleep(Duration::from_millis(500));
    assert!(nowhere(&server, &documents(&[]), "Ghost"));
    assert_same_as_fresh_start(&server, &src, &env);
}

// --- volume and editors ------------------------------------------------------------

#[test]
fn a_burst_of_a_thousand_new_files_all_appear_in_bounded_time() {
    let dir = source_copy();
    let env = [("REFEED_WATCH__RESCAN_INTERVAL", "0")];
    let server = Refeed::start(dir.path(), &env);
    let before = server.health()["articles"].as_u64().unwrap();
    let poller = Poller::start(&server.addr, &["/rss.xml", "/healthz"]);
    let folder = dir.path().join("tech/burst");
    std::fs::create_dir(&folder).unwrap();
    let started = Instant::now();
    for i in 0..1000 {
        let date = format!(
            "2022-01-01 {:02}:{:02}:{:02}",
            i / 3600,
            i / 60 % 60,
            i % 60
        );
        std::fs::write(
            folder.join(format!("burst-{i:04}.md")),
            post(&format!("Burst {i:04}"), &date, "[Tech, Burst]", "burst"),
        )
        .unwrap();
    }
    let took = server.wait_for("all 1,000 posts", Duration::from_secs(60), |s| {
        s.health()["articles"].as_u64() == Some(before + 1000)
    });
    eprintln!("1,000 files written and served in {:?}", started.elapsed());
    assert!(took < Duration::from_secs(30), "took {took:?}");
    let health = server.health();
    assert_eq!(health["rejected_count"], 0);
    // The newest 100 in the tag feed are the last 100 written, in order.
    let titles = server.titles("/tags/burst/rss.xml?limit=100");
    let expected: Vec<String> = (900..1000).rev().map(|i| format!("Burst {i:04}")).collect();
    assert_eq!(titles, expected);
    poller.finish();
    assert_same_as_fresh_start(&server, dir.path(), &env);
}

#[test]
fn an_editors_save_dance_leaves_one_article_and_no_backup_files() {
    let dir = source_copy();
    let env = [("REFEED_WATCH__RESCAN_INTERVAL", "0")];
    let server = Refeed::start(dir.path(), &env);
    let before = server.health();
    let tech = dir.path().join("tech");
    let path = tech.join("hello-world.md");
    let docs = documents(&[category(&["Tech"], "")]);
    let original = std::fs::read_to_string(&path).unwrap();

    for round in 0..3 {
        let title = format!("Hello, saved World {round}");
        let text = original.replace("title: Hello World", &format!("title: {title}"));
        // Vim: swap file while editing, the `4913` probe, the original
        // renamed to a `~` backup, the new text written, the backup kept.
        std::fs::write(tech.join(".hello-world.md.swp"), b"\0swap").unwrap();
        std::fs::write(tech.join("4913"), b"").unwrap();
        std::fs::remove_file(tech.join("4913")).unwrap();
        let _ = std::fs::remove_file(tech.join("hello-world.md~"));
        std::fs::rename(&path, tech.join("hello-world.md~")).unwrap();
        std::fs::write(&path, &text).unwrap();
        // Emacs: an auto-save file and a lock symlink that points nowhere.
        std::fs::write(tech.join("#hello-world.md#"), &text).unwrap();
        let lock = tech.join(".#hello-world.md");
        let _ = std::fs::remove_file(&lock);
        std::os::unix::fs::symlink("root@host.1234:1700000000", &lock).unwrap();
        // Another editor: a visible temporary file renamed over the post.
        let tmp = tech.join("hello-world.md.tmp");
        std::fs::write(&tmp, &text).unwrap();
        std::fs::rename(&tmp, &path).unwrap();
        server.wait_for("the saved version", PATIENCE, |s| {
            everywhere(s, &docs, &title)
        });
    }
    let health = server.health();
    assert_eq!(health["files"], before["files"], "{health}");
    assert_eq!(health["articles"], before["articles"]);
    assert_eq!(health["rejected_count"], 0, "{health}");
    assert!(nowhere(&server, &docs, "Hello World"));
    for f in [
        "hello-world.md~",
        "#hello-world.md#",
        "4913",
        ".hello-world.md.swp",
    ] {
        assert!(
            !server.get("/opml.xml").text().contains(f),
            "{f} became a feed"
        );
    }
    assert_same_as_fresh_start(&server, dir.path(), &env);
}

#[test]
fn a_post_rewritten_in_place_in_two_parts_is_never_served_torn() {
    let dir = source_copy();
    let server = Refeed::start(dir.path(), &[]);
    let docs = documents(&[category(&["Tech"], "")]);
    let path = dir.path().join("tech/hello-world.md");
    let text = post(
        "Hello, rewritten World",
        "2021-06-10 12:00:00",
        "Tech",
        "meta",
    );
    // Cut inside the body: the first part alone is a valid post, with the
    // new title and half of its body.
    let cut = text.find("Body of").unwrap() + 4;
    let mut file = std::fs::File::create(&path).unwrap();
    std::io::Write::write_all(&mut file, &text.as_bytes()[..cut]).unwrap();
    std::io::Write::flush(&mut file).unwrap();
    // Far longer than the debounce, while the writer keeps the file open:
    // the feeds keep the last good version.
    let paused = Instant::now();
    while paused.elapsed() < Duration::from_millis(800) {
        let titles = server.titles(&docs[1]);
        assert!(
            titles.iter().any(|t| t == "Hello World")
                && !titles.iter().any(|t| t == "Hello, rewritten World"),
            "torn or lost after {:?}: {titles:?}",
            paused.elapsed()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    std::io::Write::write_all(&mut file, &text.as_bytes()[cut..]).unwrap();
    drop(file);
    server.wait_for("the final form", PATIENCE, |s| {
        everywhere(s, &docs, "Hello, rewritten World") && s.health()["rejected_count"] == 0
    });
    assert!(nowhere(&server, &docs, "Hello World"));
    assert_same_as_fresh_start(&server, dir.path(), &[]);
}

#[test]
fn a_fifo_in_place_of_a_post_never_blocks_a_request_or_the_reloader() {
    let dir = source_copy();
    // One item per feed keeps only the newest contents in memory, so a
    // `?limit=` representation reads the older posts again from disk; no
    // events, no rescans, so the FIFO stays where the post was.
    let env = [
        ("REFEED_FEED__LIMIT", "1"),
        ("REFEED_WATCH__ENABLED", "false"),
        ("REFEED_WATCH__RESCAN_INTERVAL", "0"),
    ];
    let server = Refeed::start(dir.path(), &env);
    let files = server.health()["files"].clone();
    let path = dir.path().join("tech/hello-world.md");
    std::fs::remove_file(&path).unwrap();
    let c = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: mkfifo reads the NUL-terminated path we own.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0);

    let started = Instant::now();
    let r = server.get("/rss.xml?limit=20");
    assert_eq!(r.status, 200);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );

    // A rescan neither hangs on it nor takes it for a post.
    std::fs::write(
        dir.path().join("tech/next.md"),
        post("After the FIFO", "2021-07-01", "Tech", "t"),
    )
    .unwrap();
    server.signal(libc::SIGHUP);
    server.wait_for("the rescan past the FIFO", PATIENCE, |s| {
        everywhere(s, &documents(&[]), "After the FIFO")
    });
    assert!(nowhere(&server, &documents(&[]), "Hello World"));
    // Removals wait for the folder to be quiet (a deploy may bring the
    // file back): one post gone, one added.
    server.wait_for("the post the FIFO replaced removed", PATIENCE, |s| {
        s.health()["files"] == files
    });
    assert_same_as_fresh_start(&server, dir.path(), &env);
}

// --- issue 10: truncation, deploys, file names, links ------------------------

/// Titles of the site's JSON feed, and whether it answered 200.
fn site_titles(addr: &str) -> Result<BTreeSet<String>, String> {
    let r = common::server::request(addr, "GET", "/feed.json", &[]);
    if r.status != 200 {
        return Err(format!("/feed.json: {}", r.status));
    }
    let feed: serde_json::Value =
        serde_json::from_slice(&r.body).map_err(|e| format!("/feed.json: {e}"))?;
    Ok(feed["items"]
        .as_array()
        .map(|items| {
            items
                .iter()
                .filter_map(|i| i["title"].as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default())
}

/// A post cut anywhere, to 0 bytes or inside a UTF-8 sequence, is reported
/// and never replaces the last good version (fault 8).
#[test]
fn truncated_file_keeps_last_good_version() {
    let dir = source_copy();
    let env = [("REFEED_WATCH__RESCAN_INTERVAL", "0")];
    let server = Refeed::start(dir.path(), &env);
    let rel = "tech/中文.md";
    let path = dir.path().join(rel);
    let good = "---\ntitle: 中文測試\ndate: 2021-07-01 09:00:00\ncategories: [Tech]\n---\n\n中文測試的正文。\n";
    let docs = documents(&[category(&["Tech"], "")]);
    let mut allowed = site_titles(&server.addr).unwrap();
    allowed.insert("中文測試".to_string());
    let restore = || {
        std::fs::write(&path, good).unwrap();
        server.wait_for("the good version", PATIENCE, |s| {
            rejected_reason(s, rel).is_none() && everywhere(s, &docs, "中文測試")
        });
    };
    restore();
    let bytes = good.as_bytes();
    // Empty, then cut inside every multi-byte character.
    let cuts = std::iter::once(0).chain((1..bytes.len()).filter(|&i| !good.is_char_boundary(i)));
    for cut in cuts {
        std::fs::write(&path, &bytes[..cut]).unwrap();
        server.wait_for(&format!("the file cut at {cut} reported"), PATIENCE, |s| {
            rejected_reason(s, rel).is_some()
        });
        let reason = rejected_reason(&server, rel).unwrap();
        assert!(reason.contains("cut short"), "cut at {cut}: {reason}");
        let titles = site_titles(&server.addr).unwrap();
        assert!(titles.contains("中文測試"), "cut at {cut}: {titles:?}");
        assert!(titles.is_subset(&allowed), "cut at {cut}: {titles:?}");
        let json = server.get("/feed.json").text();
        assert!(
            json.contains("中文測試的正文"),
            "cut at {cut}: the good body"
        );
        assert!(everywhere(&server, &docs, "中文測試"), "cut at {cut}");
        restore();
    }
    assert_same_as_fresh_start(&server, dir.path(), &env);
}

/// `n` posts `Post <i>` in three folders, each with `version` in its body.
fn deploy_tree(dir: &Path, posts: &[usize], version: &str) {
    for &n in posts {
        let path = dir.join(format!("s{}/post-{n:03}.md", n % 3));
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        let date = format!("2021-01-01 {:02}:{:02}:00", n / 60, n % 60);
        let text = post(&format!("Post {n}"), &date, "Deploy", "d") + version;
        std::fs::write(path, text).unwrap();
    }
}

fn deploy_titles(posts: &[usize]) -> BTreeSet<String> {
    posts.iter().map(|n| format!("Post {n}")).collect()
}

/// Every file below `dir`, relative.
fn files_below(dir: &Path) -> Vec<PathBuf> {
    walk(dir)
        .into_iter()
        .filter(|p| p.is_file())
        .map(|p| p.strip_prefix(dir).unwrap().to_path_buf())
        .collect()
}

/// Copies a tree file by file, pausing now and then as a busy disk does.
fn copy_slowly(from: &Path, to: &Path) {
    for (i, rel) in files_below(from).into_iter().enumerate() {
        let target = to.join(&rel);
        std::fs::create_dir_all(target.parent().unwrap()).unwrap();
        std::fs::copy(from.join(&rel), &target).unwrap();
        if i % 4 == 0 {
            std::thread::sleep(Duration::from_millis(1));
        }
    }
}

/// Polls the site feed until stopped; every answer must be a 200 listing
/// every title of `must`.
struct FeedWatch {
    must: Arc<Mutex<(String, BTreeSet<String>)>>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<(usize, Vec<String>)>>,
}

impl FeedWatch {
    fn start(addr: &str) -> FeedWatch {
        let must = Arc::new(Mutex::new((String::new(), BTreeSet::new())));
        let stop = Arc::new(AtomicBool::new(false));
        let (m, s, addr) = (must.clone(), stop.clone(), addr.to_string());
        let thread = std::thread::spawn(move || {
            let (mut polls, mut bad) = (0, Vec::new());
            while !s.load(Ordering::Relaxed) {
                let (what, must) = m.lock().unwrap().clone();
                polls += 1;
                match site_titles(&addr) {
                    Ok(titles) => {
                        let missing: Vec<_> = must.difference(&titles).take(3).collect();
                        if !missing.is_empty() {
                            bad.push(format!(
                                "{what}: {} of {} items, missing {missing:?}…",
                                titles.len(),
                                must.len()
                            ));
                        }
                    }
                    Err(e) => bad.push(format!("{what}: {e}")),
                }
            }
            (polls, bad)
        });
        FeedWatch {
            must,
            stop,
            thread: Some(thread),
        }
    }

    fn expect(&self, what: &str, must: BTreeSet<String>) {
        *self.must.lock().unwrap() = (what.to_string(), must);
    }

    fn finish(mut self, server: &Refeed) {
        self.stop.store(true, Ordering::Relaxed);
        let (polls, bad) = self.thread.take().unwrap().join().unwrap();
        assert!(polls > 20, "only {polls} polls");
        let log = server.log_text();
        let log: Vec<&str> = log
            .lines()
            .filter(|l| !l.contains("refeed::access"))
            .collect();
        assert!(
            bad.is_empty(),
            "{} of {polls} polls: {:#?}\nlog:\n{}",
            bad.len(),
            &bad[..bad.len().min(5)],
            log.join("\n")
        );
    }
}

/// Runs `deploy` from `before` to `after` while `watch` polls, and waits
/// for the feed to show exactly `after`.
fn deploy(
    server: &Refeed,
    watch: &FeedWatch,
    what: &str,
    before: &[usize],
    after: &[usize],
    run: impl FnOnce(),
) {
    let (was, will) = (deploy_titles(before), deploy_titles(after));
    watch.expect(what, was.intersection(&will).cloned().collect());
    run();
    server.wait_for(what, PATIENCE, |s| {
        site_titles(&s.addr).is_ok_and(|t| t == will)
    });
}

/// A post that exists before and after a deploy never drops out of the
/// feed during it, whichever way the deploy replaces the files (fault 9).
#[test]
fn deploy_never_drops_a_post() {
    let parent = tempfile::tempdir().unwrap();
    let env = [
        ("REFEED_WATCH__RESCAN_INTERVAL", "0"),
        ("REFEED_FEED__LIMIT", "1000"),
        ("REFEED_FEED__MAX_LIMIT", "1000"),
    ];
    let base: Vec<usize> = (0..300).collect();
    // Deploy k drops post k and adds post 300 + k.
    let version = |k: usize| -> Vec<usize> {
        base.iter()
            .copied()
            .filter(|&n| n > k)
            .chain(300..=300 + k)
            .collect()
    };
    let staged = |k: usize| {
        let dir = parent.path().join(format!("staged-{k}"));
        deploy_tree(&dir, &version(k), &format!("v{k}"));
        dir
    };

    // A real folder: rm -rf + cp -r, rsync, git pull.
    let live = parent.path().join("posts");
    deploy_tree(&live, &version(0), "v0");
    let server = Refeed::start(&live, &env);
    let watch = FeedWatch::start(&server.addr);
    let next = staged(1);
    deploy(
        &server,
        &watch,
        "rm -rf + cp -r",
        &version(0),
        &version(1),
        || {
            std::fs::remove_dir_all(&live).unwrap();
            std::fs::create_dir(&live).unwrap();
            copy_slowly(&next, &live);
        },
    );
    let next = staged(2);
    deploy(&server, &watch, "rsync", &version(1), &version(2), || {
        for (i, rel) in files_below(&next).into_iter().enumerate() {
            let target = live.join(&rel);
            std::fs::create_dir_all(target.parent().unwrap()).unwrap();
            let tmp = target.with_file_name(format!(
                ".{}.XXXXXX",
                rel.file_name().unwrap().to_string_lossy()
            ));
            std::fs::copy(next.join(&rel), &tmp).unwrap();
            std::fs::rename(&tmp, &target).unwrap();
            if i % 4 == 0 {
                std::thread::sleep(Duration::from_millis(1));
            }
        }
        for rel in files_below(&live) {
            if !next.join(&rel).exists() {
                std::fs::remove_file(live.join(rel)).unwrap();
            }
        }
    });
    let next = staged(3);
    deploy(
        &server,
        &watch,
        "git pull",
        &version(2),
        &version(3),
        || {
            for rel in files_below(&live) {
                if !next.join(&rel).exists() {
                    std::fs::remove_file(live.join(rel)).unwrap();
                }
            }
            for (i, rel) in files_below(&next).into_iter().enumerate() {
                let target = live.join(&rel);
                let _ = std::fs::remove_file(&target);
                if i % 4 == 0 {
                    std::thread::sleep(Duration::from_millis(1));
                }
                std::fs::copy(next.join(&rel), &target).unwrap();
            }
        },
    );
    watch.finish(&server);
    assert_same_as_fresh_start(&server, &live, &env);
    drop(server);

    // The folder is a link, pointed at a new tree (`ln -sfn`, which
    // renames a new link over the old one).
    let link = parent.path().join("site");
    let swap = |target: &Path| {
        let tmp = parent.path().join("site.tmp");
        std::os::unix::fs::symlink(target, &tmp).unwrap();
        std::fs::rename(&tmp, &link).unwrap();
    };
    let first = staged(4);
    swap(&first);
    let server = Refeed::start(&link, &env);
    let watch = FeedWatch::start(&server.addr);
    let next = staged(5);
    deploy(
        &server,
        &watch,
        "link swap, old tree removed",
        &version(4),
        &version(5),
        || {
            swap(&next);
            std::fs::remove_dir_all(&first).unwrap();
        },
    );
    let old = next;
    let next = staged(6);
    deploy(
        &server,
        &watch,
        "link swap, then SIGHUP",
        &version(5),
        &version(6),
        || {
            swap(&next);
            server.signal(libc::SIGHUP);
        },
    );
    // Followed by file events in the new tree, not the old one.
    std::fs::write(
        old.join("s0/ghost.md"),
        post("Ghost", "2021-07-03", "Tech", "t"),
    )
    .unwrap();
    let mut after = version(6);
    after.push(900);
    deploy(
        &server,
        &watch,
        "a post added after the swap",
        &version(6),
        &after,
        || {
            deploy_tree(&next, &[900], "v6");
        },
    );
    watch.finish(&server);
    assert_same_as_fresh_start(&server, &link, &env);
}

/// Two names that differ only in bytes that are not UTF-8 are two posts,
/// each with its own id, link and body, and `check` says why their paths
/// look as they do (fault 10).
#[test]
fn non_utf8_file_names_stay_distinct() {
    use std::os::unix::ffi::OsStrExt;
    let dir = source_copy();
    let name = |b: &[u8]| dir.path().join("tech").join(std::ffi::OsStr::from_bytes(b));
    let (e9, e8) = (name(b"caf\xe9.md"), name(b"caf\xe8.md"));
    std::fs::write(&e9, post("Cafe E9", "2021-07-01", "Tech", "t")).unwrap();
    std::fs::write(&e8, post("Cafe E8", "2021-07-02", "Tech", "t")).unwrap();
    let env = [("REFEED_WATCH__RESCAN_INTERVAL", "0")];
    let server = Refeed::start(dir.path(), &env);

    let items = |s: &Refeed| -> Vec<serde_json::Value> {
        let feed: serde_json::Value = serde_json::from_slice(&s.get("/feed.json").body).unwrap();
        feed["items"].as_array().unwrap().clone()
    };
    let cafes: Vec<serde_json::Value> = items(&server)
        .into_iter()
        .filter(|i| i["title"].as_str().unwrap().starts_with("Cafe"))
        .collect();
    assert_eq!(cafes.len(), 2, "{cafes:#?}");
    assert_ne!(cafes[0]["id"], cafes[1]["id"]);
    assert_ne!(cafes[0]["url"], cafes[1]["url"]);
    for item in &cafes {
        let title = item["title"].as_str().unwrap();
        let url = item["url"].as_str().unwrap();
        let page = url.strip_prefix("http://127.0.0.1:8080").unwrap();
        let r = server.get(page);
        assert_eq!(r.status, 200, "{page}");
        assert!(
            r.text().contains(&format!("Body of {title}.")),
            "{page}: {}",
            r.text()
        );
    }

    let out = std::process::Command::new(env!("CARGO_BIN_EXE_refeed"))
        .args(["check", "--json", "--source"])
        .arg(dir.path())
        .output()
        .unwrap();
    let lines: Vec<serde_json::Value> = out
        .stdout
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| serde_json::from_slice(l).unwrap())
        .collect();
    for (path, title) in [("tech/caf%E9.md", "Cafe E9"), ("tech/caf%E8.md", "Cafe E8")] {
        let line = lines
            .iter()
            .find(|l| l["path"] == path)
            .unwrap_or_else(|| panic!("{path} in check: {lines:#?}"));
        assert_eq!(line["title"], title);
        assert!(line["messages"].to_string().contains("not UTF-8"), "{line}");
    }

    // Live reload finds each by its own name.
    std::fs::write(&e9, post("Cafe E9 edited", "2021-07-01", "Tech", "t")).unwrap();
    server.wait_for("the edit", PATIENCE, |s| {
        let titles = s.titles("/rss.xml");
        titles.contains(&"Cafe E9 edited".to_string()) && titles.contains(&"Cafe E8".to_string())
    });
    std::fs::remove_file(&e9).unwrap();
    server.wait_for("the removal", PATIENCE, |s| {
        let titles = s.titles("/rss.xml");
        !titles.iter().any(|t| t.starts_with("Cafe E9")) && titles.contains(&"Cafe E8".to_string())
    });
    assert_same_as_fresh_start(&server, dir.path(), &env);
}

/// Links that lead out of the source folder are reported, not followed,
/// unless `load.follow_external_links` says so; links that stay inside
/// still work (fault 16).
#[test]
fn symlinks_out_of_root_are_not_followed() {
    use std::os::unix::fs::symlink;
    let dir = source_copy();
    let outside = common::tree(&[
        (
            "system/secret.md",
            &post("Outside secret", "2021-07-01", "Tech", "t"),
        ),
        ("lone.md", &post("Outside lone", "2021-07-02", "Tech", "t")),
    ]);
    let inside = dir.path().join(".shared");
    std::fs::create_dir_all(inside.join("deep")).unwrap();
    std::fs::write(
        inside.join("inner.md"),
        post("Linked inside", "2021-07-03", "Tech", "t"),
    )
    .unwrap();
    std::fs::write(
        inside.join("deep/deep.md"),
        post("Deep inside", "2021-07-04", "Tech", "t"),
    )
    .unwrap();
    symlink(outside.path().join("system"), dir.path().join("ext")).unwrap();
    symlink(
        outside.path().join("lone.md"),
        dir.path().join("tech/lone.md"),
    )
    .unwrap();
    symlink("../.shared/inner.md", dir.path().join("tech/inner.md")).unwrap();
    symlink(".shared/deep", dir.path().join("deep")).unwrap();
    // Not named like a post: passed by, as such files are, not reported.
    symlink(
        outside.path().join("lone.md"),
        dir.path().join("tech/logo.png"),
    )
    .unwrap();

    let env = [("REFEED_WATCH__RESCAN_INTERVAL", "0")];
    let server = Refeed::start(dir.path(), &env);
    let site = documents(&[]);
    for title in ["Linked inside", "Deep inside"] {
        assert!(everywhere(&server, &site, title), "{title}");
    }
    let outsiders = ["Outside secret", "Outside lone"];
    let none_outside = |s: &Refeed| outsiders.iter().all(|t| nowhere(s, &site, t));
    assert!(none_outside(&server));
    for rel in ["ext", "tech/lone.md"] {
        let reason = rejected_reason(&server, rel).unwrap_or_else(|| panic!("{rel} not reported"));
        assert!(
            reason.contains("outside the source folder"),
            "{rel}: {reason}"
        );
    }
    assert_eq!(server.health()["rejected_count"], 2);

    // Made while serving: reported too, and still not followed.
    symlink(outside.path().join("system"), dir.path().join("tech/late")).unwrap();
    symlink(outside.path().join("lone.md"), dir.path().join("late.md")).unwrap();
    server.wait_for("the new links reported", PATIENCE, |s| {
        rejected_reason(s, "tech/late").is_some() && rejected_reason(s, "late.md").is_some()
    });
    server.signal(libc::SIGHUP);
    std::thread::sleep(Duration::from_millis(300));
    assert!(none_outside(&server));
    assert_same_as_fresh_start(&server, dir.path(), &env);
    drop(server);

    // Unless the configuration says so.
    let env = [("REFEED_LOAD__FOLLOW_EXTERNAL_LINKS", "true")];
    let server = Refeed::start(dir.path(), &env);
    for title in outsiders {
        assert!(everywhere(&server, &site, title), "{title}");
    }
}

/// `rm -rf posts && git clone … posts`: the clone writes into `.git` for a
/// while before any post is back. That is activity, and the removals wait
/// for it (finding 4 of the second attack).
#[test]
fn deploy_with_a_hidden_folder_never_drops_a_post() {
    let parent = tempfile::tempdir().unwrap();
    let env = [
        ("REFEED_WATCH__RESCAN_INTERVAL", "0"),
        ("REFEED_FEED__LIMIT", "1000"),
        ("REFEED_FEED__MAX_LIMIT", "1000"),
    ];
    let posts: Vec<usize> = (0..120).collect();
    let live = parent.path().join("posts");
    deploy_tree(&live, &posts, "v0");
    // The clone brings one post more: the deploy is over once it is shown.
    let cloned: Vec<usize> = (0..=120).collect();
    let next = parent.path().join("clone");
    deploy_tree(&next, &cloned, "v1");
    let server = Refeed::start(&live, &env);
    let watch = FeedWatch::start(&server.addr);
    deploy(
        &server,
        &watch,
        "rm -rf + git clone",
        &posts,
        &cloned,
        || {
            std::fs::remove_dir_all(&live).unwrap();
            std::fs::create_dir(&live).unwrap();
            let git = live.join(".git");
            std::fs::create_dir(&git).unwrap();
            // Objects arriving over the network: a second and a half of writes
            // in the hidden folder only, well over the quiet period.
            for i in 0..15 {
                std::fs::write(git.join(format!("pack{i}")), vec![b'x'; 100_000]).unwrap();
                std::thread::sleep(Duration::from_millis(100));
            }
            copy_slowly(&next, &live);
        },
    );
    watch.finish(&server);
    let health = server.health();
    assert!(
        !health.to_string().contains(".git"),
        "hidden files are never reported: {health}"
    );
}

/// `cd current && refeed --source posts serve`, then `ln -sfn rel2
/// current`: the source is `current/posts`, as the shell names it, not the
/// release it pointed at on start (finding 8 of the second attack).
#[test]
fn relative_source_under_a_symlinked_cwd_follows_the_swap() {
    let parent = tempfile::tempdir().unwrap();
    for (release, title) in [("rel1", "Release one"), ("rel2", "Release two")] {
        let posts = parent.path().join(release).join("posts");
        std::fs::create_dir_all(&posts).unwrap();
        std::fs::write(posts.join("p.md"), post(title, "2021-07-01", "Tech", "t")).unwrap();
    }
    let current = parent.path().join("current");
    std::os::unix::fs::symlink("rel1", &current).unwrap();
    let env = [
        ("REFEED_WATCH__RESCAN_INTERVAL", "0"),
        ("PWD", current.to_str().unwrap()),
    ];
    let server = Launch::in_folder(&current, Some(Path::new("posts")))
        .env(&env)
        .start();
    assert!(everywhere(&server, &documents(&[]), "Release one"));
    // `ln -sfn`: a new link renamed over the old one.
    let swap = parent.path().join("current.new");
    std::os::unix::fs::symlink("rel2", &swap).unwrap();
    std::fs::rename(&swap, &current).unwrap();
    server.signal(libc::SIGHUP);
    server.wait_for("the new release", PATIENCE, |s| {
        everywhere(s, &documents(&[]), "Release two") && nowhere(s, &documents(&[]), "Release one")
    });
    std::fs::remove_dir_all(parent.path().join("rel1")).unwrap();
    server.signal(libc::SIGHUP);
    std::thread::sleep(Duration::from_millis(500));
    server.wait_for("still healthy", PATIENCE, |s| {
        s.get("/healthz").status == 200
    });
    assert_eq!(server.health()["status"], "ok", "{}", server.log_text());
    assert!(everywhere(&server, &documents(&[]), "Release two"));
}
