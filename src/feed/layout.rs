//! The URL layout that `serve` and `build` share: `/rss.xml`, `/atom.xml`,
//! `/feed.json` for the site, the same names below
//! `/categories/<slug>/<child slug>/` and `/tags/<slug>/`, and `/opml.xml`.
//! Category and tag folders match Hexo's own category and tag pages.

use crate::catalog::permalink::{absolute, encode_path, encoded_len};
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

/// The longest document name in a feed folder.
const LONGEST_FILE: usize = "feed.json".len();

/// Room kept below `server.max_url_bytes` for the `-<hash>` that the route
/// table adds to folders it has to tell apart (see `crate::routes`).
const DISAMBIGUATION_ROOM: usize = 24;

/// The folder a feed's names give it below the site root, not
/// percent-encoded, ending in `/` (empty for the site feed): Hexo's
/// category or tag page folder, each segment capped by
/// [`crate::catalog::slug::capped`]. It depends on the key alone, so two
/// feeds can share it (`C#`, `C++`); the route table gives each feed its
/// own folder to serve from.
pub fn dir(settings: &Settings, key: &FeedKey) -> String {
    match key {
        FeedKey::Site => String::new(),
        FeedKey::Category(names) => (1..=names.len()).fold(CATEGORIES.to_string(), |parent, d| {
            category_child(settings, &parent, &names[..d])
        }),
        FeedKey::Tag(name) => tag_child(settings, TAGS, name),
    }
}

pub const CATEGORIES: &str = "categories/";
pub const TAGS: &str = "tags/";

/// The folder of `key` inside `parent`, the folder its parent node was
/// given (`categories/` or `tags/` at the top).
pub fn child_dir(settings: &Settings, parent: &str, key: &FeedKey) -> String {
    match key {
        FeedKey::Site => String::new(),
        FeedKey::Category(names) => category_child(settings, parent, names),
        FeedKey::Tag(name) => tag_child(settings, parent, name),
    }
}

fn category_child(settings: &Settings, parent: &str, names: &[String]) -> String {
    let segment = names.last().map(|n| settings.category_slug(n));
    fitted(
        settings,
        CATEGORIES,
        parent,
        &segment.unwrap_or_default(),
        || names.join("\n"),
    )
}

fn tag_child(settings: &Settings, parent: &str, name: &str) -> String {
    fitted(settings, TAGS, parent, &settings.tag_slug(name), || {
        name.to_string()
    })
}

/// `parent` + `segment` + `/`, unless a feed URL in that folder would be
/// longer than the server accepts: then `root` + a hash of the whole name
/// path, which always fits (`server.max_url_bytes` has a floor).
fn fitted(
    settings: &Settings,
    root: &str,
    parent: &str,
    segment: &str,
    names: impl FnOnce() -> String,
) -> String {
    let dir = format!("{parent}{segment}/");
    if fits(settings, &dir) {
        return dir;
    }
    let hash = xxhash_rust::xxh3::xxh3_64(names().as_bytes());
    format!("{root}{hash:016x}/")
}

/// Whether every document of a feed in `dir` has a request line the
/// server accepts, with room to spare for a disambiguating suffix.
pub fn fits(settings: &Settings, dir: &str) -> bool {
    1 + encoded_len(dir) + LONGEST_FILE + DISAMBIGUATION_ROOM <= settings.max_url_bytes
}

/// Whether the folder of `key` is a hash of its names because the names
/// would have made a URL longer than `server.max_url_bytes`.
pub fn hashed(settings: &Settings, key: &FeedKey) -> bool {
    let whole = match key {
        FeedKey::Site => return false,
        FeedKey::Category(names) => {
            format!("{CATEGORIES}{}/", settings.category_slugs(names).join("/"))
        }
        FeedKey::Tag(name) => format!("{TAGS}{}/", settings.tag_slug(name)),
    };
    dir(settings, key) != whole
}

/// `categories/金融/rss.xml`: a document's path below the site root, in
/// the folder the route table gave its feed.
pub fn feed_path(dir: &str, format: Format) -> String {
    format!("{dir}{}", format.file_name())
}

pub fn feed_url(settings: &Settings, dir: &str, format: Format) -> String {
    absolute(&settings.url, &feed_path(dir, format))
}

/// The site's HTML page for the feed: the home page, or Hexo's category or
/// tag page.
pub fn page_url(settings: &Settings, key: &FeedKey) -> String {
    format!("{}{}", settings.url, encode_path(&dir(settings, key)))
}

pub const OPML_PATH: &str = "opml.xml";
