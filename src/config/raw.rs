//! The configuration's YAML shape, as written, before validation.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Deserialize;

/// The YAML shape, before validation. Unknown keys are allowed so that a
/// Hexo `_config.yml` can be used as is.
#[derive(Debug, Deserialize)]
pub(super) struct RawConfig {
    pub(super) title: String,
    #[serde(default)]
    pub(super) subtitle: String,
    #[serde(default)]
    pub(super) description: String,
    #[serde(default)]
    pub(super) author: String,
    #[serde(default)]
    pub(super) language: String,
    pub(super) url: String,
    pub(super) timezone: String,
    pub(super) permalink: String,
    #[serde(default)]
    pub(super) default_category: Option<String>,
    #[serde(default)]
    pub(super) category_map: Option<BTreeMap<String, String>>,
    #[serde(default)]
    pub(super) tag_map: Option<BTreeMap<String, String>>,
    pub(super) source_dir: PathBuf,
    #[serde(default)]
    pub(super) state_dir: Option<PathBuf>,
    pub(super) load: RawLoad,
    pub(super) feed: RawFeed,
    pub(super) server: RawServer,
    pub(super) watch: RawWatch,
    pub(super) stats: RawStats,
    pub(super) websub: RawWebSub,
    #[serde(default)]
    pub(super) feeds: Vec<super::feeds::RawConfiguredFeed>,
}

#[derive(Debug, Deserialize)]
pub(super) struct RawLoad {
    pub(super) cst: String,
    pub(super) max_file_size: u64,
    pub(super) max_body_bytes: usize,
    pub(super) summary_length: usize,
    pub(super) remove_selectors: Vec<String>,
    pub(super) follow_external_links: bool,
}

#[derive(Debug, Deserialize)]
pub(super) struct RawFeed {
    pub(super) limit: usize,
    pub(super) max_limit: usize,
    pub(super) max_bytes: usize,
    pub(super) max_item_bytes: usize,
    pub(super) id_authority: String,
    pub(super) id_date: String,
}

#[derive(Debug, Deserialize)]
pub(super) struct RawServer {
    pub(super) listen: String,
    pub(super) workers: usize,
    pub(super) max_age: u32,
    pub(super) stale_while_revalidate: u32,
    pub(super) max_connections: usize,
    pub(super) client_request_timeout: u64,
    pub(super) keep_alive: u64,
    pub(super) max_url_bytes: usize,
    pub(super) max_header_bytes: usize,
    pub(super) max_filter_bytes: usize,
    pub(super) query_cache_bytes: u64,
    pub(super) render_concurrency: usize,
    pub(super) max_connections_per_ip: usize,
    pub(super) write_timeout: u64,
    pub(super) metrics: bool,
    pub(super) metrics_listen: String,
}

#[derive(Debug, Deserialize)]
pub(super) struct RawWatch {
    pub(super) enabled: bool,
    pub(super) debounce_ms: u64,
    pub(super) rescan_interval: u64,
}

#[derive(Debug, Deserialize)]
pub(super) struct RawStats {
    pub(super) enabled: bool,
    pub(super) window_days: u32,
    pub(super) per_address: u32,
}

#[derive(Debug, Deserialize)]
pub(super) struct RawWebSub {
    pub(super) enabled: bool,
    pub(super) path: String,
    pub(super) hubs: Vec<String>,
    pub(super) allow_private_callbacks: bool,
    pub(super) lease_seconds: u64,
    pub(super) min_lease_seconds: u64,
    pub(super) max_lease_seconds: u64,
    pub(super) max_callback_bytes: usize,
    pub(super) concurrency: usize,
    pub(super) timeout: u64,
    pub(super) max_attempts: u32,
    pub(super) retry_delay_ms: u64,
    pub(super) max_subscriptions: usize,
    pub(super) max_per_topic: usize,
    pub(super) max_per_callback_host: usize,
    pub(super) requests_per_minute: u32,
}
