//! What each configured feed (`feeds:`) holds: the union of its included
//! category subtrees and tags, less its exclusions, with one item per
//! story. Computed from the catalog's own feeds when a change touches one
//! of its includes, so a request never does this work.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use imbl::OrdSet;
use unicode_normalization::UnicodeNormalization;

use super::{Catalog, FeedKey, ItemKey, Touched};
use crate::article::Article;
use crate::site::configured::{ConfiguredFeed, Selection};

impl Catalog {
    /// Recomputes the configured feeds whose includes `touched` names
    /// (every one when `all`), adding them to it: an included feed is
    /// touched when its members change or one of them is edited, and an
    /// edit that keeps the members still changes the configured feed's
    /// bytes (found by the fifth attack: edits never reached it).
    pub(super) fn refresh_configured(&mut self, touched: &mut Touched, all: bool) {
        let scheme = self.scheme.clone();
        for def in &scheme.configured {
            let key = FeedKey::Configured(def.slug.as_str().into());
            if !all && !selected_keys(&def.include).any(|k| touched.contains(&k)) {
                continue;
            }
            let members = self.members(def);
            touched.insert(key.clone());
            self.feeds.insert(key, members);
        }
    }

    fn members(&self, def: &ConfiguredFeed) -> OrdSet<ItemKey> {
        // Which includes match each article, by their copy numbers.
        let mut matched: BTreeMap<&ItemKey, Vec<u32>> = BTreeMap::new();
        for (copy, key) in (1..).zip(includes(def)) {
            for item in self.feeds.get(&key).into_iter().flatten() {
                matched.entry(item).or_default().push(copy);
            }
        }
        // Earliest first, so that of a story filed twice the first stays.
        let mut candidates: Vec<(&Article, &ItemKey, Vec<u32>)> = matched
            .into_iter()
            .filter_map(|(k, n)| Some((&*self.entries.get(&k.rel)?.article, k, n)))
            .filter(|(a, _, _)| !excluded(def, a))
            .collect();
        candidates.sort_by(|x, y| (x.0.date, &x.1.rel).cmp(&(y.0.date, &y.1.rel)));
        let mut first_seen: HashMap<String, DateTime<Utc>> = HashMap::new();
        let mut out = OrdSet::new();
        for (article, key, copies) in candidates {
            if def.dedup_titles && repeats(&mut first_seen, article, def) {
                continue;
            }
            let copies = if def.merge_includes { vec![0] } else { copies };
            for copy in copies {
                out.insert(ItemKey {
                    copy,
                    ..key.clone()
                });
            }
        }
        out
    }

    /// The include copy number `copy` of configured feed `key` is for.
    pub(super) fn via(&self, key: &FeedKey, copy: u32) -> Option<FeedKey> {
        let FeedKey::Configured(slug) = key else {
            return None;
        };
        let place = usize::try_from(copy.checked_sub(1)?).ok()?;
        includes(self.scheme.configured(slug)?).nth(place)
    }

    /// What `check` and `serve` warn about: each category or tag a
    /// configured feed names that no published article has.
    pub fn configured_warnings(&self) -> Vec<String> {
        let mut out = Vec::new();
        for def in &self.scheme.configured {
            for (part, selection) in [("include", &def.include), ("exclude", &def.exclude)] {
                for path in &selection.categories {
                    if self.count(&FeedKey::Category(path.as_slice().into())) == 0 {
                        out.push(format!(
                            "configured feed `{}`: {part}.categories names `{}`, which no article is filed under",
                            def.slug,
                            path.join(" / ")
                        ));
                    }
                }
                for tag in &selection.tags {
                    if self.count(&FeedKey::Tag(tag.as_str().into())) == 0 {
                        out.push(format!(
                            "configured feed `{}`: {part}.tags names `{tag}`, which no article has",
                            def.slug
                        ));
                    }
                }
            }
        }
        out
    }
}

/// The catalog feeds a selection names: a category node's feed holds its
/// whole subtree already.
fn selected_keys(selection: &Selection) -> impl Iterator<Item = FeedKey> + '_ {
    let categories = selection
        .categories
        .iter()
        .map(|p| FeedKey::Category(p.as_slice().into()));
    categories.chain(
        selection
            .tags
            .iter()
            .map(|t| FeedKey::Tag(t.as_str().into())),
    )
}

/// A configured feed's includes, each once, in the order written: an
/// include's place among them numbers its copies.
fn includes(def: &ConfiguredFeed) -> impl Iterator<Item = FeedKey> + '_ {
    let mut seen = Vec::new();
    selected_keys(&def.include).filter(move |k| {
        let new = !seen.contains(k);
        if new {
            seen.push(k.clone());
        }
        new
    })
}

fn excluded(def: &ConfiguredFeed, article: &Article) -> bool {
    let ex = &def.exclude;
    ex.categories
        .iter()
        .any(|p| article.categories.iter().any(|h| h.starts_with(p)))
        || ex.tags.iter().any(|t| article.tags.contains(t))
        || def
            .exclude_title
            .as_ref()
            .is_some_and(|re| re.is_match(&article.title))
}

/// Whether an article of the same normalized title was kept within the
/// feed's window before this one; if not, this one is the story's first.
fn repeats(
    first_seen: &mut HashMap<String, DateTime<Utc>>,
    article: &Article,
    def: &ConfiguredFeed,
) -> bool {
    let title = normalized(&article.title);
    if title.is_empty() {
        return false;
    }
    let window = i64::try_from(def.dedup_window.as_secs()).unwrap_or(i64::MAX);
    if let Some(first) = first_seen.get(&title)
        && (article.date - *first).num_seconds() <= window
    {
        return true;
    }
    first_seen.insert(title, article.date);
    false
}

/// A title as two pipelines filing one story would both give it:
/// compatibility-normalized, lower case, letters, marks and digits only
/// (the pipelines differ in spaces, punctuation and full-width forms).
/// Lower case comes before the filter, so that a letter whose lower case
/// adds a mark (`İ`) meets the same letter written with it, and a final
/// sigma is a sigma (found by the sixth attack). Marks are kept: a Thai
/// tone mark makes another word (`เสือ` tiger, `เสื้อ` shirt; the re-attack).
fn normalized(title: &str) -> String {
    title
        .nfkc()
        .flat_map(char::to_lowercase)
        .map(|c| if c == 'ς' { 'σ' } else { c })
        .filter(|&c| c.is_alphanumeric() || unicode_normalization::char::is_combining_mark(c))
        .collect()
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use super::*;
    use crate::catalog::listed_article;
    use crate::config::Config;

    fn scheme(window_hours: u64) -> Arc<crate::site::Scheme> {
        let mut config = Config::default_embedded().unwrap();
        config.feeds = vec![ConfiguredFeed {
            slug: "mix".into(),
            title: "Mix".into(),
            description: String::new(),
            include: Selection {
                categories: vec![vec!["A".into()], vec!["C".into()]],
                tags: vec!["t".into()],
            },
            exclude: Selection {
                categories: vec![vec!["A".into(), "X".into()]],
                tags: vec!["ad".into()],
            },
            exclude_title: Some(regex::Regex::new("live").unwrap()),
            merge_includes: true,
            dedup_titles: true,
            dedup_window: Duration::from_secs(window_hours * 3600),
            opencc: None,
        }];
        Arc::new(crate::setup::scheme(&config))
    }

    fn titled(rel: &str, title: &str, day: u32, cats: &[&[&str]], tags: &[&str]) -> Arc<Article> {
        let mut a = listed_article(rel, day, cats, tags);
        a.title = title.into();
        Arc::new(a)
    }

    fn sample() -> Vec<Arc<Article>> {
        vec![
            titled("1.md", "Story", 1, &[&["A", "B"]], &["t"]),
            titled("2.md", "story!", 2, &[&["C"]], &[]),
            titled("3.md", "Other", 3, &[&["C"]], &["t"]),
            titled("4.md", "excluded", 4, &[&["A", "X", "Y"]], &[]),
            titled("5.md", "ad", 5, &[&["C"]], &["ad"]),
            titled("6.md", "live now", 6, &[&["C"]], &[]),
            titled("7.md", "elsewhere", 7, &[&["D"]], &[]),
        ]
    }

    fn mix(c: &Catalog) -> Vec<String> {
        let key = FeedKey::Configured("mix".into());
        let n = c.count(&key);
        c.newest(&key, n)
            .iter()
            .map(|l| l.entry.article.rel.to_string())
            .collect()
    }

    #[test]
    fn includes_merge_excludes_hold_and_a_story_shows_once() {
        let c = Catalog::build(scheme(48), sample());
        assert_eq!(mix(&c), ["3.md", "1.md"]);
        // Outside the window, the story filed again is news again.
        let c = Catalog::build(scheme(12), sample());
        assert_eq!(mix(&c), ["3.md", "2.md", "1.md"]);
    }

    #[test]
    fn changes_one_by_one_give_what_a_bulk_build_gives() {
        let mut c = Catalog::new(scheme(48));
        for a in sample() {
            c.upsert(a);
        }
        assert_eq!(mix(&c), mix(&Catalog::build(scheme(48), sample())));
        // The first filing goes: the later one is the story now.
        let touched = c.remove("1.md");
        assert!(touched.contains(&FeedKey::Configured("mix".into())));
        assert_eq!(mix(&c), ["3.md", "2.md"]);
        // A change outside every include leaves the feed alone.
        let touched = c.upsert(titled("7.md", "moved", 8, &[&["D"]], &[]));
        assert!(!touched.contains(&FeedKey::Configured("mix".into())));
    }

    #[test]
    fn titles_normalize_across_forms_and_punctuation() {
        assert_eq!(normalized("Ａ股 大涨！"), normalized("a股大涨"));
        assert_ne!(normalized("A股大涨"), normalized("A股大跌"));
        assert_eq!(normalized("ΣΟΦΟΣ"), normalized("σοφος"));
        assert_ne!(normalized("ราคาเสือ"), normalized("ราคาเสื้อ"));
        assert_ne!(normalized("ไม่ขาย"), normalized("ไม้ขาย"));
        assert_eq!(
            normalized("İstanbul News"),
            normalized("i\u{307}stanbul news")
        );
    }

    #[test]
    fn missing_names_are_warnings() {
        let c = Catalog::build(scheme(48), vec![titled("1.md", "s", 1, &[&["A"]], &[])]);
        let warnings = c.configured_warnings().join("\n");
        assert!(
            warnings.contains("include.categories names `C`"),
            "{warnings}"
        );
        assert!(warnings.contains("include.tags names `t`"), "{warnings}");
        assert!(!warnings.contains("`A`"), "{warnings}");
    }
}
