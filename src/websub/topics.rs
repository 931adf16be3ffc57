//! Topics are the canonical URLs of the site's feed documents (query
//! representations are not topics). Which topics a snapshot changed, and
//! what a topic serves now.

use std::sync::{Arc, Mutex};

use imbl::OrdMap;

use crate::catalog::FeedKey;
use crate::feed::Format;
use crate::render::Document;
use crate::snapshot::{FeedDocs, Route, Snapshot};

/// What a topic serves in `snap`: the document and its `Link` header, when
/// `topic` is exactly one of its feed documents' URLs.
pub fn document(snap: &Snapshot, topic: &str) -> Option<(Arc<Document>, String)> {
    let path = topic.strip_prefix(snap.site.url.as_str())?;
    let path = percent_encoding::percent_decode_str(path)
        .decode_utf8()
        .ok()?;
    let Some(Route::Feed(key, format)) = snap.route(&path) else {
        return None;
    };
    let feed = snap.feeds.get(key)?;
    (feed.channel.url(*format) == topic)
        .then(|| (feed.doc(*format).clone(), feed.channel.link_header(*format)))
}

pub fn is_topic(snap: &Snapshot, topic: &str) -> bool {
    document(snap, topic).is_some()
}

type Feeds = OrdMap<FeedKey, Arc<FeedDocs>>;

/// The feeds of the last snapshot seen, to tell what the next one changed.
#[derive(Default)]
pub struct Changes {
    last: Mutex<Option<Feeds>>,
}

impl Changes {
    /// The topics whose bytes differ from the last snapshot's (none for
    /// the first: nothing is known to have changed). A feed whose
    /// documents are the very ones of the last snapshot is skipped
    /// without a look at its bytes; only re-rendered feeds are compared.
    pub fn next(&self, snap: &Snapshot) -> Vec<String> {
        let mut last = self.last.lock().unwrap_or_else(|p| p.into_inner());
        let changed = match &*last {
            None => Vec::new(),
            Some(prev) => changed(prev, &snap.feeds),
        };
        *last = Some(snap.feeds.clone());
        changed
    }
}

fn changed(prev: &Feeds, next: &Feeds) -> Vec<String> {
    let mut out = Vec::new();
    for (key, docs) in next {
        let old = prev.get(key);
        if old.is_some_and(|old| Arc::ptr_eq(old, docs)) {
            continue;
        }
        for format in Format::ALL {
            let same =
                old.is_some_and(|old| old.doc(format).identity() == docs.doc(format).identity());
            if !same {
                out.push(docs.channel.url(format).to_string());
            }
        }
    }
    out
}
