//! `/metrics`: the registry of [`crate::metrics`] for a Prometheus scraper,
//! on the main listener or on `server.metrics_listen` alone.

use actix_web::http::header::{self, HeaderValue};
use actix_web::http::{Method, StatusCode};
use actix_web::{HttpRequest, HttpResponse, web};

use super::State;
use crate::metrics::{CONTENT_TYPE, Metrics};
use crate::routes::METRICS_PATH;

/// The metrics, never stored by a cache: each scrape wants them now.
pub fn respond(state: &State, metrics: &Metrics) -> HttpResponse {
    if let Some(subscribers) = &state.subscribers {
        metrics.subscribers(&subscribers.counts());
    }
    if let Some(hub) = state.hub.as_ref().filter(|h| h.path().is_some()) {
        metrics.websub(&hub.counts().read());
    }
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE)))
        .insert_header((header::CACHE_CONTROL, HeaderValue::from_static("no-store")))
        .body(metrics.render(state.ondemand.cache_bytes()))
}

/// The handler of the `server.metrics_listen` listener: `/metrics` and
/// nothing else.
pub async fn only(req: HttpRequest, state: web::Data<State>) -> HttpResponse {
    let metrics = state.metrics.as_deref();
    match metrics {
        Some(m) if req.path().strip_prefix('/') == Some(METRICS_PATH) => {
            if req.method() == Method::GET || req.method() == Method::HEAD {
                respond(&state, m)
            } else {
                HttpResponse::MethodNotAllowed()
                    .insert_header((header::ALLOW, "GET, HEAD"))
                    .finish()
            }
        }
        _ => HttpResponse::new(StatusCode::NOT_FOUND),
    }
}
