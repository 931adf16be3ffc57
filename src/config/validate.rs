//! Typed configuration: the embedded default YAML, overlaid by a file,
//! then `REFEED_*` environment variables, then flags; validated once here
//! so that nothing downstream re-checks a time zone or a URL.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;

use chrono::NaiveDate;
use serde::Deserialize;
use serde_yaml::{Mapping, Value};

use crate::date::{CstMeaning, DateContext};

/// The configuration compiled into the binary (`config/refeed.yaml`).
pub const DEFAULT_YAML: &str = include_str!("../../config/refeed.yaml");

/// Environment variables that name a flag rather than a config key.
const FLAG_VARS: &[&str] = &["REFEED_CONFIG", "REFEED_LOG"];

/// Hexo's own default for `default_category`.
const DEFAULT_CATEGORY: &str = "uncategorized";

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{origin}: {source}")]
    Yaml {
        origin: String,
        source: serde_yaml::Error,
    },
    #[error("{origin}: the configuration must be a mapping of keys to values")]
    NotAMapping { origin: String },
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("environment variable {var}: {reason}")]
    Env { var: String, reason: String },
    #[error("`{key}`: {reason}")]
    Invalid { key: &'static str, reason: String },
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
    pub workers: usize,
    pub max_age: u32,
    pub stale_while_revalidate: u32,
    pub max_connections: usize,
    pub client_request_timeout: u64,
    pub keep_alive: u64,
    pub max_url_bytes: usize,
    pub max_header_bytes: usize,
    pub max_filter_bytes: usize,
    /// Bound of the process-wide cache of query representations and
    /// article pages, in bytes.
    pub query_cache_bytes: u64,
    /// Documents rendered for requests at once; beyond, 503.
    pub render_concurrency: usize,
    pub max_connections_per_ip: usize,
    /// Seconds a response may make no progress before its connection closes.
    pub write_timeout: u64,
}

impl Server {
    /// `workers`, with 0 resolved to one per CPU core.
    pub fn worker_count(&self) -> usize {
        match self.workers {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
            n => n,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Watch {
    pub enabled: bool,
    pub debounce_ms: u64,
    pub rescan_interval: u64,
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

/// Everything that may contribute to a [`Config`], lowest precedence first.
#[derive(Debug, Default)]
pub struct Sources {
    /// A file that replaces keys of the embedded default.
    pub file: Option<PathBuf>,
    /// `(name, value)` pairs, normally `std::env::vars()`.
    pub env: Vec<(String, String)>,
    /// Dotted keys set by flags, e.g. `("source_dir", "posts")`.
    pub flags: Vec<(String, String)>,
}

impl Sources {
    pub fn resolve(&self) -> Result<Config, ConfigError> {
        let mut tree = parse_mapping(DEFAULT_YAML, "embedded default")?;
        if let Some(path) = &self.file {
            let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                path: path.clone(),
                source,
            })?;
            merge(
                &mut tree,
                parse_mapping(&text, &path.display().to_string())?,
            );
        }
        for (var, value) in &self.env {
            if let Some(key) = env_key(var) {
                set_dotted(&mut tree, &key, yaml_scalar(value)).map_err(|reason| {
                    ConfigError::Env {
                        var: var.clone(),
                        reason,
                    }
                })?;
            }
        }
        for (key, value) in &self.flags {
            let value = Value::String(value.clone());
            set_dotted(&mut tree, key, value).map_err(|reason| ConfigError::Env {
                var: format!("flag for {key}"),
                reason,
            })?;
        }
        let raw: RawConfig =
            serde_yaml::from_value(Value::Mapping(tree)).map_err(|source| ConfigError::Yaml {
                origin: "configuration".into(),
                source,
            })?;
        raw.validate()
    }
}

fn parse_mapping(text: &str, origin: &str) -> Result<Mapping, ConfigError> {
    match serde_yaml::from_str::<Value>(text) {
        Ok(Value::Mapping(m)) => Ok(m),
        Ok(Value::Null) => Ok(Mapping::new()),
        Ok(_) => Err(ConfigError::NotAMapping {
            origin: origin.into(),
        }),
        Err(source) => Err(ConfigError::Yaml {
            origin: origin.into(),
            source,
        }),
    }
}

/// Deep merge: mappings merge key by key, anything else replaces.
fn merge(base: &mut Mapping, over: Mapping) {
    for (key, value) in over {
        match (base.get_mut(&key), value) {
            (Some(Value::Mapping(b)), Value::Mapping(o)) => merge(b, o),
            (_, value) => {
                base.insert(key, value);
            }
        }
    }
}

/// `REFEED_FEED__LIMIT` -> `feed.limit`; flag variables are not keys.
fn env_key(var: &str) -> Option<String> {
    let rest = var.strip_prefix("REFEED_")?;
    if FLAG_VARS.contains(&var) || rest.is_empty() {
        return None;
    }
    Some(rest.to_ascii_lowercase().replace("__", "."))
}

/// Environment values are read as YAML scalars or flow collections so that
/// `50`, `true` and `[a, b]` get their natural types; flags stay text.
fn yaml_scalar(value: &str) -> Value {
    serde_yaml::from_str(value).unwrap_or_else(|_| Value::String(value.into()))
}

fn set_dotted(tree: &mut Mapping, key: &str, parsed: Value) -> Result<(), String> {
    let mut parts = key.split('.').peekable();
    let mut node = tree;
    while let Some(part) = parts.next() {
        let k = Value::String(part.to_string());
        if parts.peek().is_none() {
            node.insert(k, parsed);
            return Ok(());
        }
        let child = node
            .entry(k)
            .or_insert_with(|| Value::Mapping(Mapping::new()));
        node = match child {
            Value::Mapping(m) => m,
            _ => return Err(format!("`{part}` is not a section, cannot set `{key}`")),
        };
    }
    Err("empty key".into())
}

/// The YAML shape, before validation. Unknown keys are allowed so that a
/// Hexo `_config.yml` can be used as is.
#[derive(Debug, Deserialize)]
struct RawConfig {
    title: String,
    #[serde(default)]
    subtitle: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    author: String,
    #[serde(default)]
    language: String,
    url: String,
    timezone: String,
    permalink: String,
    #[serde(default)]
    default_category: Option<String>,
    #[serde(default)]
    category_map: Option<BTreeMap<String, String>>,
    #[serde(default)]
    tag_map: Option<BTreeMap<String, String>>,
    source_dir: PathBuf,
    #[serde(default)]
    state_dir: Option<PathBuf>,
    load: RawLoad,
    feed: RawFeed,
    server: RawServer,
    watch: RawWatch,
}

#[derive(Debug, Deserialize)]
struct RawLoad {
    cst: String,
    max_file_size: u64,
    max_body_bytes: usize,
    summary_length: usize,
    remove_selectors: Vec<String>,
    follow_external_links: bool,
}

#[derive(Debug, Deserialize)]
struct RawFeed {
    limit: usize,
    max_limit: usize,
    max_bytes: usize,
    max_item_bytes: usize,
    id_authority: String,
    id_date: String,
}

#[derive(Debug, Deserialize)]
struct RawServer {
    listen: String,
    workers: usize,
    max_age: u32,
    stale_while_revalidate: u32,
    max_connections: usize,
    client_request_timeout: u64,
    keep_alive: u64,
    max_url_bytes: usize,
    max_header_bytes: usize,
    max_filter_bytes: usize,
    query_cache_bytes: u64,
    render_concurrency: usize,
    max_connections_per_ip: usize,
    write_timeout: u64,
}

#[derive(Debug, Deserialize)]
struct RawWatch {
    enabled: bool,
    debounce_ms: u64,
    rescan_interval: u64,
}

fn invalid(key: &'static str, reason: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        key,
        reason: reason.into(),
    }
}

/// An empty `timezone` is Hexo's "not set" (`hexo init` writes
/// `timezone: ''`): refeed's default, UTC, not the machine's zone, so that
/// the same posts give the same feeds on every host.
fn site_timezone(name: &str) -> Result<chrono_tz::Tz, ConfigError> {
    if name.trim().is_empty() {
        return Ok(chrono_tz::UTC);
    }
    name.parse()
        .map_err(|_| invalid("timezone", format!("`{name}` is not an IANA time zone")))
}

impl RawConfig {
    fn validate(self) -> Result<Config, ConfigError> {
        let site = Site {
            url: site_url(&self.url)?,
            timezone: site_timezone(&self.timezone)?,
            title: self.title,
            subtitle: self.subtitle,
            description: self.description,
            author: self.author,
            language: self.language,
            permalink: self.permalink,
            default_category: self
                .default_category
                .filter(|c| !c.trim().is_empty())
                .unwrap_or_else(|| DEFAULT_CATEGORY.to_string()),
            category_map: self.category_map.unwrap_or_default(),
            tag_map: self.tag_map.unwrap_or_default(),
        };
        Ok(Config {
            site,
            source_dir: source_dir(&self.source_dir)?,
            // Empty means the default, so that a variable can reset it.
            state_dir: self.state_dir.filter(|p| !p.as_os_str().is_empty()),
            load: self.load.validate()?,
            feed: self.feed.validate()?,
            server: self.server.validate()?,
            watch: Watch {
                enabled: self.watch.enabled,
                debounce_ms: self.watch.debounce_ms,
                rescan_interval: self.watch.rescan_interval,
            },
        })
    }
}

/// The source folder as an absolute path, fixed at start: file events
/// name absolute paths, which a relative root never matches. Links are not
/// resolved here, so that a source folder that is a link can be pointed
/// elsewhere by a deploy and followed by the next rescan. That holds for
/// links in the working directory too: a relative path is taken against
/// the logical working directory (`$PWD`, as the shell names it, when it
/// names the same folder as `.`), not the physical one `getcwd` returns,
/// so `cd current && refeed --source posts` follows `ln -sfn` swaps of
/// `current`.
fn source_dir(raw: &std::path::Path) -> Result<PathBuf, ConfigError> {
    let cannot = |e: std::io::Error| {
        invalid(
            "source_dir",
            format!("`{}`: cannot make it absolute: {e}", raw.display()),
        )
    };
    if raw.is_absolute() {
        return std::path::absolute(raw).map_err(cannot);
    }
    let cwd = logical_cwd()
        .map_or_else(std::env::current_dir, Ok)
        .map_err(cannot)?;
    std::path::absolute(cwd.join(raw)).map_err(cannot)
}

/// `$PWD` when it is absolute and still names the working directory (same
/// device and inode as `.`); a stale or forged one is ignored.
fn logical_cwd() -> Option<PathBuf> {
    use std::os::unix::fs::MetadataExt;
    let pwd = PathBuf::from(std::env::var_os("PWD")?);
    if !pwd.is_absolute() {
        return None;
    }
    let (named, here) = (std::fs::metadata(&pwd).ok()?, std::fs::metadata(".").ok()?);
    ((named.dev(), named.ino()) == (here.dev(), here.ino())).then_some(pwd)
}

fn site_url(raw: &str) -> Result<url::Url, ConfigError> {
    let mut url = url::Url::parse(raw)
        .map_err(|e| invalid("url", format!("`{raw}` is not an absolute URL: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(invalid("url", format!("`{raw}` must be http or https")));
    }
    if !url.path().ends_with('/') {
        let path = format!("{}/", url.path());
        url.set_path(&path);
    }
    Ok(url)
}

impl RawLoad {
    fn validate(self) -> Result<Load, ConfigError> {
        let cst = match self.cst.to_ascii_lowercase().as_str() {
            "china" => CstMeaning::China,
            "us-central" => CstMeaning::UsCentral,
            other => {
                return Err(invalid(
                    "load.cst",
                    format!("`{other}`: expected `china` or `us-central`"),
                ));
            }
        };
        if self.summary_length == 0 {
            return Err(invalid("load.summary_length", "must be at least 1"));
        }
        if self.max_body_bytes == 0 {
            return Err(invalid("load.max_body_bytes", "must be at least 1"));
        }
        // Parsed here as the cleaner parses them, so that every command,
        // `check` included, refuses a selector `serve` could not use.
        for selector in &self.remove_selectors {
            crate::html::parse_selector(selector)
                .map_err(|e| invalid("load.remove_selectors", e.to_string()))?;
        }
        Ok(Load {
            cst,
            max_file_size: self.max_file_size,
            max_body_bytes: self.max_body_bytes,
            summary_length: self.summary_length,
            remove_selectors: self.remove_selectors,
            follow_external_links: self.follow_external_links,
        })
    }
}

impl RawFeed {
    fn validate(self) -> Result<Feed, ConfigError> {
        if self.limit == 0 || self.max_limit < self.limit {
            return Err(invalid(
                "feed.limit",
                "limit must be at least 1 and at most feed.max_limit",
            ));
        }
        let id_date = NaiveDate::parse_from_str(&self.id_date, "%Y-%m-%d")
            .map_err(|e| invalid("feed.id_date", format!("`{}`: {e}", self.id_date)))?;
        let authority_ok = !self.id_authority.is_empty()
            && self
                .id_authority
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '@'));
        if !authority_ok {
            return Err(invalid(
                "feed.id_authority",
                format!("`{}` is not a domain name or email", self.id_authority),
            ));
        }
        Ok(Feed {
            limit: self.limit,
            max_limit: self.max_limit,
            max_bytes: self.max_bytes,
            max_item_bytes: self.max_item_bytes,
            id_authority: self.id_authority.to_ascii_lowercase(),
            id_date,
        })
    }
}

/// Room for the longest feed URL refeed makes: `/categories/` + one
/// hashed folder + the longest document name + a disambiguating suffix
/// (`feed::layout`), with a margin.
const MIN_URL_BYTES: usize = 128;

impl RawServer {
    fn validate(self) -> Result<Server, ConfigError> {
        let listen = self.listen.parse().map_err(|e| {
            invalid(
                "server.listen",
                format!("`{}`: {e} (expected IP:PORT)", self.listen),
            )
        })?;
        if self.max_url_bytes < MIN_URL_BYTES {
            return Err(invalid(
                "server.max_url_bytes",
                format!("must be at least {MIN_URL_BYTES}, so that every feed URL fits"),
            ));
        }
        if self.write_timeout == 0 {
            return Err(invalid("server.write_timeout", "must be at least 1 second"));
        }
        let mut server = Server {
            listen,
            workers: self.workers,
            max_age: self.max_age,
            stale_while_revalidate: self.stale_while_revalidate,
            max_connections: self.max_connections.max(1),
            client_request_timeout: self.client_request_timeout,
            keep_alive: self.keep_alive,
            max_url_bytes: self.max_url_bytes,
            max_header_bytes: self.max_header_bytes,
            max_filter_bytes: self.max_filter_bytes,
            query_cache_bytes: self.query_cache_bytes,
            render_concurrency: self.render_concurrency,
            max_connections_per_ip: self.max_connections_per_ip.max(1),
            write_timeout: self.write_timeout,
        };
        if server.render_concurrency == 0 {
            server.render_concurrency = server.worker_count();
        }
        Ok(server)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(env: &[(&str, &str)], flags: &[(&str, &str)]) -> Result<Config, ConfigError> {
        Sources {
            file: None,
            env: env
                .iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect(),
            flags: flags
                .iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect(),
        }
        .resolve()
    }

    /// `hexo init`'s `_config.yml`, keys and values as it writes them.
    const HEXO_INIT: &str = "title: Hexo
subtitle: ''
description: ''
keywords:
author: John Doe
language: en
timezone: ''
url: http://example.com
permalink: :year/:month/:day/:title/
permalink_defaults:
pretty_urls:
  trailing_index: true
  trailing_html: true
source_dir: source
public_dir: public
tag_dir: tags
archive_dir: archives
category_dir: categories
code_dir: downloads/code
i18n_dir: :lang
skip_render:
new_post_name: :title.md
default_layout: post
titlecase: false
external_link:
  enable: true
  field: site
  exclude: ''
filename_case: 0
render_drafts: false
post_asset_folder: false
relative_link: false
future: true
syntax_highlighter: highlight.js
highlight:
  line_number: true
  auto_detect: false
  tab_replace: ''
  wrap: true
  hljs: false
prismjs:
  preprocess: true
  line_number: true
  tab_replace: ''
index_generator:
  path: ''
  per_page: 10
  order_by: -date
default_category: uncategorized
category_map:
tag_map:
meta_generator: true
date_format: YYYY-MM-DD
time_format: HH:mm:ss
updated_option: 'mtime'
per_page: 10
pagination_dir: page
include:
exclude:
ignore:
theme: landscape
deploy:
  type: ''
";

    #[test]
    fn hexo_default_config_is_accepted() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("_config.yml");
        std::fs::write(&file, HEXO_INIT).unwrap();
        let c = Sources {
            file: Some(file),
            ..Sources::default()
        }
        .resolve()
        .unwrap();
        assert_eq!(c.site.timezone, chrono_tz::UTC);
        assert_eq!(c.site.url.as_str(), "http://example.com/");
        assert_eq!(c.site.title, "Hexo");
    }

    #[test]
    fn check_rejects_invalid_selectors() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("refeed.yaml");
        std::fs::write(&file, "load:\n  remove_selectors: [\".ad\", \"div[\"]\n").unwrap();
        let err = Sources {
            file: Some(file),
            ..Sources::default()
        }
        .resolve()
        .unwrap_err();
        let text = err.to_string();
        assert!(text.contains("load.remove_selectors"), "{text}");
        assert!(text.contains("invalid CSS selector `div[`"), "{text}");
    }

    #[test]
    fn embedded_default_is_valid() {
        let c = Config::default_embedded().unwrap();
        assert_eq!(c.site.url.as_str(), "http://127.0.0.1:8080/");
        assert_eq!(c.feed.limit, 20);
        assert_eq!(c.load.cst, CstMeaning::China);
        assert_eq!(c.site.timezone, chrono_tz::UTC);
    }

    #[test]
    fn env_overrides_file_and_flags_override_env() {
        let c = with(
            &[
                ("REFEED_FEED__LIMIT", "7"),
                ("REFEED_TIMEZONE", "Asia/Shanghai"),
                ("REFEED_CONFIG", "ignored"),
                ("REFEED_TITLE", "from env"),
            ],
            &[("title", "from flag")],
        )
        .unwrap();
        assert_eq!(c.feed.limit, 7);
        assert_eq!(c.site.title, "from flag");
        assert_eq!(c.site.timezone, chrono_tz::Asia::Shanghai);
    }

    #[test]
    fn a_relative_source_dir_becomes_absolute() {
        let c = with(&[], &[("source_dir", "posts")]).unwrap();
        assert!(c.source_dir.is_absolute());
        assert_eq!(c.source_dir, std::env::current_dir().unwrap().join("posts"));
    }

    #[test]
    fn url_gets_a_trailing_slash() {
        let c = with(&[("REFEED_URL", "https://example.com/blog")], &[]).unwrap();
        assert_eq!(c.site.url.as_str(), "https://example.com/blog/");
    }

    #[test]
    fn bad_values_name_their_key() {
        for (var, value, key) in [
            ("REFEED_TIMEZONE", "Asia/Beijing", "timezone"),
            ("REFEED_URL", "/relative", "url"),
            ("REFEED_LOAD__CST", "mars", "load.cst"),
            ("REFEED_FEED__ID_DATE", "2021-02-31", "feed.id_date"),
            ("REFEED_SERVER__LISTEN", "localhost", "server.listen"),
        ] {
            let err = with(&[(var, value)], &[]).unwrap_err().to_string();
            assert!(err.contains(key), "{var}={value}: {err}");
        }
    }

    #[test]
    fn a_scalar_cannot_become_a_section() {
        let err = with(&[("REFEED_TITLE__X", "1")], &[]).unwrap_err();
        assert!(err.to_string().contains("not a section"), "{err}");
    }
}
