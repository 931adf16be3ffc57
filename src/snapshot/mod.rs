//! The immutable state that requests read: catalog, rendered documents,
//! the route table and the load reports. A reload derives a new snapshot
//! from the previous one and the changed files only; start-up is the same
//! code path with every file changed, so the two cannot drift apart.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

use chrono::{DateTime, Utc};
use imbl::{HashMap, OrdMap};
use rayon::prelude::*;

use crate::article::{self, Article, Content, FileReport, Loader, Packed};
use crate::catalog::{Catalog, Entry, FeedKey, Plan, Settings, Touched};
use crate::config::Config;
use crate::feed::{self, Channel, Format, Item, Site, layout};
use crate::html::{Cleaner, HtmlError};
use crate::pages::FeedSummary;
use crate::render::{Document, Earlier};
use crate::routes::{Articles, FeedRoutes, Routes};
use crate::source::{SourceError, SourceFile};
use crate::state::{History, HistoryView};

pub use crate::routes::{INDEX_PATH, Route};

/// One feed's documents and what the index page shows of it.
pub struct FeedDocs {
    pub channel: Channel,
    pub count: usize,
    pub updated: DateTime<Utc>,
    docs: [Arc<Document>; 3],
    /// Unique in the process for each rendering of a feed, so that what is
    /// derived from these documents (query representations) can be keyed
    /// by it and never outlive a change of the feed.
    pub id: u64,
}

impl std::fmt::Debug for FeedDocs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FeedDocs")
            .field("key", &self.channel.key)
            .field("count", &self.count)
            .finish_non_exhaustive()
    }
}

impl FeedDocs {
    pub fn doc(&self, format: Format) -> &Arc<Document> {
        &self.docs[format as usize]
    }

    /// What the index page shows of this feed.
    pub fn summary(&self) -> FeedSummary<'_> {
        FeedSummary {
            channel: &self.channel,
            count: self.count,
            updated: self.updated,
        }
    }
}

/// Timing and counts of the change that produced a snapshot.
#[derive(Debug, Clone, Copy)]
pub struct ReloadStats {
    pub at: SystemTime,
    pub duration: Duration,
    pub files: usize,
    pub feeds_rendered: usize,
}

#[derive(Debug, Clone)]
pub struct Snapshot {
    pub generation: u64,
    pub site: Arc<Site>,
    pub catalog: Catalog,
    contents: HashMap<Arc<str>, Arc<Content>>,
    /// The body text of every loaded article, by path: the last good one
    /// of a file whose edit was rejected. Whatever is served is rendered
    /// from these, never from the file again.
    bodies: HashMap<Arc<str>, Packed>,
    pub feeds: OrdMap<FeedKey, Arc<FeedDocs>>,
    routes: Routes,
    pub opml: Arc<Document>,
    pub index: Arc<Document>,
    /// The latest report of every file, by relative path.
    pub reports: OrdMap<Arc<str>, Arc<FileReport>>,
    /// The rejected subset of `reports`, kept apart so that listing it
    /// costs nothing per healthy file.
    rejected: OrdMap<Arc<str>, Arc<FileReport>>,
    pub stats: ReloadStats,
}

impl Snapshot {
    pub fn route(&self, path: &str) -> Option<&Route> {
        self.routes.lookup(path)
    }

    pub fn routes(&self) -> &Routes {
        &self.routes
    }

    pub fn content(&self, rel: &str) -> Option<&Arc<Content>> {
        self.contents.get(rel)
    }

    pub fn rejected(&self) -> impl Iterator<Item = &Arc<FileReport>> {
        self.rejected.values()
    }
}

/// A change to one file, as the watcher or a rescan saw it.
#[derive(Debug)]
pub enum Change {
    /// Created or modified: the file is read again.
    Write(SourceFile),
    Remove(Arc<str>),
    /// A path the walk will not follow (a link out of the source folder):
    /// reported, and whatever was loaded from it is gone.
    Refused(FileReport),
}

#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error(transparent)]
    Source(#[from] SourceError),
    #[error("load.remove_selectors: {0}")]
    Selector(#[from] HtmlError),
}

/// The stateless machinery, built once from the configuration.
pub struct Pipeline {
    loader: Loader,
    cleaner: Cleaner,
    settings: Arc<Settings>,
    site: Arc<Site>,
    root: std::path::PathBuf,
    limit: usize,
    max_bytes: usize,
    summary_length: usize,
    /// What each document path served before (see [`Dating`]).
    history: History,
}

/// How one render dates its documents: by their items' newest `updated`,
/// unless an earlier version of the same path says otherwise: the one in
/// the snapshot being replaced, else what [`History`] remembers (a feed
/// that comes back, a reload from scratch, a restart). The rules are
/// [`Earlier`]'s.
struct Dating {
    history: HistoryView,
    now: DateTime<Utc>,
}

impl Dating {
    fn date(
        &self,
        doc: Document,
        previous: Option<&Document>,
        path: impl FnOnce() -> String,
    ) -> Document {
        match previous.map(Document::validator) {
            Some(v) => doc.after(Earlier::Served(&v), self.now),
            None => doc.after(self.history.earlier(&path()), self.now),
        }
    }
}

/// Every report by path, and the rejected ones apart.
type ReportMap = OrdMap<Arc<str>, Arc<FileReport>>;

fn report_maps(reports: Vec<FileReport>) -> (ReportMap, ReportMap) {
    let mut all = ReportMap::new();
    let mut rejected = ReportMap::new();
    for r in reports {
        let r = Arc::new(r);
        if r.article.is_none() {
            rejected.insert(r.rel.clone(), r.clone());
        }
        all.insert(r.rel.clone(), r);
    }
    (all, rejected)
}

/// The bodies of the loaded files, by path.
fn body_map(loaded: &mut [article::WithBody]) -> HashMap<Arc<str>, Packed> {
    loaded
        .iter_mut()
        .filter_map(|(r, body)| Some((r.rel.clone(), body.take()?)))
        .collect()
}

/// Every render of a feed gets a new [`FeedDocs::id`].
static FEED_RENDERS: AtomicU64 = AtomicU64::new(0);

impl Pipeline {
    pub fn new(config: &Config) -> Result<Self, BuildError> {
        Ok(Pipeline {
            loader: Loader::new(config),
            cleaner: Cleaner::new(&config.site.url, &config.load.remove_selectors)?
                .with_max_body_bytes(config.load.max_body_bytes),
            settings: Arc::new(Settings::new(config)),
            site: Arc::new(Site::new(config)),
            root: config.source_dir.clone(),
            limit: config.feed.limit,
            max_bytes: config.feed.max_bytes,
            summary_length: config.load.summary_length,
            history: History::none(),
        })
    }

    /// Dates documents after what `history` says was served before.
    pub fn with_history(self, history: History) -> Self {
        Pipeline { history, ..self }
    }

    /// Records a just-published snapshot's documents in the history: the
    /// reload thread calls it after each publish, never a request. Feeds
    /// that `prev` already had unchanged are skipped.
    pub fn published(&self, prev: Option<&Snapshot>, snap: &Snapshot) {
        let unchanged = |key: &FeedKey, docs: &Arc<FeedDocs>| {
            prev.and_then(|p| p.feeds.get(key))
                .is_some_and(|old| Arc::ptr_eq(old, docs))
        };
        let feeds = snap
            .feeds
            .iter()
            .filter(|(key, docs)| !unchanged(key, docs))
            .filter_map(|(key, docs)| {
                let dir = snap.routes.feed_dir(key)?;
                Some(Format::ALL.into_iter().map(move |format| {
                    let path = layout::feed_path(dir, format);
                    (Arc::from(path), docs.doc(format).validator())
                }))
            })
            .flatten();
        let lists = [(layout::OPML_PATH, &snap.opml), (INDEX_PATH, &snap.index)]
            .map(|(path, doc)| (Arc::from(path), doc.validator()));
        self.history.published(feeds.chain(lists));
    }

    pub fn site(&self) -> &Arc<Site> {
        &self.site
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn settings(&self) -> &Arc<Settings> {
        &self.settings
    }

    /// The first snapshot: every file loaded, every feed rendered. The
    /// maps that are built one insert at a time (reports, article routes)
    /// are built beside the parallel work rather than after it.
    pub fn initial(&self) -> Result<Snapshot, BuildError> {
        self.initial_then(|| ()).map(|(snap, ())| snap)
    }

    /// [`Pipeline::initial`], running `after_load` on its own thread once
    /// every file has been read, beside the rest of the work.
    pub fn initial_then<T: Send>(
        &self,
        after_load: impl FnOnce() -> T + Send,
    ) -> Result<(Snapshot, T), BuildError> {
        let started = Instant::now();
        let mut loaded = self.loader.load_folder_with_bodies(&self.root)?;
        tracing::debug!(ms = started.elapsed().as_millis() as u64, "files loaded");
        let bodies = body_map(&mut loaded);
        let reports = loaded.into_iter().map(|(r, _)| r).collect();
        std::thread::scope(|scope| {
            let after = scope.spawn(after_load);
            let snap = self.initial_from(reports, bodies, started);
            let after = after
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            Ok((snap, after))
        })
    }

    fn initial_from(
        &self,
        reports: Vec<FileReport>,
        bodies: HashMap<Arc<str>, Packed>,
        started: Instant,
    ) -> Snapshot {
        let articles = reports.iter().filter_map(|r| r.article.clone()).collect();
        // The contents the feeds will show are cleaned while the catalog's
        // lookup structures are built: much of that is sequential.
        let ((catalog, contents), (reports, rejected)) = rayon::join(
            || {
                let plan = Plan::new(self.settings.clone(), articles);
                let shown = plan.newest(self.limit);
                rayon::join(|| plan.finish(), || self.contents(shown, &bodies))
            },
            || report_maps(reports),
        );
        let mut touched: Touched = catalog.feeds().map(|(key, _)| key).collect();
        touched.insert(FeedKey::Site);
        tracing::debug!(ms = started.elapsed().as_millis() as u64, "catalog built");
        let mut snap = Snapshot {
            generation: 0,
            site: self.site.clone(),
            catalog: Catalog::new(self.settings.clone()),
            contents,
            bodies,
            feeds: OrdMap::new(),
            // Feed documents name their own URLs: their folders first.
            routes: Routes::new(
                FeedRoutes::build(&self.settings, touched.iter().cloned()),
                Articles::default(),
            ),
            opml: Arc::new(Document::new(Vec::new(), "", DateTime::UNIX_EPOCH)),
            index: Arc::new(Document::new(Vec::new(), "", DateTime::UNIX_EPOCH)),
            reports: OrdMap::new(),
            rejected,
            stats: self.stats(started, 0, 0),
        };
        let (articles, feeds_rendered) = rayon::join(
            || Articles::build(catalog.entries()),
            || self.render_touched(&mut snap, &catalog, &touched),
        );
        tracing::debug!(ms = started.elapsed().as_millis() as u64, "feeds rendered");
        snap.routes.set_articles(articles);
        snap.stats = self.stats(started, reports.len(), feeds_rendered);
        snap.catalog = catalog;
        snap.reports = reports;
        snap.generation = 1;
        snap
    }

    /// A new snapshot with `changes` applied to `prev`. A file that no
    /// longer loads keeps its last good version in the feeds; its report
    /// says why.
    pub fn apply(&self, prev: &Snapshot, changes: Vec<Change>) -> Snapshot {
        let started = Instant::now();
        let (refused, changes): (Vec<_>, Vec<_>) = changes
            .into_iter()
            .partition(|c| matches!(c, Change::Refused(_)));
        let loaded: Vec<_> = changes
            .into_par_iter()
            .filter_map(|change| match change {
                Change::Write(file) => {
                    let parsed = self.loader.read(&file, Packed::new);
                    Some((file.rel.clone(), Some((file, parsed))))
                }
                Change::Remove(rel) => Some((rel, None)),
                Change::Refused(_) => None,
            })
            .collect();
        let mut catalog = prev.catalog.clone();
        let mut reports = prev.reports.clone();
        let mut touched = Touched::new();
        let mut bodies = Vec::new();
        let mut changed = Vec::with_capacity(loaded.len());
        // Contents to drop; a file that fails to load keeps its last good
        // content along with its last good article.
        let mut stale = Vec::new();
        for (rel, outcome) in loaded {
            let key = rel.clone();
            changed.push(key.clone());
            match outcome {
                None => {
                    touched.extend(catalog.remove(&rel));
                    reports.remove(&key);
                    stale.push(key);
                }
                Some((file, Ok((parsed, body)))) => {
                    // Judged against the last good version, which the
                    // snapshot keeps while the file is rejected.
                    let last = prev.reports.get(&key).map(|r| r.opening);
                    let cut = prev
                        .bodies
                        .get(&key)
                        .zip(last)
                        .and_then(|(b, o)| article::cut_from(o, b, &parsed, &body));
                    if let Some(why) = cut {
                        let mut report = FileReport::rejected(
                            &file,
                            vec![article::cut_message(why)],
                            parsed.fingerprint,
                        );
                        report.opening = last.unwrap_or_default();
                        reports.insert(key, Arc::new(report));
                        continue;
                    }
                    let report = FileReport::loaded(&file, parsed);
                    if let Some(a) = &report.article {
                        touched.extend(catalog.upsert(a.clone()));
                    }
                    bodies.push((key.clone(), body));
                    stale.push(key.clone());
                    reports.insert(key, Arc::new(report));
                }
                Some((file, Err(rejected))) => {
                    // The fingerprint is the one of the bytes judged, so
                    // that a rescan notices the file written since; and the
                    // report remembers how the last good version opened.
                    let mut report =
                        FileReport::rejected(&file, rejected.messages, rejected.fingerprint);
                    report.opening = prev
                        .reports
                        .get(&key)
                        .map(|r| r.opening)
                        .unwrap_or_default();
                    reports.insert(key, Arc::new(report));
                }
            }
        }
        for change in refused {
            if let Change::Refused(report) = change {
                let key = report.rel.clone();
                touched.extend(catalog.remove(&key));
                changed.push(key.clone());
                stale.push(key.clone());
                reports.insert(key, Arc::new(report));
            }
        }
        let mut base = prev.clone();
        for rel in &stale {
            base.contents.remove(rel);
            base.bodies.remove(rel);
        }
        base.bodies.extend(bodies);
        self.finish(base, catalog, reports, touched, changed, started)
    }

    fn finish(
        &self,
        mut snap: Snapshot,
        catalog: Catalog,
        reports: OrdMap<Arc<str>, Arc<FileReport>>,
        mut touched: Touched,
        changed: Vec<Arc<str>>,
        started: Instant,
    ) -> Snapshot {
        let moved = snap
            .routes
            .update(&snap.catalog, &catalog, &changed, &touched);
        for key in &moved {
            tracing::info!(feed = ?key, dir = snap.routes.feed_dir(key),
                "feed served from a new folder: a feed with the same slug came or went");
        }
        touched.extend(moved);
        let feeds_rendered = self.render_touched(&mut snap, &catalog, &touched);
        for rel in &changed {
            match reports.get(rel) {
                Some(r) if r.article.is_none() => snap.rejected.insert(rel.clone(), r.clone()),
                _ => snap.rejected.remove(rel),
            };
        }
        snap.catalog = catalog;
        snap.reports = reports;
        snap.generation += 1;
        snap.stats = self.stats(started, changed.len(), feeds_rendered);
        snap
    }

    /// Renders the touched feeds (contents first, in parallel), stores
    /// them, and renders the OPML and index pages that
    /// list them. Returns how many feeds were rendered.
    fn render_touched(&self, snap: &mut Snapshot, catalog: &Catalog, touched: &Touched) -> usize {
        let shown: Vec<(FeedKey, Vec<Arc<Entry>>)> = touched
            .iter()
            .map(|k| (k.clone(), catalog.newest(k, self.limit)))
            .collect();
        self.load_contents(snap, &shown);
        let dating = Dating {
            history: self.history.view(),
            now: Utc::now(),
        };
        let rendered: Vec<(FeedKey, Option<FeedDocs>)> = shown
            .into_par_iter()
            .map(|(key, entries)| {
                let count = catalog.count(&key);
                let docs = (count > 0 || key == FeedKey::Site)
                    .then(|| self.render_feed(snap, &key, entries, count, &dating));
                (key, docs)
            })
            .collect();
        let feeds_rendered = rendered.len();
        for (key, docs) in rendered {
            self.store_feed(snap, key, docs);
        }
        // The first snapshot's lists are placeholders, not earlier versions.
        let first = snap.generation == 0;
        let opml = self.opml(snap);
        let previous = (!first).then_some(&*snap.opml);
        snap.opml = Arc::new(dating.date(opml, previous, || layout::OPML_PATH.into()));
        let index = self.index(snap);
        let previous = (!first).then_some(&*snap.index);
        snap.index = Arc::new(dating.date(index, previous, || INDEX_PATH.into()));
        feeds_rendered
    }

    fn stats(&self, started: Instant, files: usize, feeds_rendered: usize) -> ReloadStats {
        ReloadStats {
            at: SystemTime::now(),
            duration: started.elapsed(),
            files,
            feeds_rendered,
        }
    }

    /// Renders, in parallel, the content of every shown entry that has none
    /// yet, from the bodies the snapshot keeps.
    fn load_contents(&self, snap: &mut Snapshot, shown: &[(FeedKey, Vec<Arc<Entry>>)]) {
        let mut missing: Vec<&Arc<Entry>> = Vec::new();
        let mut seen = BTreeSet::new();
        for entry in shown.iter().flat_map(|(_, e)| e) {
            let rel = &*entry.article.rel;
            if !snap.contents.contains_key(rel) && seen.insert(rel) {
                missing.push(entry);
            }
        }
        let rendered: Vec<(Arc<str>, Arc<Content>)> = missing
            .into_par_iter()
            .map(|entry| {
                let rel = entry.article.rel.clone();
                let content = self.content(&entry.article, snap.bodies.get(&rel));
                (rel, Arc::new(content))
            })
            .collect();
        snap.contents.extend(rendered);
    }

    /// The contents of `articles`, in parallel.
    fn contents(
        &self,
        articles: Vec<Arc<Article>>,
        bodies: &HashMap<Arc<str>, Packed>,
    ) -> HashMap<Arc<str>, Arc<Content>> {
        let rendered: Vec<(Arc<str>, Arc<Content>)> = articles
            .into_par_iter()
            .map(|a| {
                let content = self.content(&a, bodies.get(&a.rel));
                (a.rel.clone(), Arc::new(content))
            })
            .collect();
        rendered.into_iter().collect()
    }

    /// An entry's content in `snap`: kept there when a feed shows it,
    /// else rendered from the body the snapshot keeps.
    pub fn content_of(&self, snap: &Snapshot, entry: &Entry) -> Arc<Content> {
        let rel = &*entry.article.rel;
        match snap.contents.get(rel) {
            Some(c) => c.clone(),
            None => Arc::new(self.content(&entry.article, snap.bodies.get(rel))),
        }
    }

    /// An article's content, rendered from its body. Every loaded article
    /// has one in the snapshot; were one missing, the item would show an
    /// empty body rather than anything read from the disk now.
    fn content(&self, a: &Article, body: Option<&Packed>) -> Content {
        let body = body.map(Packed::text).unwrap_or_else(|| {
            tracing::warn!(path = %a.rel, "no body kept for a loaded article");
            String::new()
        });
        article::body::render(
            Path::new(&*a.rel),
            &body,
            a.description.as_deref(),
            &self.cleaner,
            self.summary_length,
        )
    }

    fn render_feed(
        &self,
        snap: &Snapshot,
        key: &FeedKey,
        entries: Vec<Arc<Entry>>,
        count: usize,
        dating: &Dating,
    ) -> FeedDocs {
        let items: Vec<Item> = entries
            .into_iter()
            .map(|e| {
                let content = snap
                    .contents
                    .get(&*e.article.rel)
                    .cloned()
                    .unwrap_or_default();
                Item::new(e, content, &self.settings)
            })
            .collect();
        let dir = match snap.routes.feed_dir(key) {
            Some(d) => d.to_string(),
            None => layout::dir(&self.settings, key),
        };
        let channel = Channel::new(&self.site, &self.settings, key, &dir);
        let updated = feed::last_updated(&self.site, &items);
        let previous = snap.feeds.get(key);
        let doc = |format: Format| {
            let bytes = feed::render_capped(&self.site, &channel, &items, format, self.max_bytes);
            let doc = Document::new(bytes, format.content_type(), updated);
            let old = previous.map(|p| p.doc(format).as_ref());
            Arc::new(dating.date(doc, old, || layout::feed_path(&dir, format)))
        };
        FeedDocs {
            docs: [doc(Format::Rss), doc(Format::Atom), doc(Format::Json)],
            channel,
            count,
            updated,
            id: FEED_RENDERS.fetch_add(1, Ordering::Relaxed),
        }
    }

    fn store_feed(&self, snap: &mut Snapshot, key: FeedKey, docs: Option<FeedDocs>) {
        match docs {
            Some(d) => snap.feeds.insert(key, Arc::new(d)),
            None => snap.feeds.remove(&key),
        };
    }

    /// When any feed last changed, for the pages that list them all.
    fn newest_update(&self, snap: &Snapshot) -> DateTime<Utc> {
        let newest = snap.feeds.values().map(|f| f.updated).max();
        newest.unwrap_or(self.site.epoch)
    }

    fn index(&self, snap: &Snapshot) -> Document {
        let html = crate::pages::index(&self.site, snap.feeds.values().map(|f| f.summary()));
        let updated = self.newest_update(snap);
        Document::new(html.into_bytes(), "text/html; charset=utf-8", updated)
    }

    fn opml(&self, snap: &Snapshot) -> Document {
        let channels: Vec<Channel> = snap.feeds.values().map(|f| f.channel.clone()).collect();
        let updated = self.newest_update(snap);
        Document::new(
            feed::opml::render(&self.site, &channels),
            "text/x-opml; charset=utf-8",
            updated,
        )
    }
}
