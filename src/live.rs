//! The live state of `refeed serve`: the published snapshot, whether the
//! source folder could be read, and the pipeline that makes the next
//! snapshot. The reload thread writes it, request handlers read it; it
//! knows nothing of HTTP, so the reloader does not either.

use std::sync::Arc;

use arc_swap::{ArcSwap, ArcSwapOption};

use crate::snapshot::{Pipeline, Snapshot};

/// Whether the source folder could be read at the last attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceHealth {
    Ok,
    /// The folder is gone or unreadable; the last snapshot is still served.
    Unavailable(String),
}

/// Told of every snapshot as it is published, on the publishing thread;
/// the `Arc` lets a listener keep it for work of its own (WebSub).
pub type OnPublish = Box<dyn Fn(&Arc<Snapshot>) + Send + Sync>;

pub struct Live {
    snapshot: ArcSwapOption<Snapshot>,
    source: ArcSwap<SourceHealth>,
    pipeline: Arc<Pipeline>,
    on_publish: Vec<OnPublish>,
}

impl Live {
    pub fn new(pipeline: Arc<Pipeline>, on_publish: Vec<OnPublish>) -> Self {
        Live {
            snapshot: ArcSwapOption::empty(),
            source: ArcSwap::from_pointee(SourceHealth::Ok),
            pipeline,
            on_publish,
        }
    }

    pub fn pipeline(&self) -> &Pipeline {
        &self.pipeline
    }

    pub fn current(&self) -> Option<Arc<Snapshot>> {
        self.snapshot.load_full()
    }

    /// Publishes a snapshot: requests that started earlier finish on the
    /// old one, later ones see the new one, none sees a mix. Then the
    /// pipeline records what is now served, and the listeners drop what
    /// they derived from the old one (on this thread: never a request's).
    pub fn publish(&self, snap: Snapshot) -> Arc<Snapshot> {
        let snap = Arc::new(snap);
        let prev = self.snapshot.swap(Some(snap.clone()));
        self.pipeline.published(prev.as_deref(), &snap);
        for listener in &self.on_publish {
            listener(&snap);
        }
        snap
    }

    pub fn source_health(&self) -> Arc<SourceHealth> {
        self.source.load_full()
    }

    pub fn set_source_health(&self, health: SourceHealth) {
        self.source.store(Arc::new(health));
    }
}
