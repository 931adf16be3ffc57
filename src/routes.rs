//! The route table: which document each URL path serves, from one set of
//! claim rules. Reserved paths win over feeds and feeds over article
//! permalinks; among feeds whose folders coincide the key that sorts first
//! keeps the folder and the others get `<slug>-<hash of the name>`; among
//! articles with one permalink the first by source path is served. Each
//! outcome is a function of the set of claimants alone, never of the order
//! in which they arrived, so no removal can strand a path that another
//! claimant still wants.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Arc;

use crate::article::Message;
use crate::catalog::{Catalog, Entry, Touched};
use crate::site::layout::{self, Format, OPML_PATH};
use crate::site::links::encoded_len;
use crate::site::slug::{MAX_SEGMENT_BYTES, short_hash};
use crate::site::{FeedKey, Scheme};

pub use crate::site::layout::{HEALTHZ_PATH, INDEX_PATH, METRICS_PATH, is_reserved};

/// What a URL path (decoded, without the leading `/`) serves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    Feed(FeedKey, Format),
    Opml,
    /// The HTML index of every feed.
    Index,
    /// A feed's HTML page, at its folder: the channel link.
    FeedPage(FeedKey),
    /// An article page at its permalink.
    Article(Arc<str>),
}

/// Every feed's folder and the paths of its documents, with the index and
/// OPML: a function of the set of feeds, rebuilt when that set changes.
#[derive(Debug, Default, PartialEq)]
pub struct FeedRoutes {
    dirs: HashMap<FeedKey, Arc<str>>,
    paths: HashMap<Arc<str>, Route>,
}

impl FeedRoutes {
    pub fn build(scheme: &Scheme, keys: impl IntoIterator<Item = FeedKey>) -> Self {
        // Key order puts the site first, every category node before its
        // children, and sibling names in sort order.
        let keys: BTreeSet<FeedKey> = keys.into_iter().chain([FeedKey::Site]).collect();
        let mut dirs: HashMap<FeedKey, Arc<str>> = HashMap::with_capacity(keys.len());
        let mut taken: HashSet<Arc<str>> = HashSet::with_capacity(keys.len());
        for key in keys {
            let parent = parent_dir(scheme, &dirs, &key);
            let wanted = layout::child_dir(scheme, &parent, &key);
            let dir: Arc<str> = unclaimed(&taken, wanted, &key).into();
            taken.insert(dir.clone());
            dirs.insert(key, dir);
        }
        let mut paths = HashMap::with_capacity(dirs.len() * 4 + 3);
        for (key, dir) in &dirs {
            for format in Format::ALL {
                let path = layout::feed_path(dir, format);
                paths.insert(path.into(), Route::Feed(key.clone(), format));
            }
            // The site's folder is the index's.
            if *key != FeedKey::Site {
                paths.insert(dir.clone(), Route::FeedPage(key.clone()));
            }
        }
        paths.insert(OPML_PATH.into(), Route::Opml);
        paths.insert("".into(), Route::Index);
        paths.insert(INDEX_PATH.into(), Route::Index);
        FeedRoutes { dirs, paths }
    }

    /// The folder a feed is served from (see [`layout::dir`]).
    pub fn dir(&self, key: &FeedKey) -> Option<&str> {
        self.dirs.get(key).map(|d| &**d)
    }
}

/// The folder `key`'s parent node was given in `dirs` (`categories/` or
/// `tags/` at the top).
fn parent_dir(scheme: &Scheme, dirs: &HashMap<FeedKey, Arc<str>>, key: &FeedKey) -> String {
    match key {
        FeedKey::Category(names) if names.len() > 1 => {
            let parent = FeedKey::Category(names[..names.len() - 1].into());
            match dirs.get(&parent) {
                Some(d) => d.to_string(),
                None => layout::dir(scheme, &parent),
            }
        }
        FeedKey::Category(_) => layout::CATEGORIES.to_string(),
        FeedKey::Tag(_) => layout::TAGS.to_string(),
        FeedKey::Configured(_) => layout::FEEDS.to_string(),
        FeedKey::Site => String::new(),
    }
}

/// `wanted`, or when another feed has it, `wanted` with the hash of this
/// feed's own name appended to its last segment (then a counter, against
/// a name made to look like such a hash).
fn unclaimed(taken: &HashSet<Arc<str>>, wanted: String, key: &FeedKey) -> String {
    if !taken.contains(wanted.as_str()) {
        return wanted;
    }
    let name = match key {
        FeedKey::Site => "",
        FeedKey::Category(names) => names.last().map_or("", String::as_str),
        FeedKey::Tag(name) | FeedKey::Configured(name) => name,
    };
    let base = format!("{}-{}", wanted.trim_end_matches('/'), short_hash(name));
    (1u64..)
        .map(|n| match n {
            1 => format!("{base}/"),
            n => format!("{base}-{n}/"),
        })
        .find(|d| !taken.contains(d.as_str()))
        .unwrap_or(wanted)
}

/// The articles claiming one permalink path: the first by source path is
/// served, the rest wait their turn.
#[derive(Debug, Clone, PartialEq)]
struct Claim {
    route: Route,
    /// The other claimants in path order; `None` for the usual single one,
    /// which then costs no allocation.
    waiting: Option<Arc<[Arc<str>]>>,
}

impl Claim {
    fn claimants(&self) -> Vec<Arc<str>> {
        let Route::Article(first) = &self.route else {
            return Vec::new();
        };
        let rest = self.waiting.iter().flat_map(|w| w.iter().cloned());
        std::iter::once(first.clone()).chain(rest).collect()
    }

    /// `None` when nobody claims the path any more.
    fn of(mut claimants: Vec<Arc<str>>) -> Option<Claim> {
        claimants.sort();
        claimants.dedup();
        let mut rest = claimants.into_iter();
        let first = rest.next()?;
        let rest: Vec<Arc<str>> = rest.collect();
        Some(Claim {
            route: Route::Article(first),
            waiting: (!rest.is_empty()).then(|| rest.into()),
        })
    }
}

/// Article permalinks with their claimants. Persistent, so a snapshot
/// shares it with the one before and a change copies a path, not the map;
/// a B-tree rather than imbl's hash trie, whose sparse nodes cost 35 MB
/// at 100,000 posts against this one's 5 (issue 10's memory figure).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Articles(imbl::OrdMap<Arc<str>, Claim>);

impl Articles {
    pub fn build<'a>(entries: impl Iterator<Item = &'a Arc<Entry>>) -> Self {
        let mut out = Articles::default();
        for e in entries {
            out.claim(&e.path, &e.article.rel);
        }
        out
    }

    fn claim(&mut self, path: &Arc<str>, rel: &Arc<str>) {
        match self.0.entry(path.clone()) {
            imbl::ordmap::Entry::Vacant(v) => {
                v.insert(Claim {
                    route: Route::Article(rel.clone()),
                    waiting: None,
                });
            }
            imbl::ordmap::Entry::Occupied(mut o) => {
                let mut all = o.get().claimants();
                all.push(rel.clone());
                if let Some(claim) = Claim::of(all) {
                    o.insert(claim);
                }
            }
        }
    }

    fn release(&mut self, path: &str, rel: &str) {
        let Some(c) = self.0.get(path) else {
            return;
        };
        let mut all = c.claimants();
        all.retain(|r| &**r != rel);
        match Claim::of(all) {
            Some(claim) => {
                self.0.insert(path.into(), claim);
            }
            None => {
                self.0.remove(path);
            }
        }
    }

    fn served(&self, path: &str) -> Option<&Route> {
        self.0.get(path).map(|c| &c.route)
    }
}

/// Why an article is not served at its permalink.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Loss {
    /// refeed's own path (the index, the OPML, `/healthz`, ...).
    Reserved,
    Feed(FeedKey),
    /// Another article, first by source path, has the same permalink.
    Article(Arc<str>),
}

/// The whole table: feed routes shared between snapshots until the set of
/// feeds changes, article routes as a persistent map.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Routes {
    feeds: Arc<FeedRoutes>,
    articles: Articles,
}

impl Routes {
    pub fn new(feeds: FeedRoutes, articles: Articles) -> Self {
        Routes {
            feeds: Arc::new(feeds),
            articles,
        }
    }

    /// The table of a catalog, all at once.
    pub fn build(catalog: &Catalog) -> Self {
        let feeds = FeedRoutes::build(catalog.scheme(), catalog.feeds().map(|(k, _)| k));
        Routes::new(feeds, Articles::build(catalog.entries()))
    }

    pub fn lookup(&self, path: &str) -> Option<&Route> {
        if let Some(route) = self.feeds.paths.get(path) {
            return Some(route);
        }
        if is_reserved(path) {
            return None;
        }
        self.articles.served(path)
    }

    /// The feed part of the table: shared by snapshots until the set of
    /// feeds changes, so its address tells pages rendered from it apart.
    pub fn feed_table(&self) -> &Arc<FeedRoutes> {
        &self.feeds
    }

    /// The folder a feed is served from (see [`layout::dir`]).
    pub fn feed_dir(&self, key: &FeedKey) -> Option<&str> {
        self.feeds.dir(key)
    }

    /// The table after `changed` files went from `old` to `new` and the
    /// feeds in `touched` changed. Returns the feeds whose folder moved
    /// (a sibling with the same slug came or went): their documents name
    /// their own URLs, so they must be rendered again.
    pub fn update(
        &mut self,
        old: &Catalog,
        new: &Catalog,
        changed: &[Arc<str>],
        touched: &Touched,
    ) -> Vec<FeedKey> {
        for rel in changed {
            if let Some(e) = old.entry(rel) {
                self.articles.release(&e.path, rel);
            }
            if let Some(e) = new.entry(rel) {
                self.articles.claim(&e.path, rel);
            }
        }
        let exists = |k: &FeedKey| k.always_served() || new.count(k) > 0;
        if touched
            .iter()
            .all(|k| exists(k) == self.feeds.dirs.contains_key(k))
        {
            return Vec::new();
        }
        let feeds = FeedRoutes::build(new.scheme(), new.feeds().map(|(k, _)| k));
        let moved: Vec<FeedKey> = feeds
            .dirs
            .iter()
            .filter(|(k, d)| self.feeds.dirs.get(*k).is_some_and(|old| old != *d))
            .map(|(k, _)| k.clone())
            .collect();
        self.feeds = Arc::new(feeds);
        moved
    }

    /// Why `entry` is not served at its permalink, if it is not.
    pub fn loss(&self, entry: &Entry) -> Option<Loss> {
        let path = &*entry.path;
        match self.feeds.paths.get(path) {
            Some(Route::Feed(key, _)) => return Some(Loss::Feed(key.clone())),
            Some(_) => return Some(Loss::Reserved),
            None if is_reserved(path) => return Some(Loss::Reserved),
            None => {}
        }
        match self.articles.served(path) {
            Some(Route::Article(rel)) if *rel != entry.article.rel => {
                Some(Loss::Article(rel.clone()))
            }
            _ => None,
        }
    }

    /// What `refeed check` says about a feed's folder, on each post in
    /// the feed: its name cut to fit a URL segment, the folder hashed to
    /// fit the URL limit, or moved aside by a sibling with the same slug.
    pub fn feed_warnings(&self, scheme: &Scheme, key: &FeedKey) -> Vec<Message> {
        let (field, map, name, cut) = match key {
            FeedKey::Site | FeedKey::Configured(_) => return Vec::new(),
            FeedKey::Category(names) => {
                let name = names.last().map_or("", String::as_str);
                let cut = scheme.slugs.cut_category(name);
                ("categories", "category_map", name, cut)
            }
            FeedKey::Tag(name) => ("tags", "tag_map", &**name, scheme.slugs.cut_tag(name)),
        };
        let dir = self.feed_dir(key).unwrap_or_default();
        let name = short(name);
        let limit = scheme.max_url_bytes;
        let texts = [
            cut.map(|len| {
                format!(
                    "`{name}` is {len} bytes as a URL segment, over {MAX_SEGMENT_BYTES}: \
                     cut with a hash, feed folder /{dir}"
                )
            }),
            layout::hashed(scheme, key).then(|| {
                format!(
                    "the feed URL of `{name}` would be over server.max_url_bytes ({limit}): \
                     feed folder /{dir}"
                )
            }),
            self.moved_aside(scheme, key).then(|| {
                format!(
                    "`{name}` slugizes like a name that sorts before it (set {map} to choose): \
                     feed folder /{dir}"
                )
            }),
        ];
        texts
            .into_iter()
            .flatten()
            .map(|text| Message::field_warning(None, field, text))
            .collect()
    }

    /// Whether a feed's folder is not the one its own names give below
    /// its parent's folder: another feed had that one first.
    fn moved_aside(&self, scheme: &Scheme, key: &FeedKey) -> bool {
        let parent = parent_dir(scheme, &self.feeds.dirs, key);
        self.feed_dir(key)
            .is_some_and(|d| d != layout::child_dir(scheme, &parent, key))
    }

    /// What `refeed check` says about a post's permalink: served to
    /// another post or feed, reserved, or too long to request.
    pub fn permalink_warning(&self, scheme: &Scheme, entry: &Entry) -> Option<Message> {
        if entry.article.link.is_some() {
            return None;
        }
        if let Some(own) = &entry.article.permalink
            && crate::site::permalink::fixed(own).is_none()
        {
            let text = format!(
                "{} leaves the site root or is refeed's own URL: the link is /{}, from the site's pattern",
                short(own),
                entry.path
            );
            return Some(Message::field_warning(None, "permalink", text));
        }
        let url = format!("/{}", entry.path);
        let text = match self.loss(entry) {
            Some(Loss::Reserved) => format!("{} is refeed's own URL: no page there", short(&url)),
            Some(Loss::Feed(_)) => format!("{} is a feed's URL: no page there", short(&url)),
            Some(Loss::Article(rel)) => {
                format!(
                    "{} is also the URL of {rel}, which is served there",
                    short(&url)
                )
            }
            None => {
                let len = 1 + encoded_len(&entry.path);
                if len <= scheme.max_url_bytes {
                    return None;
                }
                format!(
                    "{} is {len} bytes encoded, over server.max_url_bytes ({}): \
                     the page cannot be requested",
                    short(&url),
                    scheme.max_url_bytes
                )
            }
        };
        Some(Message::field_warning(None, "permalink", text))
    }
}

/// A name as a message quotes it: long ones shortened.
fn short(s: &str) -> String {
    const MAX_CHARS: usize = 40;
    match s.char_indices().nth(MAX_CHARS) {
        Some((at, _)) => format!("{}…", &s[..at]),
        None => s.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::article::Article;
    use crate::catalog::feed_keys;

    fn article(
        rel: &str,
        cats: &[&[&str]],
        tags: &[&str],
        permalink: Option<&str>,
    ) -> Arc<Article> {
        Arc::new(Article {
            permalink: permalink.map(str::to_string),
            ..crate::catalog::listed_article(rel, 1, cats, tags)
        })
    }

    /// Every kind of collision: sibling categories and tags with one slug
    /// (and children below them), two posts with one permalink, a
    /// permalink on a feed path, one on a reserved path.
    fn colliding() -> Vec<Arc<Article>> {
        vec![
            article("a.md", &[&["C"]], &["C"], Some("same/")),
            article("b.md", &[&["C#", "X"]], &["C#"], Some("same/")),
            article("c.md", &[&["C++", "X"]], &["C++"], Some("tags/C/rss.xml")),
            article("d.md", &[&["c"]], &["c"], Some("opml.xml")),
            article("e.md", &[&["C", "X"]], &[], None),
            // A name made to look like the folder `C#` is moved to.
            article("f.md", &[&["C-56f4917b"]], &["C-56f4917b"], None),
        ]
    }

    fn permutations(n: usize) -> Vec<Vec<usize>> {
        if n == 0 {
            return vec![Vec::new()];
        }
        let mut out = Vec::new();
        for p in permutations(n - 1) {
            for at in 0..=p.len() {
                let mut q = p.clone();
                q.insert(at, n - 1);
                out.push(q);
            }
        }
        out
    }

    /// Applies one change as the pipeline does.
    fn step(routes: &mut Routes, catalog: &mut Catalog, change: Result<Arc<Article>, &str>) {
        let old = catalog.clone();
        let (rel, touched) = match change {
            Ok(a) => (a.rel.clone(), catalog.upsert(a)),
            Err(rel) => (rel.into(), catalog.remove(rel)),
        };
        routes.update(&old, catalog, &[rel], &touched);
    }

    fn assert_sound(routes: &Routes, catalog: &Catalog) {
        let mut dirs = HashSet::new();
        for (key, _) in catalog.feeds() {
            let dir = routes.feed_dir(&key).expect("every feed has a folder");
            assert!(dirs.insert(dir.to_string()), "{dir} twice");
            for format in Format::ALL {
                let path = layout::feed_path(dir, format);
                assert_eq!(
                    routes.lookup(&path),
                    Some(&Route::Feed(key.clone(), format))
                );
            }
        }
        assert_eq!(routes.lookup("opml.xml"), Some(&Route::Opml));
    }

    #[test]
    fn every_order_of_events_gives_the_table_built_at_once() {
        let articles = colliding();
        let empty = Catalog::new(crate::setup::default_scheme());
        for order in permutations(articles.len()) {
            let mut routes = Routes::build(&empty);
            let mut catalog = empty.clone();
            for &i in &order {
                step(&mut routes, &mut catalog, Ok(articles[i].clone()));
            }
            assert_eq!(routes, Routes::build(&catalog), "adding in order {order:?}");
            assert_sound(&routes, &catalog);
            // Then remove them all in another order, checking each state.
            for &i in order.iter().rev() {
                step(&mut routes, &mut catalog, Err(&articles[i].rel));
                assert_eq!(routes, Routes::build(&catalog), "removing after {order:?}");
                assert_sound(&routes, &catalog);
            }
        }
    }

    #[test]
    fn precedence_reserved_then_feeds_then_first_article_by_path() {
        let catalog = Catalog::build(crate::setup::default_scheme(), colliding());
        let routes = Routes::build(&catalog);
        let dir = |names: &[&str]| {
            let key = FeedKey::Category(
                names
                    .iter()
                    .map(|n| n.to_string())
                    .collect::<Vec<_>>()
                    .into(),
            );
            routes.feed_dir(&key).unwrap().to_string()
        };
        // "C" < "C#" < "C++" < "c": the first keeps the plain slug.
        assert_eq!(dir(&["C"]), "categories/C/");
        assert_eq!(dir(&["C#"]), format!("categories/C-{}/", short_hash("C#")));
        assert_eq!(
            dir(&["C++"]),
            format!("categories/C-{}/", short_hash("C++"))
        );
        assert_eq!(
            dir(&["c"]),
            "categories/c/",
            "case is kept apart, not merged"
        );
        let lookalike = format!("categories/C-56f4917b-{}/", short_hash("C-56f4917b"));
        assert_eq!(dir(&["C-56f4917b"]), lookalike);
        // Children live under their own parent's folder.
        assert_eq!(
            dir(&["C#", "X"]),
            format!("categories/C-{}/X/", short_hash("C#"))
        );
        assert_eq!(dir(&["C", "X"]), "categories/C/X/");
        assert_eq!(routes.lookup("same/"), Some(&Route::Article("a.md".into())));
        let tag_c = Route::Feed(FeedKey::Tag("C".into()), Format::Rss);
        assert_eq!(routes.lookup("tags/C/rss.xml"), Some(&tag_c));
        assert_eq!(routes.lookup("opml.xml"), Some(&Route::Opml));
        let entry = |rel: &str| catalog.entry(rel).unwrap().clone();
        assert_eq!(
            routes.loss(&entry("b.md")),
            Some(Loss::Article("a.md".into()))
        );
        assert_eq!(
            routes.loss(&entry("c.md")),
            Some(Loss::Feed(FeedKey::Tag("C".into())))
        );
        // A permalink on a reserved path gives way to the site's pattern.
        assert_eq!(routes.loss(&entry("d.md")), None);
        assert!(!is_reserved(&entry("d.md").path), "{}", entry("d.md").path);
        assert_eq!(routes.loss(&entry("a.md")), None);
    }

    #[test]
    fn reserved_paths_and_folders() {
        for path in [
            "",
            "index.html",
            "opml.xml",
            "healthz",
            "feeds/x",
            "images/a.png",
            "metrics",
        ] {
            assert!(is_reserved(path), "{path:?}");
        }
        for path in ["healthzz", "feedsx/", "2021/01/01/a/", "metrics-and-more/"] {
            assert!(!is_reserved(path), "{path:?}");
        }
    }

    #[test]
    fn long_names_fit_in_a_segment_and_the_url_limit() {
        let long = "中".repeat(88);
        let huge = "x".repeat(20_000);
        let deep: Vec<String> = (0..40).map(|i| format!("{i}{}", "長".repeat(40))).collect();
        let deep: Vec<&str> = deep.iter().map(String::as_str).collect();
        let catalog = Catalog::build(
            crate::setup::default_scheme(),
            vec![
                article("a.md", &[&[&long], &[&huge]], &[&huge], None),
                article("b.md", &[&deep], &[], None),
            ],
        );
        let routes = Routes::build(&catalog);
        assert_sound(&routes, &catalog);
        let s = catalog.scheme();
        for (key, _) in catalog.feeds() {
            let dir = routes.feed_dir(&key).unwrap();
            for segment in dir.split('/') {
                assert!(segment.len() <= MAX_SEGMENT_BYTES, "{segment}");
            }
            let url = 1 + encoded_len(&layout::feed_path(dir, Format::Json));
            assert!(url <= s.max_url_bytes, "{url} bytes for {key:?}");
        }
        let warnings = |rel: &str| -> Vec<Message> {
            let entry = catalog.entry(rel).unwrap();
            feed_keys(&entry.article)
                .iter()
                .flat_map(|k| routes.feed_warnings(s, k))
                .collect()
        };
        let a = warnings("a.md");
        assert!(a.iter().any(|m| m.text.contains("cut")), "{a:?}");
        let b = warnings("b.md");
        assert!(b.iter().any(|m| m.text.contains("max_url_bytes")), "{b:?}");
    }
}
