//! The documents a change renders: the touched feeds, in parallel, and the
//! lists of every feed (OPML, index), each dated after the version it
//! replaces.

use std::borrow::Cow;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use chrono::{DateTime, Utc};
use imbl::{HashMap, OrdMap};
use rayon::prelude::*;

use super::{FeedDocs, INDEX_PATH, Snapshot};
use crate::article::Content;
use crate::catalog::{Catalog, FeedKey, Listed};
use crate::feed::{self, Channel, Format, Item, convert};
use crate::render::{Document, Earlier};
use crate::routes::FeedRoutes;
use crate::site::{Masthead, Scheme, layout};
use crate::state::HistoryView;

/// Every render of a feed gets a new [`FeedDocs::id`].
static FEED_RENDERS: AtomicU64 = AtomicU64::new(0);

/// How one render dates its documents: by their items' newest `updated`,
/// unless an earlier version of the same path says otherwise: the one in
/// the snapshot being replaced, else what [`crate::state::History`]
/// remembers (a feed that comes back, a reload from scratch, a restart).
/// The rules are [`Earlier`]'s.
pub(super) struct Dating {
    pub history: HistoryView,
    pub now: DateTime<Utc>,
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

/// What rendering a change reads: the catalog, feed folders and contents
/// after the change, and the snapshot it replaces (none at start-up).
pub(super) struct Render<'a> {
    pub site: &'a Masthead,
    pub settings: &'a Scheme,
    pub max_bytes: usize,
    pub catalog: &'a Catalog,
    pub folders: &'a FeedRoutes,
    pub contents: &'a HashMap<Arc<str>, Arc<Content>>,
    pub previous: Option<&'a Snapshot>,
    pub dating: Dating,
}

/// The documents of the next snapshot.
pub(super) struct Documents {
    pub feeds: OrdMap<FeedKey, Arc<FeedDocs>>,
    pub opml: Arc<Document>,
    pub index: Arc<Document>,
    /// How many feeds were rendered.
    pub rendered: usize,
}

impl Render<'_> {
    /// Renders the touched feeds, each with the entries it shows, over the
    /// previous snapshot's feeds, then the lists of them all.
    pub fn documents(&self, shown: Vec<(FeedKey, Vec<Listed>)>) -> Documents {
        let rendered: Vec<(FeedKey, Option<FeedDocs>)> = shown
            .into_par_iter()
            .map(|(key, entries)| {
                let count = self.catalog.count(&key);
                let docs =
                    (count > 0 || key.always_served()).then(|| self.feed(&key, entries, count));
                (key, docs)
            })
            .collect();
        let count = rendered.len();
        let mut feeds = self.previous.map(|p| p.feeds.clone()).unwrap_or_default();
        for (key, docs) in rendered {
            match docs {
                Some(d) => feeds.insert(key, Arc::new(d)),
                None => feeds.remove(&key),
            };
        }
        let opml = self.opml(&feeds);
        let previous = self.previous.map(|p| &*p.opml);
        let opml = Arc::new(
            self.dating
                .date(opml, previous, || layout::OPML_PATH.into()),
        );
        let index = self.index(&feeds);
        let previous = self.previous.map(|p| &*p.index);
        let index = Arc::new(self.dating.date(index, previous, || INDEX_PATH.into()));
        Documents {
            feeds,
            opml,
            index,
            rendered: count,
        }
    }

    fn feed(&self, key: &FeedKey, entries: Vec<Listed>, count: usize) -> FeedDocs {
        let items: Vec<Item> = entries
            .into_iter()
            .map(|l| {
                let content = self
                    .contents
                    .get(&*l.entry.article.rel)
                    .cloned()
                    .unwrap_or_default();
                Item::new(l, content, self.settings)
            })
            .collect();
        let dir = match self.folders.dir(key) {
            Some(d) => d.to_string(),
            None => layout::dir(self.settings, key),
        };
        let plain = Channel::new(self.site, self.settings, key, &dir);
        // The configuration checked that the conversion loads.
        let converted = self
            .settings
            .conversion(key)
            .and_then(|c| convert::parts(c, self.site, &plain, &items).ok());
        let (site, channel, items, written) = match converted {
            Some((site, channel, items)) => (Cow::Owned(site), channel, items, Some(plain)),
            None => (Cow::Borrowed(self.site), plain, items, None),
        };
        let site = &*site;
        let updated = feed::last_updated(site, &items);
        let previous = self.previous.and_then(|p| p.feeds.get(key));
        let doc = |format: Format| {
            let bytes = feed::render_capped(site, &channel, &items, format, self.max_bytes);
            let doc = Document::new(bytes, format.content_type(), updated);
            let old = previous.map(|p| p.doc(format).as_ref());
            Arc::new(
                self.dating
                    .date(doc, old, || layout::feed_path(&dir, format)),
            )
        };
        // What `refeed build` writes at a configured feed's folder (`serve`
        // renders every feed's page on request, with paging and counts).
        let page = matches!(key, FeedKey::Configured(_)).then(|| {
            let summary = crate::pages::FeedSummary {
                channel: &channel,
                count,
                updated,
                subscribers: None,
            };
            let one = crate::pages::FeedPage {
                summary,
                page: 1,
                pages: 1,
                paged: false,
            };
            let html = crate::pages::feed(site, &one, &items);
            let doc = Document::new(html.into_bytes(), "text/html; charset=utf-8", updated);
            let old = previous.and_then(|p| p.page.as_deref());
            Arc::new(self.dating.date(doc, old, || format!("{dir}{INDEX_PATH}")))
        });
        FeedDocs {
            docs: [doc(Format::Rss), doc(Format::Atom), doc(Format::Json)],
            page,
            channel,
            written,
            count,
            updated,
            id: FEED_RENDERS.fetch_add(1, Ordering::Relaxed),
        }
    }

    /// When any feed last changed, for the pages that list them all.
    fn newest_update(&self, feeds: &OrdMap<FeedKey, Arc<FeedDocs>>) -> DateTime<Utc> {
        let newest = feeds.values().map(|f| f.updated).max();
        newest.unwrap_or(self.site.epoch)
    }

    fn index(&self, feeds: &OrdMap<FeedKey, Arc<FeedDocs>>) -> Document {
        let html = crate::pages::index(self.site, feeds.values().map(|f| f.summary()));
        let updated = self.newest_update(feeds);
        Document::new(html.into_bytes(), "text/html; charset=utf-8", updated)
    }

    fn opml(&self, feeds: &OrdMap<FeedKey, Arc<FeedDocs>>) -> Document {
        let channels: Vec<Channel> = feeds.values().map(|f| f.channel.clone()).collect();
        let updated = self.newest_update(feeds);
        Document::new(
            feed::opml::render(self.site, &channels),
            "text/x-opml; charset=utf-8",
            updated,
        )
    }
}
