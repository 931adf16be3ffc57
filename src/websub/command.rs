//! The hub thread's inbox: what the server, the reload thread and the
//! outbound pool tell it. Apart from both ends, so that neither the hub
//! nor the pool needs the other's types to talk.

use std::sync::Arc;
use std::sync::mpsc::Sender;

use url::Url;

use super::request::Request;
use crate::snapshot::Snapshot;

pub enum Command {
    /// A parsed subscription request, answered 202 already.
    Request(Request),
    /// A snapshot was published; these topics' bytes changed.
    Published(Arc<Snapshot>, Vec<String>),
    Verified(Request, Result<(), String>),
    /// A denial was sent to a callback of `party` (`fair::party`), or
    /// failed.
    Denied {
        party: String,
    },
    Delivered {
        topic: String,
        callback: Url,
        outcome: Delivered,
    },
    /// The server stops: save what is unsaved, end the thread, then say
    /// so on the sender.
    Stop(Sender<()>),
}

/// How a delivery went.
#[derive(Debug)]
pub enum Delivered {
    Ok,
    /// 410: the subscriber is gone for good.
    Gone,
    Failed(String),
}
