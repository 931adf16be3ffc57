//! Typed configuration: the embedded default YAML, overlaid by a file,
//! then `REFEED_*` environment variables, then flags (`layers`); read into
//! its YAML shape (`raw`) and validated once into the types below
//! (`validate`), so that nothing downstream re-checks a time zone or a URL
//! or reads a number as seconds.

mod feeds;
mod layers;
mod origin;
mod raw;
mod unknown;
mod validate;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use chrono::NaiveDate;

use crate::date::{CstMeaning, DateContext};

pub use layers::{Flag, Sources};
pub use origin::Origin;

/// The configuration compiled into the binary (`config/refeed.yaml`).
pub const DEFAULT_YAML: &str = include_str!("../../config/refeed.yaml");

/// Each message says once what is wrong and where to change it.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// serde_yaml's message names the line and column.
    #[error("{origin}: not valid YAML: {message}")]
    Syntax { origin: String, message: String },
    #[error("{origin}: the configuration must be a mapping of keys to values")]
    NotAMapping { origin: String },
    #[error("cannot read {}: {error}", path.display())]
    Read {
        path: PathBuf,
        error: std::io::Error,
    },
    /// A key with a value that cannot be used.
    #[error("{origin}: `{key}`: {reason}")]
    At {
        origin: Origin,
        key: String,
        reason: String,
    },
    #[error(
        "source folder {} {problem} (`source_dir` from {origin}); set it with \
         --source DIR, `source_dir: DIR` in the --config file or REFEED_SOURCE_DIR=DIR",
        path.display()
    )]
    SourceDir {
        path: PathBuf,
        origin: Origin,
        problem: String,
    },
}

/// Validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub site: Site,
    pub source_dir: PathBuf,
    /// Where `serve` keeps what must outlive a restart; `None` for the
    /// per-user default (see [`crate::state::default_dir`]).
    pub state_dir: Option<PathBuf>,
    pub load: Load,
    pub feed: Feed,
    pub server: Server,
    pub watch: Watch,
    pub stats: Stats,
    pub websub: WebSub,
    /// Configured feeds (`feeds:`), in the order written.
    pub feeds: Vec<crate::site::ConfiguredFeed>,
}

#[derive(Debug, Clone)]
pub struct Site {
    pub title: String,
    pub subtitle: String,
    pub description: String,
    pub author: String,
    pub language: String,
    /// Absolute, always ending in `/` so that relative joins stay below it.
    pub url: url::Url,
    pub timezone: chrono_tz::Tz,
    pub permalink: String,
    /// Hexo's `default_category`: what `:category` stands for in a post
    /// without categories.
    pub default_category: String,
    pub category_map: BTreeMap<String, String>,
    pub tag_map: BTreeMap<String, String>,
}

#[derive(Debug, Clone)]
pub struct Load {
    pub cst: CstMeaning,
    pub max_file_size: u64,
    pub max_body_bytes: usize,
    pub summary_length: usize,
    pub remove_selectors: Vec<String>,
    pub follow_external_links: bool,
}

impl Load {
    /// Which symbolic links the walk of the source folder follows.
    pub fn links(&self) -> crate::source::Links {
        if self.follow_external_links {
            crate::source::Links::Anywhere
        } else {
            crate::source::Links::InsideRoot
        }
    }
}

#[derive(Debug, Clone)]
pub struct Feed {
    pub limit: usize,
    pub max_limit: usize,
    pub max_bytes: usize,
    pub max_item_bytes: usize,
    pub id_authority: String,
    pub id_date: NaiveDate,
}

#[derive(Debug, Clone)]
pub struct Server {
    pub listen: SocketAddr,
    /// Worker threads, never 0: `workers: 0` is one per CPU core.
    pub workers: usize,
    /// `Cache-Control`'s `max-age` and `stale-while-revalidate`, whole
    /// seconds.
    pub max_age: Duration,
    pub stale_while_revalidate: Duration,
    pub max_connections: usize,
    /// How long a client has to send a request head.
    pub client_request_timeout: Duration,
    pub keep_alive: Duration,
    pub max_url_bytes: usize,
    pub max_header_bytes: usize,
    pub max_filter_bytes: usize,
    /// Bound of the process-wide cache of query representations and
    /// article pages, in bytes.
    pub query_cache_bytes: u64,
    /// Documents rendered for requests at once; beyond, 503.
    pub render_concurrency: usize,
    pub max_connections_per_ip: usize,
    /// How long a response may make no progress before its connection
    /// closes; at least a second.
    pub write_timeout: Duration,
    /// Where `/metrics` is served, if anywhere.
    pub metrics: Metrics,
}

/// Where `/metrics` is served (`server.metrics`, `server.metrics_listen`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metrics {
    /// Not served, and nothing is counted.
    Off,
    /// At `/metrics` on `server.listen`.
    Main,
    /// At `/metrics` on this address alone; `server.listen` answers 404.
    Apart(SocketAddr),
}

#[derive(Debug, Clone)]
pub struct Watch {
    pub enabled: bool,
    /// How long file events are gathered before they are applied
    /// (`watch.debounce_ms`).
    pub debounce: Duration,
    /// How often the whole folder is rescanned (`watch.rescan_interval`);
    /// `None` for never.
    pub rescan_every: Option<Duration>,
}

/// Subscriber counting (`crate::subscribers`).
#[derive(Debug, Clone)]
pub struct Stats {
    pub enabled: bool,
    /// Days over which distinct pollers are counted, at least 1.
    pub window_days: u32,
    /// New pollers and aggregator groups one address may add to one feed
    /// in one day (`stats.per_address`); `None` for no limit.
    pub per_address: Option<u64>,
}

/// The WebSub hub (`websub.*`) and the hubs feeds advertise.
#[derive(Debug, Clone)]
pub struct WebSub {
    /// Whether refeed runs its own hub (and advertises it).
    pub enabled: bool,
    /// The hub's path on `server.listen`, starting with `/`.
    pub path: String,
    /// Hubs run by others, advertised beside refeed's own and told of
    /// every change (`hub.mode=publish`).
    pub hubs: Vec<url::Url>,
    /// Callbacks on loopback, private, link-local and multicast addresses
    /// are refused unless this is set (tests, a private network).
    pub allow_private_callbacks: bool,
    /// Leases: the one given when a subscriber asks for none, and the
    /// bounds any request is clamped to.
    pub lease: Duration,
    pub min_lease: Duration,
    pub max_lease: Duration,
    pub max_callback_bytes: usize,
    /// Outbound requests (verifications, deliveries, pings) at once.
    pub concurrency: usize,
    /// Bound on each outbound request, connection to last byte.
    pub timeout: Duration,
    /// Delivery attempts before one is given up, at least 1.
    pub max_attempts: u32,
    /// Delay before the first retry; each next one waits twice as long.
    pub retry_delay: Duration,
    pub max_subscriptions: usize,
    pub max_per_topic: usize,
    pub max_per_callback_host: usize,
    /// Subscription requests one client address may make per minute.
    pub requests_per_minute: u32,
}

impl Config {
    /// How dates without a zone, and `CST`, are read.
    pub fn date_context(&self) -> DateContext {
        DateContext {
            timezone: self.site.timezone,
            cst: self.load.cst,
        }
    }

    /// The embedded default, as is.
    pub fn default_embedded() -> Result<Self, ConfigError> {
        Sources::default().resolve()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_default_is_valid() {
        let c = Config::default_embedded().unwrap();
        assert_eq!(c.site.url.as_str(), "http://127.0.0.1:8080/");
        assert_eq!(c.feed.limit, 20);
        assert_eq!(c.load.cst, CstMeaning::China);
        assert_eq!(c.site.timezone, chrono_tz::UTC);
    }
}
