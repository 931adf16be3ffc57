//! Subscriber counts end to end: `refeed serve` counts the pollers of a
//! feed, writes them to `state_dir` when it stops, `refeed stats` reads
//! them without a server, and a restarted server shows them on its index.

use std::path::Path;
use std::process::Command;

use crate::common::examples;
use crate::common::server::{Launch, Refeed, stop};

const FEEDLY: &str = "Feedly/1.0 (+http://www.feedly.com/fetcher.html; 42 subscribers; )";
const NEWSBOAT: &str = "newsboat/2.36.0 (Linux x86_64)";
const NETNEWSWIRE: &str = "NetNewsWire (RSS Reader; https://netnewswire.com/)";

fn poll(server: &Refeed, path: &str, agent: &str) {
    let r = server.request("GET", path, &[("User-Agent", agent)]);
    assert_eq!(r.status, 200, "{path}");
    // A 304 counts as well: most polls are one.
    let etag = r.etag();
    let headers = [("User-Agent", agent), ("If-None-Match", etag.as_str())];
    assert_eq!(server.request("GET", path, &headers).status, 304);
}

/// `refeed stats` (with `args`) over `state` and `source`.
fn run_stats(state: &Path, source: &Path, args: &[&str]) -> std::process::Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_refeed"));
    for (key, _) in std::env::vars() {
        if key.starts_with("REFEED_") {
            cmd.env_remove(key);
        }
    }
    cmd.arg("stats")
        .args(args)
        .arg("--source")
        .arg(source)
        .env("REFEED_STATE_DIR", state)
        .output()
        .expect("run refeed stats")
}

/// `refeed stats --json` over `state`, as a script would run it.
fn stats(state: &Path) -> serde_json::Value {
    let out = run_stats(state, &examples(), &["--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("stats --json is JSON")
}

/// A server counting into `state`, with `/metrics` on, over the examples.
fn counting_server(state: &Path) -> Refeed {
    Launch::new(&examples())
        .state_dir(state)
        .env(&[("REFEED_SERVER__METRICS", "true")])
        .start()
}

fn site_feed(stats: &serde_json::Value) -> Option<&serde_json::Value> {
    let feeds = stats["feeds"].as_array().expect("a list of feeds");
    feeds.iter().find(|f| f["feed"] == "/")
}

#[test]
fn aggregators_and_distinct_readers_are_counted_and_survive_a_restart() {
    let state = tempfile::tempdir().unwrap();
    let start = || counting_server(state.path());
    let server = start();
    poll(&server, "/rss.xml", FEEDLY);
    poll(&server, "/rss.xml", NEWSBOAT);
    poll(&server, "/atom.xml", NEWSBOAT);
    poll(&server, "/rss.xml", NETNEWSWIRE);
    poll(&server, "/tags/rust/rss.xml", NEWSBOAT);
    // Stopping writes what was counted since the last flush.
    stop(server);

    let counted = stats(state.path());
    assert_eq!(counted["window_days"], 7);
    let site = site_feed(&counted).unwrap_or_else(|| panic!("{counted}"));
    assert_eq!(site["aggregators"]["Feedly"], 42, "{counted}");
    assert_eq!(site["pollers"], 2, "{counted}");
    assert_eq!(site["subscribers"], 44, "{counted}");

    // A restart keeps them, shows them on the index, and the same reader
    // polling again is still one.
    let server = start();
    let index = server.get("/").text();
    assert!(index.contains("44 subscribers"), "{index}");
    let tag_page = server.get("/tags/rust/").text();
    assert!(tag_page.contains(", 1 subscriber</small>"), "{tag_page}");
    let metrics = server.get("/metrics").text();
    assert!(
        metrics
            .lines()
            .any(|l| l == r#"refeed_subscribers{feed="/"} 44"#),
        "{metrics}"
    );
    poll(&server, "/rss.xml", NEWSBOAT);
    stop(server);
    let again = stats(state.path());
    assert_eq!(site_feed(&again), Some(site), "{again}");
    // Reading changes nothing (found by the fifth attack: it wrote the
    // schema into a copy and narrowed its mode).
    use std::os::unix::fs::PermissionsExt;
    let file = state.path().join("refeed.sqlite3");
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let before = std::fs::read(&file).unwrap();
    stats(state.path());
    assert_eq!(std::fs::read(&file).unwrap(), before);
    let mode = std::fs::metadata(&file).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o644);
}

#[test]
fn nothing_is_counted_when_stats_are_off() {
    let state = tempfile::tempdir().unwrap();
    let server = Launch::new(&examples())
        .state_dir(state.path())
        .env(&[("REFEED_STATS__ENABLED", "false")])
        .start();
    poll(&server, "/rss.xml", FEEDLY);
    poll(&server, "/rss.xml", NEWSBOAT);
    let index = server.get("/").text();
    assert!(!index.contains("subscriber"), "{index}");
    stop(server);
    let counted = stats(state.path());
    assert_eq!(counted["feeds"], serde_json::json!([]), "{counted}");
}

/// A state file that is not there is an error naming where it was looked
/// for, not "no feed has been polled yet".
#[test]
fn stats_on_a_missing_or_unusable_state_is_an_error_naming_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing");
    let file = dir.path().join("a-file");
    std::fs::write(&file, "x").unwrap();
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    for state in [&missing, &file, &empty] {
        let out = run_stats(state, &examples(), &[]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{}: {stderr}", state.display());
        let looked_at = state.join("refeed.sqlite3");
        assert!(
            stderr.contains(&*looked_at.to_string_lossy()),
            "{}: {stderr}",
            state.display()
        );
        assert!(out.stdout.is_empty());
    }
}

/// Counts kept for another source folder (a wrong `--source`) are named,
/// not taken for a feed nobody polls.
#[test]
fn stats_names_the_sources_a_state_file_has_counts_for() {
    let state = tempfile::tempdir().unwrap();
    let server = Launch::new(&examples()).state_dir(state.path()).start();
    poll(&server, "/rss.xml", NEWSBOAT);
    stop(server);
    let elsewhere = tempfile::tempdir().unwrap();
    let out = run_stats(state.path(), elsewhere.path(), &[]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let examples = std::fs::canonicalize(examples()).unwrap();
    let expected = format!(
        "no counts for {}; this state file has counts for: {}",
        std::fs::canonicalize(elsewhere.path()).unwrap().display(),
        examples.display()
    );
    assert!(text.contains(&expected), "{text}");
    let json = run_stats(state.path(), elsewhere.path(), &["--json"]);
    let json: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(json["feeds"], serde_json::json!([]), "{json}");
    assert_eq!(
        json["other_sources"][0],
        *examples.to_string_lossy(),
        "{json}"
    );
}

/// Made-up counts: malformed ones are refused (their senders are pollers
/// like any other), one address adds at most 16 pollers and groups to a
/// feed a day, and the index, `refeed stats` and `/metrics` agree.
#[test]
fn spoofed_counts_and_one_address_floods_are_held_and_every_surface_agrees() {
    let state = tempfile::tempdir().unwrap();
    let start = || counting_server(state.path());
    let server = start();
    for agent in [
        "Feedly/1.0 (+http://www.feedly.com/fetcher.html; -5 subscribers; )",
        "NewsBlur Feed Fetcher - -1000000 subscribers - https://www.newsblur.com/site/1/x",
        "Feedly/1.0 (+http://www.feedly.com/fetcher.html; 1,234 subscribers; )",
        "Feedly/1.0 (+http://www.feedly.com/fetcher.html; +77 subscribers; )",
    ] {
        poll(&server, "/rss.xml", agent);
    }
    for i in 0..20 {
        let agent = format!("Feedbin feed-id:{i} - 10000000 subscribers");
        poll(&server, "/rss.xml", &agent);
    }
    stop(server);
    let counted = stats(state.path());
    let site = site_feed(&counted).unwrap_or_else(|| panic!("{counted}"));
    // Which 16 of the 24 are kept depends on the order they are written.
    let pollers = site["pollers"].as_u64().unwrap();
    let feedbin = site["aggregators"]["Feedbin"].as_u64().unwrap();
    assert_eq!(feedbin % 10_000_000, 0, "{counted}");
    assert_eq!(pollers + feedbin / 10_000_000, 16, "{counted}");
    assert_eq!(
        site["aggregators"].as_object().unwrap().len(),
        1,
        "{counted}"
    );
    let total = pollers + feedbin;
    assert_eq!(site["subscribers"], total, "{counted}");

    let server = start();
    let index = server.get("/").text();
    assert!(index.contains(&format!("{total} subscribers")), "{index}");
    let metrics = server.get("/metrics").text();
    let line = format!(r#"refeed_subscribers{{feed="/"}} {total}"#);
    assert!(metrics.lines().any(|l| l == line), "{metrics}");
    stop(server);
}
