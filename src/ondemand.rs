//! Documents a request selects that no snapshot precomputes: a feed under
//! query parameters (`limit`, `filter*`, `brief`, `format`, `opencc`) and article
//! pages. The snapshot holds everything they are made of, so rendering one
//! reads nothing from the disk; it runs on a bounded blocking pool, never
//! on an async worker, and what it produces is kept in one process-wide
//! cache bounded in bytes, so no stream of distinct queries can grow
//! memory or take the workers from the plain feeds.

use std::borrow::Cow;
use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use actix_web::web;
use chrono::{DateTime, Utc};
use quick_cache::Weighter;
use quick_cache::sync::Cache;
use tokio::sync::Semaphore;

use crate::article::Content;
use crate::catalog::Entry;
use crate::config::Config;
use crate::feed::query::Query;
use crate::feed::{self, Channel, Format, Item, convert};
use crate::opencc::Conversion;
use crate::render::{Document, Earlier, Encoding};
use crate::routes::FeedRoutes;
use crate::site::{FeedKey, Masthead};
use crate::snapshot::{FeedDocs, Pipeline, Snapshot};

/// Renders on-demand documents from a snapshot alone: no cache, no disk.
pub struct Renderer {
    pipeline: Arc<Pipeline>,
    max_limit: usize,
    max_bytes: usize,
    /// Items per page of a feed's page: as many as its feed shows.
    page_items: usize,
    /// Renderings that found a kept body unreadable, since start.
    lost: AtomicU64,
}

impl Renderer {
    pub fn new(config: &Config, pipeline: Arc<Pipeline>) -> Self {
        Renderer {
            pipeline,
            max_limit: config.feed.max_limit,
            max_bytes: config.feed.max_bytes,
            page_items: config.feed.limit.max(1),
            lost: AtomicU64::new(0),
        }
    }

    /// `entry`'s content, or why it cannot be shown, logged with the post
    /// it is and counted for `/healthz`.
    fn content(&self, snap: &Snapshot, entry: &Entry) -> Result<Arc<Content>, Unavailable> {
        self.pipeline.content_of(snap, entry).map_err(|e| {
            self.lost.fetch_add(1, Ordering::Relaxed);
            tracing::error!(path = %entry.article.rel, error = %e, "a kept body cannot be shown");
            Unavailable::Lost
        })
    }

    /// How many pages `feed`'s page has (one, even empty).
    pub fn feed_pages(&self, feed: &FeedDocs) -> usize {
        feed.count.div_ceil(self.page_items).max(1)
    }

    /// Page `page` (1-based, within [`Renderer::feed_pages`]) of a feed's
    /// HTML page. Dated when rendered: its bytes change with its feed and
    /// with the subscriber count (which has no date of its own), and each
    /// change is a new rendering under a new key.
    pub fn feed_page(
        &self,
        snap: &Snapshot,
        feed: &FeedDocs,
        page: usize,
        subscribers: Option<u64>,
    ) -> Result<Document, Unavailable> {
        let p = &self.pipeline;
        let skip = (page - 1) * self.page_items;
        let mut items = Vec::with_capacity(self.page_items);
        for l in snap.catalog.page(&feed.channel.key, skip, self.page_items) {
            let content = self.content(snap, &l.entry)?;
            items.push(Item::new(l, content, p.settings()));
        }
        let conversion = p.settings().conversion(&feed.channel.key);
        let (site, channel, items) =
            converted(p.site(), feed.written().clone(), items, conversion)?;
        let mut summary = feed.summary();
        summary.channel = &channel;
        summary.subscribers = subscribers;
        let pages = self.feed_pages(feed);
        let html = crate::pages::feed(
            &site,
            &crate::pages::FeedPage {
                summary,
                page,
                pages,
                paged: true,
            },
            &items,
        );
        Ok(Document::new(
            html.into_bytes(),
            "text/html; charset=utf-8",
            Utc::now(),
        ))
    }

    /// The representation a query selects: up to `feed.max_limit` newest
    /// items, filtered, limited, briefed, converted, in the requested
    /// format. Filters see the text as written, as RSSHub's do.
    pub fn variant(
        &self,
        snap: &Snapshot,
        feed: &FeedDocs,
        query: &Query,
        path_format: Format,
    ) -> Result<Document, Unavailable> {
        let p = &self.pipeline;
        let format = query.format.unwrap_or(path_format);
        let mut items = Vec::new();
        for l in snap.catalog.newest(&feed.channel.key, self.max_limit) {
            if items.len() == query.limit {
                break;
            }
            let content = self.content(snap, &l.entry)?;
            let item = Item::new(l, content, p.settings());
            if query.keeps(&item) {
                items.push(match query.brief {
                    Some(n) => brief(item, n),
                    None => item,
                });
            }
        }
        // A conversion the query asks for replaces the feed's own, and is
        // applied to the text as written: one conversion, never two.
        let conversion = query
            .opencc
            .or_else(|| p.settings().conversion(&feed.channel.key));
        let channel = feed.written().with_query(query.cache_key());
        let (site, channel, items) = converted(p.site(), channel, items, conversion)?;
        let bytes = feed::render_capped(&site, &channel, &items, format, self.max_bytes);
        // A query representation changes exactly when its feed does.
        let modified = feed.doc(path_format).last_modified;
        Ok(Document::new(bytes, format.content_type(), modified))
    }

    /// The HTML page of an article.
    pub fn article_page(&self, snap: &Snapshot, entry: &Entry) -> Result<Document, Unavailable> {
        let p = &self.pipeline;
        let content = self.content(snap, entry)?;
        let channel = |k: &FeedKey| snap.feeds.get(k).map(|f| &f.channel);
        let html = crate::pages::article(p.site(), p.settings(), entry, &content, channel);
        let doc = Document::new(html.into_bytes(), "text/html; charset=utf-8", {
            page_modified(snap, entry)
        });
        Ok(doc.after(Earlier::Nothing, Utc::now()))
    }
}

/// When an article page last changed: its post's `updated`, or when its
/// file last changed on this disk if that is later. A page shows the whole
/// body, so an edit that keeps the dates changes its bytes; a client
/// validating with `If-Modified-Since` alone must still see it. The file's
/// status-change time moves with every write, also when a deploy sets the
/// modification time back (`cp -p`, `rsync -a`; found by the third
/// attack); a rejected edit or a `chmod` moves it too, which costs a client
/// one full answer, never a wrong 304.
fn page_modified(snap: &Snapshot, entry: &Entry) -> DateTime<Utc> {
    let updated = entry.article.last_updated();
    let loaded = snap
        .reports
        .get(&entry.article.rel)
        .and_then(|r| r.fingerprint.as_ref()?.changed_at());
    loaded.map_or(updated, |t| updated.max(DateTime::<Utc>::from(t)))
}

/// `site`, `channel` and `items` under `conversion`, if any.
fn converted(
    site: &Masthead,
    channel: Channel,
    items: Vec<Item>,
    conversion: Option<Conversion>,
) -> Result<(Cow<'_, Masthead>, Channel, Vec<Item>), Unavailable> {
    let Some(conversion) = conversion else {
        return Ok((Cow::Borrowed(site), channel, items));
    };
    let (site, channel, items) =
        convert::parts(conversion, site, &channel, &items).map_err(|e| {
            tracing::error!(error = %e, "a bundled conversion does not load");
            Unavailable::Broken
        })?;
    Ok((Cow::Owned(site), channel, items))
}

/// RSSHub's `brief`: the description becomes plain text of `n` characters.
fn brief(item: Item, n: usize) -> Item {
    Item {
        content: Arc::new(item.content.briefed(n)),
        ..item
    }
}

/// What a cached document was derived from. A change to a feed renders new
/// [`FeedDocs`] with a new id, and a change to an article makes a new
/// catalog entry, so no key can name an outdated representation.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    Variant {
        feed: u64,
        format: Format,
        query: Box<str>,
    },
    /// The addresses of the entry the page shows and of the feed table
    /// its feed links come from; the cached value holds both, so neither
    /// address can be reused while it is cached.
    Page { entry: usize, feeds: usize },
    /// A feed's page: one of its pages, with the subscriber count shown.
    FeedPage {
        feed: u64,
        page: usize,
        subscribers: Option<u64>,
    },
}

/// What a cached article page was rendered from.
#[derive(Clone)]
struct Pinned {
    entry: Arc<Entry>,
    feeds: Arc<FeedRoutes>,
}

#[derive(Clone)]
struct Cached {
    doc: Arc<Document>,
    /// Fixed when inserted, as the cache requires: a compressed form
    /// added later is counted by inserting the document again.
    weight: u64,
    pinned: Option<Pinned>,
}

impl Cached {
    fn new(doc: Arc<Document>, pinned: Option<Pinned>) -> Self {
        Cached {
            weight: doc.stored_bytes() as u64 + OVERHEAD,
            doc,
            pinned,
        }
    }
}

/// Bytes counted per cached document beyond its bodies: key, value and
/// bookkeeping, so that many tiny documents are bounded too.
const OVERHEAD: u64 = 256;

#[derive(Clone)]
struct ByBytes;

impl Weighter<Key, Cached> for ByBytes {
    fn weight(&self, _key: &Key, value: &Cached) -> u64 {
        value.weight
    }
}

/// Shards of the cache: each holds an equal part of the bound, and a
/// document larger than a part is not kept, so few shards keep a full-size
/// feed cacheable under a small bound.
const SHARDS: usize = 4;

/// Why an on-demand document cannot be had now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unavailable {
    /// Every on-demand renderer is busy: the request should be retried.
    Busy,
    /// A body it shows cannot be read back (the log says which and why).
    Lost,
    /// A bundled OpenCC dictionary does not load: this build is broken.
    Broken,
}

/// The cache and the bounded pool in front of [`Renderer`].
pub struct OnDemand {
    renderer: Arc<Renderer>,
    cache: Arc<Cache<Key, Cached, ByBytes>>,
    permits: Arc<Semaphore>,
}

impl OnDemand {
    pub fn new(config: &Config, pipeline: Arc<Pipeline>) -> Self {
        let bytes = config.server.query_cache_bytes;
        let options = quick_cache::OptionsBuilder::new()
            .estimated_items_capacity((bytes / (16 << 10)).max(16) as usize)
            .weight_capacity(bytes)
            .shards(SHARDS)
            .build()
            // The builder only fails on a capacity left unset.
            .expect("both capacities are set");
        let cache = Cache::with_options(options, ByBytes, Default::default(), Default::default());
        OnDemand {
            renderer: Arc::new(Renderer::new(config, pipeline)),
            cache: Arc::new(cache),
            permits: Arc::new(Semaphore::new(config.server.render_concurrency)),
        }
    }

    /// Drops what no request can ask for any more: documents of the feeds
    /// and entries `snap` replaced. The cache would evict them as it fills;
    /// dropping them at once gives their memory back after every change.
    /// Called as a snapshot is published, off the request path.
    pub fn forget_stale(&self, snap: &Snapshot) {
        let feeds: HashSet<u64> = snap.feeds.values().map(|f| f.id).collect();
        self.cache.retain(|key, value| match key {
            Key::Variant { feed, .. } | Key::FeedPage { feed, .. } => feeds.contains(feed),
            Key::Page { .. } => value.pinned.as_ref().is_some_and(|p| {
                let now = snap.catalog.entry(&p.entry.article.rel);
                now.is_some_and(|now| Arc::ptr_eq(now, &p.entry))
                    && Arc::ptr_eq(&p.feeds, snap.routes().feed_table())
            }),
        });
    }

    /// How many renderings found a kept body unreadable since start: a
    /// disk under `state_dir` that lost or changed what refeed wrote.
    pub fn lost_bodies(&self) -> u64 {
        self.renderer.lost.load(Ordering::Relaxed)
    }

    /// Bytes the cache holds now, as its weighter counts them.
    pub fn cache_bytes(&self) -> u64 {
        self.cache.weight()
    }

    /// A feed's representation under `query`, with its body in `encoding`
    /// ready; `None` when the snapshot has no such feed.
    pub async fn variant(
        &self,
        snap: Arc<Snapshot>,
        feed: FeedKey,
        query: Query,
        path_format: Format,
        encoding: Encoding,
    ) -> Result<Option<Arc<Document>>, Unavailable> {
        let Some(docs) = snap.feeds.get(&feed) else {
            return Ok(None);
        };
        let key = Key::Variant {
            feed: docs.id,
            format: query.format.unwrap_or(path_format),
            query: query.cache_key().into(),
        };
        let doc = self
            .obtain(key, encoding, move |r| {
                let Some(docs) = snap.feeds.get(&feed) else {
                    return Ok(None);
                };
                let doc = r.variant(&snap, docs, &query, path_format)?;
                Ok(Some(Cached::new(Arc::new(doc), None)))
            })
            .await?;
        Ok(doc)
    }

    /// The page of the article at `rel`, with its body in `encoding` ready;
    /// `None` when the snapshot has no such article.
    pub async fn article_page(
        &self,
        snap: Arc<Snapshot>,
        rel: &str,
        encoding: Encoding,
    ) -> Result<Option<Arc<Document>>, Unavailable> {
        let Some(entry) = snap.catalog.entry(rel).cloned() else {
            return Ok(None);
        };
        let feeds = snap.routes().feed_table().clone();
        let key = Key::Page {
            entry: Arc::as_ptr(&entry) as usize,
            feeds: Arc::as_ptr(&feeds) as usize,
        };
        self.obtain(key, encoding, move |r| {
            let doc = r.article_page(&snap, &entry)?;
            Ok(Some(Cached::new(
                Arc::new(doc),
                Some(Pinned { entry, feeds }),
            )))
        })
        .await
    }

    /// Page `page` of `feed`'s HTML page, with its body in `encoding`
    /// ready; `None` when the snapshot has no such feed or page.
    pub async fn feed_page(
        &self,
        snap: Arc<Snapshot>,
        feed: FeedKey,
        page: usize,
        subscribers: Option<u64>,
        encoding: Encoding,
    ) -> Result<Option<Arc<Document>>, Unavailable> {
        let Some(docs) = snap.feeds.get(&feed) else {
            return Ok(None);
        };
        if page == 0 || page > self.renderer.feed_pages(docs) {
            return Ok(None);
        }
        let key = Key::FeedPage {
            feed: docs.id,
            page,
            subscribers,
        };
        self.obtain(key, encoding, move |r| {
            let Some(docs) = snap.feeds.get(&feed) else {
                return Ok(None);
            };
            let doc = r.feed_page(&snap, docs, page, subscribers)?;
            Ok(Some(Cached::new(Arc::new(doc), None)))
        })
        .await
    }

    /// The cached document, or one rendered on the blocking pool when a
    /// permit is free. Requests for a document being rendered wait for it
    /// (asynchronously) instead of rendering it again. A body in a coding
    /// not yet made counts as a miss: compressing is request-triggered CPU
    /// like rendering.
    async fn obtain(
        &self,
        key: Key,
        encoding: Encoding,
        render: impl FnOnce(&Renderer) -> Result<Option<Cached>, Unavailable> + Send + 'static,
    ) -> Result<Option<Arc<Document>>, Unavailable> {
        match self.cache.get_value_or_guard_async(&key).await {
            Ok(hit) if hit.doc.has(encoding) => Ok(Some(hit.doc)),
            Ok(hit) => {
                let cached = self.on_pool(move |_| Ok(Some(hit)), encoding).await?;
                if let Some(c) = &cached {
                    self.cache.insert(key, c.clone());
                }
                Ok(cached.map(|c| c.doc))
            }
            Err(guard) => {
                // Dropping the guard unrendered hands the key to a waiter.
                let cached = self.on_pool(render, encoding).await?;
                if let Some(c) = &cached {
                    let _ = guard.insert(c.clone());
                }
                Ok(cached.map(|c| c.doc))
            }
        }
    }

    /// Runs `make` and the compression for `encoding` on the blocking pool,
    /// if a permit is free; the weight is taken once both are done.
    async fn on_pool(
        &self,
        make: impl FnOnce(&Renderer) -> Result<Option<Cached>, Unavailable> + Send + 'static,
        encoding: Encoding,
    ) -> Result<Option<Cached>, Unavailable> {
        let permit = self
            .permits
            .clone()
            .try_acquire_owned()
            .map_err(|_| Unavailable::Busy)?;
        let renderer = self.renderer.clone();
        let work = move || {
            // Held until the work is done, even when the client has gone.
            let _permit = permit;
            let Some(cached) = make(&renderer)? else {
                return Ok(None);
            };
            cached.doc.encoded(encoding);
            Ok(Some(Cached::new(cached.doc, cached.pinned)))
        };
        web::block(work).await.map_err(|_| Unavailable::Busy)?
    }
}
