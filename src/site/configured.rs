//! Configured feeds (`feeds:`) as the site knows them: the slug that
//! names the folder, the channel's title and description, and the rules
//! the catalog selects their articles by. Validated in `config`.

use std::time::Duration;

use regex::Regex;

/// Categories (each a path of names, root first, meaning its whole
/// subtree) and tags.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    pub categories: Vec<Vec<String>>,
    pub tags: Vec<String>,
}

/// One configured feed, validated.
#[derive(Debug, Clone)]
pub struct ConfiguredFeed {
    pub slug: String,
    pub title: String,
    pub description: String,
    pub include: Selection,
    pub exclude: Selection,
    /// Articles whose title this matches are left out.
    pub exclude_title: Option<Regex>,
    /// An article several includes match is one item (`false`: one item
    /// per include that matches it).
    pub merge_includes: bool,
    /// Of two articles whose normalized titles are equal within
    /// `dedup_window`, only the earliest is shown.
    pub dedup_titles: bool,
    pub dedup_window: Duration,
    /// The conversion the feed is published in (`opencc:`), so that a
    /// built site, which has no query strings, can carry one.
    pub opencc: Option<crate::opencc::Conversion>,
}

/// `dedup_window` when a feed does not set it.
pub const DEFAULT_DEDUP_WINDOW: Duration = Duration::from_secs(48 * 3600);
