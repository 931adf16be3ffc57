//! The catalog: which published articles each feed ([`FeedKey`]) holds,
//! newest first, and which article owns an id two of them claim. How
//! those feeds and articles are named (URLs, slugs, ids) is `site`'s.
//!
//! The catalog is a persistent structure: cloning is O(1) and one
//! article's change touches O(feeds it is in × log n), so a reload costs
//! the same for 10 or 100,000 articles.

use std::cmp::Reverse;
use std::collections::BTreeSet;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use imbl::{HashMap, OrdMap, OrdSet};
use rayon::prelude::*;

use crate::article::Article;
use crate::site::Scheme;
use crate::site::keys::{self, nodes};
use crate::site::permalink::Post;

mod configured;

/// What the catalog's feeds are keyed by, defined with the rest of the
/// site's names.
pub use crate::site::FeedKey;

/// Position of an article in a feed: newest first; ties broken by path,
/// which is unique, so the order is total and reproducible.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct ItemKey {
    date: Reverse<DateTime<Utc>>,
    rel: Arc<str>,
    /// Which copy of the article: 0, or in a configured feed that shows
    /// an article once per include it matches, 1 + the place of the
    /// include among the feed's ([`Listed::via`]).
    copy: u32,
}

/// An entry as a feed lists it.
#[derive(Debug, Clone)]
pub struct Listed {
    pub entry: Arc<Entry>,
    /// The include this copy of the entry is listed for, in a configured
    /// feed that lists an article once per include it matches
    /// (`merge_includes: false`).
    pub via: Option<FeedKey>,
}

/// A published article with what the catalog derived for it.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub article: Arc<Article>,
    /// Whether the article's explicit id is its own: when two articles
    /// claim one, the first by path keeps it and the other falls back to
    /// its path id.
    owns_id: bool,
    /// Site-relative permalink path, not percent-encoded; shared with the
    /// route table.
    pub path: Arc<str>,
}

impl Entry {
    /// The stable `tag:` URI feeds show for this entry: its explicit id
    /// while it owns it, else its path id.
    pub fn id(&self, scheme: &Scheme) -> String {
        let explicit = self.article.explicit_id.as_deref().filter(|_| self.owns_id);
        scheme.ids.id_for(explicit, self.article.path_key())
    }

    /// The item link. Derived when a document is rendered rather than
    /// stored for all articles.
    pub fn url(&self, scheme: &Scheme) -> String {
        scheme.item_url(self.article.link.as_deref(), &self.path)
    }
}

/// Feeds touched by a change, to be rendered again.
pub type Touched = BTreeSet<FeedKey>;

#[derive(Debug, Clone)]
pub struct Catalog {
    scheme: Arc<Scheme>,
    entries: HashMap<Arc<str>, Arc<Entry>>,
    /// Every path that claims an article id, in path order: the first owns it.
    claims: HashMap<Arc<str>, OrdSet<Arc<str>>>,
    feeds: OrdMap<FeedKey, OrdSet<ItemKey>>,
}

impl Catalog {
    pub fn new(scheme: Arc<Scheme>) -> Self {
        let mut catalog = Catalog {
            scheme,
            entries: HashMap::new(),
            claims: HashMap::new(),
            feeds: OrdMap::new(),
        };
        catalog.refresh_configured(&mut Touched::new(), true);
        catalog
    }

    /// How the site names what the catalog holds.
    pub fn scheme(&self) -> &Arc<Scheme> {
        &self.scheme
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn entry(&self, rel: &str) -> Option<&Arc<Entry>> {
        self.entries.get(rel)
    }

    pub fn entries(&self) -> impl Iterator<Item = &Arc<Entry>> {
        self.entries.values()
    }

    /// Every feed with its number of articles, in key order. The site feed
    /// always exists, even empty.
    pub fn feeds(&self) -> impl Iterator<Item = (FeedKey, usize)> + '_ {
        let site = (!self.feeds.contains_key(&FeedKey::Site)).then_some((FeedKey::Site, 0));
        site.into_iter()
            .chain(self.feeds.iter().map(|(k, v)| (k.clone(), v.len())))
    }

    pub fn count(&self, key: &FeedKey) -> usize {
        self.feeds.get(key).map_or(0, OrdSet::len)
    }

    /// The newest `n` entries of a feed.
    pub fn newest(&self, key: &FeedKey, n: usize) -> Vec<Listed> {
        self.page(key, 0, n)
    }

    /// `n` entries of a feed, newest first, after the `skip` newest.
    pub fn page(&self, key: &FeedKey, skip: usize, n: usize) -> Vec<Listed> {
        let Some(items) = self.feeds.get(key) else {
            return Vec::new();
        };
        let listed = |k: &ItemKey| {
            Some(Listed {
                entry: self.entries.get(&k.rel)?.clone(),
                via: self.via(key, k.copy),
            })
        };
        items.iter().skip(skip).take(n).filter_map(listed).collect()
    }

    /// The catalog of `articles` (in path order, which decides who owns a
    /// shared explicit id), built in bulk: the same result as upserting
    /// them one by one, several times faster for a whole archive.
    pub fn build(scheme: Arc<Scheme>, articles: Vec<Arc<Article>>) -> Self {
        Plan::new(scheme, articles).finish()
    }

    /// Adds or replaces an article; drafts and pages are removed instead.
    pub fn upsert(&mut self, article: Arc<Article>) -> Touched {
        let mut touched = self.upsert_listed(article);
        self.refresh_configured(&mut touched, false);
        touched
    }

    fn upsert_listed(&mut self, article: Arc<Article>) -> Touched {
        let rel = article.rel.clone();
        let mut touched = self.remove_listed(&rel);
        if !listed(&article) {
            return touched;
        }
        let Some(id) = article.explicit_id.clone() else {
            // Path ids cannot collide: paths are unique.
            self.insert_entry(&rel, article, &mut touched);
            return touched;
        };
        let claimants = self.claims.get(&id).cloned().unwrap_or_default();
        let previous_owner = claimants.get_min().cloned();
        let claimants = claimants.update(rel.clone());
        self.claims.insert(id, claimants.clone());
        self.insert_entry(&rel, article, &mut touched);
        if let Some(prev) = previous_owner.filter(|p| claimants.get_min() != Some(p)) {
            self.reinsert(&prev, &mut touched);
        }
        touched
    }

    /// Removes an article (if present), handing its id to the next claimant.
    pub fn remove(&mut self, rel: &str) -> Touched {
        let mut touched = self.remove_listed(rel);
        self.refresh_configured(&mut touched, false);
        touched
    }

    fn remove_listed(&mut self, rel: &str) -> Touched {
        let mut touched = Touched::new();
        let Some(entry) = self.entries.remove(rel) else {
            return touched;
        };
        self.unlist(&entry, &mut touched);
        let Some(id) = entry.article.explicit_id.clone() else {
            return touched;
        };
        if let Some(claimants) = self.claims.get(&id).cloned() {
            let was_owner = claimants.get_min().map(|o| &**o == rel);
            let rest = claimants.without(rel);
            match rest.get_min().cloned() {
                None => {
                    self.claims.remove(&id);
                }
                Some(next) => {
                    self.claims.insert(id, rest);
                    if was_owner == Some(true) {
                        self.reinsert(&next, &mut touched);
                    }
                }
            }
        }
        touched
    }

    /// Re-keys an entry whose effective id may have changed.
    fn reinsert(&mut self, rel: &Arc<str>, touched: &mut Touched) {
        if let Some(entry) = self.entries.remove(rel) {
            self.unlist(&entry, touched);
            self.insert_entry(rel, entry.article.clone(), touched);
        }
    }

    fn insert_entry(&mut self, rel: &Arc<str>, article: Arc<Article>, touched: &mut Touched) {
        let entry = Arc::new(self.entry_for(article));
        self.list(&entry, touched);
        self.entries.insert(rel.clone(), entry);
    }

    /// The entry of a listed article, given the current id claims.
    fn entry_for(&self, article: Arc<Article>) -> Entry {
        let owns_id = match &article.explicit_id {
            None => true,
            Some(id) => self
                .claims
                .get(id)
                .and_then(OrdSet::get_min)
                .is_some_and(|owner| *owner == article.rel),
        };
        let path = self.scheme.permalink(&Post {
            fixed: article.permalink.as_deref(),
            date: article.date,
            slug: article.slug(),
            title: &article.title,
            categories: &article.categories,
        });
        Entry {
            article,
            owns_id,
            path: path.into(),
        }
    }

    fn list(&mut self, entry: &Entry, touched: &mut Touched) {
        let key = item_key(&entry.article);
        for feed in feed_keys(&entry.article) {
            self.feeds
                .entry(feed.clone())
                .or_default()
                .insert(key.clone());
            touched.insert(feed);
        }
    }

    fn unlist(&mut self, entry: &Entry, touched: &mut Touched) {
        let key = item_key(&entry.article);
        for feed in feed_keys(&entry.article) {
            if let Some(items) = self.feeds.get_mut(&feed) {
                items.remove(&key);
                if items.is_empty() && feed != FeedKey::Site {
                    self.feeds.remove(&feed);
                }
            }
            touched.insert(feed);
        }
    }
}

/// A catalog half built in bulk: what each feed holds, in order, is known
/// before the lookup structures are, so that the items the feeds will
/// show can be prepared while [`Plan::finish`] builds them.
pub struct Plan {
    catalog: Catalog,
    listed: Vec<Arc<Article>>,
    feeds: Vec<(FeedKey, Vec<ItemKey>)>,
}

impl Plan {
    pub fn new(scheme: Arc<Scheme>, articles: Vec<Arc<Article>>) -> Self {
        let mut catalog = Catalog::new(scheme);
        let listed: Vec<Arc<Article>> = articles.into_iter().filter(|a| listed(a)).collect();
        for a in &listed {
            if let Some(id) = &a.explicit_id {
                catalog
                    .claims
                    .entry(id.clone())
                    .or_default()
                    .insert(a.rel.clone());
            }
        }
        let mut feeds = FeedInterner::default();
        for article in &listed {
            let key = item_key(article);
            for feed in feeds.of(article) {
                feeds.members[feed].push(key.clone());
            }
        }
        let feeds = feeds
            .keys
            .into_par_iter()
            .zip(feeds.members)
            .map(|(feed, mut items)| {
                items.sort_unstable();
                (feed, items)
            })
            .collect();
        Plan {
            catalog,
            listed,
            feeds,
        }
    }

    /// The articles among the newest `n` of some feed, each once: what
    /// [`Catalog::newest`] will give for every feed of the finished catalog.
    pub fn newest(&self, n: usize) -> Vec<Arc<Article>> {
        let shown: BTreeSet<&Arc<str>> = self
            .feeds
            .iter()
            .flat_map(|(_, items)| items.iter().take(n).map(|k| &k.rel))
            .collect();
        self.listed
            .iter()
            .filter(|a| shown.contains(&a.rel))
            .cloned()
            .collect()
    }

    pub fn finish(self) -> Catalog {
        let Plan {
            mut catalog,
            listed,
            feeds,
        } = self;
        let entries: Vec<Arc<Entry>> = listed
            .into_par_iter()
            .map(|a| Arc::new(catalog.entry_for(a)))
            .collect();
        let feeds: Vec<(FeedKey, OrdSet<ItemKey>)> = feeds
            .into_par_iter()
            .map(|(feed, items)| (feed, items.into_iter().collect()))
            .collect();
        catalog.feeds = feeds.into_iter().collect();
        catalog.entries = entries
            .into_iter()
            .map(|e| (e.article.rel.clone(), e))
            .collect();
        catalog.refresh_configured(&mut Touched::new(), true);
        catalog
    }
}

/// Drafts and pages are loaded but never in a feed.
fn listed(article: &Article) -> bool {
    !article.draft && !article.page
}

fn item_key(article: &Article) -> ItemKey {
    ItemKey {
        date: Reverse(article.date),
        rel: article.rel.clone(),
        copy: 0,
    }
}

/// Feed keys numbered as they are first met, so that a bulk build hashes
/// each article's category paths and tags once instead of building and
/// hashing a key per feed per article.
struct FeedInterner<'a> {
    keys: Vec<FeedKey>,
    members: Vec<Vec<ItemKey>>,
    numbers: std::collections::HashMap<FeedKey, usize>,
    paths: std::collections::HashMap<&'a [String], Vec<usize>>,
    tags: std::collections::HashMap<&'a str, usize>,
}

impl Default for FeedInterner<'_> {
    fn default() -> Self {
        FeedInterner {
            keys: vec![FeedKey::Site],
            members: vec![Vec::new()],
            numbers: std::collections::HashMap::from([(FeedKey::Site, 0)]),
            paths: Default::default(),
            tags: Default::default(),
        }
    }
}

impl<'a> FeedInterner<'a> {
    /// The numbers of the feeds `article` is in (as [`feed_keys`]).
    fn of(&mut self, article: &'a Article) -> BTreeSet<usize> {
        let mut out = BTreeSet::from([0]);
        for path in &article.categories {
            if !self.paths.contains_key(path.as_slice()) {
                let numbers = nodes(path)
                    .map(|node| self.number(FeedKey::Category(node.into())))
                    .collect();
                self.paths.insert(path, numbers);
            }
            out.extend(self.paths[path.as_slice()].iter().copied());
        }
        for tag in &article.tags {
            let n = match self.tags.get(tag.as_str()) {
                Some(&n) => n,
                None => {
                    let n = self.number(FeedKey::Tag(tag.as_str().into()));
                    self.tags.insert(tag, n);
                    n
                }
            };
            out.insert(n);
        }
        out
    }

    /// A key's number; keys of different category paths can coincide
    /// (`[A]` is a prefix of both `[A, B]` and `[A, C]`).
    fn number(&mut self, key: FeedKey) -> usize {
        if let Some(&n) = self.numbers.get(&key) {
            return n;
        }
        let n = self.keys.len();
        self.numbers.insert(key.clone(), n);
        self.keys.push(key);
        self.members.push(Vec::new());
        n
    }
}

/// The feeds an article is in: the site feed and every feed it is filed
/// under ([`keys::filed_under`]).
pub fn feed_keys(article: &Article) -> BTreeSet<FeedKey> {
    let filed = keys::filed_under(&article.categories, &article.tags);
    std::iter::once(FeedKey::Site).chain(filed).collect()
}

/// A listed article dated January `day`, 2021, for unit tests.
#[cfg(test)]
pub(crate) fn listed_article(rel: &str, day: u32, cats: &[&[&str]], tags: &[&str]) -> Article {
    use chrono::TimeZone;
    Article {
        rel: rel.into(),
        draft: false,
        page: false,
        explicit_id: None,
        title: rel.into(),
        date: Utc.with_ymd_and_hms(2021, 1, day, 0, 0, 0).unwrap(),
        updated: None,
        categories: cats
            .iter()
            .map(|c| c.iter().map(|n| n.to_string()).collect())
            .collect(),
        tags: tags.iter().map(|t| t.to_string()).collect(),
        author: None,
        image: None,
        description: None,
        permalink: None,
        link: None,
        comments: true,
        extra: Default::default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn article(
        rel: &str,
        day: u32,
        cats: &[&[&str]],
        tags: &[&str],
        id: Option<&str>,
    ) -> Arc<Article> {
        Arc::new(Article {
            explicit_id: id.map(Arc::from),
            ..listed_article(rel, day, cats, tags)
        })
    }

    fn sample() -> Vec<Arc<Article>> {
        vec![
            article("a.md", 1, &[&["A", "B"]], &["t"], None),
            article("b.md", 2, &[&["A"], &["C", "B"]], &[], Some("same")),
            article("c.md", 2, &[&["A", "B", "D"]], &["t", "u"], Some("same")),
            article("d.md", 3, &[], &["u"], Some("other")),
        ]
    }

    /// Everything observable about a catalog, for comparisons.
    fn view(c: &Catalog) -> Vec<(FeedKey, Vec<(String, String)>)> {
        c.feeds()
            .map(|(k, n)| {
                let items = c
                    .newest(&k, n)
                    .iter()
                    .map(|l| (l.entry.article.rel.to_string(), l.entry.id(c.scheme())))
                    .collect();
                (k, items)
            })
            .collect()
    }

    #[test]
    fn bulk_build_equals_one_by_one() {
        let built = Catalog::build(crate::setup::default_scheme(), sample());
        let mut upserted = Catalog::new(crate::setup::default_scheme());
        for a in sample() {
            upserted.upsert(a);
        }
        assert_eq!(view(&built), view(&upserted));
        assert_eq!(built.len(), 4);
    }

    #[test]
    fn a_node_feed_holds_its_subtree_and_nodes_are_name_plus_parent() {
        let c = Catalog::build(crate::setup::default_scheme(), sample());
        let key = |p: &[&str]| {
            FeedKey::Category(p.iter().map(|s| s.to_string()).collect::<Vec<_>>().into())
        };
        assert_eq!(c.count(&key(&["A"])), 3);
        assert_eq!(c.count(&key(&["A", "B"])), 2);
        assert_eq!(c.count(&key(&["C", "B"])), 1, "B under C is not B under A");
        assert_eq!(c.count(&FeedKey::Tag("t".into())), 2);
        assert_eq!(c.count(&FeedKey::Site), 4);
    }

    #[test]
    fn newest_first_ties_by_id() {
        let c = Catalog::build(crate::setup::default_scheme(), sample());
        let rels: Vec<_> = c
            .newest(&FeedKey::Site, 10)
            .iter()
            .map(|l| l.entry.article.rel.to_string())
            .collect();
        assert_eq!(rels[0], "d.md");
        assert_eq!(rels[3], "a.md");
        let ids: Vec<_> = c
            .newest(&FeedKey::Site, 10)
            .iter()
            .map(|l| l.entry.id(c.scheme()))
            .collect();
        let mut sorted = ids.clone();
        sorted.dedup();
        assert_eq!(ids.len(), sorted.len(), "ids unique");
    }

    #[test]
    fn shared_explicit_id_goes_to_the_first_path_and_moves_on_removal() {
        let mut c = Catalog::build(crate::setup::default_scheme(), sample());
        let id_of = |c: &Catalog, rel: &str| c.entry(rel).unwrap().id(c.scheme());
        assert!(id_of(&c, "b.md").ends_with(":id/same"));
        assert!(id_of(&c, "c.md").ends_with(":post/c.md"));
        let touched = c.remove("b.md");
        assert!(id_of(&c, "c.md").ends_with(":id/same"));
        assert!(
            touched.contains(&FeedKey::Tag("u".into())),
            "c's feeds are re-rendered"
        );
        c.upsert(article("b.md", 2, &[], &[], Some("same")));
        assert!(id_of(&c, "b.md").ends_with(":id/same"));
        assert!(id_of(&c, "c.md").ends_with(":post/c.md"));
    }

    #[test]
    fn drafts_and_emptied_feeds_leave() {
        let mut c = Catalog::build(crate::setup::default_scheme(), sample());
        let mut draft = (*article("d.md", 3, &[], &["u"], Some("other"))).clone();
        draft.draft = true;
        c.upsert(Arc::new(draft));
        assert!(c.entry("d.md").is_none());
        c.remove("c.md");
        assert_eq!(c.count(&FeedKey::Tag("u".into())), 0);
        assert!(c.feeds().all(|(k, _)| k != FeedKey::Tag("u".into())));
    }
}
