//! The WebSub hub against loopback subscribers (`common::subscriber`),
//! driven by `refeed serve` as a process.
//! `REFEED_WEBSUB__ALLOW_PRIVATE_CALLBACKS=true` lets the hub reach it,
//! except in the test of exactly that refusal.

use crate::common;

use std::io::{Read, Write};

use hmac::{Hmac, Mac};
use sha2::Sha256;

use common::server::{
    Launch, PATIENCE, Refeed, connect, parse_response, source_copy, stop, write_atomically,
};
use common::subscriber::{Behaviour, Subscriber};

/// The site feed as a topic: its canonical URL, from the default `url`.
const TOPIC: &str = "http://127.0.0.1:8080/rss.xml";

const PRIVATE_OK: (&str, &str) = ("REFEED_WEBSUB__ALLOW_PRIVATE_CALLBACKS", "true");
/// Retries come quickly in tests.
const QUICK_RETRY: (&str, &str) = ("REFEED_WEBSUB__RETRY_DELAY_MS", "20");

// --- talking to the hub ---------------------------------------------------

/// POSTs a form to the hub; the status.
fn hub_request(server: &Refeed, pairs: &[(&str, &str)]) -> u16 {
    hub_response(server, pairs).status
}

fn hub_response(server: &Refeed, pairs: &[(&str, &str)]) -> common::server::Response {
    let body = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish();
    hub_form(server, &body)
}

/// POSTs a form body as given, percent-encoded bytes and all.
fn hub_form(server: &Refeed, body: &str) -> common::server::Response {
    let mut stream = connect(&server.addr);
    write!(
        stream,
        "POST /websub HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
        server.addr,
        body.len()
    )
    .unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).unwrap();
    parse_response(&raw).expect("a response")
}

fn subscribe(server: &Refeed, callback: &str, extra: &[(&str, &str)]) -> u16 {
    let mut pairs = vec![
        ("hub.mode", "subscribe"),
        ("hub.topic", TOPIC),
        ("hub.callback", callback),
    ];
    pairs.extend_from_slice(extra);
    hub_request(server, &pairs)
}

/// `/healthz`'s `websub.<field>`. The hub thread publishes its counts
/// after each message it handles, so a test waits for a count rather than
/// reading it right after a log line.
fn hub_count(server: &Refeed, field: &str) -> u64 {
    server.health()["websub"][field]
        .as_u64()
        .expect("websub in /healthz")
}

fn wait_count(server: &Refeed, field: &str, want: u64) {
    server.wait_for(&format!("websub.{field} == {want}"), PATIENCE, |s| {
        hub_count(s, field) == want
    });
}

fn wait_log(server: &Refeed, text: &str) {
    server.wait_for(&format!("`{text}` in the log"), PATIENCE, |s| {
        s.log_text().contains(text)
    });
}

/// A change to the site feed: a new post.
fn add_post(dir: &std::path::Path, name: &str) {
    let text = format!(
        "---\ntitle: Pushed {name}\ndate: 2030-01-01 09:00:00\ncategories: [Push]\n---\n\nNew.\n"
    );
    write_atomically(&dir.join(format!("{name}.md")), &text);
}

/// `X-Hub-Signature` as the subscriber computes it.
fn signature(secret: &[u8], body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).unwrap();
    mac.update(body);
    let hex: String = (mac.finalize().into_bytes().iter())
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("sha256={hex}")
}

fn subscribed(server: &Refeed, sub: &Subscriber, name: &str, extra: &[(&str, &str)]) {
    assert_eq!(subscribe(server, &sub.callback(name), extra), 202);
    wait_count(server, "subscriptions", 1);
}

// --- the tests ------------------------------------------------------------

#[test]
fn feeds_advertise_the_hub_and_themselves() {
    let dir = source_copy();
    let server = Refeed::start(dir.path(), &[]);
    let r = server.get("/rss.xml");
    assert_eq!(
        r.header("link"),
        Some(
            "<http://127.0.0.1:8080/websub>; rel=\"hub\", <http://127.0.0.1:8080/rss.xml>; rel=\"self\""
        )
    );
    let body = r.text();
    assert!(body.contains(r#"<atom:link href="http://127.0.0.1:8080/websub" rel="hub"/>"#));
    assert!(server.get("/atom.xml").text().contains(r#"rel="hub""#));
    let json: serde_json::Value = serde_json::from_slice(&server.get("/feed.json").body).unwrap();
    assert_eq!(json["hubs"][0]["type"], "WebSub");
    assert_eq!(json["hubs"][0]["url"], "http://127.0.0.1:8080/websub");
    // A query representation is no topic: no hub, no Link.
    let q = server.get("/rss.xml?limit=1");
    assert_eq!(q.header("link"), None);
    assert!(!q.text().contains(r#"rel="hub""#));
}

#[test]
fn subscribe_verify_and_deliver_with_a_valid_signature() {
    let dir = source_copy();
    let sub = Subscriber::start(Behaviour::default());
    let server = Refeed::start(dir.path(), &[PRIVATE_OK]);
    subscribed(
        &server,
        &sub,
        "cb",
        &[("hub.secret", "s3cret"), ("hub.lease_seconds", "7200")],
    );
    let check = sub.received()[0].clone();
    assert_eq!(check.method, "GET");
    assert_eq!(check.param("hub.mode").as_deref(), Some("subscribe"));
    assert_eq!(check.param("hub.topic").as_deref(), Some(TOPIC));
    assert_eq!(check.param("hub.lease_seconds").as_deref(), Some("7200"));
    assert_eq!(check.param("token").as_deref(), Some("abc"));
    assert!(!server.log_text().contains("s3cret"), "a secret was logged");

    add_post(dir.path(), "one");
    server.wait_for("a delivery", PATIENCE, |_| !sub.posts().is_empty());
    let delivery = sub.posts()[0].clone();
    let feed = server.get("/rss.xml");
    assert!(feed.text().contains("Pushed one"));
    assert_eq!(delivery.body, feed.body, "the full new document");
    assert_eq!(delivery.header("content-type"), feed.header("content-type"));
    assert_eq!(delivery.header("link"), feed.header("link"));
    assert_eq!(
        delivery.header("x-hub-signature"),
        Some(signature(b"s3cret", &delivery.body).as_str())
    );
    wait_count(&server, "pending_deliveries", 0);
    assert!(!server.log_text().contains("s3cret"), "a secret was logged");
}

#[test]
fn a_wrong_challenge_echo_subscribes_nothing() {
    let dir = source_copy();
    let sub = Subscriber::start(Behaviour {
        wrong_echo: true,
        ..Behaviour::default()
    });
    let server = Refeed::start(dir.path(), &[PRIVATE_OK]);
    assert_eq!(subscribe(&server, &sub.callback("cb"), &[]), 202);
    wait_log(&server, "did not echo the challenge");
    assert_eq!(hub_count(&server, "subscriptions"), 0);
}

/// Found by the sixth attack: a body that only began with the challenge
/// verified the subscription (the first KiB was read and trimmed). White
/// space around the challenge is all that may come with it.
#[test]
fn an_echo_that_only_begins_with_the_challenge_subscribes_nothing() {
    let dir = source_copy();
    let junk = Subscriber::start(Behaviour {
        echo_after: format!("{}JUNK", " ".repeat(2000)),
        ..Behaviour::default()
    });
    let server = Refeed::start(dir.path(), &[PRIVATE_OK]);
    assert_eq!(subscribe(&server, &junk.callback("cb"), &[]), 202);
    wait_log(&server, "websub: not verified");
    assert_eq!(hub_count(&server, "subscriptions"), 0);

    let newline = Subscriber::start(Behaviour {
        echo_after: "\r\n".into(),
        ..Behaviour::default()
    });
    subscribed(&server, &newline, "cb", &[]);
}

#[test]
fn unsubscribed_callbacks_get_nothing_more() {
    let dir = source_copy();
    let gone = Subscriber::start(Behaviour::default());
    let stays = Subscriber::start(Behaviour::default());
    let server = Refeed::start(dir.path(), &[PRIVATE_OK]);
    subscribed(&server, &gone, "cb", &[]);
    assert_eq!(subscribe(&server, &stays.callback("cb"), &[]), 202);
    wait_count(&server, "subscriptions", 2);
    let unsubscribe = [
        ("hub.mode", "unsubscribe"),
        ("hub.topic", TOPIC),
        ("hub.callback", &gone.callback("cb")),
    ];
    assert_eq!(hub_request(&server, &unsubscribe), 202);
    wait_count(&server, "subscriptions", 1);
    let check = gone.received().last().cloned().unwrap();
    assert_eq!(check.param("hub.mode").as_deref(), Some("unsubscribe"));

    add_post(dir.path(), "two");
    server.wait_for("the delivery", PATIENCE, |_| !stays.posts().is_empty());
    wait_count(&server, "pending_deliveries", 0);
    assert!(gone.posts().is_empty());
}

#[test]
fn a_lease_ends_the_subscription() {
    let dir = source_copy();
    let sub = Subscriber::start(Behaviour::default());
    let server = Refeed::start(
        dir.path(),
        &[PRIVATE_OK, ("REFEED_WEBSUB__MIN_LEASE_SECONDS", "1")],
    );
    assert_eq!(
        subscribe(&server, &sub.callback("cb"), &[("hub.lease_seconds", "1")]),
        202
    );
    wait_log(&server, "websub: verified");
    wait_log(&server, "websub: lease ended");
    wait_count(&server, "subscriptions", 0);
}

#[test]
fn failed_deliveries_are_retried_until_they_succeed() {
    let dir = source_copy();
    let sub = Subscriber::start(Behaviour::default());
    sub.set_statuses(&[500, 503]);
    let server = Refeed::start(dir.path(), &[PRIVATE_OK, QUICK_RETRY]);
    subscribed(&server, &sub, "cb", &[]);
    add_post(dir.path(), "three");
    server.wait_for("three attempts", PATIENCE, |_| sub.posts().len() >= 3);
    wait_count(&server, "pending_deliveries", 0);
    assert_eq!(hub_count(&server, "failed_deliveries"), 0);
    assert_eq!(hub_count(&server, "subscriptions"), 1);
    let posts = sub.posts();
    assert!(posts.iter().all(|p| p.body == posts[0].body));
    assert!(server.log_text().contains("websub: delivery failed"));
}

#[test]
fn deliveries_are_given_up_after_max_attempts() {
    let dir = source_copy();
    let sub = Subscriber::start(Behaviour::default());
    sub.set_statuses(&[500, 500, 500]);
    let server = Refeed::start(
        dir.path(),
        &[
            PRIVATE_OK,
            QUICK_RETRY,
            ("REFEED_WEBSUB__MAX_ATTEMPTS", "2"),
            ("REFEED_SERVER__METRICS", "true"),
        ],
    );
    subscribed(&server, &sub, "cb", &[]);
    add_post(dir.path(), "four");
    wait_count(&server, "failed_deliveries", 1);
    wait_count(&server, "pending_deliveries", 0);
    assert_eq!(sub.posts().len(), 2);
    // `/metrics` says what `/healthz` says.
    let metrics = server.get("/metrics").text();
    for line in [
        "refeed_websub_subscriptions 1",
        "refeed_websub_pending_deliveries 0",
        "refeed_websub_failed_deliveries_total 1",
        "refeed_websub_unsaved_subscriptions 0",
        "refeed_websub_dropped_verifications_total 0",
    ] {
        assert!(metrics.lines().any(|l| l == line), "{line}: {metrics}");
    }
}

#[test]
fn gone_ends_the_subscription() {
    let dir = source_copy();
    let sub = Subscriber::start(Behaviour::default());
    sub.set_statuses(&[410]);
    let server = Refeed::start(dir.path(), &[PRIVATE_OK]);
    subscribed(&server, &sub, "cb", &[]);
    add_post(dir.path(), "five");
    wait_count(&server, "subscriptions", 0);
    wait_count(&server, "pending_deliveries", 0);
    assert_eq!(sub.posts().len(), 1);
}

#[test]
fn private_callbacks_are_refused_after_dns() {
    let dir = source_copy();
    let sub = Subscriber::start(Behaviour::default());
    let server = Refeed::start(dir.path(), &[]);
    // `localhost` resolves to a loopback address: refused too.
    let by_name = sub.callback("cb").replace("127.0.0.1", "localhost");
    for callback in [sub.callback("cb"), by_name] {
        assert_eq!(subscribe(&server, &callback, &[]), 202);
    }
    server.wait_for("two refusals", PATIENCE, |s| {
        s.log_text()
            .matches("loopback, private, link-local")
            .count()
            >= 2
    });
    assert_eq!(hub_count(&server, "subscriptions"), 0);
    assert!(
        sub.received().is_empty(),
        "the hub reached a loopback address"
    );
    // The log names the callback's host, never its URL: its query is
    // often its key (found by the fifth attack).
    assert!(
        !server.log_text().contains("token=abc"),
        "{}",
        server.log_text()
    );
}

#[test]
fn a_restart_keeps_subscriptions_and_delivers_what_was_pending() {
    let dir = source_copy();
    let state = tempfile::tempdir().unwrap();
    let sub = Subscriber::start(Behaviour::default());
    // Failing, with retries far apart: the delivery stays owed.
    sub.set_statuses(&[500]);
    let env = [PRIVATE_OK, ("REFEED_WEBSUB__RETRY_DELAY_MS", "3600000")];
    let server = Launch::new(dir.path())
        .env(&env)
        .state_dir(state.path())
        .start();
    subscribed(&server, &sub, "cb", &[("hub.secret", "kept")]);
    add_post(dir.path(), "six");
    server.wait_for("the failed attempt", PATIENCE, |_| sub.posts().len() == 1);
    wait_log(&server, "websub: delivery failed");
    assert_eq!(hub_count(&server, "pending_deliveries"), 1);
    // Killed, not stopped: nothing gets a chance to be written at exit.
    drop(server);

    let server = Launch::new(dir.path())
        .env(&env)
        .state_dir(state.path())
        .start();
    assert_eq!(hub_count(&server, "subscriptions"), 1);
    server.wait_for("the owed delivery", PATIENCE, |_| sub.posts().len() == 2);
    wait_count(&server, "pending_deliveries", 0);
    let delivery = sub.posts()[1].clone();
    assert!(String::from_utf8_lossy(&delivery.body).contains("Pushed six"));
    assert!(
        delivery.header("x-hub-signature").is_some(),
        "the secret was kept"
    );
    stop(server);
}

#[test]
fn limits_deny_and_refuse() {
    let dir = source_copy();
    let first = Subscriber::start(Behaviour::default());
    let second = Subscriber::start(Behaviour::default());
    let server = Refeed::start(
        dir.path(),
        &[
            PRIVATE_OK,
            ("REFEED_WEBSUB__MAX_PER_TOPIC", "1"),
            ("REFEED_WEBSUB__REQUESTS_PER_MINUTE", "4"),
        ],
    );
    subscribed(&server, &first, "cb", &[]);
    // The topic is full: the second is denied, at its callback.
    assert_eq!(subscribe(&server, &second.callback("cb"), &[]), 202);
    server.wait_for("the denial", PATIENCE, |_| !second.received().is_empty());
    let denial = second.received()[0].clone();
    assert_eq!(denial.param("hub.mode").as_deref(), Some("denied"));
    assert_eq!(denial.param("hub.topic").as_deref(), Some(TOPIC));
    assert!(denial.param("hub.reason").is_some());
    // Renewing an existing subscription is no new one.
    assert_eq!(subscribe(&server, &first.callback("cb"), &[]), 202);
    server.wait_for("the renewal", PATIENCE, |_| first.received().len() == 2);
    // Not a feed of this site, and a query representation: 400 at once.
    let pairs = |topic| {
        [
            ("hub.mode", "subscribe"),
            ("hub.topic", topic),
            ("hub.callback", "http://example.com/cb"),
        ]
    };
    assert_eq!(
        hub_request(&server, &pairs("http://127.0.0.1:8080/rss.xml?limit=1")),
        400
    );
    // The fifth request of this address in a minute.
    let too_many = hub_response(&server, &pairs(TOPIC));
    assert_eq!(too_many.status, 429);
    // When to come back (found by the fifth attack: it had no date).
    assert_eq!(too_many.header("retry-after"), Some("60"));
    assert_eq!(hub_count(&server, "subscriptions"), 1);
}

#[test]
fn other_hubs_are_advertised_and_pinged() {
    let dir = source_copy();
    let external = Subscriber::start(Behaviour::default());
    let hub = format!("http://{}/hub", external.addr);
    let hubs = format!("[\"{hub}\"]");
    let server = Refeed::start(
        dir.path(),
        &[
            PRIVATE_OK,
            ("REFEED_WEBSUB__ENABLED", "false"),
            ("REFEED_WEBSUB__HUBS", &hubs),
        ],
    );
    let r = server.get("/rss.xml");
    let link = r.header("link").unwrap().to_string();
    assert_eq!(
        link,
        format!("<{hub}>; rel=\"hub\", <{TOPIC}>; rel=\"self\"")
    );
    assert!(!r.text().contains("/websub"));
    // No hub of refeed's own.
    assert_eq!(hub_request(&server, &[("hub.mode", "subscribe")]), 405);

    add_post(dir.path(), "seven");
    server.wait_for("the ping", PATIENCE, |_| {
        external.posts().iter().any(|p| {
            let form: Vec<(String, String)> =
                url::form_urlencoded::parse(&p.body).into_owned().collect();
            form.contains(&("hub.mode".into(), "publish".into()))
                && form.contains(&("hub.url".into(), TOPIC.into()))
        })
    });
}

#[test]
fn the_hub_takes_forms_by_post_within_bounds() {
    let dir = source_copy();
    let mut server = Refeed::start(dir.path(), &[]);
    let get = server.get("/websub");
    assert_eq!(get.status, 405);
    assert_eq!(get.header("allow"), Some("POST"));
    let exchange = |head: String| {
        let mut stream = connect(&server.addr);
        stream.write_all(head.as_bytes()).unwrap();
        let mut raw = Vec::new();
        let _ = stream.read_to_end(&mut raw);
        parse_response(&raw).map(|r| r.status)
    };
    let big = "x".repeat(20_000);
    let too_large = format!(
        "POST /websub HTTP/1.1\r\nHost: h\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{big}",
        big.len()
    );
    assert_eq!(exchange(too_large), Some(413));
    // A body announced and never sent is cut off with its connection
    // (`server.client_request_timeout`), not waited for.
    let never =
        "POST /websub HTTP/1.1\r\nHost: h\r\nContent-Length: 100\r\n\r\nhub.mode=sub".to_string();
    assert!(matches!(exchange(never), None | Some(408)));
    server.assert_alive_and_healthy();
}

#[test]
fn private_callbacks_are_refused_at_delivery_too() {
    let dir = source_copy();
    let state = tempfile::tempdir().unwrap();
    let sub = Subscriber::start(Behaviour::default());
    let server = Launch::new(dir.path())
        .env(&[PRIVATE_OK])
        .state_dir(state.path())
        .start();
    subscribed(&server, &sub, "cb", &[]);
    stop(server);
    // The same subscription, now on a hub that refuses private addresses.
    let server = Launch::new(dir.path())
        .env(&[("REFEED_WEBSUB__MAX_ATTEMPTS", "1")])
        .state_dir(state.path())
        .start();
    assert_eq!(hub_count(&server, "subscriptions"), 1);
    add_post(dir.path(), "eight");
    wait_count(&server, "failed_deliveries", 1);
    assert!(server.log_text().contains("loopback, private, link-local"));
    assert!(sub.posts().is_empty(), "the hub reached a loopback address");
}

/// Found by the fifth attack: the limits were checked when a request came
/// in, against verified subscriptions only, so requests whose
/// verifications overlapped all became subscriptions past them.
#[test]
fn limits_hold_for_requests_verified_at_once() {
    let dir = source_copy();
    let sub = Subscriber::start(Behaviour::default());
    let server = Refeed::start(
        dir.path(),
        &[PRIVATE_OK, ("REFEED_WEBSUB__MAX_PER_CALLBACK_HOST", "3")],
    );
    for i in 0..10 {
        assert_eq!(
            subscribe(&server, &sub.callback(&format!("cb{i}")), &[]),
            202
        );
    }
    // Every callback hears back: a verification or a denial.
    server.wait_for("an answer to each request", PATIENCE, |_| {
        let mut heard: Vec<String> = (sub.received().iter())
            .map(|r| r.target.split('?').next().unwrap_or_default().to_string())
            .collect();
        heard.sort();
        heard.dedup();
        heard.len() == 10
    });
    server.wait_for("the hub to settle", PATIENCE, |s| {
        hub_count(s, "subscriptions") <= 3 && s.log_text().matches("websub: denied").count() >= 7
    });
    assert_eq!(hub_count(&server, "subscriptions"), 3);
}

/// Found by the fifth attack: a secret that was not UTF-8 was signed with
/// its lossy decoding, so the subscriber's check of every delivery failed.
/// Its bytes are kept through the form, the state file and the HMAC.
#[test]
fn a_secret_that_is_not_utf8_is_signed_with_its_exact_bytes() {
    let dir = source_copy();
    let state = tempfile::tempdir().unwrap();
    let sub = Subscriber::start(Behaviour::default());
    let launch = || {
        Launch::new(dir.path())
            .env(&[PRIVATE_OK])
            .state_dir(state.path())
            .start()
    };
    let server = launch();
    let encoded = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    let form = format!(
        "hub.mode=subscribe&hub.topic={}&hub.callback={}&hub.secret=%FF%FEkey%00+",
        encoded(TOPIC),
        encoded(&sub.callback("cb"))
    );
    assert_eq!(hub_form(&server, &form).status, 202);
    wait_count(&server, "subscriptions", 1);
    wait_count(&server, "unsaved_subscriptions", 0);
    stop(server);

    let server = launch();
    add_post(dir.path(), "bytes");
    server.wait_for("a delivery", PATIENCE, |_| !sub.posts().is_empty());
    let delivery = sub.posts()[0].clone();
    assert_eq!(
        delivery.header("x-hub-signature"),
        Some(signature(b"\xff\xfekey\x00 ", &delivery.body).as_str())
    );
    stop(server);
}

/// Found by the fifth attack: slow callbacks held every delivery thread,
/// and a subscriber on another host waited for them (20.7 s), as did new
/// verifications. A host has a quarter of the pool (here 1 of 4) and the
/// others the rest: with the slow host's deliveries held past any
/// timeout, another host name is still verified and delivered to.
#[test]
fn a_slow_callback_host_delays_only_itself() {
    let dir = source_copy();
    let slow = Subscriber::start(Behaviour {
        hold_posts: true,
        ..Behaviour::default()
    });
    let fast = Subscriber::start(Behaviour::default());
    let server = Refeed::start(
        dir.path(),
        &[
            PRIVATE_OK,
            ("REFEED_WEBSUB__CONCURRENCY", "4"),
            ("REFEED_WEBSUB__TIMEOUT", "600"),
        ],
    );
    for i in 0..8 {
        assert_eq!(
            subscribe(&server, &slow.callback(&format!("cb{i}")), &[]),
            202
        );
    }
    wait_count(&server, "subscriptions", 8);
    add_post(dir.path(), "for the slow");
    server.wait_for("a held delivery", PATIENCE, |_| !slow.posts().is_empty());

    let other_host = fast.callback("cb").replace("127.0.0.1", "localhost");
    assert_eq!(subscribe(&server, &other_host, &[]), 202);
    wait_count(&server, "subscriptions", 9);
    add_post(dir.path(), "for all");
    server.wait_for("the other host's delivery", PATIENCE, |_| {
        !fast.posts().is_empty()
    });
    assert!(String::from_utf8_lossy(&fast.posts()[0].body).contains("Pushed for all"));
    assert_eq!(slow.posts().len(), 1, "the slow host's share, no more");
    assert_eq!(hub_count(&server, "pending_deliveries"), 8);
}

/// A subscription the state file cannot keep is one a restart loses:
/// `/healthz` counts it and says `degraded`, here with a `state_dir` that
/// is no folder, which it says from the start (found by the sixth
/// attack: it said `ok`).
#[test]
fn subscriptions_the_state_file_cannot_keep_are_reported_unsaved() {
    let dir = source_copy();
    let not_a_folder = tempfile::NamedTempFile::new().unwrap();
    let sub = Subscriber::start(Behaviour::default());
    let server = Launch::new(dir.path())
        .env(&[PRIVATE_OK])
        .state_dir(not_a_folder.path())
        .start();
    let health = server.health();
    assert_eq!(health["status"], "degraded");
    assert_eq!(health["state"]["usable"], false);
    subscribed(&server, &sub, "cb", &[]);
    wait_count(&server, "unsaved_subscriptions", 1);
    assert_eq!(server.health()["status"], "degraded");
}
