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
use crate::config::{ConfiguredFeed, Selection};

impl Catalog {
    /// Recomputes the configured feeds whose includes `touched` names
    /// (every one when `all`), adding those whose items changed to it.
    pub(super) fn refresh_configured(&mut self, touched: &mut Touched, all: bool) {
        let scheme = self.scheme.clone();
        for def in &scheme.configured {
            let key = FeedKey::Configured(def.slug.as_str().into());
            if !all && !selected_keys(&def.include).any(|k| touched.contains(&k)) {
                continue;
            }
            let members = self.members(def);
            if all || self.feeds.get(&key) != Some(&members) {
                touched.insert(key.clone());
            }
            self.feeds.insert(key, members);
        }
    }

    fn members(&self, def: &ConfiguredFeed) -> OrdSet<ItemKey> {
        // How many includes match each article.
        let mut matched: BTreeMap<&ItemKey, u32> = BTreeMap::new();
        for key in selected_keys(&def.include) {
            for item in self.feeds.get(&key).into_iter().flatten() {
                *matched.entry(item).or_default() += 1;
            }
        }
        // Earliest first, so that of a story filed twice the first stays.
        let mut candidates: Vec<(&Article, &ItemKey, u32)> = matched
            .into_iter()
            .filter_map(|(k, n)| Some((&*self.entries.get(&k.rel)?.article, k, n)))
            .filter(|(a, _, _)| !excluded(def, a))
            .collect();
        candidates.sort_by(|x, y| (x.0.date, &x.1.rel).cmp(&(y.0.date, &y.1.rel)));
        let mut first_seen: HashMap<String, DateTime<Utc>> = HashMap::new();
        let mut out = OrdSet::new();
        for (article, key, n) in candidates {
            if def.dedup_titles && repeats(&mut first_seen, article, def) {
                continue;
            }
            let copies = if def.merge_includes { 1 } else { n };
            for copy in 0..copies {
                out.insert(ItemKey {
                    copy,
                    ..key.clone()
                });
            }
        }
        out
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
/// compatibility-normalized, lower case, letters and digits only (the
/// pipelines differ in spaces, punctuation and full-width forms).
fn normalized(title: &str) -> String {
    title
        .nfkc()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn titles_normalize_across_forms_and_punctuation() {
        assert_eq!(normalized("Ａ股 大涨！"), normalized("a股大涨"));
        assert_ne!(normalized("A股大涨"), normalized("A股大跌"));
    }
}
