//! Request path -> response. Paths are looked up, decoded, in the
//! snapshot's route table, so nothing here touches the file system and no
//! path can reach outside the set of documents refeed rendered.

use std::sync::Arc;

use actix_web::http::header::{self, HeaderValue};
use actix_web::http::{Method, StatusCode};
use actix_web::{HttpRequest, HttpResponse, web};

use super::{State, conditional, health};
use crate::feed::query::Query;
use crate::ondemand::Busy;
use crate::site::{FeedKey, Format};
use crate::snapshot::{Route, Snapshot};
use crate::subscribers::Subscribers;

pub async fn handle(req: HttpRequest, state: web::Data<State>) -> HttpResponse {
    if req.method() != Method::GET && req.method() != Method::HEAD {
        return HttpResponse::MethodNotAllowed()
            .insert_header((header::ALLOW, "GET, HEAD"))
            .content_type("text/plain; charset=utf-8")
            .body("method not allowed: use GET or HEAD\n");
    }
    if let Some(response) = over_limits(&req, &state) {
        return response;
    }
    let path = match decode(req.path()) {
        Ok(p) => p,
        Err(why) => return plain(StatusCode::BAD_REQUEST, why),
    };
    if path == crate::routes::HEALTHZ_PATH {
        return health::respond(&state);
    }
    let Some(snap) = state.current() else {
        let mut res = plain(
            StatusCode::SERVICE_UNAVAILABLE,
            "loading the archive, retry shortly",
        );
        res.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        return res;
    };
    match lookup(&snap, &path) {
        Some(route) => serve(&req, &state, &snap, route, &path).await,
        None => plain(StatusCode::NOT_FOUND, "not found"),
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
) -> HttpResponse {
    let on_demand = match route {
        Route::Feed(key, format) => {
            let Some(feed) = snap.feeds.get(key) else {
                return plain(StatusCode::NOT_FOUND, "not found");
            };
            if let Some(subscribers) = &state.subscribers {
                count(req, snap, key, *format, path, subscribers);
            }
            let query = match Query::parse(req.query_string(), &state.limits) {
                Ok(q) => q,
                Err(e) => return plain(StatusCode::BAD_REQUEST, &e.to_string()),
            };
            if query.is_plain() {
                return conditional::respond(req, feed.doc(*format), &state.policy);
            }
            let encoding = conditional::negotiate_request(req);
            let od = &state.ondemand;
            od.variant(snap.clone(), key.clone(), query, *format, encoding)
                .await
        }
        Route::Opml => return conditional::respond(req, &snap.opml, &state.policy),
        Route::Index => {
            let index = state.subscribers.as_ref().and_then(|s| s.index());
            let index = index.as_ref().unwrap_or(&snap.index);
            return conditional::respond(req, index, &state.policy);
        }
        Route::Article(rel) => {
            let encoding = conditional::negotiate_request(req);
            state
                .ondemand
                .article_page(snap.clone(), rel, encoding)
                .await
        }
    };
    match on_demand {
        Ok(Some(doc)) => conditional::respond(req, &doc, &state.policy),
        Ok(None) => plain(StatusCode::NOT_FOUND, "not found"),
        Err(Busy) => busy(),
    }
}

/// Records a poll of feed `key` (document `path`) by this client.
fn count(
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
