//! The URL layout that `serve` and `build` share: `/rss.xml`, `/atom.xml`,
//! `/feed.json` for the site, the same names below
//! `/categories/<slug>/<child slug>/` and `/tags/<slug>/`, and `/opml.xml`.
//! Category and tag folders match Hexo's own category and tag pages.

use crate::catalog::permalink::{absolute, encode_path};
use crate::catalog::{FeedKey, Settings};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Format {
    Rss,
    Atom,
    Json,
}

impl Format {
    pub const ALL: [Format; 3] = [Format::Rss, Format::Atom, Format::Json];

    pub fn file_name(self) -> &'static str {
        match self {
            Format::Rss => "rss.xml",
            Format::Atom => "atom.xml",
            Format::Json => "feed.json",
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Format::Rss => "application/rss+xml; charset=utf-8",
            Format::Atom => "application/atom+xml; charset=utf-8",
            Format::Json => "application/feed+json",
        }
    }

    /// The value of a `?format=` query.
    pub fn from_query(s: &str) -> Option<Format> {
        match s {
            "rss" => Some(Format::Rss),
            "atom" => Some(Format::Atom),
            "json" => Some(Format::Json),
            _ => None,
        }
    }
}

/// The folder of a feed below the site root, not percent-encoded, ending
/// in `/` (empty for the site feed).
pub fn dir(settings: &Settings, key: &FeedKey) -> String {
    match key {
        FeedKey::Site => String::new(),
        FeedKey::Category(names) => {
            format!("categories/{}/", settings.category_slugs(names).join("/"))
        }
        FeedKey::Tag(name) => format!("tags/{}/", settings.tag_slug(name)),
    }
}

/// `categories/金融/rss.xml`: the document's path below the site root.
pub fn feed_path(settings: &Settings, key: &FeedKey, format: Format) -> String {
    format!("{}{}", dir(settings, key), format.file_name())
}

pub fn feed_url(settings: &Settings, key: &FeedKey, format: Format) -> String {
    absolute(&settings.url, &feed_path(settings, key, format))
}

/// The site's HTML page for the feed: the home page, or Hexo's category or
/// tag page.
pub fn page_url(settings: &Settings, key: &FeedKey) -> String {
    format!("{}{}", settings.url, encode_path(&dir(settings, key)))
}

pub const OPML_PATH: &str = "opml.xml";
