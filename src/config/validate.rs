//! The YAML shape validated into the final types: zones, URLs, paths,
//! durations and limits checked once, each error naming its key.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use chrono::NaiveDate;

use super::raw::{RawConfig, RawFeed, RawLoad, RawServer, RawStats, RawWatch, RawWebSub};
use super::{Config, Feed, Load, Metrics, Server, Site, Stats, Watch, WebSub};
use crate::date::CstMeaning;

/// Hexo's own default for `default_category`.
const DEFAULT_CATEGORY: &str = "uncategorized";

/// A value of the right type that cannot be used; the layers add where
/// it was set.
#[derive(Debug)]
pub(super) struct Invalid {
    pub(super) key: String,
    pub(super) reason: String,
}

impl Invalid {
    pub(super) fn at(key: String, reason: impl Into<String>) -> Invalid {
        Invalid {
            key,
            reason: reason.into(),
        }
    }
}

fn invalid(key: &'static str, reason: impl Into<String>) -> Invalid {
    Invalid::at(key.to_string(), reason)
}

/// An empty `timezone` is Hexo's "not set" (`hexo init` writes
/// `timezone: ''`): refeed's default, UTC, not the machine's zone, so that
/// the same posts give the same feeds on every host.
fn site_timezone(name: &str) -> Result<chrono_tz::Tz, Invalid> {
    if name.trim().is_empty() {
        return Ok(chrono_tz::UTC);
    }
    name.parse()
        .map_err(|_| invalid("timezone", format!("`{name}` is not an IANA time zone")))
}

/// A BCP 47 language tag in its common shape (`en`, `zh-CN`,
/// `zh-Hant-TW`): what RSS `<language>`, `xml:lang` and HTML `lang` carry,
/// where anything else makes a document invalid or lies to the reader.
fn site_language(tag: String) -> Result<String, Invalid> {
    let mut parts = tag.split('-');
    let primary = parts.next().unwrap_or_default();
    let primary_ok =
        (2..=8).contains(&primary.len()) && primary.bytes().all(|b| b.is_ascii_alphabetic());
    let rest_ok =
        parts.all(|p| (1..=8).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_alphanumeric()));
    if primary_ok && rest_ok {
        Ok(tag)
    } else {
        Err(invalid(
            "language",
            format!("`{tag}` is not a language tag such as `en` or `zh-CN`"),
        ))
    }
}

/// More actix workers than this only cost memory: each is a thread with
/// its own connections, and two cores or two hundred serve from one
/// snapshot.
const MAX_WORKERS: usize = 1024;

impl RawConfig {
    pub(super) fn validate(self) -> Result<Config, Invalid> {
        let site = Site {
            url: site_url(&self.url)?,
            timezone: site_timezone(&self.timezone)?,
            title: self.title,
            subtitle: self.subtitle,
            description: self.description,
            author: self.author,
            language: site_language(self.language)?,
            permalink: self.permalink,
            default_category: self
                .default_category
                .filter(|c| !c.trim().is_empty())
                .unwrap_or_else(|| DEFAULT_CATEGORY.to_string()),
            category_map: self.category_map.unwrap_or_default(),
            tag_map: self.tag_map.unwrap_or_default(),
        };
        let source_dir = source_dir(&self.source_dir)?;
        let load = self.load.validate()?;
        let feed = self.feed.validate()?;
        // Before `feeds`: their URLs must fit the server's limit.
        let server = self.server.validate()?;
        Ok(Config {
            site,
            source_dir,
            // Empty means the default, so that a variable can reset it.
            state_dir: self.state_dir.filter(|p| !p.as_os_str().is_empty()),
            load,
            feed,
            feeds: super::feeds::validate(self.feeds, server.max_url_bytes)?,
            server,
            watch: self.watch.validate(),
            stats: self.stats.validate()?,
            websub: self.websub.validate()?,
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
fn source_dir(raw: &std::path::Path) -> Result<PathBuf, Invalid> {
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

fn site_url(raw: &str) -> Result<url::Url, Invalid> {
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
    fn validate(self) -> Result<Load, Invalid> {
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
    fn validate(self) -> Result<Feed, Invalid> {
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
    fn validate(self) -> Result<Server, Invalid> {
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
        let metrics = metrics(self.metrics, &self.metrics_listen, listen)?;
        let workers = match self.workers {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
            n if n > MAX_WORKERS => {
                return Err(invalid(
                    "server.workers",
                    format!("must be at most {MAX_WORKERS} (0: one per core)"),
                ));
            }
            n => n,
        };
        Ok(Server {
            listen,
            workers,
            max_age: Duration::from_secs(self.max_age.into()),
            stale_while_revalidate: Duration::from_secs(self.stale_while_revalidate.into()),
            max_connections: self.max_connections.max(1),
            client_request_timeout: Duration::from_secs(self.client_request_timeout),
            keep_alive: Duration::from_secs(self.keep_alive),
            max_url_bytes: self.max_url_bytes,
            max_header_bytes: self.max_header_bytes,
            max_filter_bytes: self.max_filter_bytes,
            query_cache_bytes: self.query_cache_bytes,
            render_concurrency: match self.render_concurrency {
                0 => workers,
                n => n,
            },
            max_connections_per_ip: self.max_connections_per_ip.max(1),
            write_timeout: Duration::from_secs(self.write_timeout),
            metrics,
        })
    }
}

/// `server.metrics` and `server.metrics_listen` as one choice. An address
/// with metrics off is refused rather than guessed at: either reading
/// could expose or hide what the operator meant the other way.
fn metrics(on: bool, listen: &str, main: SocketAddr) -> Result<Metrics, Invalid> {
    let key = "server.metrics_listen";
    match (on, listen.trim()) {
        (false, "") => Ok(Metrics::Off),
        (true, "") => Ok(Metrics::Main),
        (false, _) => Err(invalid(
            key,
            "is set but `server.metrics` is false; set `server.metrics: true` to serve \
             /metrics there, or empty `server.metrics_listen`",
        )),
        (true, addr) => {
            let addr: SocketAddr = addr
                .parse()
                .map_err(|e| invalid(key, format!("`{addr}`: {e} (expected IP:PORT)")))?;
            if addr == main && addr.port() != 0 {
                return Err(invalid(key, "must differ from `server.listen`"));
            }
            Ok(Metrics::Apart(addr))
        }
    }
}

impl RawWatch {
    fn validate(self) -> Watch {
        Watch {
            enabled: self.enabled,
            debounce: Duration::from_millis(self.debounce_ms),
            // 0 turns the periodic rescan off.
            rescan_every: (self.rescan_interval > 0)
                .then(|| Duration::from_secs(self.rescan_interval)),
        }
    }
}

impl RawStats {
    fn validate(self) -> Result<Stats, Invalid> {
        if !(1..=MAX_WINDOW_DAYS).contains(&self.window_days) {
            return Err(invalid(
                "stats.window_days",
                format!(
                    "expected a number of days from 1 to {MAX_WINDOW_DAYS}, found {}",
                    self.window_days
                ),
            ));
        }
        Ok(Stats {
            enabled: self.enabled,
            window_days: self.window_days,
            // 0: every poller has a reverse proxy's address.
            per_address: (self.per_address > 0).then_some(u64::from(self.per_address)),
        })
    }
}

/// The hub's own answers keep their paths.
const SERVER_PATHS: [&str; 2] = ["/healthz", "/metrics"];

impl RawWebSub {
    fn validate(self) -> Result<WebSub, Invalid> {
        let path = self.path.trim().to_string();
        if !path.starts_with('/') || path.len() < 2 || path.contains(['?', '#', ' ']) {
            return Err(invalid(
                "websub.path",
                format!("`{path}` must be a path such as /websub"),
            ));
        }
        // Not a path a feed, a feed's page or a document of refeed's own
        // may have (found by the fifth attack: `/rss.xml` took the site
        // feed over).
        let inner = path.trim_start_matches('/');
        let feed_like = ["rss.xml", "atom.xml", "feed.json", "opml.xml", "index.html"]
            .iter()
            .any(|name| inner.rsplit('/').next() == Some(name))
            || ["categories/", "tags/", "feeds/"]
                .iter()
                .any(|dir| inner.starts_with(dir));
        if SERVER_PATHS.contains(&path.as_str()) || feed_like {
            return Err(invalid("websub.path", format!("`{path}` is refeed's own")));
        }
        let hubs = self
            .hubs
            .iter()
            .map(|raw| {
                url::Url::parse(raw)
                    .ok()
                    .filter(|u| matches!(u.scheme(), "http" | "https"))
                    .ok_or_else(|| invalid("websub.hubs", format!("`{raw}` is not an http(s) URL")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        if self.min_lease_seconds == 0
            || self.min_lease_seconds > self.lease_seconds
            || self.lease_seconds > self.max_lease_seconds
        {
            return Err(invalid(
                "websub.lease_seconds",
                "need 1 <= min_lease_seconds <= lease_seconds <= max_lease_seconds",
            ));
        }
        let at_least_one = [
            ("websub.concurrency", self.concurrency as u64),
            ("websub.timeout", self.timeout),
            ("websub.max_attempts", self.max_attempts.into()),
            ("websub.max_callback_bytes", self.max_callback_bytes as u64),
        ];
        if let Some((key, _)) = at_least_one.iter().find(|(_, v)| *v == 0) {
            return Err(invalid(key, "must be at least 1"));
        }
        Ok(WebSub {
            enabled: self.enabled,
            path,
            hubs,
            allow_private_callbacks: self.allow_private_callbacks,
            lease: Duration::from_secs(self.lease_seconds),
            min_lease: Duration::from_secs(self.min_lease_seconds),
            max_lease: Duration::from_secs(self.max_lease_seconds),
            max_callback_bytes: self.max_callback_bytes,
            concurrency: self.concurrency,
            timeout: Duration::from_secs(self.timeout),
            max_attempts: self.max_attempts,
            retry_delay: Duration::from_millis(self.retry_delay_ms),
            max_subscriptions: self.max_subscriptions,
            max_per_topic: self.max_per_topic,
            max_per_callback_host: self.max_per_callback_host,
            requests_per_minute: self.requests_per_minute,
        })
    }
}

/// A year: what is counted is kept for the window, and no more.
const MAX_WINDOW_DAYS: u32 = 366;

#[cfg(test)]
mod tests {
    use super::super::layers::with;
    use super::super::*;
    use std::time::Duration;

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
        let (c, typos) = Sources {
            file: Some(file),
            ..Sources::default()
        }
        .resolve_noting()
        .unwrap();
        assert_eq!(typos, [], "Hexo's own keys are no typos");
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

    /// The YAML keys keep their units (`debounce_ms` milliseconds, the
    /// others seconds) and their zeros (`rescan_interval: 0` is off,
    /// `workers: 0` one per core).
    #[test]
    fn durations_keep_their_units() {
        let c = with(
            &[
                ("REFEED_WATCH__DEBOUNCE_MS", "75"),
                ("REFEED_SERVER__KEEP_ALIVE", "7"),
            ],
            &[],
        )
        .unwrap();
        assert_eq!(c.watch.debounce, Duration::from_millis(75));
        assert_eq!(c.watch.rescan_every, Some(Duration::from_secs(300)));
        assert_eq!(c.server.keep_alive, Duration::from_secs(7));
        assert_eq!(c.server.client_request_timeout, Duration::from_secs(5));
        assert_eq!(c.server.write_timeout, Duration::from_secs(10));
        assert_eq!(c.server.max_age, Duration::from_secs(300));
        assert_eq!(c.server.stale_while_revalidate, Duration::from_secs(600));
        assert!(c.server.workers >= 1);
        assert_eq!(c.server.render_concurrency, c.server.workers);
        let off = with(&[("REFEED_WATCH__RESCAN_INTERVAL", "0")], &[]).unwrap();
        assert_eq!(off.watch.rescan_every, None);
        let err = with(&[("REFEED_SERVER__WRITE_TIMEOUT", "0")], &[]).unwrap_err();
        assert!(err.to_string().contains("server.write_timeout"), "{err}");
        assert!(c.stats.enabled);
        assert_eq!(c.stats.window_days, 7);
        let stats = with(&[("REFEED_STATS__WINDOW_DAYS", "30")], &[]).unwrap();
        assert_eq!(stats.stats.window_days, 30);
        assert_eq!(c.stats.per_address, Some(16));
        let proxied = with(&[("REFEED_STATS__PER_ADDRESS", "0")], &[]).unwrap();
        assert_eq!(proxied.stats.per_address, None);
    }

    #[test]
    fn bad_values_name_their_key() {
        for (var, value, key) in [
            ("REFEED_TIMEZONE", "Asia/Beijing", "timezone"),
            ("REFEED_URL", "/relative", "url"),
            ("REFEED_LOAD__CST", "mars", "load.cst"),
            ("REFEED_FEED__ID_DATE", "2021-02-31", "feed.id_date"),
            ("REFEED_SERVER__LISTEN", "localhost", "server.listen"),
            (
                "REFEED_SERVER__METRICS_LISTEN",
                "x",
                "server.metrics_listen",
            ),
            ("REFEED_STATS__WINDOW_DAYS", "0", "stats.window_days"),
            ("REFEED_STATS__WINDOW_DAYS", "367", "stats.window_days"),
            ("REFEED_SERVER__WORKERS", "100000", "server.workers"),
            ("REFEED_LANGUAGE", "en_US", "language"),
            ("REFEED_LANGUAGE", "\"><script>", "language"),
            ("REFEED_LANGUAGE", "", "language"),
        ] {
            let err = with(&[(var, value)], &[]).unwrap_err().to_string();
            assert!(err.contains(key), "{var}={value}: {err}");
        }
        for tag in ["en", "zh-CN", "zh-Hant-TW", "de-CH-1996"] {
            let c = with(&[("REFEED_LANGUAGE", tag)], &[]).unwrap();
            assert_eq!(c.site.language, tag);
        }
    }

    /// Off by default; `server.metrics` alone serves it on the main
    /// listener; an address with it moves it there, and an address with it
    /// off is an error rather than a guess.
    #[test]
    fn metrics_are_off_unless_asked_for() {
        let metrics = |vars: &[(&str, &str)]| with(vars, &[]).map(|c| c.server.metrics);
        assert_eq!(metrics(&[]).unwrap(), Metrics::Off);
        let on = ("REFEED_SERVER__METRICS", "true");
        assert_eq!(metrics(&[on]).unwrap(), Metrics::Main);
        let apart = ("REFEED_SERVER__METRICS_LISTEN", "127.0.0.1:9090");
        assert_eq!(
            metrics(&[on, apart]).unwrap(),
            Metrics::Apart("127.0.0.1:9090".parse().unwrap())
        );
        let err = metrics(&[apart]).unwrap_err().to_string();
        assert!(
            err.contains("server.metrics_listen") && err.contains("server.metrics: true"),
            "{err}"
        );
        let same = ("REFEED_SERVER__METRICS_LISTEN", "127.0.0.1:8080");
        let err = metrics(&[on, same]).unwrap_err().to_string();
        assert!(err.contains("must differ from `server.listen`"), "{err}");
    }

    #[test]
    fn websub_keys_are_checked_and_typed() {
        let c = with(&[], &[]).unwrap().websub;
        assert!(c.enabled && !c.allow_private_callbacks);
        assert_eq!(c.path, "/websub");
        assert_eq!(c.lease, Duration::from_secs(864_000));
        assert_eq!(c.retry_delay, Duration::from_millis(1000));
        let hubs = ("REFEED_WEBSUB__HUBS", "[\"https://hub.example/\"]");
        let c = with(&[hubs], &[]).unwrap().websub;
        assert_eq!(c.hubs[0].as_str(), "https://hub.example/");
        for (var, value, key) in [
            (
                "REFEED_WEBSUB__HUBS",
                "[\"ftp://hub.example/\"]",
                "websub.hubs",
            ),
            ("REFEED_WEBSUB__PATH", "websub", "websub.path"),
            ("REFEED_WEBSUB__PATH", "/healthz", "websub.path"),
            ("REFEED_WEBSUB__PATH", "/rss.xml", "websub.path"),
            (
                "REFEED_WEBSUB__PATH",
                "/categories/Notes/rss.xml",
                "websub.path",
            ),
            ("REFEED_WEBSUB__PATH", "/feeds/x/", "websub.path"),
            (
                "REFEED_WEBSUB__MIN_LEASE_SECONDS",
                "0",
                "websub.lease_seconds",
            ),
            (
                "REFEED_WEBSUB__MAX_LEASE_SECONDS",
                "60",
                "websub.lease_seconds",
            ),
            ("REFEED_WEBSUB__CONCURRENCY", "0", "websub.concurrency"),
            ("REFEED_WEBSUB__TIMEOUT", "0", "websub.timeout"),
            ("REFEED_WEBSUB__MAX_ATTEMPTS", "0", "websub.max_attempts"),
        ] {
            let err = with(&[(var, value)], &[]).unwrap_err().to_string();
            assert!(err.contains(key), "{var}={value}: {err}");
        }
    }
}
