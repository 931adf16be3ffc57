//! Hostile HTTP against `refeed serve` on a real socket (issue 6): path
//! traversal, broken escapes and UTF-8, URLs and headers over the limits,
//! huge `limit`, catastrophic regexes, thousands of idle connections, the
//! connection cap, slowloris, garbage instead of HTTP, and bodies on GET.
//!
//! Every answer must be a 4xx, or a close by design; never a 5xx, never a
//! panic. Each test ends with the process alive and `/healthz` at 200.

use crate::common;

use std::io::Write;
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::examples;
use common::server::{
    Launch, PATIENCE, Refeed, connect, exchange, parse_response, parse_responses, raise_fd_limit,
    read_until_close,
};

/// The status of the first response in `raw`, if any came.
fn status(raw: &[u8]) -> Option<u16> {
    let line = raw.split(|&b| b == b'\r').next()?;
    std::str::from_utf8(line)
        .ok()?
        .split(' ')
        .nth(1)?
        .parse()
        .ok()
}

/// Sends `bytes` and returns the first status, or `None` when the server
/// closed without answering; panics on a 5xx or when the server neither
/// answers nor closes within `PATIENCE`.
fn answer(server: &Refeed, bytes: &[u8]) -> Option<u16> {
    let (raw, closed) = exchange(&server.addr, bytes, PATIENCE);
    let shown = String::from_utf8_lossy(&bytes[..bytes.len().min(120)]).into_owned();
    let s = status(&raw);
    assert!(
        s.is_some() || closed,
        "{shown:?}: neither an answer nor a close"
    );
    if let Some(code) = s {
        assert!(
            code < 500,
            "{shown:?}: {code}\n{}",
            String::from_utf8_lossy(&raw)
        );
    }
    s
}

fn get(path: &[u8]) -> Vec<u8> {
    [
        b"GET ".as_slice(),
        path,
        b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    ]
    .concat()
}

fn assert_4xx(server: &Refeed, bytes: &[u8]) -> u16 {
    let shown = String::from_utf8_lossy(&bytes[..bytes.len().min(120)]).into_owned();
    let s = answer(server, bytes).unwrap_or_else(|| panic!("{shown:?}: closed without an answer"));
    assert!((400..500).contains(&s), "{shown:?}: {s}");
    s
}

// --- paths ---------------------------------------------------------------------------

#[test]
fn path_traversal_never_reaches_a_file() {
    let mut server = Refeed::start(&examples(), &[]);
    let paths: &[&[u8]] = &[
        b"/../Cargo.toml",
        b"/../../../../etc/passwd",
        b"/%2e%2e/%2e%2e/etc/passwd",
        b"/%2E%2E%2F%2E%2E%2Fetc%2Fpasswd",
        b"/..%2fCargo.toml",
        b"/categories/..%2f..%2f",
        b"/categories/..%2f..%2fCargo.toml",
        b"/categories/Tech/../../../Cargo.toml",
        b"/..\\..\\Cargo.toml",
        b"/%5c..%5c..%5cCargo.toml",
        b"/..%5c..%5cetc%5cpasswd",
        b"//etc/passwd",
        b"/./././Cargo.toml",
        b"/%252e%252e/Cargo.toml",
        b"/.%2e/.%2e/Cargo.toml",
        b"/%c0%ae%c0%ae/Cargo.toml",
        b"/examples/posts/tech/hello-world.md",
        b"/tech/hello-world.md",
        b"/src/main.rs",
        b"http://127.0.0.1/../Cargo.toml",
        b"/rss.xml/../../Cargo.toml",
    ];
    for path in paths {
        let (raw, _) = exchange(&server.addr, &get(path), PATIENCE);
        let text = String::from_utf8_lossy(&raw);
        let code = status(&raw);
        assert!(
            code.is_some_and(|c| (400..500).contains(&c)),
            "{}: {code:?}",
            String::from_utf8_lossy(path)
        );
        for leak in ["[package]", "root:x:", "fn main", "title: Hello World"] {
            assert!(
                !text.contains(leak),
                "{}: leaked {leak}",
                String::from_utf8_lossy(path)
            );
        }
    }
    server.assert_alive_and_healthy();
}

#[test]
fn broken_escapes_and_invalid_utf8_in_paths_are_400_or_404() {
    let mut server = Refeed::start(&examples(), &[]);
    let paths: &[&[u8]] = &[
        b"/%zz",
        b"/%",
        b"/abc%",
        b"/%e9",
        b"/%ff%fe",
        b"/%c0%af",
        b"/%ed%a0%80",
        b"/%00",
        b"/rss.xml%00",
        b"/categories/%E9%87%91%E8%9E/rss.xml",
        b"/\xff\xfe",
        b"/\xe9\x87",
        b"/caf\xc3\xa9",
    ];
    for path in paths {
        let s = assert_4xx(&server, &get(path));
        assert!(
            s == 400 || s == 404,
            "{}: {s}",
            String::from_utf8_lossy(path)
        );
    }
    // Query values are form-decoded (invalid UTF-8 becomes U+FFFD, unknown
    // keys are ignored): a 400 for what cannot be used, else the feed.
    for query in [
        b"limit=%zz".as_slice(),
        b"filter=%ff",
        b"%",
        b"%zz=1",
        b"filter=\xff",
    ] {
        let path = [b"/rss.xml?".as_slice(), query].concat();
        let s = answer(&server, &get(&path)).expect("an answer");
        assert!(
            s == 400 || s == 200,
            "{}: {s}",
            String::from_utf8_lossy(query)
        );
    }
    server.assert_alive_and_healthy();
}

// --- sizes ---------------------------------------------------------------------------

#[test]
fn urls_and_headers_over_the_limits_are_414_and_431() {
    let mut server = Refeed::start(&examples(), &[]);
    // Over refeed's own limits (server.max_url_bytes 4096,
    // server.max_header_bytes 16384): its own answers.
    let long_path = format!("/{}", "a".repeat(5000));
    assert_eq!(assert_4xx(&server, &get(long_path.as_bytes())), 414);
    let long_query = format!("/rss.xml?filter={}", "a".repeat(5000));
    assert_eq!(assert_4xx(&server, &get(long_query.as_bytes())), 414);
    let big_header = format!(
        "GET /rss.xml HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\nConnection: close\r\n\r\n",
        "b".repeat(20_000)
    );
    assert_eq!(assert_4xx(&server, big_header.as_bytes()), 431);
    let many = (0..60)
        .map(|i| format!("X-H{i}: {}\r\n", "c".repeat(400)))
        .collect::<String>();
    let many = format!("GET /rss.xml HTTP/1.1\r\nHost: x\r\n{many}Connection: close\r\n\r\n");
    assert_eq!(assert_4xx(&server, many.as_bytes()), 431);

    // Past actix's own limits (a 128 KiB head, 96 headers): its answers,
    // still 4xx.
    let huge_path = format!("/{}", "a".repeat(200_000));
    assert_4xx(&server, &get(huge_path.as_bytes()));
    let huge_header = format!(
        "GET / HTTP/1.1\r\nHost: x\r\nX-Huge: {}\r\n\r\n",
        "h".repeat(300_000)
    );
    assert_eq!(assert_4xx(&server, huge_header.as_bytes()), 431);
    let too_many = (0..200)
        .map(|i| format!("X-{i}: v\r\n"))
        .collect::<String>();
    let too_many = format!("GET / HTTP/1.1\r\nHost: x\r\n{too_many}\r\n");
    assert_eq!(assert_4xx(&server, too_many.as_bytes()), 431);
    // Just under the limits: served.
    let fine = format!("/rss.xml?filter_title={}", "a".repeat(200));
    assert_eq!(answer(&server, &get(fine.as_bytes())), Some(200));
    server.assert_alive_and_healthy();
}

#[test]
fn huge_and_malformed_query_values_are_400() {
    let mut server = Refeed::start(&examples(), &[]);
    for query in [
        "limit=100000000000000000000000000000",
        "limit=18446744073709551616",
        "limit=-1",
        "limit=0",
        "limit=101",
        "limit=1e9",
        "limit=0x10",
        "limit= 5",
        "brief=99999999999999",
        "brief=-5",
        "format=exe",
        "filter=(",
        "filter_title=[",
        "filter=\\",
    ] {
        let path = format!("/rss.xml?{}", query.replace(' ', "%20"));
        assert_eq!(assert_4xx(&server, &get(path.as_bytes())), 400, "{query}");
    }
    for query in ["limit=100", "limit=1", "brief=10000", "unknown=1&limit=5"] {
        let path = format!("/rss.xml?{query}");
        assert_eq!(answer(&server, &get(path.as_bytes())), Some(200), "{query}");
    }
    server.assert_alive_and_healthy();
}

#[test]
fn catastrophic_regexes_are_answered_fast() {
    let mut server = Refeed::start(&examples(), &[]);
    let patterns = [
        "(a+)+$",
        "(a|aa)*b",
        "(a*)*b",
        "(x+x+)+y",
        "(.*a){25}",
        "((a{1,100}){1,100}){1,100}",
        "a{1000000}",
        "(?:a{1000}){1000}",
        "\\w{50000}",
        "(\\p{L}|\\p{N}|\\s)*\\d{100}$",
        "([a-zA-Z]+)*$",
        "(.+)+\\1",
        "(?=a)b",
        "a**",
    ];
    for pattern in patterns {
        for param in ["filter", "filterout_description", "filter_title"] {
            let q: String = url::form_urlencoded::byte_serialize(pattern.as_bytes()).collect();
            let path = format!("/rss.xml?{param}={q}&limit=100");
            let started = Instant::now();
            let s = answer(&server, &get(path.as_bytes())).expect("an answer");
            let took = started.elapsed();
            assert!(s == 200 || s == 400, "{param}={pattern}: {s}");
            assert!(took < Duration::from_secs(2), "{param}={pattern}: {took:?}");
        }
    }
    server.assert_alive_and_healthy();
}

// --- connections ---------------------------------------------------------------------

/// Opens `n` connections; every other one sends half a request head, so
/// that the server holds read buffers, not just sockets.
fn open_idle(addr: &str, n: usize) -> Vec<TcpStream> {
    (0..n)
        .map(|i| {
            let mut s = TcpStream::connect(addr).unwrap_or_else(|e| panic!("connection {i}: {e}"));
            if i % 2 == 1 {
                s.write_all(b"GET /rss.xml HTTP/1.1\r\nHost: x\r\n")
                    .unwrap();
            }
            s
        })
        .collect()
}

#[test]
fn five_thousand_idle_connections_cost_bounded_memory_and_slow_nobody() {
    raise_fd_limit(12_000);
    // All from one address: the per-address cap is lifted to measure
    // what each connection costs.
    let mut server = Launch::new(&examples())
        .env(&[
            ("REFEED_SERVER__CLIENT_REQUEST_TIMEOUT", "60"),
            ("REFEED_SERVER__MAX_CONNECTIONS_PER_IP", "10000"),
        ])
        .log("info")
        .start();
    for _ in 0..20 {
        server.get("/rss.xml");
    }
    let (rss0, fds0) = (server.rss_kib(), server.fds());
    // In batches, each accepted before the next: a burst beyond the listen
    // backlog would only measure the kernel's SYN retransmissions.
    let started = Instant::now();
    let mut idle = Vec::new();
    for _ in 0..5 {
        idle.extend(open_idle(&server.addr, 1000));
        let n = idle.len();
        // A few descriptors of the baseline may be transient (a
        // connection closing, a file being read).
        server.wait_for("accepted connections", PATIENCE, |s| {
            s.fds() + 4 >= fds0 + n
        });
    }
    let opened = started.elapsed();
    let mut latencies: Vec<Duration> = (0..5)
        .map(|_| {
            let t = Instant::now();
            assert_eq!(server.get("/rss.xml").status, 200);
            t.elapsed()
        })
        .collect();
    latencies.sort();
    let latency = latencies[2];
    let (rss1, fds1) = (server.rss_kib(), server.fds());
    eprintln!(
        "5,000 connections opened and accepted in {opened:?}; server fds {fds0} -> {fds1}; \
         RSS {rss0} KiB -> {rss1} KiB (+{} B per connection); a request took {latency:?} (median of 5)",
        (rss1.saturating_sub(rss0)) * 1024 / 5000
    );
    assert!(latency < Duration::from_millis(500), "{latencies:?}");
    assert!(latencies[4] < Duration::from_secs(2), "{latencies:?}");
    // Bounded: well under 64 KiB per connection (actix's read buffer is
    // allocated as bytes arrive).
    assert!(
        rss1.saturating_sub(rss0) < 5000 * 64,
        "RSS grew from {rss0} to {rss1} KiB"
    );
    drop(idle);
    server.wait_for("the connections released", PATIENCE, |s| {
        s.fds() <= fds0 + 10
    });
    server.assert_alive_and_healthy();
}

#[test]
fn max_connections_is_enforced() {
    let mut server = Launch::new(&examples())
        .env(&[("REFEED_SERVER__MAX_CONNECTIONS", "50")])
        .log("info")
        .start();
    let fds0 = server.fds();
    let idle = open_idle(&server.addr, 200);
    server.wait_for("the cap reached", PATIENCE, |s| s.fds() + 4 >= fds0 + 50);
    std::thread::sleep(Duration::from_millis(500));
    // Two descriptors of slack for transient ones (a file being read).
    let held = server.fds().saturating_sub(fds0 + 2);
    assert!(
        held <= 50,
        "the server holds {held} connections over a cap of 50"
    );
    // A new client waits in the backlog while the cap is reached...
    let mut probe = connect(&server.addr);
    probe
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let (raw, _) = read_until_close(&mut probe, Duration::from_millis(800));
    assert!(raw.is_empty(), "answered beyond the cap");
    // ...and is served once connections go.
    drop(idle);
    let (raw, closed) = read_until_close(&mut probe, PATIENCE);
    assert!(closed);
    assert_eq!(parse_response(&raw).map(|r| r.status), Some(200));
    server.assert_alive_and_healthy();
}

/// Sends `head` one byte a second on `stream`; returns when the server
/// closes the connection (with what it sent), or `None` if the whole head
/// went through.
fn trickle(stream: &mut TcpStream, head: &[u8]) -> Option<(Duration, Vec<u8>)> {
    let started = Instant::now();
    for &byte in head {
        if stream.write_all(&[byte]).is_err() {
            return Some((started.elapsed(), Vec::new()));
        }
        let (raw, closed) = read_until_close(stream, Duration::from_secs(1));
        if closed || !raw.is_empty() {
            return Some((started.elapsed(), raw));
        }
    }
    None
}

#[test]
fn slowloris_is_cut_off_by_client_request_timeout_on_every_request() {
    let mut server = Refeed::start(
        &examples(),
        &[("REFEED_SERVER__CLIENT_REQUEST_TIMEOUT", "3")],
    );
    let head =
        b"GET /rss.xml HTTP/1.1\r\nHost: x\r\nUser-Agent: slow\r\nX-Padding: aaaaaaaaaaaa\r\n\r\n";

    // The first request of a connection.
    let mut stream = connect(&server.addr);
    let (took, raw) = trickle(&mut stream, head).expect("cut off");
    assert!(took < Duration::from_secs(5), "first request: {took:?}");
    assert!(status(&raw).is_none_or(|s| s == 408), "{raw:?}");

    // The next request of a kept-alive connection: actix itself stops
    // timing heads after the first one.
    let mut stream = connect(&server.addr);
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut first = [0u8; 12];
    std::io::Read::read_exact(&mut stream, &mut first).unwrap();
    assert_eq!(&first, b"HTTP/1.1 200");
    // Drain the rest of that response.
    let _ = read_until_close(&mut stream, Duration::from_millis(200));
    let (took, raw) = trickle(&mut stream, head).expect("cut off");
    assert!(took < Duration::from_secs(5), "second request: {took:?}");
    assert!(status(&raw).is_none_or(|s| s == 408), "{raw:?}");

    // A prompt client on a kept-alive connection is not affected: ten
    // requests over five seconds, each sent at once.
    let mut stream = connect(&server.addr);
    for _ in 0..10 {
        stream
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap();
        let mut first = [0u8; 12];
        std::io::Read::read_exact(&mut stream, &mut first).unwrap();
        assert_eq!(&first, b"HTTP/1.1 200");
        let _ = read_until_close(&mut stream, Duration::from_millis(500));
    }
    server.assert_alive_and_healthy();
}

// --- not HTTP, or HTTP with surprises ------------------------------------------------

#[test]
fn garbage_instead_of_http_gets_a_400_or_a_close() {
    let mut server = Refeed::start(&examples(), &[]);
    let mut seed = 0x9E37_79B9_7F4A_7C15_u64;
    let mut random = |n: usize| {
        (0..n)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                seed as u8
            })
            .collect::<Vec<u8>>()
    };
    let mut inputs: Vec<Vec<u8>> = vec![
        b"GARBAGE\r\n\r\n".to_vec(),
        b"\r\n\r\n\r\n\r\n".to_vec(),
        b"GET\r\n\r\n".to_vec(),
        b"GET / HTTP/9.9\r\nHost: x\r\n\r\n".to_vec(),
        b"GET / FTP/1.0\r\n\r\n".to_vec(),
        b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec(),
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03".to_vec(),
        b"\0\0\0\0\0\0\0\0\r\n\r\n".to_vec(),
        [b"X".repeat(10_000), b" / HTTP/1.1\r\n\r\n".to_vec()].concat(),
        b"GET / HTTP/1.1\r\nHost x\r\n\r\n".to_vec(),
        b"GET / HTTP/1.1\r\nHo\0st: x\r\n\r\n".to_vec(),
        b"GET / HTTP/1.1\r\n: empty\r\n\r\n".to_vec(),
        b"GET / HTTP/1.1\nHost: x\n\n".to_vec(),
        b"GET /\tHTTP/1.1\r\n\r\n".to_vec(),
        b"GET  /  HTTP/1.1\r\n\r\n".to_vec(),
        b"get / http/1.1\r\n\r\n".to_vec(),
    ];
    for n in [1, 7, 64, 1000, 70_000] {
        inputs.push(random(n));
    }
    for bytes in &inputs {
        answer(&server, bytes);
    }
    // Methods refeed does not serve.
    for head in [
        "POST /rss.xml HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc",
        "PUT /rss.xml HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        "DELETE / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        "OPTIONS * HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com\r\nConnection: close\r\n\r\n",
        "TRACE / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        "BREW /pot HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    ] {
        assert_4xx(&server, head.as_bytes());
    }
    server.assert_alive_and_healthy();
}

#[test]
fn a_get_with_a_body_is_served_once_and_its_body_is_never_a_request() {
    let mut server = Refeed::start(&examples(), &[]);
    let smuggled = "GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n";
    // A body that looks like a request, then a real second request.
    let bytes = format!(
        "GET /rss.xml HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n{smuggled}\
         GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        smuggled.len()
    );
    let (raw, _) = exchange(&server.addr, bytes.as_bytes(), PATIENCE);
    let responses = parse_responses(&raw);
    let statuses: Vec<u16> = responses.iter().map(|r| r.status).collect();
    assert_eq!(statuses, [200, 200], "{}", String::from_utf8_lossy(&raw));
    assert!(
        responses[1].text().contains("\"status\""),
        "the second is /healthz"
    );
    // The same with a chunked body.
    let chunk = format!("{:x}\r\n{smuggled}\r\n0\r\n\r\n", smuggled.len());
    let bytes = format!(
        "GET /rss.xml HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n{chunk}\
         GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    );
    let (raw, _) = exchange(&server.addr, bytes.as_bytes(), PATIENCE);
    let statuses: Vec<u16> = parse_responses(&raw).iter().map(|r| r.status).collect();
    assert_eq!(statuses, [200, 200], "{}", String::from_utf8_lossy(&raw));
    assert!(
        !server.log_text().contains("/smuggled"),
        "a body was read as a request:\n{}",
        server.log_text()
    );

    // Ambiguous framing is refused, not guessed at.
    for head in [
        "GET /rss.xml HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        "GET /rss.xml HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
        "GET /rss.xml HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n",
        "GET /rss.xml HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999999\r\n\r\n",
        "GET /rss.xml HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nxx\r\n0\r\n\r\n",
    ] {
        if let Some(s) = answer(&server, head.as_bytes()) {
            assert!(s == 400 || s == 200, "{head:?}: {s}");
        }
    }
    // A body announced but never sent: the answer does not wait for it.
    let mut stream = connect(&server.addr);
    stream
        .write_all(b"GET /rss.xml HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000000\r\n\r\nabc")
        .unwrap();
    let (raw, _) = read_until_close(&mut stream, Duration::from_secs(2));
    assert_eq!(status(&raw), Some(200));
    server.assert_alive_and_healthy();
}
