//! The one place where the validated configuration becomes what each
//! module needs (ripgrep's low-level arguments turned into high-level
//! ones), so that `site`, `catalog`, `feed` and `article` never read `Config`.

use chrono::NaiveTime;

use crate::article::Loader;
use crate::config::Config;
use crate::site::permalink::Permalinks;
use crate::site::slug::Slugs;
use crate::site::{IdScheme, Masthead, Scheme};

/// How posts are read and parsed.
pub fn loader(config: &Config) -> Loader {
    Loader {
        dates: config.date_context(),
        base: config.site.url.clone(),
        max_file_size: config.load.max_file_size,
        links: config.load.links(),
        max_body_bytes: config.load.max_body_bytes,
    }
}

/// How the site names things.
pub fn scheme(config: &Config) -> Scheme {
    let site = &config.site;
    Scheme {
        url: site.url.clone(),
        permalinks: Permalinks {
            pattern: site.permalink.clone(),
            timezone: site.timezone,
            default_category: site.default_category.clone(),
        },
        slugs: Slugs::new(site.category_map.clone(), site.tag_map.clone()),
        ids: IdScheme::new(&config.feed.id_authority, config.feed.id_date),
        max_url_bytes: config.server.max_url_bytes,
        configured: config.feeds.clone(),
    }
}

/// How documents present the site.
pub fn masthead(config: &Config) -> Masthead {
    let site = &config.site;
    Masthead {
        title: site.title.clone(),
        description: site.description.clone(),
        author: site.author.clone(),
        language: site.language.clone(),
        url: site.url.clone(),
        // A fixed day (`feed.id_date`), never "now".
        epoch: config.feed.id_date.and_time(NaiveTime::MIN).and_utc(),
        max_item_bytes: config.feed.max_item_bytes,
        hubs: hubs(config),
    }
}

/// refeed's own hub when it runs one, then the others
/// (`websub.hubs`).
pub fn hubs(config: &Config) -> Vec<String> {
    let ws = &config.websub;
    let own = ws
        .enabled
        .then(|| crate::site::links::absolute(&config.site.url, ws.path.trim_start_matches('/')));
    own.into_iter()
        .chain(ws.hubs.iter().map(|u| u.to_string()))
        .collect()
}

/// The scheme of the embedded default configuration, for unit tests.
#[cfg(test)]
pub(crate) fn default_scheme() -> std::sync::Arc<Scheme> {
    let config = Config::default_embedded().expect("the embedded configuration is valid");
    std::sync::Arc::new(scheme(&config))
}

/// Where a snapshot keeps the bodies it read at start-up: the state folder,
/// which a deployment puts on a disk that keeps what is written there (a
/// temporary folder may be memory, as tmpfs is), else the system's
/// temporary folder.
pub fn spill_dir(config: &Config) -> std::path::PathBuf {
    config
        .state_dir
        .clone()
        .or_else(crate::state::default_dir)
        .unwrap_or_else(std::env::temp_dir)
}
