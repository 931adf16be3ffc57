//! Request path -> response. Paths are looked up, decoded, in the
//! snapshot's route table, so nothing here touches the file system and no
//! path can reach outside the set of documents refeed rendered.

use std::sync::Arc;

use actix_web::body::{BodySize, MessageBody};
use actix_web::http::header::{self, HeaderValue};
use actix_web::http::{Method, StatusCode};
use actix_web::{HttpRequest, HttpResponse, web};

use super::{State, conditional, health, plain, scrape, websub};
use crate::feed::query::Query;
use crate::metrics::{Metrics, RouteKind};
use crate::ondemand::Unavailable;
use crate::site::{FeedKey, Format};
use crate::snapshot::{Route, Snapshot};
use crate::subscribers::Subscribers;

pub async fn handle(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<State>,
) -> HttpResponse {
    let (kind, response) = answer(&req, payload, &state).await;
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

async fn answer(
    req: &HttpRequest,
    payload: web::Payload,
    state: &State,
) -> (RouteKind, HttpResponse) {
    use RouteKind::Other;
    if let Some(hub) = &state.hub
        && hub.path() == Some(req.path())
    {
        let response = websub::respond(req, payload, hub, state.current()).await;
        return (Other, response);
    }
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
        Some(route) => serve(req, state, &snap, route, &path).await,
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
    path: &str,
) -> (RouteKind, HttpResponse) {
    let (kind, on_demand) = match route {
        Route::Feed(key, format) => {
            let Some(feed) = snap.feeds.get(key) else {
                return (RouteKind::Feed, plain(StatusCode::NOT_FOUND, "not found"));
            };
            if let Some(subscribers) = &state.subscribers {
                record_poll(req, snap, key, *format, path, subscribers);
            }
            let query = match Query::parse(req.query_string(), &state.limits) {
                Ok(q) => q,
                Err(e) => {
                    let refused = plain(StatusCode::BAD_REQUEST, &e.to_string());
                    return (RouteKind::Query, refused);
                }
            };
            if query.is_plain() {
                let doc = feed.doc(*format);
                let mut res = conditional::respond(req, doc, &state.policy);
                // WebSub §4: every feed names its hubs and itself, the
                // topic to subscribe to.
                if let Ok(link) = HeaderValue::from_str(&feed.channel.link_header(*format)) {
                    res.headers_mut().insert(header::LINK, link);
                }
                return (RouteKind::Feed, res);
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
            let index = state.subscribers.as_ref().and_then(|s| s.index());
            let index = index.as_ref().unwrap_or(&snap.index);
            return (
                RouteKind::Index,
                conditional::respond(req, index, &state.policy),
            );
        }
        Route::FeedPage(key) => {
            let Some(page) = page_number(req.query_string()) else {
                let refused = plain(StatusCode::BAD_REQUEST, "page must be a number from 1");
                return (RouteKind::Index, refused);
            };
            let subscribers = state.subscribers.as_ref().map(|s| {
                let dir = snap.routes().feed_dir(key).unwrap_or_default();
                s.counts().feeds.get(dir).map_or(0, |c| c.total())
            });
            let encoding = conditional::negotiate_request(req);
            let od = &state.ondemand;
            let page = od.feed_page(snap.clone(), key.clone(), page, subscribers, encoding);
            (RouteKind::Index, page.await)
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

/// The `page` a feed page's query asks for (the first `page` key; other
/// keys, such as a tracker's, are ignored): 1 without one, `None` when it
/// is no number from 1.
fn page_number(query: &str) -> Option<usize> {
    let value = url::form_urlencoded::parse(query.as_bytes()).find(|(k, _)| k == "page");
    match value {
        None => Some(1),
        // Too large for a number is past the last page, as any other.
        Some((_, v)) if !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()) => {
            Some(v.parse().unwrap_or(usize::MAX)).filter(|&n| n >= 1)
        }
        Some(_) => None,
    }
}

/// Records a poll of feed `key` (document `path`) by this client.
fn record_poll(
    req: &HttpRequest,
    snap: &Snapshot,
    key: &FeedKey,
    format: Format,
    path: &str,
    subscribers: &Subscribers,
) {
    let folder = path
        .strip_suffix(format.file_name())
        .or_else(|| snap.routes().feed_dir(key))
        .unwrap_or_default();
    let agent = req.headers().get(header::USER_AGENT);
    let agent = agent.map_or(&b""[..], HeaderValue::as_bytes);
    let peer = req.peer_addr().map(|a| a.ip());
    subscribers.recorder.record(folder, path, peer, agent);
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

#[cfg(test)]
mod tests {
    use super::decode;

    #[test]
    fn page_numbers_start_at_one() {
        use super::page_number;
        assert_eq!(page_number(""), Some(1));
        assert_eq!(page_number("utm_source=x&page=3&page=9"), Some(3));
        for bad in ["page=0", "page=-1", "page=x", "page=", "page=+2"] {
            assert_eq!(page_number(bad), None, "{bad}");
        }
        // Past the last page, whatever its size (found by the fifth attack:
        // one too large for a number was a 400).
        let huge = page_number("page=99999999999999999999999");
        assert_eq!(huge, Some(usize::MAX));
    }

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
