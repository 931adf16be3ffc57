//! The immutable state that requests read: catalog, rendered documents,
//! the route table and the load reports. Only [`Pipeline`] makes one
//! (`pipeline`, with the documents it renders in `documents`); everyone
//! else reads it.

mod documents;
mod pipeline;

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use chrono::{DateTime, Utc};
use imbl::{HashMap, OrdMap};

use crate::article::{Content, FileReport, Packed};
use crate::catalog::{Catalog, FeedKey};
use crate::feed::{Channel, Format};
use crate::pages::FeedSummary;
use crate::render::Document;
use crate::routes::Routes;
use crate::site::Masthead;

pub use crate::routes::{INDEX_PATH, Route};
pub use pipeline::{BuildError, Change, Pipeline};

/// One feed's documents and what the index page shows of it.
pub struct FeedDocs {
    /// As the documents show it: converted when the feed is (`opencc:`).
    pub channel: Channel,
    /// The channel as written, kept when `channel` is converted: what a
    /// query asking for another conversion converts.
    written: Option<Channel>,
    pub count: usize,
    pub updated: DateTime<Utc>,
    docs: [Arc<Document>; 3],
    /// The HTML page of a configured feed (served at its folder); other
    /// feeds mirror a page of the site itself.
    pub page: Option<Arc<Document>>,
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
    /// The channel before the feed's own conversion, if it has one.
    pub fn written(&self) -> &Channel {
        self.written.as_ref().unwrap_or(&self.channel)
    }

    pub fn doc(&self, format: Format) -> &Arc<Document> {
        &self.docs[format as usize]
    }

    /// What the index page shows of this feed.
    pub fn summary(&self) -> FeedSummary<'_> {
        FeedSummary {
            channel: &self.channel,
            count: self.count,
            updated: self.updated,
            subscribers: None,
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
    pub site: Arc<Masthead>,
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
    rejected: ReportMap,
    /// The posts that are symbolic links to files in the folder, apart
    /// for the same reason: a write to a file looks them up.
    linked: ReportMap,
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

    /// How many files are rejected, without walking them.
    pub fn rejected_count(&self) -> usize {
        self.rejected.len()
    }

    pub fn linked(&self) -> impl Iterator<Item = &Arc<FileReport>> {
        self.linked.values()
    }
}

/// Every report by path (and the rejected ones apart).
type ReportMap = OrdMap<Arc<str>, Arc<FileReport>>;
