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

/// `refeed stats --json` over `state`, as a script would run it.
fn stats(state: &Path, env: &[(&str, &str)]) -> serde_json::Value {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_refeed"));
    for (key, _) in std::env::vars() {
        if key.starts_with("REFEED_") {
            cmd.env_remove(key);
        }
    }
    let out = cmd
        .args(["stats", "--json", "--source"])
        .arg(examples())
        .env("REFEED_STATE_DIR", state)
        .envs(env.iter().copied())
        .output()
        .expect("run refeed stats");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("stats --json is JSON")
}

fn site_feed(stats: &serde_json::Value) -> Option<&serde_json::Value> {
    let feeds = stats["feeds"].as_array().expect("a list of feeds");
    feeds.iter().find(|f| f["feed"] == "/")
}

#[test]
fn aggregators_and_distinct_readers_are_counted_and_survive_a_restart() {
    let state = tempfile::tempdir().unwrap();
    let start = || {
        Launch::new(&examples())
            .state_dir(state.path())
            .env(&[("REFEED_SERVER__METRICS", "true")])
            .start()
    };
    let server = start();
    poll(&server, "/rss.xml", FEEDLY);
    poll(&server, "/rss.xml", NEWSBOAT);
    poll(&server, "/atom.xml", NEWSBOAT);
    poll(&server, "/rss.xml", NETNEWSWIRE);
    poll(&server, "/tags/rust/rss.xml", NEWSBOAT);
    // Stopping writes what was counted since the last flush.
    stop(server);

    let counted = stats(state.path(), &[]);
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
    let again = stats(state.path(), &[]);
    assert_eq!(site_feed(&again), Some(site), "{again}");
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
    let counted = stats(state.path(), &[]);
    assert_eq!(counted["feeds"], serde_json::json!([]), "{counted}");
}
