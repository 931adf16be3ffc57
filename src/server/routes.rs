//! Request path -> response. Paths are looked up, decoded, in the
//! snapshot's route table, so nothing here touches the file system and no
//! path can reach outside the set of documents refeed rendered.

use std::sync::Arc;

use actix_web::body::{BodySize, MessageBody};
use actix_web::http::header::{self, HeaderValue};
use actix_web::http::{Method, StatusCode};
use actix_web::{HttpRequest, HttpResponse, web};

use super::{State, conditional, health, scrape};
use crate::feed::query::Query;
use crate::metrics::{Metrics, RouteKind};
use crate::ondemand::Unavailable;
use crate::snapshot::{Route, Snapshot};

pub async fn handle(req: HttpRequest, state: web::Data<State>) -> HttpResponse {
    let (kind, response) = answer(&req, &state).await;
    if let Some(metrics) = &state.metrics {
        count(metrics, &req, kind, &response);
    }
    response
}

/// A handful of atomic increments: the body's size and coding are read
/// from the response as it stands.
fn count(metrics: &Metrics, req: &HttpRequest, kind: RouteKind, res: &HttpResponse) {
    let body = (req.method() == Method::GET).then(|| {
        let bytes = match res.body().size() {
            BodySize::Sized(n) => n,
            BodySize::None | BodySize::Stream => 0,
        };
        let coding = res.headers().get(header::CONTENT_ENCODING);
        (bytes, coding.map(HeaderValue::as_bytes))
    });
    metrics.request(kind, res.status().as_u16(), body);
}

async fn answer(req: &HttpRequest, state: &State) -> (RouteKind, HttpResponse) {
    use RouteKind::Other;
    if req.method() != Method::GET && req.method() != Method::HEAD {
        let refused = HttpResponse::MethodNotAllowed()
            .insert_header((header::ALLOW, "GET, HEAD"))
            .content_type("text/plain; charset=utf-8")
            .body("method not allowed: use GET or HEAD\n");
        return (Other, refused);
    }
    if let Some(response) = over_limits(req, state) {
        return (Other, response);
    }
    let path = match decode(req.path()) {
        Ok(p) => p,
        Err(why) => return (Other, plain(StatusCode::BAD_REQUEST, why)),
    };
    if path == crate::routes::HEALTHZ_PATH {
        return (RouteKind::Healthz, health::respond(state));
    }
    if path == crate::routes::METRICS_PATH
        && state.metrics_here
        && let Some(metrics) = &state.metrics
    {
        return (Other, scrape::respond(state, metrics));
    }
    let Some(snap) = state.current() else {
        let mut res = plain(
            StatusCode::SERVICE_UNAVAILABLE,
            "loading the archive, retry shortly",
        );
        res.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        return (Other, res);
    };
    match lookup(&snap, &path) {
        Some(route) => serve(req, state, &snap, route).await,
        None => (Other, plain(StatusCode::NOT_FOUND, "not found")),
    }
}

/// The URL and header limits from the configuration: 414 and 431.
fn over_limits(req: &HttpRequest, state: &State) -> Option<HttpResponse> {
    let uri_len = req.uri().path_and_query().map_or(0, |pq| pq.as_str().len());
    if uri_len > state.max_url_bytes {
        return Some(plain(StatusCode::URI_TOO_LONG, "URL too long"));
    }
    let header_bytes: usize = req
        .headers()
        .iter()
        .map(|(k, v)| k.as_str().len() + v.len() + 4)
        .sum();
    (header_bytes > state.max_header_bytes).then(|| {
        plain(
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            "request headers too large",
        )
    })
}

/// Percent-decodes the path (without its leading `/`). Invalid escapes and
/// invalid UTF-8 are refused rather than guessed at.
fn decode(raw: &str) -> Result<String, &'static str> {
    let raw = raw.strip_prefix('/').unwrap_or(raw);
    let bytes = raw.as_bytes();
    let mut i = 0;
    while let Some(p) = bytes[i..].iter().position(|&b| b == b'%') {
        let at = i + p;
        let hex = bytes
            .get(at + 1..at + 3)
            .ok_or("invalid percent-escape in path")?;
        if !hex.iter().all(u8::is_ascii_hexdigit) {
            return Err("invalid percent-escape in path");
        }
        i = at + 3;
    }
    percent_encoding::percent_decode_str(raw)
        .decode_utf8()
        .map(|s| s.into_owned())
        .map_err(|_| "path is not valid UTF-8")
}

/// Exact path first; then a directory's `index.html` or a permalink
/// missing its trailing slash.
fn lookup<'a>(snap: &'a Snapshot, path: &str) -> Option<&'a Route> {
    snap.route(path)
        .or_else(|| path.strip_suffix("index.html").and_then(|p| snap.route(p)))
        .or_else(|| snap.route(&format!("{path}/")))
}

async fn serve(
    req: &HttpRequest,
    state: &State,
    snap: &Arc<Snapshot>,
    route: &Route,
) -> (RouteKind, HttpResponse) {
    let (kind, on_demand) = match route {
        Route::Feed(key, format) => {
            let Some(feed) = snap.feeds.get(key) else {
                return (RouteKind::Feed, plain(StatusCode::NOT_FOUND, "not found"));
            };
            let query = match Query::parse(req.query_string(), &state.limits) {
                Ok(q) => q,
                Err(e) => {
                    let refused = plain(StatusCode::BAD_REQUEST, &e.to_string());
                    return (RouteKind::Query, refused);
                }
            };
            if query.is_plain() {
                let doc = feed.doc(*format);
                return (
                    RouteKind::Feed,
                    conditional::respond(req, doc, &state.policy),
                );
            }
            let encoding = conditional::negotiate_request(req);
            let od = &state.ondemand;
            let variant = od.variant(snap.clone(), key.clone(), query, *format, encoding);
            (RouteKind::Query, variant.await)
        }
        Route::Opml => {
            let doc = &snap.opml;
            return (
                RouteKind::Index,
                conditional::respond(req, doc, &state.policy),
            );
        }
        Route::Index => {
            let doc = &snap.index;
            return (
                RouteKind::Index,
                conditional::respond(req, doc, &state.policy),
            );
        }
        Route::Page(key) => {
            let Some(doc) = snap.feeds.get(key).and_then(|f| f.page.as_ref()) else {
                return (RouteKind::Index, plain(StatusCode::NOT_FOUND, "not found"));
            };
            return (
                RouteKind::Index,
                conditional::respond(req, doc, &state.policy),
            );
        }
        Route::Article(rel) => {
            let encoding = conditional::negotiate_request(req);
            let od = &state.ondemand;
            let page = od.article_page(snap.clone(), rel, encoding);
            (RouteKind::Article, page.await)
        }
    };
    let response = match on_demand {
        Ok(Some(doc)) => conditional::respond(req, &doc, &state.policy),
        Ok(None) => plain(StatusCode::NOT_FOUND, "not found"),
        Err(Unavailable::Busy) => busy(),
        Err(Unavailable::Broken) => plain(
            StatusCode::INTERNAL_SERVER_ERROR,
            "this build of refeed cannot load the conversion asked for",
        ),
        Err(Unavailable::Lost) => plain(
            StatusCode::SERVICE_UNAVAILABLE,
            "this document's text cannot be read back from the state folder's disk",
        ),
    };
    (kind, response)
}

/// Every on-demand renderer is taken: the plain feeds stay fast, and
/// this client may come back in a second.
fn busy() -> HttpResponse {
    let mut res = plain(
        StatusCode::SERVICE_UNAVAILABLE,
        "busy rendering other requests, retry shortly",
    );
    res.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    res
}

fn plain(status: StatusCode, message: &str) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header((
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        ))
        .insert_header((header::CACHE_CONTROL, HeaderValue::from_static("no-store")))
        .body(format!("{message}\n"))
}

#[cfg(test)]
mod tests {
    use super::decode;

    #[test]
    fn paths_decode_strictly() {
        assert_eq!(
            decode("/categories/%E9%87%91%E8%9E%8D/rss.xml").unwrap(),
            "categories/金融/rss.xml"
        );
        assert_eq!(decode("/a%2fb").unwrap(), "a/b");
        assert!(decode("/%zz").is_err());
        assert!(decode("/%e9").is_err());
        assert!(decode("/abc%").is_err());
    }
}
