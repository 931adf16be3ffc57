//! The hub's HTTP side: a subscription request's form body, read within
//! a bound, handed to [`crate::websub::Hub`]; 202 once it is queued for
//! verification, 4xx with the reason when it is refused.

use actix_web::http::Method;
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, web};

use super::plain;
use crate::websub::request::MAX_BODY_BYTES;
use crate::websub::{Hub, Refused};

pub async fn respond(
    req: &HttpRequest,
    payload: web::Payload,
    hub: &Hub,
    snap: Option<std::sync::Arc<crate::snapshot::Snapshot>>,
) -> HttpResponse {
    if req.method() != Method::POST {
        let mut res = plain(
            StatusCode::METHOD_NOT_ALLOWED,
            "the WebSub hub takes subscription requests by POST",
        );
        res.headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("POST"));
        return res;
    }
    let Some(snap) = snap else {
        return plain(
            StatusCode::SERVICE_UNAVAILABLE,
            "loading the archive, retry shortly",
        );
    };
    // A body that is slow to come is cut off with its connection by
    // `server::deadline`: the answer must start within
    // `client_request_timeout` of the request's first byte.
    let body = match payload.to_bytes_limited(MAX_BODY_BYTES).await {
        Ok(Ok(body)) => body,
        Ok(Err(_)) => return plain(StatusCode::BAD_REQUEST, "request body unreadable"),
        Err(_) => return plain(StatusCode::PAYLOAD_TOO_LARGE, "request body too large"),
    };
    let Some(client) = req.peer_addr().map(|a| a.ip()) else {
        return plain(StatusCode::BAD_REQUEST, "no client address");
    };
    match hub.request(&body, client, &snap) {
        Ok(()) => HttpResponse::Accepted()
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .finish(),
        Err(why) => {
            let (status, retry) = match why {
                // A minute's allowance: it is back within a minute.
                Refused::TooMany => (StatusCode::TOO_MANY_REQUESTS, Some("60")),
                Refused::Busy => (StatusCode::SERVICE_UNAVAILABLE, Some("1")),
                _ => (StatusCode::BAD_REQUEST, None),
            };
            let mut res = plain(status, &why.to_string());
            if let Some(after) = retry {
                res.headers_mut()
                    .insert(header::RETRY_AFTER, header::HeaderValue::from_static(after));
            }
            res
        }
    }
}
