//! The pipeline: files -> the next [`Snapshot`]. A reload derives it from
//! the previous one and the changed files only, as a [`Delta`]; start-up
//! is the same code path ([`Pipeline::next`]) with no previous snapshot,
//! so the two cannot drift apart.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use chrono::Utc;
use imbl::HashMap;
use rayon::prelude::*;

use super::documents::{Dating, Documents, Render};
use super::{FeedDocs, INDEX_PATH, ReloadStats, ReportMap, Snapshot};
use crate::article::spill::Spill;
use crate::article::{self, Article, Content, FileReport, Loader, Lost, Packed};
use crate::catalog::{Catalog, Entry, FeedKey, Listed, Plan, Touched};
use crate::config::Config;
use crate::feed::Format;
use crate::html::{Cleaner, HtmlError};
use crate::routes::{Articles, FeedRoutes, Routes};
use crate::site::{Masthead, Scheme, layout};
use crate::source::{SourceError, SourceFile};
use crate::state::History;

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
    settings: Arc<Scheme>,
    site: Arc<Masthead>,
    root: std::path::PathBuf,
    /// Where the bodies read at start-up are kept (see [`Spill`]).
    spill_dir: std::path::PathBuf,
    limit: usize,
    max_bytes: usize,
    summary_length: usize,
    /// What each document path served before (see [`Dating`]).
    history: History,
}

/// What a load or a reload changes: everything the next snapshot holds
/// but its route table and its documents, which [`Pipeline::next`] derives
/// from this and the snapshot it replaces.
struct Delta {
    /// The catalog after the change.
    catalog: Catalog,
    /// Every file's report after the change, and the rejected and linked
    /// ones apart.
    reports: ReportMap,
    rejected: ReportMap,
    linked: ReportMap,
    /// The feeds whose members changed.
    touched: Touched,
    /// The files a reload read, removed or refused, whose article routes
    /// are claimed again (a first load builds its table whole).
    changed: Vec<Arc<str>>,
    /// How many files the change read, removed or refused.
    files: usize,
    /// The contents still valid; what the touched feeds show and lacks one
    /// is rendered from `bodies`.
    contents: HashMap<Arc<str>, Arc<Content>>,
    bodies: HashMap<Arc<str>, Packed>,
    started: Instant,
}

/// Every report by path, and the rejected and the linked ones apart.
fn report_maps(reports: Vec<FileReport>) -> (ReportMap, ReportMap, ReportMap) {
    let mut all = ReportMap::new();
    let mut rejected = ReportMap::new();
    let mut linked = ReportMap::new();
    for r in reports {
        let r = Arc::new(r);
        if r.article.is_none() {
            rejected.insert(r.rel.clone(), r.clone());
        }
        if r.linked {
            linked.insert(r.rel.clone(), r.clone());
        }
        all.insert(r.rel.clone(), r);
    }
    (all, rejected, linked)
}

/// Where a first load's bodies go (see [`Pipeline::keeper`]).
struct Keeper {
    spills: Vec<Arc<Spill>>,
}

impl Keeper {
    fn keep(&self, body: &str) -> Packed {
        // The last spill is for a thread outside the pool.
        let last = self.spills.len().saturating_sub(1);
        let thread = rayon::current_thread_index().unwrap_or(last);
        match self.spills.get(thread) {
            Some(spill) => Packed::spilled(spill, body),
            None => Packed::new(body),
        }
    }

    fn finish(self) {
        for spill in &self.spills {
            spill.finish();
        }
    }
}

/// The bodies of the loaded files, by path.
fn body_map(loaded: &mut [article::WithBody]) -> HashMap<Arc<str>, Packed> {
    loaded
        .iter_mut()
        .filter_map(|(r, body)| Some((r.rel.clone(), body.take()?.settle())))
        .collect()
}

impl Pipeline {
    pub fn new(config: &Config) -> Result<Self, BuildError> {
        Ok(Pipeline {
            loader: crate::setup::loader(config),
            cleaner: Cleaner::new(&config.site.url, &config.load.remove_selectors)?
                .with_max_body_bytes(config.load.max_body_bytes),
            settings: Arc::new(crate::setup::scheme(config)),
            site: Arc::new(crate::setup::masthead(config)),
            root: config.source_dir.clone(),
            spill_dir: crate::setup::spill_dir(config),
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

    /// What `/healthz` shows of the state file the history keeps.
    pub fn history_health(&self) -> Arc<crate::state::StateHealth> {
        self.history.health()
    }

    /// Stores what the history could not yet, and marks the run closed:
    /// `serve` calls it once the server has stopped.
    pub fn close_history(&self) {
        self.history.close();
    }

    /// Saves what the history could not yet, or opens its file again.
    pub fn retry_history(&self) {
        self.history.retry();
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

    pub fn site(&self) -> &Arc<Masthead> {
        &self.site
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn settings(&self) -> &Arc<Scheme> {
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
        let keeper = self.keeper();
        let mut loaded = self
            .loader
            .load_folder_with_bodies(&self.root, &|body| keeper.keep(body))?;
        // Written out before any body is read back; held from here on by
        // the bodies they hold alone.
        keeper.finish();
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

    /// How a first load keeps bodies: in new spill files, one per thread
    /// of the pool that reads the files (threads appending to one file
    /// wait on its lock), else (a state folder that cannot hold them) in
    /// memory.
    fn keeper(&self) -> Keeper {
        let spills = (0..=rayon::current_num_threads())
            .map(|_| Spill::create(&self.spill_dir))
            .collect::<Result<Vec<_>, _>>()
            .inspect_err(|e| {
                tracing::warn!(
                    folder = %self.spill_dir.display(),
                    error = %e,
                    "cannot keep post bodies on the disk; keeping them in memory"
                )
            })
            .unwrap_or_default();
        Keeper { spills }
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
        let ((catalog, contents), (reports, rejected, linked)) = rayon::join(
            || {
                let plan = Plan::new(self.settings.clone(), articles);
                let shown = plan.newest(self.limit);
                rayon::join(|| plan.finish(), || self.contents(shown, &bodies))
            },
            || report_maps(reports),
        );
        let mut touched: Touched = catalog.feeds().map(|(key, _)| key).collect();
        touched.insert(FeedKey::Site);
        for warning in catalog.configured_warnings() {
            tracing::warn!("{warning}");
        }
        tracing::debug!(ms = started.elapsed().as_millis() as u64, "catalog built");
        let delta = Delta {
            catalog,
            files: reports.len(),
            reports,
            rejected,
            linked,
            touched,
            changed: Vec::new(),
            contents,
            bodies,
            started,
        };
        self.next(None, delta)
    }

    /// A new snapshot with `changes` applied to `prev`. A file that no
    /// longer loads keeps its last good version in the feeds; its report
    /// says why.
    pub fn apply(&self, prev: &Snapshot, changes: Vec<Change>) -> Snapshot {
        let delta = self.delta(prev, changes);
        self.next(Some(prev), delta)
    }

    /// What `changes` change in `prev`: the changed files read (in
    /// parallel), each judged against its last good version.
    fn delta(&self, prev: &Snapshot, changes: Vec<Change>) -> Delta {
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
        let mut contents = prev.contents.clone();
        let mut kept_bodies = prev.bodies.clone();
        for rel in &stale {
            contents.remove(rel);
            kept_bodies.remove(rel);
        }
        kept_bodies.extend(bodies);
        let mut rejected = prev.rejected.clone();
        let mut linked = prev.linked.clone();
        for rel in &changed {
            match reports.get(rel) {
                Some(r) if r.article.is_none() => rejected.insert(rel.clone(), r.clone()),
                _ => rejected.remove(rel),
            };
            match reports.get(rel) {
                Some(r) if r.linked => linked.insert(rel.clone(), r.clone()),
                _ => linked.remove(rel),
            };
        }
        Delta {
            catalog,
            reports,
            rejected,
            linked,
            touched,
            files: changed.len(),
            changed,
            contents,
            bodies: kept_bodies,
            started,
        }
    }

    /// The snapshot after `delta`: the route table updated (or, at
    /// start-up, built), the touched feeds rendered with their folders
    /// from that table, and the lists of every feed.
    fn next(&self, prev: Option<&Snapshot>, delta: Delta) -> Snapshot {
        let Delta {
            catalog,
            reports,
            rejected,
            linked,
            mut touched,
            changed,
            files,
            mut contents,
            bodies,
            started,
        } = delta;
        let (routes, documents) = match prev {
            Some(prev) => {
                let mut routes = prev.routes.clone();
                let moved = routes.update(&prev.catalog, &catalog, &changed, &touched);
                for key in &moved {
                    tracing::info!(feed = ?key, dir = routes.feed_dir(key),
                        "feed served from a new folder: a feed with the same slug came or went");
                }
                touched.extend(moved);
                let shown = self.shown(&catalog, &touched, &mut contents, &bodies);
                let render = self.render(Some(prev), &catalog, routes.feed_table(), &contents);
                let documents = render.documents(shown);
                (routes, documents)
            }
            None => {
                // Feed documents name their own URLs: their folders first,
                // the articles' routes beside the rendering.
                let folders = FeedRoutes::build(&self.settings, touched.iter().cloned());
                let shown = self.shown(&catalog, &touched, &mut contents, &bodies);
                let (articles, documents) = rayon::join(
                    || Articles::build(catalog.entries()),
                    || {
                        let render = self.render(None, &catalog, &folders, &contents);
                        render.documents(shown)
                    },
                );
                tracing::debug!(ms = started.elapsed().as_millis() as u64, "feeds rendered");
                (Routes::new(folders, articles), documents)
            }
        };
        let Documents {
            feeds,
            opml,
            index,
            rendered,
        } = documents;
        Snapshot {
            generation: prev.map_or(1, |p| p.generation + 1),
            site: self.site.clone(),
            catalog,
            contents,
            bodies,
            feeds,
            routes,
            opml,
            index,
            reports,
            rejected,
            linked,
            stats: ReloadStats {
                at: SystemTime::now(),
                duration: started.elapsed(),
                files,
                feeds_rendered: rendered,
            },
        }
    }

    /// The entries each touched feed shows; the content of every one that
    /// has none yet is rendered into `contents` (in parallel) from the
    /// bodies the snapshot keeps.
    fn shown(
        &self,
        catalog: &Catalog,
        touched: &Touched,
        contents: &mut HashMap<Arc<str>, Arc<Content>>,
        bodies: &HashMap<Arc<str>, Packed>,
    ) -> Vec<(FeedKey, Vec<Listed>)> {
        let shown: Vec<(FeedKey, Vec<Listed>)> = touched
            .iter()
            .map(|k| (k.clone(), catalog.newest(k, self.limit)))
            .collect();
        let mut missing: Vec<&Arc<Entry>> = Vec::new();
        let mut seen = BTreeSet::new();
        for entry in shown.iter().flat_map(|(_, l)| l).map(|l| &l.entry) {
            let rel = &*entry.article.rel;
            if !contents.contains_key(rel) && seen.insert(rel) {
                missing.push(entry);
            }
        }
        let rendered: Vec<(Arc<str>, Arc<Content>)> = missing
            .into_par_iter()
            .map(|entry| {
                let rel = entry.article.rel.clone();
                let content = self.content(&entry.article, bodies.get(&rel));
                (rel, Arc::new(content))
            })
            .collect();
        contents.extend(rendered);
        shown
    }

    fn render<'a>(
        &'a self,
        previous: Option<&'a Snapshot>,
        catalog: &'a Catalog,
        folders: &'a FeedRoutes,
        contents: &'a HashMap<Arc<str>, Arc<Content>>,
    ) -> Render<'a> {
        Render {
            site: &self.site,
            settings: &self.settings,
            max_bytes: self.max_bytes,
            catalog,
            folders,
            contents,
            previous,
            dating: Dating {
                history: self.history.view(),
                now: Utc::now(),
            },
        }
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
    /// else rendered from the body the snapshot keeps, which fails only
    /// when the disk under the spill file does.
    pub fn content_of(&self, snap: &Snapshot, entry: &Entry) -> Result<Arc<Content>, Lost> {
        let rel = &*entry.article.rel;
        match snap.contents.get(rel) {
            Some(c) => Ok(c.clone()),
            None => Ok(Arc::new(
                self.rendered(&entry.article, snap.bodies.get(rel))?,
            )),
        }
    }

    /// What a feed shows of an article as a snapshot is made: a body the
    /// disk lost shows empty, and says so in the log; the feed goes on.
    fn content(&self, a: &Article, body: Option<&Packed>) -> Content {
        self.rendered(a, body).unwrap_or_else(|e| {
            tracing::error!(path = %a.rel, error = %e, "its feed item shows an empty body");
            Content::default()
        })
    }

    /// An article's content, rendered from its body. Every loaded article
    /// has one in the snapshot; were one missing, the item would show an
    /// empty body rather than anything read from the source folder now.
    fn rendered(&self, a: &Article, body: Option<&Packed>) -> Result<Content, Lost> {
        let body = match body {
            Some(b) => b.text()?,
            None => {
                tracing::warn!(path = %a.rel, "no body kept for a loaded article");
                String::new()
            }
        };
        Ok(article::body::render(
            Path::new(&*a.rel),
            &body,
            a.description.as_deref(),
            &self.cleaner,
            self.summary_length,
        ))
    }
}
