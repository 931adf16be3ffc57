//! `Last-Modified` of `refeed serve` as a process: it can always be
//! written as an HTTP date, is never in the future, and never goes back,
//! across edits, reloads and restarts, so that a client validating with
//! `If-Modified-Since` alone never gets a 304 for bytes it has not seen.

use crate::common;

use std::path::Path;
use std::time::{Duration, SystemTime};

use common::server::{Launch, PATIENCE, Refeed, category, source_copy, stop, write_atomically};

const FAR_FUTURE: &str = "---
title: Dated at the end of time
date: 2021-05-01 00:00:00
updated: 9999-12-31T23:59:59Z
categories: [Far]
---

Its updated date is the last second an HTTP date can carry.
";

/// Seconds since the epoch of 10000-01-02T00:00:00Z.
const YEAR_10000: u64 = 253_402_387_200;

fn last_modified(r: &common::server::Response) -> SystemTime {
    let value = r.header("last-modified").expect("Last-Modified");
    httpdate::parse_http_date(value).unwrap_or_else(|e| panic!("{value}: {e}"))
}

/// The header is never later than the moment the response was read.
fn assert_not_in_future(r: &common::server::Response, what: &str) {
    let sent = last_modified(r);
    assert!(
        sent <= SystemTime::now(),
        "{what}: Last-Modified {:?} is in the future",
        r.header("last-modified")
    );
}

/// A posts folder on tmpfs, which keeps any file time (ext4 clamps them
/// to 2446).
fn tmpfs_source() -> tempfile::TempDir {
    let dir = tempfile::tempdir_in("/dev/shm").expect("a tmpfs at /dev/shm");
    common::server::copy_tree(&common::examples(), dir.path());
    dir
}

/// Writes `text` at `path` with its modification time set to `mtime`,
/// complete before it is renamed into place.
fn write_with_mtime(path: &Path, text: &str, mtime: SystemTime) {
    let tmp = path.with_file_name(".mtime.tmp");
    std::fs::write(&tmp, text).unwrap();
    let file = std::fs::File::options().write(true).open(&tmp).unwrap();
    file.set_modified(mtime).expect("set the modification time");
    drop(file);
    let kept = std::fs::metadata(&tmp).unwrap().modified().unwrap();
    assert_eq!(kept, mtime, "the file system kept another time");
    std::fs::rename(&tmp, path).unwrap();
}

#[test]
fn http_dates_past_9999_never_panic() {
    let dir = tmpfs_source();
    let mut server = Refeed::start(dir.path(), &[]);
    let feed = category(&["Far"], "rss.xml");

    // An `updated` of 9999-12-31T23:59:59Z, then an edit that keeps every
    // date: the feed's Last-Modified must move on without leaving 9999.
    let post = dir.path().join("far.md");
    write_atomically(&post, FAR_FUTURE);
    server.wait_for("the far-future post", PATIENCE, |s| {
        s.get(&feed).status == 200
    });
    let first = server.get(&feed);
    assert_not_in_future(&first, "first version");
    write_atomically(&post, &FAR_FUTURE.replace("end of time", "end of all time"));
    server.wait_for("the edit", PATIENCE, |s| {
        s.titles(&feed)
            .iter()
            .any(|t| t == "Dated at the end of all time")
    });
    for path in [feed.as_str(), "/rss.xml", "/atom.xml", "/opml.xml", "/"] {
        let r = server.get(path);
        assert_eq!(r.status, 200, "{path}");
        assert_not_in_future(&r, path);
    }
    let r = server.request(
        "GET",
        &feed,
        &[("If-Modified-Since", first.header("last-modified").unwrap())],
    );
    assert_eq!(r.status, 200, "the edit must not be hidden by a 304");

    // An undated post whose file claims year 10000: it falls back to a
    // date feeds can carry (with a warning) instead of taking the site down.
    let mtime = SystemTime::UNIX_EPOCH + Duration::from_secs(YEAR_10000);
    write_with_mtime(
        &dir.path().join("undated-future.md"),
        "---\ntitle: Undated from the future\n---\n\nNo date anywhere.\n",
        mtime,
    );
    server.wait_for("the undated post", PATIENCE, |s| {
        s.get("/feed.json")
            .text()
            .contains("Undated from the future")
    });
    for path in ["/rss.xml", "/atom.xml", "/feed.json", "/opml.xml", "/"] {
        let r = server.get(path);
        assert_eq!(r.status, 200, "{path}");
        assert_not_in_future(&r, path);
    }
    let json: serde_json::Value = serde_json::from_slice(&server.get("/feed.json").body).unwrap();
    let item = json["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["title"] == "Undated from the future")
        .expect("the undated item");
    assert_eq!(item["date_published"], "1970-01-01T00:00:00Z");
    server.assert_alive_and_healthy();
}

#[test]
fn last_modified_never_in_the_future() {
    let dir = source_copy();
    let mut server = Refeed::start(dir.path(), &[]);
    write_atomically(
        &dir.path().join("ahead.md"),
        "---\ntitle: Scheduled ahead\ndate: 2999-01-01 00:00:00\ncategories: [Ahead]\n---\n\nLater.\n",
    );
    let feed = category(&["Ahead"], "atom.xml");
    server.wait_for("the future post", PATIENCE, |s| s.get(&feed).status == 200);
    for path in [feed.as_str(), "/atom.xml", "/opml.xml", "/"] {
        let r = server.get(path);
        assert_not_in_future(&r, path);
        // The date it was served with soon validates it: stable, not "now"
        // at every request. (Within a second of the change it may still be
        // "now": the date that stands is a second later, not yet sendable.)
        server.wait_for("a stable Last-Modified", Duration::from_secs(3), |s| {
            let r = s.get(path);
            assert_not_in_future(&r, path);
            let since = r.header("last-modified").unwrap();
            s.request("GET", path, &[("If-Modified-Since", since)])
                .status
                == 304
        });
    }
    // The article page too.
    let page = server.get("/2999/01/01/ahead/");
    assert_eq!(page.status, 200);
    assert_not_in_future(&page, "article page");
    server.assert_alive_and_healthy();
}

const OLDER_POST: &str = "---
title: Written while the server was down
date: 2020-01-01 00:00:00
categories: [Offline]
---

Older than every other post, so the newest date of the site feed stays.
";

#[test]
fn last_modified_survives_restart() {
    let dir = source_copy();
    let state = tempfile::tempdir().unwrap();
    let unchanged = category(&["Tech"], "atom.xml");

    let server = Launch::new(dir.path()).state_dir(state.path()).start();
    // What a poller holds once the dates settle (in the first second they
    // may still be "now").
    let settled = |path: &str| {
        let mut held = None;
        server.wait_for("a stable Last-Modified", Duration::from_secs(3), |s| {
            let r = s.get(path);
            let since = r.header("last-modified").unwrap().to_string();
            let fresh = s
                .request("GET", path, &[("If-Modified-Since", &since)])
                .status
                == 304;
            held = Some(r);
            fresh
        });
        held.unwrap()
    };
    let site = settled("/atom.xml");
    let tech = settled(&unchanged);
    let site_modified = site.header("last-modified").unwrap().to_string();
    let tech_modified = tech.header("last-modified").unwrap().to_string();
    stop(server);

    write_atomically(&dir.path().join("offline.md"), OLDER_POST);
    let server = Launch::new(dir.path()).state_dir(state.path()).start();

    let r = server.request("GET", "/atom.xml", &[("If-Modified-Since", &site_modified)]);
    assert_eq!(
        r.status, 200,
        "a post added while down must not hide behind If-Modified-Since"
    );
    assert!(r.text().contains("Written while the server was down"));
    assert!(last_modified(&r) >= last_modified(&site), "never back");
    assert_not_in_future(&r, "site feed");

    let r = server.request("GET", &unchanged, &[("If-Modified-Since", &tech_modified)]);
    assert_eq!(r.status, 304, "unchanged bytes keep their date");
    assert_eq!(r.header("last-modified"), Some(tech_modified.as_str()));
    assert_eq!(r.etag(), tech.etag());
}

/// Without a usable state_dir, every document is dated no earlier than the
/// start of the process: fewer 304s after a restart, never a wrong one.
#[test]
fn restart_without_usable_state_never_gives_a_wrong_304() {
    let dir = source_copy();
    let blocker = tempfile::NamedTempFile::new().unwrap();
    let unusable = blocker.path().join("state");
    let start = || Launch::new(dir.path()).state_dir(&unusable).start();
    let server = start();
    let site = server.get("/atom.xml");
    let site_modified = site.header("last-modified").unwrap().to_string();
    assert!(
        server.log_text().contains("state_dir unusable"),
        "{}",
        server.log_text()
    );
    stop(server);

    write_atomically(&dir.path().join("offline.md"), OLDER_POST);
    let server = start();
    let r = server.request("GET", "/atom.xml", &[("If-Modified-Since", &site_modified)]);
    assert_eq!(r.status, 200);
    assert!(r.text().contains("Written while the server was down"));
    assert_not_in_future(&r, "site feed");
}

/// A store with no record of a document (a container restarted without its
/// volume: a new, empty `state_dir`) knows nothing about what an earlier
/// process sent: it must date like no store at all, never from the items.
#[test]
fn fresh_state_dir_never_gives_a_wrong_304() {
    let dir = source_copy();
    let first_state = tempfile::tempdir().unwrap();
    let server = Launch::new(dir.path())
        .state_dir(first_state.path())
        .start();
    write_atomically(&dir.path().join("offline.md"), OLDER_POST);
    server.wait_for("the back-dated post", PATIENCE, |s| {
        s.titles("/atom.xml")
            .iter()
            .any(|t| t == "Written while the server was down")
    });
    // The change is dated "now"; hold that date once it stands.
    let mut held = String::new();
    server.wait_for("a stable Last-Modified", PATIENCE, |s| {
        held = s
            .get("/atom.xml")
            .header("last-modified")
            .unwrap()
            .to_string();
        s.request("GET", "/atom.xml", &[("If-Modified-Since", &held)])
            .status
            == 304
    });
    stop(server);

    write_atomically(
        &dir.path().join("offline-2.md"),
        &OLDER_POST.replace("Written while", "Also written while"),
    );
    let fresh_state = tempfile::tempdir().unwrap();
    let server = Launch::new(dir.path())
        .state_dir(fresh_state.path())
        .start();
    let r = server.request("GET", "/atom.xml", &[("If-Modified-Since", &held)]);
    assert_eq!(
        r.status, 200,
        "new bytes behind an If-Modified-Since sent by the process before"
    );
    assert!(r.text().contains("Also written while the server was down"));
    assert!(
        last_modified(&r) >= httpdate::parse_http_date(&held).unwrap(),
        "never back: {:?} after {held}",
        r.header("last-modified")
    );
    assert_not_in_future(&r, "site feed");
}

/// An article page shows the whole body, so an edit that keeps every date
/// changes its bytes: `Last-Modified` must move with it.
#[test]
fn article_page_edit_keeping_dates_moves_last_modified() {
    let dir = source_copy();
    let server = Refeed::start(dir.path(), &[]);
    let page = "/2021/06/10/tech/hello-world/";
    let before = server.get(page);
    assert_eq!(before.status, 200, "{page}");
    let modified = before.header("last-modified").expect("Last-Modified");
    let r = server.request("GET", page, &[("If-Modified-Since", modified)]);
    assert_eq!(r.status, 304);

    // A second later, so that the file's time is a later HTTP date.
    std::thread::sleep(Duration::from_millis(1100));
    let path = dir.path().join("tech/hello-world.md");
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(!text.contains("updated"), "the edit keeps every date");
    write_atomically(&path, &format!("{text}\n\nA paragraph added in place.\n"));
    server.wait_for("the edit on the page", PATIENCE, |s| {
        s.get(page).text().contains("A paragraph added in place.")
    });
    let r = server.request("GET", page, &[("If-Modified-Since", modified)]);
    assert_eq!(r.status, 200, "If-Modified-Since alone must see the edit");
    assert_not_in_future(&r, "the page after the edit");
}

/// Found by the third attack: a page was dated by its file's modification
/// time, which a deploy that keeps times (`cp -p`, `rsync -a`, `tar`) sets
/// back, so an edit written that way got a 304 from `If-Modified-Since`,
/// while the server ran and after a restart.
#[test]
fn article_page_edit_with_an_old_file_time_is_not_a_304() {
    let dir = source_copy();
    let state = tempfile::tempdir().unwrap();
    let start = || Launch::new(dir.path()).state_dir(state.path()).start();
    let page = "/2021/06/10/tech/hello-world/";
    let path = dir.path().join("tech/hello-world.md");
    let old_time = std::fs::metadata(&path).unwrap().modified().unwrap();
    let edit = |marker: &str| {
        std::thread::sleep(Duration::from_millis(1100));
        let text = std::fs::read_to_string(&path).unwrap();
        write_atomically(&path, &format!("{text}\n\n{marker}\n"));
        let file = std::fs::File::options().write(true).open(&path).unwrap();
        file.set_modified(old_time).unwrap();
    };

    let server = start();
    let modified = server
        .get(page)
        .header("last-modified")
        .unwrap()
        .to_string();
    edit("Edited while serving, file time kept.");
    server.wait_for("the edit on the page", PATIENCE, |s| {
        s.get(page).text().contains("Edited while serving")
    });
    let r = server.request("GET", page, &[("If-Modified-Since", &modified)]);
    assert_eq!(r.status, 200, "while serving");
    let modified = r.header("last-modified").unwrap().to_string();
    stop(server);

    edit("Edited while stopped, file time kept.");
    let server = start();
    let r = server.request("GET", page, &[("If-Modified-Since", &modified)]);
    assert_eq!(r.status, 200, "after a restart");
    assert!(r.text().contains("Edited while stopped"));
    assert_not_in_future(&r, "the page after the edit");
}
