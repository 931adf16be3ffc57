//! `/metrics` of a running `refeed serve`: what it counts moves with the
//! requests and reloads that happen, its text is read by a strict reader of
//! the Prometheus text format (version 0.0.4), and it is served only where
//! `server.metrics` and `server.metrics_listen` say.

use crate::common;

use std::collections::{BTreeMap, HashMap};

use common::server::{Launch, PATIENCE, Refeed, request, source_copy, write_atomically};

const ON: (&str, &str) = ("REFEED_SERVER__METRICS", "true");

/// Every sample of an exposition, by its series as written
/// (`name{label="value",...}`), read strictly: only `# HELP` and `# TYPE`
/// comments, each once per family and before its samples; every sample of
/// a declared family (a histogram's `_bucket` with an `le`); valid names,
/// quoted and escaped label values, no label twice, no series twice; the
/// text ends with a newline.
fn parse(text: &str) -> BTreeMap<String, f64> {
    assert!(text.ends_with('\n'), "no final newline:\n{text}");
    let mut types: HashMap<&str, &str> = HashMap::new();
    let mut helps: HashMap<&str, ()> = HashMap::new();
    let mut samples = BTreeMap::new();
    for line in text.lines() {
        if let Some(comment) = line.strip_prefix("# ") {
            let mut words = comment.splitn(3, ' ');
            let (keyword, name, rest) = (words.next(), words.next(), words.next());
            let name = name.unwrap_or_else(|| panic!("bare comment: {line}"));
            assert!(valid_name(name), "bad metric name: {line}");
            match (keyword, rest) {
                (Some("HELP"), Some(help)) if !help.is_empty() => {
                    assert!(helps.insert(name, ()).is_none(), "second HELP: {line}")
                }
                (Some("TYPE"), Some(kind)) => {
                    assert!(
                        ["counter", "gauge", "histogram", "summary", "untyped"].contains(&kind),
                        "unknown type: {line}"
                    );
                    assert!(types.insert(name, kind).is_none(), "second TYPE: {line}");
                    assert!(
                        !samples.keys().any(|s: &String| family_of(s, name, kind)),
                        "TYPE after samples: {line}"
                    );
                }
                _ => panic!("not a HELP or TYPE line: {line}"),
            }
            continue;
        }
        let (series, value) = line
            .rsplit_once(' ')
            .unwrap_or_else(|| panic!("no value: {line}"));
        let value = match value {
            "+Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            v => v.parse().unwrap_or_else(|_| panic!("bad value: {line}")),
        };
        let (name, labels) = match series.split_once('{') {
            Some((name, rest)) => (name, labels(rest, line)),
            None => (series, Vec::new()),
        };
        assert!(valid_name(name), "bad metric name: {line}");
        let typed = types
            .iter()
            .find(|(family, kind)| family_of(name, family, kind));
        let (_, kind) = typed.unwrap_or_else(|| panic!("sample of no declared family: {line}"));
        if *kind == "histogram" && name.ends_with("_bucket") {
            assert!(
                labels.iter().any(|(k, _)| k == "le"),
                "bucket without le: {line}"
            );
        }
        assert!(
            samples.insert(series.to_string(), value).is_none(),
            "series twice: {line}"
        );
    }
    samples
}

/// `name="value",...}` -> the pairs, with escapes checked.
fn labels(mut rest: &str, line: &str) -> Vec<(String, String)> {
    let mut pairs: Vec<(String, String)> = Vec::new();
    while rest != "}" {
        let (name, after) = rest
            .split_once("=\"")
            .unwrap_or_else(|| panic!("bad label: {line}"));
        assert!(
            valid_name(name) && !name.contains(':'),
            "bad label name: {line}"
        );
        let mut value = String::new();
        let mut chars = after.char_indices();
        let end = loop {
            match chars.next() {
                Some((_, '\\')) => match chars.next() {
                    Some((_, c @ ('\\' | '"'))) => value.push(c),
                    Some((_, 'n')) => value.push('\n'),
                    _ => panic!("bad escape: {line}"),
                },
                Some((i, '"')) => break i,
                Some((_, '\n')) | None => panic!("unterminated label value: {line}"),
                Some((_, c)) => value.push(c),
            }
        };
        assert!(!pairs.iter().any(|(k, _)| k == name), "label twice: {line}");
        pairs.push((name.to_string(), value));
        rest = &after[end + 1..];
        rest = rest.strip_prefix(',').unwrap_or(rest);
        assert!(!rest.is_empty(), "unterminated labels: {line}");
    }
    pairs
}

fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

/// Whether a sample named `name` belongs to `family` of type `kind`.
fn family_of(name: &str, family: &str, kind: &str) -> bool {
    let suffixes: &[&str] = match kind {
        "histogram" => &["_bucket", "_sum", "_count"],
        "summary" => &["", "_sum", "_count"],
        _ => &[""],
    };
    suffixes
        .iter()
        .any(|s| name.strip_prefix(family) == Some(s))
}

/// Scrapes `addr` and reads the answer strictly.
fn scrape(addr: &str) -> BTreeMap<String, f64> {
    let r = request(addr, "GET", "/metrics", &[]);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        r.header("content-type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    assert_eq!(r.header("cache-control"), Some("no-store"));
    parse(&r.text())
}

fn value(samples: &BTreeMap<String, f64>, series: &str) -> f64 {
    samples.get(series).copied().unwrap_or(0.0)
}

fn requests(samples: &BTreeMap<String, f64>, route: &str, status: u16) -> f64 {
    value(
        samples,
        &format!("refeed_requests_total{{route=\"{route}\",status=\"{status}\"}}"),
    )
}

fn body_bytes(samples: &BTreeMap<String, f64>, encoding: &str) -> f64 {
    value(
        samples,
        &format!("refeed_response_body_bytes_total{{encoding=\"{encoding}\"}}"),
    )
}

/// The path of the first item link of the site feed: an article page.
fn first_article(server: &Refeed) -> String {
    let rss = server.get("/rss.xml").text();
    let item = &rss[rss.find("<item>").expect("an item")..];
    let link = &item[item.find("<link>").expect("a link") + "<link>".len()..];
    let link = &link[..link.find("</link>").expect("link end")];
    let path = link.splitn(4, '/').nth(3).expect("a path");
    format!("/{path}")
}

#[test]
fn requests_reloads_and_the_snapshot_are_counted() {
    let dir = source_copy();
    let server = Refeed::start(dir.path(), &[ON]);
    let article = first_article(&server);
    let before = scrape(&server.addr);
    assert_eq!(requests(&before, "feed", 200), 1.0, "{before:?}");
    assert!(requests(&before, "healthz", 200) >= 1.0, "{before:?}");
    let identity_before = body_bytes(&before, "identity");

    let etag = server.get("/rss.xml").etag();
    assert_eq!(
        server
            .request("GET", "/rss.xml", &[("If-None-Match", &etag)])
            .status,
        304
    );
    let gzip = server.request("GET", "/atom.xml", &[("Accept-Encoding", "gzip")]);
    assert_eq!(gzip.header("content-encoding"), Some("gzip"));
    assert_eq!(server.request("HEAD", "/rss.xml", &[]).status, 200);
    assert_eq!(server.get("/rss.xml?limit=2").status, 200);
    assert_eq!(server.get("/rss.xml?filter=(").status, 400);
    assert_eq!(server.get(&article).status, 200, "{article}");
    assert_eq!(server.get("/opml.xml").status, 200);
    assert_eq!(server.get("/").status, 200);
    assert_eq!(server.get("/no/such/thing").status, 404);
    assert_eq!(server.request("POST", "/rss.xml", &[]).status, 405);

    let after = scrape(&server.addr);
    assert_eq!(requests(&after, "feed", 200), 4.0, "{after:?}");
    assert_eq!(requests(&after, "feed", 304), 1.0, "{after:?}");
    assert_eq!(requests(&after, "query", 200), 1.0, "{after:?}");
    assert_eq!(requests(&after, "query", 400), 1.0, "{after:?}");
    assert_eq!(requests(&after, "article", 200), 1.0, "{after:?}");
    assert_eq!(requests(&after, "index", 200), 2.0, "{after:?}");
    assert_eq!(requests(&after, "other", 404), 1.0, "{after:?}");
    assert_eq!(requests(&after, "other", 405), 1.0, "{after:?}");
    // The first scrape answered on this listener counts as `other`.
    assert_eq!(requests(&after, "other", 200), 1.0, "{after:?}");
    assert_eq!(body_bytes(&after, "gzip"), gzip.body.len() as f64);
    let site_feed = server.get("/rss.xml").body.len() as f64;
    assert!(
        body_bytes(&after, "identity") >= identity_before + site_feed,
        "{after:?}"
    );
    assert!(value(&after, r#"refeed_cache_bytes{cache="query"}"#) > 0.0);

    let health = server.health();
    assert_eq!(
        value(&after, "refeed_articles"),
        health["articles"].as_f64().unwrap()
    );
    assert_eq!(
        value(&after, "refeed_feeds"),
        health["feeds"].as_f64().unwrap()
    );
    assert_eq!(value(&after, "refeed_rejected_files"), 0.0);
    assert_eq!(value(&after, "refeed_reloads_total"), 1.0);
    assert_eq!(value(&after, "refeed_reload_duration_seconds_count"), 1.0);
    assert_eq!(
        value(
            &after,
            r#"refeed_reload_duration_seconds_bucket{le="+Inf"}"#
        ),
        1.0
    );

    // A new post and a broken one: the snapshot's gauges follow its reload.
    write_atomically(
        &dir.path().join("tech/counted.md"),
        "---\ntitle: Counted\ndate: 2021-07-01 09:00:00\n---\nA new post.\n",
    );
    write_atomically(
        &dir.path().join("tech/broken.md"),
        "---\ntitle: [unclosed\n---\nNo valid front matter.\n",
    );
    let articles = value(&after, "refeed_articles");
    server.wait_for("the reload in /metrics", PATIENCE, |s| {
        let now = scrape(&s.addr);
        value(&now, "refeed_articles") == articles + 1.0
            && value(&now, "refeed_rejected_files") == 1.0
    });
    let reloaded = scrape(&server.addr);
    let reloads = value(&reloaded, "refeed_reloads_total");
    assert!(reloads >= 2.0, "{reloaded:?}");
    assert_eq!(
        value(&reloaded, "refeed_reload_duration_seconds_count"),
        reloads
    );
}

#[test]
fn a_listen_address_of_their_own_moves_them_off_the_main_listener() {
    let server = Launch::new(&common::examples())
        .env(&[ON, ("REFEED_SERVER__METRICS_LISTEN", "127.0.0.1:0")])
        .start();
    let apart = server.metrics_addr();
    assert_ne!(apart, server.addr);
    assert_eq!(server.get("/metrics").status, 404);
    assert_eq!(server.get("/rss.xml").status, 200);

    let samples = scrape(&apart);
    // The main listener's 404 for /metrics is counted; scrapes are not.
    assert_eq!(requests(&samples, "other", 404), 1.0, "{samples:?}");
    assert_eq!(requests(&samples, "other", 200), 0.0, "{samples:?}");
    assert_eq!(requests(&samples, "feed", 200), 1.0, "{samples:?}");
    assert_eq!(request(&apart, "GET", "/rss.xml", &[]).status, 404);
    assert_eq!(request(&apart, "GET", "/healthz", &[]).status, 404);
    assert_eq!(request(&apart, "POST", "/metrics", &[]).status, 405);
    let head = request(&apart, "HEAD", "/metrics", &[]);
    assert_eq!(head.status, 200);
    assert!(head.body.is_empty());
}

#[test]
fn off_by_default_means_not_served_anywhere() {
    let server = Refeed::start(&common::examples(), &[]);
    let r = server.get("/metrics");
    assert_eq!(r.status, 404);
    assert!(!r.text().contains("refeed_"), "{}", r.text());
    assert!(
        !server.log_text().contains("metrics on"),
        "{}",
        server.log_text()
    );
}

/// The reader above refuses what a Prometheus parser refuses, so that its
/// passing means something.
#[test]
fn the_reader_is_strict() {
    let good = "# HELP a_total A.\n# TYPE a_total counter\na_total{x=\"1\\\"\"} 2\n";
    assert_eq!(parse(good)[r#"a_total{x="1\""}"#], 2.0);
    for bad in [
        "a_total 1\n",
        "# TYPE a gauge\na 1",
        "# TYPE a gauge\na{x=\"1\"} one\n",
        "# TYPE a gauge\na{x=\"1} 1\n",
        "# TYPE a gauge\na{x=\"1\",x=\"2\"} 1\n",
        "# TYPE a gauge\na 1\na 2\n",
        "# TYPE a gauge\n# TYPE a gauge\n",
        "# TYPE a histogram\na_bucket 1\n",
        "# TYPE 1a gauge\n",
        "# just a comment\n",
    ] {
        let read = std::panic::catch_unwind(|| parse(bad));
        assert!(read.is_err(), "accepted: {bad:?}");
    }
}
