//! `/healthz`: what a monitor needs to know, as JSON; 503 until the first
//! load has finished and while the source folder is unreadable.

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;

use super::State;
use crate::live::SourceHealth;

#[derive(Serialize)]
struct Health<'a> {
    status: &'a str,
    source_error: Option<&'a str>,
    articles: usize,
    feeds: usize,
    files: usize,
    rejected_count: usize,
    rejected: Vec<Rejected<'a>>,
    generation: u64,
    last_reload: Option<String>,
    last_reload_ms: Option<f64>,
    uptime_s: u64,
    /// Bytes held by the cache of query representations and article
    /// pages, at most `server.query_cache_bytes`.
    query_cache_bytes: u64,
    /// Renderings since start that found a post body kept in `state_dir`
    /// unreadable or changed (503 for their pages and queries); above 0,
    /// `status` is `degraded`.
    lost_bodies: u64,
    /// The WebSub hub, when refeed runs one.
    #[serde(skip_serializing_if = "Option::is_none")]
    websub: Option<Hub>,
    /// The state file in `state_dir`; anything in it at risk makes
    /// `status` `degraded`.
    #[serde(skip_serializing_if = "Option::is_none")]
    state: Option<StateFile>,
}

#[derive(Serialize)]
struct StateFile {
    /// It could not be opened or written at start-up: dates, counts and
    /// subscriptions of this run do not outlive it.
    usable: bool,
    /// Documents whose `Last-Modified` the file does not have yet.
    unsaved_documents: u64,
    /// The file was removed or replaced while refeed runs.
    replaced: bool,
}

#[derive(Serialize)]
struct Hub {
    subscriptions: u64,
    pending_deliveries: u64,
    /// Given up after `websub.max_attempts`, since start.
    failed_deliveries: u64,
    /// Subscriptions whose last change (made, renewed, ended, a delivery
    /// owed) the state file does not have: a restart would lose it. Above
    /// 0, `status` is `degraded`.
    unsaved_subscriptions: u64,
    /// Verifications and denials dropped with too many waiting, since
    /// start, each from the callback host with the most waiting.
    dropped_verifications: u64,
}

#[derive(Serialize)]
struct Rejected<'a> {
    path: &'a str,
    reasons: Vec<String>,
}

/// Rejected files listed in full up to this many; the count is exact.
const MAX_LISTED: usize = 100;

pub fn respond(state: &State) -> HttpResponse {
    let snap = state.current();
    let source = state.live.source_health();
    let source_error = match &*source {
        SourceHealth::Ok => None,
        SourceHealth::Unavailable(why) => Some(why.as_str()),
    };
    let lost_bodies = state.ondemand.lost_bodies();
    let hub = state.hub.as_ref().filter(|h| h.path().is_some());
    let websub = hub.map(|hub| hub.counts().read());
    let unsaved = websub.map_or(0, |f| f.unsaved);
    let state_file = state.state_file.as_ref().map(|h| h.read());
    let state_at_risk = state_file.as_ref().is_some_and(|f| f.at_risk());
    let (status, code) = match (&snap, source_error) {
        (None, _) => ("loading", StatusCode::SERVICE_UNAVAILABLE),
        (Some(_), Some(_)) => ("source-unavailable", StatusCode::SERVICE_UNAVAILABLE),
        // Feeds still serve; the pages that need a lost body do not, and
        // unsaved subscriptions would not outlive a restart.
        (Some(_), None) if lost_bodies > 0 || unsaved > 0 || state_at_risk => {
            ("degraded", StatusCode::OK)
        }
        (Some(_), None) => ("ok", StatusCode::OK),
    };
    let body = Health {
        status,
        source_error,
        articles: snap.as_ref().map_or(0, |s| s.catalog.len()),
        feeds: snap.as_ref().map_or(0, |s| s.feeds.len()),
        files: snap.as_ref().map_or(0, |s| s.reports.len()),
        rejected_count: snap.as_ref().map_or(0, |s| s.rejected_count()),
        rejected: snap
            .as_ref()
            .map(|s| {
                s.rejected()
                    .take(MAX_LISTED)
                    .map(|r| Rejected {
                        path: &r.rel,
                        reasons: r.messages.iter().map(ToString::to_string).collect(),
                    })
                    .collect()
            })
            .unwrap_or_default(),
        generation: snap.as_ref().map_or(0, |s| s.generation),
        last_reload: snap.as_ref().map(|s| {
            DateTime::<Utc>::from(s.stats.at).to_rfc3339_opts(SecondsFormat::Millis, true)
        }),
        last_reload_ms: snap
            .as_ref()
            .map(|s| s.stats.duration.as_secs_f64() * 1000.0),
        uptime_s: state.started.elapsed().unwrap_or_default().as_secs(),
        query_cache_bytes: state.ondemand.cache_bytes(),
        lost_bodies,
        websub: websub.map(|f| Hub {
            subscriptions: f.subscriptions,
            pending_deliveries: f.pending,
            failed_deliveries: f.failed,
            unsaved_subscriptions: f.unsaved,
            dropped_verifications: f.dropped,
        }),
        state: state_file.map(|f| StateFile {
            usable: !f.unusable,
            unsaved_documents: f.unsaved_documents,
            replaced: f.replaced,
        }),
    };
    HttpResponse::build(code)
        .insert_header(("Cache-Control", "no-store"))
        .json(body)
}
