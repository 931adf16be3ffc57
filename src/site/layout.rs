//! The URL layout that `serve` and `build` share: `/rss.xml`, `/atom.xml`,
//! `/feed.json` for the site, the same names below
//! `/categories/<slug>/<child slug>/` and `/tags/<slug>/`, and `/opml.xml`.
//! Category and tag folders match Hexo's own category and tag pages.

use super::keys::nodes;
use super::links::{absolute, encoded_len};
use super::{FeedKey, Scheme};

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
/// table adds to folders it has to tell apart (see `crate::routes`), and
/// for the `?page=N` of a configured feed's page.
const DISAMBIGUATION_ROOM: usize = 24;

/// The folder a feed's names give it below the site root, not
/// percent-encoded, ending in `/` (empty for the site feed): Hexo's
/// category or tag page folder, each segment capped by
/// [`super::slug::capped`]. It depends on the key alone, so two
/// feeds can share it (`C#`, `C++`); the route table gives each feed its
/// own folder to serve from.
pub fn dir(scheme: &Scheme, key: &FeedKey) -> String {
    match key {
        FeedKey::Site => String::new(),
        FeedKey::Category(names) => nodes(names).fold(CATEGORIES.to_string(), |parent, node| {
            category_child(scheme, &parent, node)
        }),
        FeedKey::Tag(name) => tag_child(scheme, TAGS, name),
        FeedKey::Configured(slug) => format!("{FEEDS}{slug}/"),
    }
}

pub const CATEGORIES: &str = "categories/";
pub const TAGS: &str = "tags/";
/// Configured feeds; their slugs are checked when the configuration is
/// read, and `feeds/` is a reserved folder no article takes.
pub const FEEDS: &str = "feeds/";

/// The folder of `key` inside `parent`, the folder its parent node was
/// given (`categories/` or `tags/` at the top).
pub fn child_dir(scheme: &Scheme, parent: &str, key: &FeedKey) -> String {
    match key {
        FeedKey::Site => String::new(),
        FeedKey::Category(names) => category_child(scheme, parent, names),
        FeedKey::Tag(name) => tag_child(scheme, parent, name),
        FeedKey::Configured(_) => dir(scheme, key),
    }
}

fn category_child(scheme: &Scheme, parent: &str, names: &[String]) -> String {
    let segment = names.last().map(|n| scheme.slugs.category(n));
    fitted(
        scheme,
        CATEGORIES,
        parent,
        &segment.unwrap_or_default(),
        || names.join("\n"),
    )
}

fn tag_child(scheme: &Scheme, parent: &str, name: &str) -> String {
    fitted(scheme, TAGS, parent, &scheme.slugs.tag(name), || {
        name.to_string()
    })
}

/// `parent` + `segment` + `/`, unless a feed URL in that folder would be
/// longer than the server accepts: then `root` + a hash of the whole name
/// path, which always fits (`server.max_url_bytes` has a floor).
fn fitted(
    scheme: &Scheme,
    root: &str,
    parent: &str,
    segment: &str,
    names: impl FnOnce() -> String,
) -> String {
    let dir = format!("{parent}{segment}/");
    if fits(scheme, &dir) {
        return dir;
    }
    let hash = xxhash_rust::xxh3::xxh3_64(names().as_bytes());
    format!("{root}{hash:016x}/")
}

/// Whether every document of a feed in `dir` has a request line the
/// server accepts, with room to spare for a disambiguating suffix.
pub fn fits(scheme: &Scheme, dir: &str) -> bool {
    longest_url(dir) <= scheme.max_url_bytes
}

/// Bytes of the longest request line a feed in `dir` is asked for by:
/// its longest document name, with room for a disambiguating suffix of
/// the folder or a feed page's `?page=N`.
pub fn longest_url(dir: &str) -> usize {
    1 + encoded_len(dir) + LONGEST_FILE + DISAMBIGUATION_ROOM
}

/// Whether the folder of `key` is a hash of its names because the names
/// would have made a URL longer than `server.max_url_bytes`.
pub fn hashed(scheme: &Scheme, key: &FeedKey) -> bool {
    let whole = match key {
        FeedKey::Site | FeedKey::Configured(_) => return false,
        FeedKey::Category(names) => {
            format!("{CATEGORIES}{}/", scheme.slugs.categories(names).join("/"))
        }
        FeedKey::Tag(name) => format!("{TAGS}{}/", scheme.slugs.tag(name)),
    };
    dir(scheme, key) != whole
}

/// `categories/金融/rss.xml`: a document's path below the site root, in
/// the folder the route table gave its feed.
pub fn feed_path(dir: &str, format: Format) -> String {
    format!("{dir}{}", format.file_name())
}

pub fn feed_url(scheme: &Scheme, dir: &str, format: Format) -> String {
    absolute(&scheme.url, &feed_path(dir, format))
}

/// The site's HTML page for the feed: the home page, or Hexo's category or
/// tag page; for a configured feed, its folder (the index links to it).
pub fn page_url(scheme: &Scheme, key: &FeedKey) -> String {
    absolute(&scheme.url, &dir(scheme, key))
}

pub const OPML_PATH: &str = "opml.xml";

pub const INDEX_PATH: &str = "index.html";

/// Answered by the server itself, before the table is consulted.
pub const HEALTHZ_PATH: &str = "healthz";

/// Answered by the server itself when `server.metrics` puts it on the
/// main listener.
pub const METRICS_PATH: &str = "metrics";

/// Paths that are refeed's own, now or in a coming release: no article
/// takes them. `true` reserves the whole folder of that name as well. A
/// route the server adds goes here first.
const RESERVED: &[(&str, bool)] = &[
    ("", false),
    (INDEX_PATH, false),
    (OPML_PATH, false),
    ("rss.xml", false),
    ("atom.xml", false),
    ("feed.json", false),
    (HEALTHZ_PATH, true),
    (METRICS_PATH, true),
    ("websub", true),
    ("images", true),
    ("feeds", true),
];

pub fn is_reserved(path: &str) -> bool {
    RESERVED.iter().any(|&(name, folder)| {
        path == name
            || (folder
                && path
                    .strip_prefix(name)
                    .is_some_and(|rest| rest.starts_with('/')))
    })
}
