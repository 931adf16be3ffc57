//! The site's URLs and identities, in one room: where every feed and
//! article lives and what it is called. Feed keys and which of them a post
//! is filed under (`keys`), category and tag slugs (`slug`), article
//! permalinks (`permalink`), feed folders and document URLs (`layout`),
//! site paths and the one policy that resolves written references
//! (`links`), and the `tag:` ids of items and feeds (`ids`). The
//! configuration becomes a [`Scheme`] and a [`Masthead`] once, in
//! `crate::setup`; nothing here reads it.

pub mod configured;
pub mod ids;
pub mod keys;
pub mod layout;
pub mod links;
pub mod permalink;
pub mod slug;

use chrono::{DateTime, Utc};

pub use configured::ConfiguredFeed;
pub use ids::IdScheme;
pub use keys::FeedKey;
pub use layout::Format;
use permalink::{Permalinks, Post};
use slug::Slugs;

/// How the site names things: URLs, slugs and ids, as configured.
#[derive(Debug)]
pub struct Scheme {
    /// Absolute, always ending in `/` so that relative joins stay below it.
    pub url: url::Url,
    pub permalinks: Permalinks,
    pub slugs: Slugs,
    pub ids: IdScheme,
    /// `server.max_url_bytes`: every feed URL must be requestable.
    pub max_url_bytes: usize,
    /// The configured feeds (`feeds:`): their names and what they select.
    pub configured: Vec<ConfiguredFeed>,
}

impl Scheme {
    /// The configured feed with this slug.
    pub fn configured(&self, slug: &str) -> Option<&ConfiguredFeed> {
        self.configured.iter().find(|f| f.slug == slug)
    }

    /// The conversion every representation of a feed is in unless a query
    /// asks for another: a configured feed's `opencc:`.
    pub fn conversion(&self, key: &FeedKey) -> Option<crate::opencc::Conversion> {
        match key {
            FeedKey::Configured(slug) => self.configured(slug)?.opencc,
            _ => None,
        }
    }

    /// The post's path below the site root, not percent-encoded.
    pub fn permalink(&self, post: &Post) -> String {
        self.permalinks.path(post, &self.slugs)
    }

    /// An item's link: the front matter's `link`, else the absolute,
    /// percent-encoded permalink.
    pub fn item_url(&self, link: Option<&str>, path: &str) -> String {
        match link {
            Some(link) => link.to_string(),
            None => links::absolute(&self.url, path),
        }
    }
}

/// How documents present the site: what every one of them repeats.
#[derive(Debug, Clone)]
pub struct Masthead {
    pub title: String,
    pub description: String,
    pub author: String,
    pub language: String,
    pub url: url::Url,
    /// `updated` of a feed with no items, so that it too is deterministic.
    pub epoch: DateTime<Utc>,
    /// Bytes of HTML one item may carry (`feed.max_item_bytes`): a longer
    /// item shows its summary and a link instead.
    pub max_item_bytes: usize,
    /// WebSub hubs every feed advertises (refeed's own first), absolute.
    pub hubs: Vec<String>,
}
