//! What `serve` counts, for `/metrics` in the Prometheus text format
//! (version 0.0.4), through `prometheus-client`, the Prometheus project's
//! own Rust client. Requests are counted on the request path with atomic
//! increments only: every label set comes from a fixed enum, and each
//! counter is looked up in its family once, the first time it is used, and
//! kept in an array. What describes a snapshot is set once as it is
//! published, not per scrape; only the cache's weight, which requests move,
//! is read when scraped.
//!
//! Created only when `server.metrics` is on: with it off, nothing is
//! counted and [`Metrics`] does not exist.

use std::sync::OnceLock;

use prometheus_client::encoding::prometheus_text;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::snapshot::Snapshot;
use crate::subscribers::Counts;

/// The `Content-Type` of what [`Metrics::render`] writes.
pub const CONTENT_TYPE: &str = prometheus_text::CONTENT_TYPE;

/// What a request asked for, as the `route` label of
/// `refeed_requests_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RouteKind {
    /// A feed document as rendered with its snapshot.
    Feed,
    /// A feed under query parameters, rendered on demand.
    Query,
    /// An article's page.
    Article,
    /// The HTML index, the OPML list and the feeds' HTML pages.
    Index,
    Healthz,
    /// Anything else: unknown paths, refused methods, over-long URLs.
    Other,
}

impl RouteKind {
    const ALL: [RouteKind; 6] = [
        RouteKind::Feed,
        RouteKind::Query,
        RouteKind::Article,
        RouteKind::Index,
        RouteKind::Healthz,
        RouteKind::Other,
    ];

    fn label(self) -> &'static str {
        match self {
            RouteKind::Feed => "feed",
            RouteKind::Query => "query",
            RouteKind::Article => "article",
            RouteKind::Index => "index",
            RouteKind::Healthz => "healthz",
            RouteKind::Other => "other",
        }
    }
}

/// The statuses refeed answers with, as `status` labels; any other is
/// counted as `other`, so the set of series stays fixed.
const STATUSES: [(u16, &str); 10] = [
    (200, "200"),
    (304, "304"),
    (400, "400"),
    (404, "404"),
    (405, "405"),
    (412, "412"),
    (414, "414"),
    (431, "431"),
    (503, "503"),
    (0, "other"),
];

fn status_slot(status: u16) -> usize {
    let other = STATUSES.len() - 1;
    STATUSES[..other]
        .iter()
        .position(|&(code, _)| code == status)
        .unwrap_or(other)
}

/// The content codings refeed sends, as `encoding` labels; the index is
/// what [`Metrics::request`] is given.
const ENCODINGS: [&str; 4] = ["identity", "gzip", "br", "zstd"];

/// The coding a `Content-Encoding` value names; identity when absent.
fn encoding_slot(content_encoding: Option<&[u8]>) -> usize {
    content_encoding
        .and_then(|name| ENCODINGS.iter().position(|e| e.as_bytes() == name))
        .unwrap_or(0)
}

type Labels2 = [(&'static str, &'static str); 2];
type Labels1 = [(&'static str, &'static str); 1];

/// Every metric of a running `serve`, shared by the request handlers, the
/// publishing thread and whatever else reports into it.
pub struct Metrics {
    registry: Registry,
    requests: Family<Labels2, Counter>,
    /// `requests` by route kind and status slot, filled on first use so
    /// that only the pairs that happened are exported.
    request_counters: [[OnceLock<Counter>; STATUSES.len()]; RouteKind::ALL.len()],
    /// Body bytes by coding, in the order of [`ENCODINGS`].
    bytes: [Counter; ENCODINGS.len()],
    reloads: Counter,
    reload_seconds: Histogram,
    articles: Gauge,
    feeds: Gauge,
    rejected: Gauge,
    query_cache_bytes: Gauge,
    subscribers: Family<[(&'static str, String); 1], Gauge>,
    websub_subscriptions: Gauge,
    websub_pending: Gauge,
    websub_failed: Counter,
    websub_unsaved: Gauge,
    websub_dropped: Counter,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("refeed");
        let requests = Family::<Labels2, Counter>::default();
        registry.register(
            "requests",
            "HTTP requests answered, by what they asked for (route: feed, query, \
             article, index, healthz, other) and status",
            requests.clone(),
        );
        let bytes_family = Family::<Labels1, Counter>::default();
        registry.register(
            "response_body_bytes",
            "Bytes of response bodies to GET requests, by content coding",
            bytes_family.clone(),
        );
        let bytes = ENCODINGS.map(|e| bytes_family.get_or_create_owned(&[("encoding", e)]));
        let reloads = Counter::default();
        registry.register(
            "reloads",
            "Snapshots published, the initial load included",
            reloads.clone(),
        );
        // From a one-file change (milliseconds) to a first load of 100k
        // posts (tens of seconds).
        let reload_seconds = Histogram::new(exponential_buckets(0.001, 4.0, 9));
        registry.register(
            "reload_duration_seconds",
            "Time taken to make each published snapshot",
            reload_seconds.clone(),
        );
        let gauge = |registry: &mut Registry, name: &str, help: &str| {
            let gauge = Gauge::default();
            registry.register(name, help, gauge.clone());
            gauge
        };
        let articles = gauge(&mut registry, "articles", "Articles in the served snapshot");
        let feeds = gauge(&mut registry, "feeds", "Feeds in the served snapshot");
        let rejected = gauge(
            &mut registry,
            "rejected_files",
            "Files of the source folder the served snapshot rejected",
        );
        let cache = Family::<Labels1, Gauge>::default();
        registry.register(
            "cache_bytes",
            "Bytes held by each bounded cache (query: query representations and article pages)",
            cache.clone(),
        );
        let query_cache_bytes = cache.get_or_create_owned(&[("cache", "query")]);
        let subscribers = Family::default();
        registry.register(
            "subscribers",
            "Subscribers of each feed, by its path",
            subscribers.clone(),
        );
        let websub_subscriptions = gauge(
            &mut registry,
            "websub_subscriptions",
            "Verified subscriptions of the WebSub hub",
        );
        let websub_pending = gauge(
            &mut registry,
            "websub_pending_deliveries",
            "Deliveries the WebSub hub owes, waiting or being retried",
        );
        let websub_unsaved = gauge(
            &mut registry,
            "websub_unsaved_subscriptions",
            "Subscriptions of the WebSub hub whose last change the state file does not have",
        );
        let websub_failed = Counter::default();
        registry.register(
            "websub_failed_deliveries",
            "Deliveries the WebSub hub gave up after websub.max_attempts, since start",
            websub_failed.clone(),
        );
        let websub_dropped = Counter::default();
        registry.register(
            "websub_dropped_verifications",
            "Verifications and denials the WebSub hub dropped with too many waiting, since start",
            websub_dropped.clone(),
        );
        Metrics {
            registry,
            websub_dropped,
            websub_subscriptions,
            websub_pending,
            websub_failed,
            websub_unsaved,
            requests,
            request_counters: Default::default(),
            bytes,
            reloads,
            reload_seconds,
            articles,
            feeds,
            rejected,
            query_cache_bytes,
            subscribers,
        }
    }

    /// Counts one answered request: its route kind and status, and for a
    /// GET the bytes of its body in the coding its `Content-Encoding` names.
    pub fn request(&self, kind: RouteKind, status: u16, body: Option<(u64, Option<&[u8]>)>) {
        let slot = status_slot(status);
        self.request_counters[kind as usize][slot]
            .get_or_init(|| {
                self.requests
                    .get_or_create_owned(&[("route", kind.label()), ("status", STATUSES[slot].1)])
            })
            .inc();
        if let Some((bytes, encoding)) = body {
            self.bytes[encoding_slot(encoding)].inc_by(bytes);
        }
    }

    /// Records a snapshot as it is published: one reload, its duration, and
    /// what it holds.
    pub fn published(&self, snap: &Snapshot) {
        self.reloads.inc();
        self.reload_seconds
            .observe(snap.stats.duration.as_secs_f64());
        self.articles.set(gauge_value(snap.catalog.len()));
        self.feeds.set(gauge_value(snap.feeds.len()));
        self.rejected.set(gauge_value(snap.rejected_count()));
    }

    /// Sets `refeed_subscribers{feed="<folder>"}` to each feed's count,
    /// by the URL folder the feed is served from (`/`, `/categories/Tech/`),
    /// dropping the feeds `counts` no longer has. Called per scrape: the
    /// family takes a lock, which the request path never does.
    pub fn subscribers(&self, counts: &Counts) {
        self.subscribers.clear();
        for (folder, count) in &counts.feeds {
            self.subscribers
                .get_or_create(&[("feed", format!("/{folder}"))])
                .set(gauge_value(count.total()));
        }
    }

    /// Sets the WebSub hub's figures, as `/healthz` shows them. Called per
    /// scrape; the hub keeps them in atomics.
    pub fn websub(&self, hub: &crate::websub::Figures) {
        self.websub_subscriptions
            .set(gauge_value(hub.subscriptions));
        self.websub_pending.set(gauge_value(hub.pending));
        self.websub_unsaved.set(gauge_value(hub.unsaved));
        self.websub_failed
            .inc_by(hub.failed.saturating_sub(self.websub_failed.get()));
        self.websub_dropped
            .inc_by(hub.dropped.saturating_sub(self.websub_dropped.get()));
    }

    /// The whole registry in the Prometheus text format, with the query
    /// cache's weight (`query_cache_bytes`) read now.
    pub fn render(&self, query_cache_bytes: u64) -> String {
        self.query_cache_bytes.set(gauge_value(query_cache_bytes));
        let mut out = String::with_capacity(4096);
        // Writing into a String cannot fail.
        let _ = prometheus_text::encode(&mut out, &self.registry);
        out
    }
}

fn gauge_value(n: impl TryInto<i64>) -> i64 {
    n.try_into().unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(text: &str, series: &str) -> Option<f64> {
        text.lines()
            .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
    }

    #[test]
    fn requests_count_by_route_status_and_coding() {
        let m = Metrics::new();
        m.request(RouteKind::Feed, 200, Some((100, Some(b"br"))));
        m.request(RouteKind::Feed, 304, Some((0, None)));
        m.request(RouteKind::Feed, 304, None);
        m.request(RouteKind::Other, 418, Some((5, None)));
        let text = m.render(7);
        let at = |s: &str| sample(&text, s);
        assert_eq!(
            at(r#"refeed_requests_total{route="feed",status="200"}"#),
            Some(1.0)
        );
        assert_eq!(
            at(r#"refeed_requests_total{route="feed",status="304"}"#),
            Some(2.0)
        );
        assert_eq!(
            at(r#"refeed_requests_total{route="other",status="other"}"#),
            Some(1.0)
        );
        assert_eq!(
            at(r#"refeed_requests_total{route="query",status="200"}"#),
            None,
            "pairs that did not happen are not exported"
        );
        assert_eq!(
            at(r#"refeed_response_body_bytes_total{encoding="br"}"#),
            Some(100.0)
        );
        assert_eq!(
            at(r#"refeed_response_body_bytes_total{encoding="identity"}"#),
            Some(5.0)
        );
        assert_eq!(at(r#"refeed_cache_bytes{cache="query"}"#), Some(7.0));
    }

    #[test]
    fn subscribers_are_set_and_removed_per_feed() {
        let m = Metrics::new();
        assert!(!m.render(0).contains("refeed_subscribers{"));
        let count = |pollers, feedly| crate::subscribers::FeedCount {
            aggregators: [("Feedly".to_string(), feedly)].into(),
            pollers,
        };
        let mut counts = crate::subscribers::Counts::default();
        counts.feeds.insert(String::new(), count(2, 42));
        counts.feeds.insert("tags/x/".into(), count(1, 0));
        m.subscribers(&counts);
        let text = m.render(0);
        assert_eq!(sample(&text, r#"refeed_subscribers{feed="/"}"#), Some(44.0));
        let tag = r#"refeed_subscribers{feed="/tags/x/"}"#;
        assert_eq!(sample(&text, tag), Some(1.0));
        counts.feeds.remove("tags/x/");
        m.subscribers(&counts);
        assert_eq!(sample(&m.render(0), tag), None);
    }

    #[test]
    fn every_status_and_coding_has_its_slot() {
        for (i, &(code, label)) in STATUSES[..STATUSES.len() - 1].iter().enumerate() {
            assert_eq!(status_slot(code), i);
            assert_eq!(label, code.to_string());
        }
        assert_eq!(status_slot(500), STATUSES.len() - 1);
        for (i, e) in ENCODINGS.iter().enumerate() {
            assert_eq!(encoding_slot(Some(e.as_bytes())), i);
        }
        assert_eq!(encoding_slot(None), 0);
    }
}
