//! Configured feeds (`feeds:`): a publisher's own merges of categories and
//! tags, served at `/feeds/<slug>/`. Raw shape and validation; the catalog
//! computes what each holds.

use std::collections::BTreeSet;
use std::time::Duration;

use regex::RegexBuilder;
use serde::Deserialize;

use super::validate::Invalid;
use crate::opencc::Conversion;
use crate::site::configured::{ConfiguredFeed, DEFAULT_DEDUP_WINDOW, Selection};
use crate::site::layout;

/// Bound on the compiled `exclude.title` program, as for `filter*`.
const REGEX_SIZE_LIMIT: usize = 1 << 20;

/// Names a slug may not take: they would make `/feeds/<slug>` a document
/// name, not a folder, or leave the folder.
const RESERVED: &[&str] = &[
    ".",
    "..",
    "rss.xml",
    "atom.xml",
    "feed.json",
    "index.html",
    "opml.xml",
];

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawConfiguredFeed {
    slug: String,
    title: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    include: RawSelection,
    #[serde(default)]
    exclude: RawExclusion,
    #[serde(default = "yes")]
    merge_includes: bool,
    #[serde(default = "yes")]
    dedup_titles: bool,
    #[serde(default)]
    dedup_window: Option<String>,
    #[serde(default)]
    opencc: Option<String>,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSelection {
    #[serde(default)]
    categories: Vec<Vec<String>>,
    #[serde(default)]
    tags: Vec<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawExclusion {
    #[serde(default)]
    categories: Vec<Vec<String>>,
    #[serde(default)]
    tags: Vec<String>,
    #[serde(default)]
    title: Option<String>,
}

/// `max_url_bytes` is `server.max_url_bytes`: every URL of a feed must be
/// one the server accepts.
pub(super) fn validate(
    raw: Vec<RawConfiguredFeed>,
    max_url_bytes: usize,
) -> Result<Vec<ConfiguredFeed>, Invalid> {
    let mut slugs = BTreeSet::new();
    raw.into_iter()
        .enumerate()
        .map(|(i, f)| {
            let key = |field: &str| format!("feeds[{i}].{field}");
            let slug = f.slug.trim().to_string();
            check_slug(&slug, max_url_bytes).map_err(|reason| Invalid::at(key("slug"), reason))?;
            if !slugs.insert(slug.clone()) {
                return Err(Invalid::at(key("slug"), format!("`{slug}` is used twice")));
            }
            let exclude_title = f
                .exclude
                .title
                .filter(|t| !t.is_empty())
                .map(|t| {
                    RegexBuilder::new(&t)
                        .size_limit(REGEX_SIZE_LIMIT)
                        .build()
                        .map_err(|e| {
                            let why = e
                                .to_string()
                                .lines()
                                .last()
                                .unwrap_or("")
                                .trim()
                                .to_string();
                            Invalid::at(key("exclude.title"), format!("`{t}`: {why}"))
                        })
                })
                .transpose()?;
            let dedup_window = match f.dedup_window.as_deref() {
                None => DEFAULT_DEDUP_WINDOW,
                Some(w) => window(w).ok_or_else(|| {
                    let why = format!("`{w}` is not a duration such as 48h, 90m, 2d or 3600s");
                    Invalid::at(key("dedup_window"), why)
                })?,
            };
            let opencc = f
                .opencc
                .filter(|o| !o.is_empty())
                .map(|o| {
                    let c = Conversion::from_name(&o).ok_or_else(|| {
                        let why = format!("`{o}`: expected one of {}", Conversion::names());
                        Invalid::at(key("opencc"), why)
                    })?;
                    c.converter()
                        .map_err(|e| Invalid::at(key("opencc"), e.to_string()))?;
                    Ok(c)
                })
                .transpose()?;
            if f.title.trim().is_empty() {
                return Err(Invalid::at(key("title"), "must not be empty"));
            }
            // Without an include the feed could never hold an article, yet
            // the index and OPML would offer it (found by the sixth attack).
            if f.include.categories.is_empty() && f.include.tags.is_empty() {
                return Err(Invalid::at(
                    key("include"),
                    "a feed needs at least one category or tag to include",
                ));
            }
            // An empty name is no category or tag an article can be filed
            // under, so such an include never matches (the re-attack).
            for (kind, empty) in [
                ("categories", blank_path(&f.include.categories)),
                (
                    "tags",
                    f.include.tags.iter().position(|t| t.trim().is_empty()),
                ),
            ] {
                if let Some(i) = empty {
                    let why = "an empty name matches no article; name a category or tag";
                    return Err(Invalid::at(key(&format!("include.{kind}[{i}]")), why));
                }
            }
            Ok(ConfiguredFeed {
                slug,
                title: f.title,
                description: f.description,
                include: Selection {
                    categories: f.include.categories,
                    tags: f.include.tags,
                },
                exclude: Selection {
                    categories: f.exclude.categories,
                    tags: f.exclude.tags,
                },
                exclude_title,
                merge_includes: f.merge_includes,
                dedup_titles: f.dedup_titles,
                dedup_window,
                opencc,
            })
        })
        .collect()
}

/// The first category path that is empty or holds an empty name.
fn blank_path(paths: &[Vec<String>]) -> Option<usize> {
    paths
        .iter()
        .position(|p| p.is_empty() || p.iter().any(|n| n.trim().is_empty()))
}

/// A slug is one folder name of the served URL: not a name refeed's own
/// documents have, nothing a URL would read as a path, query or fragment,
/// and short enough that every URL of the feed is one the server accepts.
/// It is the publisher's own name, so it is refused, never cut: a cut
/// slug would serve the feed at a URL nobody chose.
fn check_slug(slug: &str, max_url_bytes: usize) -> Result<(), String> {
    if slug.is_empty() {
        return Err("must not be empty".into());
    }
    if RESERVED.contains(&slug.to_ascii_lowercase().as_str()) {
        return Err(format!("`{slug}` collides with a built-in route"));
    }
    if slug
        .chars()
        .any(|c| c.is_whitespace() || c.is_control() || "/\\?#%".contains(c))
    {
        return Err(format!(
            "`{slug}` may not hold whitespace, `/`, `\\`, `?`, `#` or `%`"
        ));
    }
    let longest = layout::longest_url(&format!("{}{slug}/", layout::FEEDS));
    if longest > max_url_bytes {
        return Err(format!(
            "`{}` makes the feed's URLs up to {longest} bytes, over server.max_url_bytes \
             ({max_url_bytes}): choose a shorter slug",
            short(slug)
        ));
    }
    Ok(())
}

/// A slug as an error quotes it: a long one shortened.
fn short(slug: &str) -> String {
    const MAX_CHARS: usize = 40;
    match slug.char_indices().nth(MAX_CHARS) {
        Some((at, _)) => format!("{}…", &slug[..at]),
        None => slug.to_string(),
    }
}

/// `48h`, `90m`, `2d`, `3600s` or a number of seconds.
fn window(text: &str) -> Option<Duration> {
    let text = text.trim();
    let (number, unit) = match text.find(|c: char| !c.is_ascii_digit()) {
        Some(at) => text.split_at(at),
        None => (text, "s"),
    };
    let n: u64 = number.parse().ok()?;
    let seconds = match unit.trim() {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return None,
    };
    n.checked_mul(seconds).map(Duration::from_secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(yaml: &str) -> Vec<RawConfiguredFeed> {
        serde_yaml::from_str(yaml).unwrap()
    }

    #[test]
    fn a_feed_validates_with_its_defaults() {
        let feeds = validate(raw(
            "- slug: china-economy\n  title: 中国经济\n  include: {categories: [[金融, 新浪财经]], tags: [宏观]}\n  exclude: {title: '(?i)直播'}\n",
        ), 2048)
        .unwrap();
        let f = &feeds[0];
        assert_eq!(f.include.categories, [["金融", "新浪财经"]]);
        assert!(f.exclude_title.as_ref().unwrap().is_match("今日直播"));
        assert!(f.merge_includes && f.dedup_titles);
        assert_eq!(f.dedup_window, DEFAULT_DEDUP_WINDOW);
    }

    #[test]
    fn errors_name_the_key() {
        for (yaml, key) in [
            (
                "- {slug: a, title: t, exclude: {title: '('}}",
                "feeds[0].exclude.title",
            ),
            ("- {slug: rss.xml, title: t}", "feeds[0].slug"),
            (
                "- {slug: a, title: t, include: {tags: [x]}}\n- {slug: a, title: u}",
                "feeds[1].slug",
            ),
            ("- {slug: a/b, title: t}", "feeds[0].slug"),
            (
                "- {slug: a, title: t, dedup_window: soon}",
                "feeds[0].dedup_window",
            ),
            ("- {slug: a, title: t, opencc: zh}", "feeds[0].opencc"),
        ] {
            let e = validate(raw(yaml), 2048).unwrap_err();
            assert_eq!(e.key, key, "{yaml}: {}", e.reason);
        }
    }

    /// Found by the re-attack: includes that name nothing an article can
    /// be filed under (`[[]]`, `[""]`) passed `check` with a warning and
    /// the feed was served, always empty.
    #[test]
    fn an_include_of_an_empty_name_is_refused_naming_it() {
        for (yaml, key) in [
            (
                "- {slug: a, title: t, include: {categories: [[]]}}",
                "feeds[0].include.categories[0]",
            ),
            (
                "- {slug: a, title: t, include: {categories: [[a], [a, '']]}}",
                "feeds[0].include.categories[1]",
            ),
            (
                "- {slug: a, title: t, include: {tags: [x, ' ']}}",
                "feeds[0].include.tags[1]",
            ),
        ] {
            let e = validate(raw(yaml), 2048).unwrap_err();
            assert_eq!(e.key, key, "{yaml}: {}", e.reason);
        }
    }

    /// Found by the sixth attack: a feed with no include (the key left
    /// empty or missing) passed `check` and was served, always empty.
    #[test]
    fn a_feed_without_an_include_is_refused_naming_the_key() {
        for yaml in [
            "- {slug: a, title: t}",
            "- slug: a\n  title: t\n  include:\n",
            "- {slug: a, title: t, include: {}}",
            "- {slug: a, title: t, include: {categories: [], tags: []}, exclude: {tags: [x]}}",
        ] {
            let e = validate(raw(yaml), 2048).unwrap_err();
            assert_eq!(e.key, "feeds[0].include", "{yaml}");
            assert!(
                e.reason.contains("at least one category or tag to include"),
                "{}",
                e.reason
            );
        }
        let with_a_tag = "- {slug: a, title: t, include: {tags: [x]}}";
        assert!(validate(raw(with_a_tag), 2048).is_ok());
    }

    /// Found by the fifth attack: a 5,000-byte slug was accepted, and its
    /// feed answered 431 while the index and OPML listed it.
    #[test]
    fn a_slug_whose_urls_exceed_max_url_bytes_is_refused_naming_the_key() {
        let limit = 256;
        let feed = |slug: &str| {
            let yaml = format!("- {{slug: '{slug}', title: t, include: {{tags: [x]}}}}");
            validate(raw(&yaml), limit)
        };
        // `/feeds/<slug>/feed.json` and `/feeds/<slug>/?page=<any usize>`.
        let longest = |slug: &str| {
            let dir = crate::site::links::encoded_len(slug) + "/feeds//".len();
            dir + "feed.json"
                .len()
                .max("?page=".len() + u64::MAX.to_string().len())
        };
        let fitting = "a".repeat(215);
        assert!(feed(&fitting).is_ok());
        assert!(longest(&fitting) <= limit);
        for slug in ["a".repeat(216), "经".repeat(24), "x".repeat(5000)] {
            let e = feed(&slug).unwrap_err();
            assert_eq!(e.key, "feeds[0].slug");
            assert!(
                e.reason.contains("server.max_url_bytes (256)"),
                "{}",
                e.reason
            );
            assert!(
                e.reason.len() < 300,
                "the slug is quoted short: {}",
                e.reason
            );
        }
    }

    #[test]
    fn windows_keep_their_units() {
        assert_eq!(window("48h"), Some(Duration::from_secs(172_800)));
        assert_eq!(window("90m"), Some(Duration::from_secs(5400)));
        assert_eq!(window("2d"), Some(Duration::from_secs(172_800)));
        assert_eq!(window("30"), Some(Duration::from_secs(30)));
        assert_eq!(window("1w"), None);
    }
}
