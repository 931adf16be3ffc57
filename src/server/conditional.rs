//! HTTP caching rules for pollers: content-coding negotiation, strong
//! ETags, `Last-Modified`, and the 304 decision (RFC 9110). The only module
//! that knows them.

use std::time::{Duration, SystemTime};

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderMap, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, HttpResponseBuilder};
use chrono::{DateTime, Utc};

use crate::render::{Document, Encoding};

/// Caching policy from the configuration.
#[derive(Debug, Clone, Copy)]
pub struct Policy {
    pub max_age: u32,
    pub stale_while_revalidate: u32,
}

impl Policy {
    fn cache_control(&self) -> String {
        format!(
            "public, max-age={}, stale-while-revalidate={}",
            self.max_age, self.stale_while_revalidate
        )
    }
}

/// Picks the coding with the highest q-value among those we produce;
/// ties prefer the smaller output (br, zstd, gzip). Identity is always
/// acceptable unless refused with `identity;q=0` or `*;q=0`, and then it
/// is still sent: RFC 9110 allows ignoring the header over a 406.
pub fn negotiate(accept_encoding: Option<&str>) -> Encoding {
    let Some(header) = accept_encoding else {
        return Encoding::Identity;
    };
    let mut best = (0u16, Encoding::Identity);
    let mut wildcard: Option<u16> = None;
    let mut seen = Vec::new();
    for part in header.split(',') {
        let mut pieces = part.split(';');
        let name = pieces.next().unwrap_or("").trim().to_ascii_lowercase();
        let q = pieces.find_map(parse_q).unwrap_or(1000);
        let coding = match name.as_str() {
            "br" => Encoding::Brotli,
            "zstd" => Encoding::Zstd,
            "gzip" | "x-gzip" => Encoding::Gzip,
            "*" => {
                wildcard = Some(q);
                continue;
            }
            _ => continue,
        };
        seen.push(coding);
        consider(&mut best, coding, q);
    }
    if let Some(q) = wildcard {
        for coding in [Encoding::Brotli, Encoding::Zstd, Encoding::Gzip] {
            if !seen.contains(&coding) {
                consider(&mut best, coding, q);
            }
        }
    }
    best.1
}

fn rank(e: Encoding) -> u8 {
    match e {
        Encoding::Brotli => 3,
        Encoding::Zstd => 2,
        Encoding::Gzip => 1,
        Encoding::Identity => 0,
    }
}

fn consider(best: &mut (u16, Encoding), coding: Encoding, q: u16) {
    if q > 0 && (q > best.0 || (q == best.0 && rank(coding) > rank(best.1))) {
        *best = (q, coding);
    }
}

/// `q=0.5` -> 500; malformed q-values count as absent (q=1).
fn parse_q(param: &str) -> Option<u16> {
    let (k, v) = param.split_once('=')?;
    if !k.trim().eq_ignore_ascii_case("q") {
        return None;
    }
    let v: f32 = v.trim().parse().ok()?;
    (0.0..=1.0)
        .contains(&v)
        .then(|| (v * 1000.0).round() as u16)
}

/// Is the client's copy current? If-None-Match, when present, decides
/// alone; If-Modified-Since is only consulted without it.
pub fn not_modified(headers: &HeaderMap, doc: &Document) -> bool {
    if let Some(inm) = headers.get(header::IF_NONE_MATCH) {
        let Ok(inm) = inm.to_str() else { return false };
        return inm.trim() == "*" || inm.split(',').any(|tag| doc.matches(tag));
    }
    let Some(ims) = headers
        .get(header::IF_MODIFIED_SINCE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| httpdate::parse_http_date(v).ok())
    else {
        return false;
    };
    http_time(doc.last_modified) <= ims
}

/// HTTP dates have whole seconds; a later sub-second part must not make
/// a document look newer than the date it was served with.
fn http_time(d: DateTime<Utc>) -> SystemTime {
    let secs = d.timestamp().max(0) as u64;
    SystemTime::UNIX_EPOCH + Duration::from_secs(secs)
}

/// The coding a request's `Accept-Encoding` picks.
pub fn negotiate_request(req: &HttpRequest) -> Encoding {
    negotiate(
        req.headers()
            .get(header::ACCEPT_ENCODING)
            .and_then(|v| v.to_str().ok()),
    )
}

/// The full answer for a document: 304 or 200 with the negotiated body.
pub fn respond(req: &HttpRequest, doc: &Document, policy: &Policy) -> HttpResponse {
    let encoding = negotiate_request(req);
    if not_modified(req.headers(), doc) {
        let mut res = HttpResponse::build(StatusCode::NOT_MODIFIED);
        validators(&mut res, doc, encoding, policy);
        return res.finish();
    }
    let mut res = HttpResponse::Ok();
    validators(&mut res, doc, encoding, policy);
    res.insert_header((header::CONTENT_TYPE, doc.content_type));
    if let Some(name) = encoding.header() {
        res.insert_header((header::CONTENT_ENCODING, name));
    }
    res.body(super::body::Sliced::new(bytes::Bytes::from_owner(
        doc.encoded(encoding),
    )))
}

fn validators(res: &mut HttpResponseBuilder, doc: &Document, encoding: Encoding, policy: &Policy) {
    res.insert_header((header::ETAG, doc.etag(encoding)));
    res.insert_header((
        header::LAST_MODIFIED,
        httpdate::fmt_http_date(http_time(doc.last_modified)),
    ));
    res.insert_header((header::CACHE_CONTROL, policy.cache_control()));
    res.insert_header((header::VARY, HeaderValue::from_static("Accept-Encoding")));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negotiation_honours_q_values() {
        assert_eq!(negotiate(None), Encoding::Identity);
        assert_eq!(negotiate(Some("gzip")), Encoding::Gzip);
        assert_eq!(negotiate(Some("gzip, deflate, br")), Encoding::Brotli);
        assert_eq!(negotiate(Some("br;q=0.5, gzip;q=0.8")), Encoding::Gzip);
        assert_eq!(negotiate(Some("br;q=0, gzip;q=0")), Encoding::Identity);
        assert_eq!(negotiate(Some("*")), Encoding::Brotli);
        assert_eq!(negotiate(Some("*;q=0.5, br;q=0")), Encoding::Zstd);
        assert_eq!(negotiate(Some("zstd, gzip;q=0.9")), Encoding::Zstd);
        assert_eq!(negotiate(Some("identity")), Encoding::Identity);
        assert_eq!(negotiate(Some("GZIP;Q=1.0")), Encoding::Gzip);
        assert_eq!(negotiate(Some("gzip;q=abc")), Encoding::Gzip);
        assert_eq!(negotiate(Some("deflate, compress")), Encoding::Identity);
    }
}
