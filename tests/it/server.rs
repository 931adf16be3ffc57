//! The HTTP surface through actix_web::test: every route, header rule,
//! query parameter and error status.

use crate::common;

use std::io::Read;
use std::sync::Arc;

use actix_web::dev::{Service, ServiceResponse};
use actix_web::http::{Method, StatusCode, header};
use actix_web::{App, test, web};
use refeed::live::Live;
use refeed::ondemand::OnDemand;
use refeed::server::{State, configure};

use common::{config, examples};

type Resp = ServiceResponse;

async fn app(
    loaded: bool,
) -> impl Service<actix_http::Request, Response = Resp, Error = actix_web::Error> {
    app_with(&[], loaded).await
}

async fn app_with(
    overrides: &[(&str, &str)],
    loaded: bool,
) -> impl Service<actix_http::Request, Response = Resp, Error = actix_web::Error> {
    let cfg = config(&examples(), overrides);
    let (pipeline, snap) = common::snapshot(&cfg);
    let pipeline = Arc::new(pipeline);
    let live = Arc::new(Live::new(pipeline.clone(), Vec::new()));
    let ondemand = Arc::new(OnDemand::new(&cfg, pipeline));
    let state = web::Data::new(State::new(&cfg, live.clone(), ondemand));
    if loaded {
        live.publish(snap);
    }
    test::init_service(App::new().configure(configure(state))).await
}

fn get(path: &str) -> test::TestRequest {
    test::TestRequest::get().uri(path)
}

fn header(r: &Resp, name: header::HeaderName) -> &str {
    r.headers()
        .get(&name)
        .unwrap_or_else(|| panic!("no {name}"))
        .to_str()
        .unwrap()
}

async fn body(r: Resp) -> Vec<u8> {
    test::read_body(r).await.to_vec()
}

const CAT: &str = "/categories/%E9%87%91%E8%9E%8D/%E6%96%B0%E6%B5%AA%E8%B4%A2%E7%BB%8F";

#[actix_web::test]
async fn every_feed_route_has_its_content_type() {
    let app = app(true).await;
    for (suffix, ct) in [
        ("rss.xml", "application/rss+xml; charset=utf-8"),
        ("atom.xml", "application/atom+xml; charset=utf-8"),
        ("feed.json", "application/feed+json"),
    ] {
        for dir in ["", CAT, "/tags/rust", "/categories/Tech/Rust"] {
            let r = test::call_service(&app, get(&format!("{dir}/{suffix}")).to_request()).await;
            assert_eq!(r.status(), 200, "{dir}/{suffix}");
            assert_eq!(header(&r, header::CONTENT_TYPE), ct);
            assert_eq!(header(&r, header::VARY), "Accept-Encoding");
            assert_eq!(
                header(&r, header::CACHE_CONTROL),
                "public, max-age=300, stale-while-revalidate=600"
            );
            assert!(r.headers().get(header::CONTENT_ENCODING).is_none());
        }
    }
    let r = test::call_service(&app, get("/opml.xml").to_request()).await;
    assert_eq!(r.status(), 200);
    let opml = String::from_utf8(body(r).await).unwrap();
    assert!(opml.contains("xmlUrl=\"http://127.0.0.1:8080/tags/rust/rss.xml\""));
}

#[actix_web::test]
async fn index_lists_feeds_with_autodiscovery() {
    let app = app(true).await;
    let r = test::call_service(&app, get("/").to_request()).await;
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, header::CONTENT_TYPE), "text/html; charset=utf-8");
    let html = String::from_utf8(body(r).await).unwrap();
    assert!(html.contains(
        "<link rel=\"alternate\" type=\"application/rss+xml\" title=\"refeed examples\" href=\"http://127.0.0.1:8080/rss.xml\">"
    ));
    assert!(html.contains("新浪财经－国內 <small>(4 articles"), "{html}");
    assert!(html.contains("#C++"), "tag names are shown as written");
    assert!(!html.contains("<script"));
}

#[actix_web::test]
async fn article_pages_resolve_item_links() {
    let app = app(true).await;
    let r = test::call_service(&app, get("/rss.xml").to_request()).await;
    let feed = feed_rs::parser::parse(&body(r).await[..]).unwrap();
    for entry in &feed.entries {
        let link = &entry.links[0].href;
        let path = link.strip_prefix("http://127.0.0.1:8080").unwrap();
        let r = test::call_service(&app, get(path).to_request()).await;
        assert_eq!(r.status(), 200, "{path}");
        let html = String::from_utf8(body(r).await).unwrap();
        let title = entry
            .title
            .as_ref()
            .unwrap()
            .content
            .replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&quot;");
        assert!(
            html.contains(&format!("<h1>{title}</h1>")),
            "{path}: {html}"
        );
    }
}

#[actix_web::test]
async fn article_pages_autodiscover_their_category_feeds() {
    let app = app(true).await;
    let r = test::call_service(
        &app,
        get("/2021/06/18/tech/rust/ownership-in-practice/").to_request(),
    )
    .await;
    assert_eq!(r.status(), 200);
    let html = String::from_utf8(body(r).await).unwrap();
    for (dir, title) in [("Tech", "Tech"), ("Tech/Rust", "Tech / Rust")] {
        for (file, mime) in [
            ("rss.xml", "application/rss+xml"),
            ("atom.xml", "application/atom+xml"),
            ("feed.json", "application/feed+json"),
        ] {
            let link = format!(
                "<link rel=\"alternate\" type=\"{mime}\" title=\"refeed examples · {title}\" href=\"http://127.0.0.1:8080/categories/{dir}/{file}\">"
            );
            assert!(html.contains(&link), "{link}\n{html}");
        }
    }
}

#[actix_web::test]
async fn health_reports_loading_then_counts() {
    let app = app(false).await;
    let r = test::call_service(&app, get("/healthz").to_request()).await;
    assert_eq!(r.status(), 503);
    let r = test::call_service(&app, get("/rss.xml").to_request()).await;
    assert_eq!(r.status(), 503);
    assert_eq!(header(&r, header::RETRY_AFTER), "1");

    let app = app_with(&[], true).await;
    let r = test::call_service(&app, get("/healthz").to_request()).await;
    assert_eq!(r.status(), 200);
    let v: serde_json::Value = serde_json::from_slice(&body(r).await).unwrap();
    assert_eq!(v["status"], "ok");
    assert_eq!(v["articles"], 11);
    assert_eq!(v["files"], 12);
    assert_eq!(v["rejected_count"], 0);
    assert_eq!(v["generation"], 1);
}

#[actix_web::test]
async fn errors_have_their_status() {
    let app = app_with(
        &[
            ("server.max_url_bytes", "200"),
            ("server.max_header_bytes", "2000"),
        ],
        true,
    )
    .await;
    let r = test::call_service(&app, get("/nope.xml").to_request()).await;
    assert_eq!(r.status(), 404);
    assert_eq!(
        header(&r, header::CONTENT_TYPE),
        "text/plain; charset=utf-8"
    );
    for method in [
        Method::POST,
        Method::PUT,
        Method::DELETE,
        Method::PATCH,
        Method::OPTIONS,
    ] {
        let r = test::call_service(
            &app,
            test::TestRequest::default()
                .method(method.clone())
                .uri("/rss.xml")
                .to_request(),
        )
        .await;
        assert_eq!(r.status(), 405, "{method}");
        assert_eq!(header(&r, header::ALLOW), "GET, HEAD");
    }
    let r = test::call_service(
        &app,
        get(&format!("/rss.xml?x={}", "a".repeat(300))).to_request(),
    )
    .await;
    assert_eq!(r.status(), StatusCode::URI_TOO_LONG);
    let r = test::call_service(
        &app,
        get("/rss.xml")
            .insert_header(("x-big", "b".repeat(3000)))
            .to_request(),
    )
    .await;
    assert_eq!(r.status(), StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE);
    for bad in [
        "/%zz",
        "/%C3%28",
        "/categories/..%2f..%2fetc/passwd",
        "/../Cargo.toml",
        "/%2e%2e/Cargo.toml",
    ] {
        let r = test::call_service(&app, get(bad).to_request()).await;
        assert!(
            matches!(r.status().as_u16(), 400 | 404),
            "{bad}: {}",
            r.status()
        );
    }
}

#[actix_web::test]
async fn conditional_get_rules() {
    let app = app(true).await;
    let r = test::call_service(&app, get("/atom.xml").to_request()).await;
    let etag = header(&r, header::ETAG).to_string();
    let last_modified = header(&r, header::LAST_MODIFIED).to_string();
    assert!(
        etag.starts_with('"') && !etag.starts_with("W/"),
        "strong: {etag}"
    );
    assert_eq!(
        last_modified, "Sat, 26 Jun 2021 01:02:03 GMT",
        "newest updated in the feed"
    );

    let r = test::call_service(
        &app,
        get("/atom.xml")
            .insert_header((header::IF_NONE_MATCH, etag.clone()))
            .to_request(),
    )
    .await;
    assert_eq!(r.status(), 304);
    assert_eq!(header(&r, header::ETAG), etag);
    assert!(body(r).await.is_empty());

    let list = format!("\"nope\", W/{etag}");
    let r = test::call_service(
        &app,
        get("/atom.xml")
            .insert_header((header::IF_NONE_MATCH, list))
            .to_request(),
    )
    .await;
    assert_eq!(r.status(), 304, "weak comparison over a list");

    let r = test::call_service(
        &app,
        get("/atom.xml")
            .insert_header((header::IF_NONE_MATCH, "*"))
            .to_request(),
    )
    .await;
    assert_eq!(r.status(), 304);

    let r = test::call_service(
        &app,
        get("/atom.xml")
            .insert_header((header::IF_MODIFIED_SINCE, last_modified.clone()))
            .to_request(),
    )
    .await;
    assert_eq!(r.status(), 304);
    let r = test::call_service(
        &app,
        get("/atom.xml")
            .insert_header((header::IF_MODIFIED_SINCE, "Fri, 25 Jun 2021 00:00:00 GMT"))
            .to_request(),
    )
    .await;
    assert_eq!(r.status(), 200);

    // If-None-Match takes precedence: a mismatch is 200 even if IMS says fresh.
    let r = test::call_service(
        &app,
        get("/atom.xml")
            .insert_header((header::IF_NONE_MATCH, "\"stale\""))
            .insert_header((header::IF_MODIFIED_SINCE, last_modified.clone()))
            .to_request(),
    )
    .await;
    assert_eq!(r.status(), 200);

    // Each representation has its own ETag
    // (gzip_etag_does_not_validate_identity has the rest).
    let r = test::call_service(
        &app,
        get("/atom.xml")
            .insert_header((header::ACCEPT_ENCODING, "gzip"))
            .to_request(),
    )
    .await;
    let gz_etag = header(&r, header::ETAG).to_string();
    assert_ne!(gz_etag, etag);

    let r = test::call_service(
        &app,
        test::TestRequest::default()
            .method(Method::HEAD)
            .uri("/atom.xml")
            .to_request(),
    )
    .await;
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, header::ETAG), etag);
}

#[actix_web::test]
async fn content_codings_round_trip() {
    let app = app(true).await;
    let plain = body(test::call_service(&app, get("/rss.xml").to_request()).await).await;
    let cases: [(&str, Option<&str>); 6] = [
        ("gzip", Some("gzip")),
        ("br", Some("br")),
        ("zstd", Some("zstd")),
        ("gzip;q=0.5, br;q=0.9", Some("br")),
        ("br;q=0, gzip;q=0", None),
        ("deflate", None),
    ];
    for (accept, expected) in cases {
        let r = test::call_service(
            &app,
            get("/rss.xml")
                .insert_header((header::ACCEPT_ENCODING, accept))
                .to_request(),
        )
        .await;
        let coding = r
            .headers()
            .get(header::CONTENT_ENCODING)
            .map(|v| v.to_str().unwrap().to_string());
        assert_eq!(coding.as_deref(), expected, "{accept}");
        let bytes = body(r).await;
        let decoded = match expected {
            Some("gzip") => {
                let mut out = Vec::new();
                flate2::read::GzDecoder::new(&bytes[..])
                    .read_to_end(&mut out)
                    .unwrap();
                out
            }
            Some("br") => {
                let mut out = Vec::new();
                brotli::BrotliDecompress(&mut &bytes[..], &mut out).unwrap();
                out
            }
            Some("zstd") => zstd::bulk::decompress(&bytes, 1 << 24).unwrap(),
            _ => bytes,
        };
        assert_eq!(decoded, plain, "{accept}");
    }
}

async fn entries(
    app: &impl Service<actix_http::Request, Response = Resp, Error = actix_web::Error>,
    uri: &str,
) -> Vec<feed_rs::model::Entry> {
    let r = test::call_service(app, get(uri).to_request()).await;
    assert_eq!(r.status(), 200, "{uri}");
    feed_rs::parser::parse(&body(r).await[..]).unwrap().entries
}

fn titles(e: &[feed_rs::model::Entry]) -> Vec<String> {
    e.iter().map(|e| e.title.clone().unwrap().content).collect()
}

#[actix_web::test]
async fn query_parameters_select_items() {
    let app = app(true).await;
    assert_eq!(entries(&app, "/rss.xml?limit=2").await.len(), 2);
    assert_eq!(entries(&app, "/rss.xml").await.len(), 11);

    let r = test::call_service(&app, get("/rss.xml?format=json").to_request()).await;
    assert_eq!(header(&r, header::CONTENT_TYPE), "application/feed+json");
    let r = test::call_service(&app, get("/feed.json?format=atom").to_request()).await;
    assert_eq!(
        header(&r, header::CONTENT_TYPE),
        "application/atom+xml; charset=utf-8"
    );

    let t = titles(
        &entries(
            &app,
            "/atom.xml?filter_title=%E7%A4%BA%E4%BE%8B%E9%93%B6%E8%A1%8C",
        )
        .await,
    );
    assert_eq!(t, ["示例银行下调部分存款利率 <解读>"]);
    let t = titles(
        &entries(
            &app,
            "/atom.xml?filter=ownership&filter_case_sensitive=false",
        )
        .await,
    );
    assert_eq!(t, ["Ownership in practice"]);
    let all = entries(&app, "/atom.xml").await.len();
    let out = entries(&app, "/atom.xml?filterout=%E7%A4%BA%E4%BE%8B").await;
    assert!(out.len() < all && titles(&out).iter().all(|t| !t.contains("示例")));
    let t = titles(&entries(&app, "/atom.xml?filter_author=Example%20Author").await);
    assert_eq!(t, ["Ownership in practice"]);
    let t = titles(&entries(&app, "/atom.xml?filter_category=%5ERust%24").await);
    assert_eq!(t.len(), 2, "{t:?}");
    let t = titles(
        &entries(
            &app,
            "/atom.xml?filter_description=GFM%7C%E6%97%A5%E5%BF%97%E5%88%86%E6%9E%90",
        )
        .await,
    );
    assert_eq!(t, ["示例公司发布开源工具"]);

    let brief = entries(&app, "/atom.xml?brief=10&limit=1").await;
    let summary = brief[0].summary.as_ref().unwrap().content.clone();
    assert!(summary.chars().count() <= 10, "{summary}");

    for bad in [
        "limit=0",
        "limit=1000",
        "format=xml",
        "brief=x",
        "filter=(",
        "filter_case_sensitive=no",
    ] {
        let r = test::call_service(&app, get(&format!("/rss.xml?{bad}")).to_request()).await;
        assert_eq!(r.status(), 400, "{bad}");
        let msg = String::from_utf8(body(r).await).unwrap();
        assert!(msg.contains("query parameter"), "{msg}");
    }
}

#[actix_web::test]
async fn query_representations_have_their_own_etags_and_revalidate() {
    let app = app(true).await;
    let r = test::call_service(&app, get("/rss.xml?limit=3").to_request()).await;
    let limited = header(&r, header::ETAG).to_string();
    let r = test::call_service(&app, get("/rss.xml").to_request()).await;
    assert_ne!(header(&r, header::ETAG), limited);
    let r = test::call_service(
        &app,
        get("/rss.xml?limit=3&utm_source=x")
            .insert_header((header::IF_NONE_MATCH, limited.clone()))
            .to_request(),
    )
    .await;
    assert_eq!(
        r.status(),
        304,
        "unknown parameters do not make a new representation"
    );
}

/// A strong ETag names one representation's bytes: the gzip tag must not
/// make an identity response a 304 (the client would decode plain bytes
/// it never received), and the identity tag must not validate gzip.
#[actix_web::test]
async fn gzip_etag_does_not_validate_identity() {
    let app = app(true).await;
    let gzip = test::call_service(
        &app,
        get("/atom.xml")
            .insert_header((header::ACCEPT_ENCODING, "gzip"))
            .to_request(),
    )
    .await;
    let gz_etag = header(&gzip, header::ETAG).to_string();
    let plain = test::call_service(&app, get("/atom.xml").to_request()).await;
    let etag = header(&plain, header::ETAG).to_string();

    let r = test::call_service(
        &app,
        get("/atom.xml")
            .insert_header((header::IF_NONE_MATCH, gz_etag.clone()))
            .to_request(),
    )
    .await;
    assert_eq!(r.status(), 200, "gzip tag on an identity request");
    assert_eq!(header(&r, header::ETAG), etag);
    assert!(r.headers().get(header::CONTENT_ENCODING).is_none());

    let r = test::call_service(
        &app,
        get("/atom.xml")
            .insert_header((header::ACCEPT_ENCODING, "gzip"))
            .insert_header((header::IF_NONE_MATCH, etag.clone()))
            .to_request(),
    )
    .await;
    assert_eq!(r.status(), 200, "identity tag on a gzip request");

    for tag in [gz_etag.clone(), format!("\"x\", W/{gz_etag}")] {
        let r = test::call_service(
            &app,
            get("/atom.xml")
                .insert_header((header::ACCEPT_ENCODING, "gzip"))
                .insert_header((header::IF_NONE_MATCH, tag.clone()))
                .to_request(),
        )
        .await;
        assert_eq!(r.status(), 304, "{tag}");
        assert_eq!(header(&r, header::ETAG), gz_etag);
    }
}

/// RFC 9110 §13.1.1 and §13.1.4: If-Match (strong comparison) and, without
/// it, If-Unmodified-Since are preconditions; when false the answer is 412,
/// and they are evaluated before If-None-Match / If-Modified-Since.
#[actix_web::test]
async fn if_match_and_if_unmodified_since_give_412() {
    let app = app(true).await;
    let r = test::call_service(&app, get("/atom.xml").to_request()).await;
    let etag = header(&r, header::ETAG).to_string();
    let last_modified = header(&r, header::LAST_MODIFIED).to_string();
    let call = |headers: Vec<(header::HeaderName, String)>| {
        let mut req = get("/atom.xml");
        for h in headers {
            req = req.insert_header(h);
        }
        test::call_service(&app, req.to_request())
    };
    use header::{IF_MATCH, IF_MODIFIED_SINCE, IF_NONE_MATCH, IF_UNMODIFIED_SINCE};
    let earlier = "Fri, 25 Jun 2021 00:00:00 GMT".to_string();
    let cases: Vec<(Vec<(header::HeaderName, String)>, u16)> = vec![
        (vec![(IF_MATCH, "\"other\"".into())], 412),
        (vec![(IF_MATCH, format!("W/{etag}"))], 412),
        (vec![(IF_MATCH, etag.clone())], 200),
        (vec![(IF_MATCH, format!("\"other\", {etag}"))], 200),
        (vec![(IF_MATCH, "*".into())], 200),
        (vec![(IF_UNMODIFIED_SINCE, earlier.clone())], 412),
        (vec![(IF_UNMODIFIED_SINCE, last_modified.clone())], 200),
        (vec![(IF_UNMODIFIED_SINCE, "not a date".into())], 200),
        (vec![(IF_MODIFIED_SINCE, last_modified.clone())], 304),
        // A date from the future validates nothing (third attack).
        (
            vec![(IF_MODIFIED_SINCE, "Thu, 01 Jan 2099 00:00:00 GMT".into())],
            200,
        ),
        // If-Match decides alone; If-Unmodified-Since is then ignored.
        (
            vec![
                (IF_MATCH, etag.clone()),
                (IF_UNMODIFIED_SINCE, earlier.clone()),
            ],
            200,
        ),
        // 412 comes before 304.
        (
            vec![
                (IF_MATCH, "\"other\"".into()),
                (IF_NONE_MATCH, etag.clone()),
            ],
            412,
        ),
        (
            vec![
                (IF_UNMODIFIED_SINCE, earlier.clone()),
                (IF_MODIFIED_SINCE, last_modified.clone()),
            ],
            412,
        ),
        (
            vec![(IF_MATCH, etag.clone()), (IF_NONE_MATCH, etag.clone())],
            304,
        ),
    ];
    for (headers, want) in cases {
        let shown = format!("{headers:?}");
        let r = call(headers).await;
        assert_eq!(r.status().as_u16(), want, "{shown}");
        if want == 412 {
            assert_eq!(header(&r, header::CACHE_CONTROL), "no-store", "{shown}");
            assert!(body(r).await.is_empty(), "{shown}");
        }
    }
}

/// RFC 9110 §12.4.2 allows at most three decimals in 0..=1; a malformed
/// weight states no preference, so its member is ignored, never read as 1.
#[actix_web::test]
async fn malformed_q_values_are_not_q1() {
    let app = app(true).await;
    for bad in ["NaN", "-1", "1e400", "inf", "0.5000", "1.5", "0x1"] {
        for accept in [format!("br;q={bad}"), format!("br;q={bad}, gzip;q=0.5")] {
            let r = test::call_service(
                &app,
                get("/rss.xml")
                    .insert_header((header::ACCEPT_ENCODING, accept.clone()))
                    .to_request(),
            )
            .await;
            assert_eq!(r.status(), 200, "{accept}");
            let coding = r
                .headers()
                .get(header::CONTENT_ENCODING)
                .map(|v| v.to_str().unwrap().to_string());
            let want = accept.contains("gzip").then(|| "gzip".to_string());
            assert_eq!(coding, want, "{accept}");
        }
    }
}

/// A repeated query parameter keeps its first value, whatever the values
/// sort as, and shares the representation (and ETag) of the query without
/// the repeats.
#[actix_web::test]
async fn duplicate_query_keys_first_wins() {
    let app = app(true).await;
    assert_eq!(entries(&app, "/rss.xml?limit=5&limit=100").await.len(), 5);
    assert_eq!(entries(&app, "/rss.xml?limit=2&limit=1").await.len(), 2);
    assert_eq!(entries(&app, "/rss.xml?limit=1&limit=2").await.len(), 1);
    let r = test::call_service(&app, get("/rss.xml?format=json&format=atom").to_request()).await;
    assert_eq!(header(&r, header::CONTENT_TYPE), "application/feed+json");
    let r = test::call_service(&app, get("/rss.xml?limit=3&brief=5&limit=9").to_request()).await;
    let repeated = header(&r, header::ETAG).to_string();
    let r = test::call_service(&app, get("/rss.xml?brief=5&limit=3").to_request()).await;
    assert_eq!(header(&r, header::ETAG), repeated);
}
