//! The catalog: which published articles each feed holds, newest first.
//!
//! Feeds are the whole site, every node of the Hexo category tree (a node
//! is its path of names, so `A > B` and `C > B` are different nodes, and a
//! node's feed holds its whole subtree) and every tag. The catalog is a
//! persistent structure: cloning is O(1) and one article's change touches
//! O(feeds it is in × log n), so a reload costs the same for 10 or 100,000
//! articles.

pub mod permalink;
pub mod slug;

use std::cmp::Reverse;
use std::collections::BTreeSet;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use imbl::{HashMap, OrdMap, OrdSet};

use crate::article::{Article, IdScheme};
use crate::config::Config;

/// A feed, independent of its format.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FeedKey {
    Site,
    /// A category node as its path of names, root first.
    Category(Arc<[String]>),
    Tag(Arc<str>),
}

/// Position of an article in a feed: newest first; ties broken by id,
/// which is unique, so the order is total and reproducible.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct ItemKey {
    date: Reverse<DateTime<Utc>>,
    id: Arc<str>,
    rel: Arc<str>,
}

/// A published article with what the catalog derived for it.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub article: Arc<Article>,
    /// The id feeds use: the article's own unless another article claimed
    /// the same explicit id first (by path order), then its path id.
    pub id: Arc<str>,
    /// Site-relative permalink path, not percent-encoded.
    pub path: String,
}

impl Entry {
    /// The item link: the front matter's `link`, else the absolute,
    /// percent-encoded permalink. Derived when a document is rendered
    /// rather than stored for all articles.
    pub fn url(&self, settings: &Settings) -> String {
        match &self.article.link {
            Some(link) => link.clone(),
            None => permalink::absolute(&settings.url, &self.path),
        }
    }
}

/// What the catalog needs from the configuration.
#[derive(Debug)]
pub struct Settings {
    pub url: url::Url,
    pub timezone: chrono_tz::Tz,
    pub permalink: String,
    pub category_map: std::collections::BTreeMap<String, String>,
    pub tag_map: std::collections::BTreeMap<String, String>,
    pub ids: IdScheme,
}

impl Settings {
    pub fn new(config: &Config) -> Self {
        Settings {
            url: config.site.url.clone(),
            timezone: config.site.timezone,
            permalink: config.site.permalink.clone(),
            category_map: config.site.category_map.clone(),
            tag_map: config.site.tag_map.clone(),
            ids: IdScheme::new(&config.feed.id_authority, config.feed.id_date),
        }
    }

    /// URL path segments of a category node (Hexo: `category_map`, then
    /// `slugize`); a name that slugizes to nothing keeps its own text.
    pub fn category_slugs(&self, names: &[String]) -> Vec<String> {
        names
            .iter()
            .map(|n| mapped_slug(&self.category_map, n))
            .collect()
    }

    pub fn tag_slug(&self, name: &str) -> String {
        mapped_slug(&self.tag_map, name)
    }
}

fn mapped_slug(map: &std::collections::BTreeMap<String, String>, name: &str) -> String {
    let source = map.get(name).map(String::as_str).unwrap_or(name);
    let slug = slug::slugize(source);
    if slug.is_empty() {
        // Keep the URL non-empty and free of `/`, `.` and `..`.
        format!("_{}", source.replace(['/', '.'], "_"))
    } else {
        slug
    }
}

/// Feeds touched by a change, to be rendered again.
pub type Touched = BTreeSet<FeedKey>;

#[derive(Debug, Clone)]
pub struct Catalog {
    settings: Arc<Settings>,
    entries: HashMap<Arc<str>, Arc<Entry>>,
    /// Every path that claims an article id, in path order: the first owns it.
    claims: HashMap<Arc<str>, OrdSet<Arc<str>>>,
    feeds: OrdMap<FeedKey, OrdSet<ItemKey>>,
}

impl Catalog {
    pub fn new(settings: Arc<Settings>) -> Self {
        Catalog {
            settings,
            entries: HashMap::new(),
            claims: HashMap::new(),
            feeds: OrdMap::new(),
        }
    }

    pub fn settings(&self) -> &Arc<Settings> {
        &self.settings
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
    pub fn newest(&self, key: &FeedKey, n: usize) -> Vec<Arc<Entry>> {
        let Some(items) = self.feeds.get(key) else {
            return Vec::new();
        };
        items
            .iter()
            .take(n)
            .filter_map(|k| self.entries.get(&k.rel).cloned())
            .collect()
    }

    /// Adds or replaces an article; drafts and pages are removed instead.
    pub fn upsert(&mut self, article: Arc<Article>) -> Touched {
        let rel = article.rel.clone();
        let mut touched = self.remove(&rel);
        if article.draft || article.page {
            return touched;
        }
        let id = article.id.clone();
        let claimants = self.claims.get(&id).cloned().unwrap_or_default();
        let previous_owner = claimants.get_min().cloned();
        let claimants = claimants.update(rel.clone());
        self.claims.insert(id, claimants.clone());
        self.insert_entry(&rel, article, &claimants, &mut touched);
        if let Some(prev) = previous_owner.filter(|p| claimants.get_min() != Some(p)) {
            self.reinsert(&prev, &mut touched);
        }
        touched
    }

    /// Removes an article (if present), handing its id to the next claimant.
    pub fn remove(&mut self, rel: &str) -> Touched {
        let mut touched = Touched::new();
        let Some(entry) = self.entries.remove(rel) else {
            return touched;
        };
        self.unlist(&entry, &mut touched);
        let id = entry.article.id.clone();
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
            let claimants = self
                .claims
                .get(&*entry.article.id)
                .cloned()
                .unwrap_or_default();
            self.insert_entry(rel, entry.article.clone(), &claimants, touched);
        }
    }

    fn insert_entry(
        &mut self,
        rel: &Arc<str>,
        article: Arc<Article>,
        claimants: &OrdSet<Arc<str>>,
        touched: &mut Touched,
    ) {
        let id = if claimants.get_min() == Some(rel) {
            article.id.clone()
        } else {
            Arc::from(self.settings.ids.path_id(article.path_key()))
        };
        let category = article
            .categories
            .first()
            .map(|c| self.settings.category_slugs(c).join("/"))
            .unwrap_or_default();
        let s = &self.settings;
        let path = permalink::path(&s.permalink, &article, s.timezone, &category);
        let entry = Arc::new(Entry { article, id, path });
        self.list(&entry, touched);
        self.entries.insert(rel.clone(), entry);
    }

    fn list(&mut self, entry: &Entry, touched: &mut Touched) {
        let key = item_key(entry);
        for feed in feed_keys(&entry.article) {
            self.feeds
                .entry(feed.clone())
                .or_default()
                .insert(key.clone());
            touched.insert(feed);
        }
    }

    fn unlist(&mut self, entry: &Entry, touched: &mut Touched) {
        let key = item_key(entry);
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

fn item_key(entry: &Entry) -> ItemKey {
    ItemKey {
        date: Reverse(entry.article.date),
        id: entry.id.clone(),
        rel: entry.article.rel.clone(),
    }
}

/// The site feed, every prefix of every category hierarchy (a node's feed
/// holds its subtree), and every tag.
pub fn feed_keys(article: &Article) -> BTreeSet<FeedKey> {
    let mut keys = BTreeSet::from([FeedKey::Site]);
    for path in &article.categories {
        for depth in 1..=path.len() {
            keys.insert(FeedKey::Category(path[..depth].into()));
        }
    }
    for tag in &article.tags {
        keys.insert(FeedKey::Tag(tag.as_str().into()));
    }
    keys
}
