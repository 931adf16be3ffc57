//! HTTP caching rules for pollers: content-coding negotiation, strong
//! ETags, `Last-Modified`, and the 304 decision (RFC 9110). The only module
//! that knows them.

use std::time::{Duration, SystemTime};

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderMap, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, HttpResponseBuilder};
use chrono::{DateTime, Utc};

use crate::render::{Comparison, Document, Encoding};

/// Caching policy from the configuration.
#[derive(Debug, Clone, Copy)]
pub struct Policy {
    pub max_age: Duration,
    pub stale_while_revalidate: Duration,
}

impl Policy {
    fn cache_control(&self) -> String {
        format!(
            "public, max-age={}, stale-while-revalidate={}",
            self.max_age.as_secs(),
            self.stale_while_revalidate.as_secs()
        )
    }
}

/// Picks the coding with the highest q-value among those we produce;
/// ties prefer the smaller output (br, zstd, gzip). Identity is always
/// acceptable unless refused with `identity;q=0` or `*;q=0`, and then it
/// is still sent: RFC 9110 allows ignoring the header over a 406. A member
/// whose weight is not a valid qvalue (`q=NaN`, `q=-1`, `q=1e400`,
/// `q=0.5000`) is ignored, as if it were absent: it states no preference.
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
        let Some(q) = weight(pieces) else { continue };
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

/// A member's weight in thousandths: 1000 without a `q` parameter, `None`
/// when a `q` is malformed.
fn weight<'a>(params: impl Iterator<Item = &'a str>) -> Option<u16> {
    let mut q = 1000;
    for param in params {
        if let Some((k, v)) = param.trim().split_once('=')
            && k.eq_ignore_ascii_case("q")
        {
            q = qvalue(v)?;
        }
    }
    Some(q)
}

/// RFC 9110 §12.4.2: `qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "."
/// 0*3("0") ] )`, read exactly, in thousandths.
fn qvalue(v: &str) -> Option<u16> {
    let (int, frac) = v.split_once('.').unwrap_or((v, ""));
    let digits = frac.len() <= 3 && frac.bytes().all(|b| b.is_ascii_digit());
    match int {
        "0" if digits => Some(format!("{frac:0<3}").parse().unwrap_or(0)),
        "1" if frac.bytes().all(|b| b == b'0') && frac.len() <= 3 => Some(1000),
        _ => None,
    }
}

/// The largest instant an HTTP date can carry: 9999-12-31T23:59:59Z.
const MAX_HTTP_SECONDS: u64 = 253_402_300_799;

/// An instant as HTTP-date seconds: whole, and clamped into what the format
/// can carry (1970 to 9999), so that no date, however it was made, can
/// make formatting fail.
fn http_seconds(at: DateTime<Utc>) -> u64 {
    u64::try_from(at.timestamp()).map_or(0, |s| s.min(MAX_HTTP_SECONDS))
}

/// The one place an instant becomes an HTTP date. Infallible.
pub fn http_date(at: DateTime<Utc>) -> String {
    httpdate::fmt_http_date(SystemTime::UNIX_EPOCH + Duration::from_secs(http_seconds(at)))
}

/// An HTTP-date header value, as seconds; `None` when absent or invalid,
/// which makes the precondition be ignored (RFC 9110 §13.1.3, §13.1.4).
fn date_header(headers: &HeaderMap, name: header::HeaderName) -> Option<u64> {
    let value = headers.get(name)?.to_str().ok()?;
    let at = httpdate::parse_http_date(value).ok()?;
    at.duration_since(SystemTime::UNIX_EPOCH)
        .ok()
        .map(|d| d.as_secs())
}

/// Does any member of an entity-tag list header (or `*`) match the
/// representation of `doc` in `encoding`? `None` without the header.
fn etag_list(
    headers: &HeaderMap,
    name: header::HeaderName,
    doc: &Document,
    encoding: Encoding,
    comparison: Comparison,
) -> Option<bool> {
    let value = headers.get(name)?;
    let Ok(list) = value.to_str() else {
        return Some(false);
    };
    Some(
        list.trim() == "*"
            || list
                .split(',')
                .any(|t| doc.matches(t, encoding, comparison)),
    )
}

/// What the preconditions of a GET or HEAD decide (RFC 9110 §13.2.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// 412: If-Match or If-Unmodified-Since failed.
    PreconditionFailed,
    /// 304: the client's copy of this representation is current.
    NotModified,
    Full,
}

/// The coding a request's `Accept-Encoding` picks.
pub fn negotiate_request(req: &HttpRequest) -> Encoding {
    negotiate(
        req.headers()
            .get(header::ACCEPT_ENCODING)
            .and_then(|v| v.to_str().ok()),
    )
}

/// Evaluates the preconditions in RFC 9110's order: If-Match (strong
/// comparison), else If-Unmodified-Since; then If-None-Match (weak
/// comparison), else If-Modified-Since. ETags compare against the
/// representation being sent (`encoding`): each coding has its own.
///
/// An `If-Modified-Since` later than now is ignored, as Apache httpd does:
/// no `Last-Modified` refeed sends is in the future, so such a date is a
/// client's invention and validates nothing (found by the third attack).
pub fn evaluate(headers: &HeaderMap, doc: &Document, encoding: Encoding) -> Outcome {
    let modified = http_seconds(doc.last_modified);
    let ok = match etag_list(headers, header::IF_MATCH, doc, encoding, Comparison::Strong) {
        Some(matched) => matched,
        None => date_header(headers, header::IF_UNMODIFIED_SINCE).is_none_or(|d| modified <= d),
    };
    if !ok {
        return Outcome::PreconditionFailed;
    }
    let fresh = match etag_list(
        headers,
        header::IF_NONE_MATCH,
        doc,
        encoding,
        Comparison::Weak,
    ) {
        Some(matched) => matched,
        None => date_header(headers, header::IF_MODIFIED_SINCE)
            .filter(|&d| d <= http_seconds(Utc::now()))
            .is_some_and(|d| modified <= d),
    };
    if fresh {
        Outcome::NotModified
    } else {
        Outcome::Full
    }
}

/// The full answer for a document: 412, 304, or 200 with the negotiated
/// body.
pub fn respond(req: &HttpRequest, doc: &Document, policy: &Policy) -> HttpResponse {
    let encoding = negotiate_request(req);
    let status = match evaluate(req.headers(), doc, encoding) {
        // Says nothing about the document to store: a cache that kept it
        // would answer every other client 412.
        Outcome::PreconditionFailed => {
            return HttpResponse::build(StatusCode::PRECONDITION_FAILED)
                .insert_header((header::CACHE_CONTROL, HeaderValue::from_static("no-store")))
                .finish();
        }
        Outcome::NotModified => StatusCode::NOT_MODIFIED,
        Outcome::Full => StatusCode::OK,
    };
    let mut res = HttpResponse::build(status);
    validators(&mut res, doc, encoding, policy);
    if status == StatusCode::NOT_MODIFIED {
        return res.finish();
    }
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
    // Never later than the response's own date (RFC 9110 §8.8.2.1), even
    // when the document is dated past a clock that went back.
    let sent = doc.last_modified.min(Utc::now());
    res.insert_header((header::LAST_MODIFIED, http_date(sent)));
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
        assert_eq!(negotiate(Some("deflate, compress")), Encoding::Identity);
        assert_eq!(negotiate(Some("gzip;q=0.5, br;q=0.499")), Encoding::Gzip);
        assert_eq!(negotiate(Some("gzip ; q=1.000")), Encoding::Gzip);
    }

    #[test]
    fn malformed_q_values_ignore_their_member() {
        for bad in [
            "abc", "NaN", "-1", "1e400", "0.5000", "1.001", "2", "", ".5", "+0.5", "inf",
        ] {
            assert_eq!(qvalue(bad), None, "{bad}");
            let header = format!("br;q={bad}, gzip;q=0.1");
            assert_eq!(negotiate(Some(&header)), Encoding::Gzip, "{header}");
            let header = format!("*;q={bad}");
            assert_eq!(negotiate(Some(&header)), Encoding::Identity, "{header}");
        }
        assert_eq!(qvalue("0"), Some(0));
        assert_eq!(qvalue("0.5"), Some(500));
        assert_eq!(qvalue("0.05"), Some(50));
        assert_eq!(qvalue("0.123"), Some(123));
        assert_eq!(qvalue("1."), Some(1000));
        assert_eq!(qvalue("1.000"), Some(1000));
    }

    #[test]
    fn http_dates_cannot_fail() {
        let max: DateTime<Utc> = "9999-12-31T23:59:59Z".parse().unwrap();
        assert_eq!(http_date(max), "Fri, 31 Dec 9999 23:59:59 GMT");
        assert_eq!(
            http_date(max + chrono::Duration::seconds(1)),
            http_date(max)
        );
        assert_eq!(http_date(DateTime::<Utc>::MAX_UTC), http_date(max));
        let before: DateTime<Utc> = "1000-01-01T00:00:00Z".parse().unwrap();
        assert_eq!(http_date(before), "Thu, 01 Jan 1970 00:00:00 GMT");
        assert_eq!(http_date(DateTime::<Utc>::MIN_UTC), http_date(before));
    }
}
