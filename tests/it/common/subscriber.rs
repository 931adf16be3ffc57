//! A loopback WebSub subscriber: a tiny HTTP server on 127.0.0.1 (a free
//! port) that answers verifications of intent and records deliveries,
//! each connection on a thread of its own.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// One request the subscriber received.
#[derive(Debug, Clone)]
pub struct Received {
    pub method: String,
    /// Path and query.
    pub target: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Received {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn param(&self, name: &str) -> Option<String> {
        let query = self.target.split_once('?')?.1;
        url::form_urlencoded::parse(query.as_bytes())
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    }
}

/// How the subscriber answers.
#[derive(Default)]
pub struct Behaviour {
    /// Echo this instead of the challenge.
    pub wrong_echo: bool,
    /// Echo the challenge followed by this.
    pub echo_after: String,
    /// Statuses for the next deliveries, in order; 200 once empty.
    pub statuses: VecDeque<u16>,
    /// Never answer a delivery: hold its connection until the hub closes
    /// it, as a callback slower than any timeout.
    pub hold_posts: bool,
}

pub struct Subscriber {
    pub addr: String,
    received: Arc<Mutex<Vec<Received>>>,
    behaviour: Arc<Mutex<Behaviour>>,
    stopping: Arc<AtomicBool>,
}

impl Subscriber {
    pub fn start(behaviour: Behaviour) -> Subscriber {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind subscriber");
        let addr = listener.local_addr().unwrap().to_string();
        let received = Arc::new(Mutex::new(Vec::new()));
        let behaviour = Arc::new(Mutex::new(behaviour));
        let stopping = Arc::new(AtomicBool::new(false));
        let (r, b, s) = (received.clone(), behaviour.clone(), stopping.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                if s.load(Ordering::SeqCst) {
                    return;
                }
                if let Ok(stream) = stream {
                    let (r, b) = (r.clone(), b.clone());
                    std::thread::spawn(move || serve_one(stream, &r, &b));
                }
            }
        });
        Subscriber {
            addr,
            received,
            behaviour,
            stopping,
        }
    }

    pub fn callback(&self, name: &str) -> String {
        format!("http://{}/{name}?token=abc", self.addr)
    }

    pub fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }

    pub fn posts(&self) -> Vec<Received> {
        self.received()
            .into_iter()
            .filter(|r| r.method == "POST")
            .collect()
    }

    pub fn set_statuses(&self, statuses: &[u16]) {
        self.behaviour.lock().unwrap().statuses = statuses.iter().copied().collect();
    }
}

impl Drop for Subscriber {
    fn drop(&mut self) {
        self.stopping.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(&self.addr);
    }
}

/// One request, one answer (or none, `hold_posts`), connection closed.
fn serve_one(
    stream: TcpStream,
    received: &Mutex<Vec<Received>>,
    behaviour: &Mutex<Behaviour>,
) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or_default().to_string();
    let target = parts.next().unwrap_or_default().to_string();
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        reader.read_line(&mut h)?;
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.push((k.trim().to_string(), v.trim().to_string()));
        }
    }
    let length: usize = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; length];
    reader.read_exact(&mut body)?;
    let request = Received {
        method,
        target,
        headers,
        body,
    };
    if request.method == "POST" && behaviour.lock().unwrap().hold_posts {
        received.lock().unwrap().push(request);
        let mut stream = stream;
        stream.set_read_timeout(None)?;
        // Until the hub gives up or stops: EOF or an error.
        while stream.read(&mut [0; 64])? > 0 {}
        return Ok(());
    }
    let (status, answer) = {
        let mut b = behaviour.lock().unwrap();
        match (request.method.as_str(), request.param("hub.challenge")) {
            ("GET", Some(_)) if b.wrong_echo => (200, "not-the-challenge".to_string()),
            ("GET", Some(challenge)) => (200, challenge + &b.echo_after),
            ("POST", _) => (b.statuses.pop_front().unwrap_or(200), String::new()),
            _ => (200, String::new()),
        }
    };
    received.lock().unwrap().push(request);
    let mut out = stream;
    write!(
        out,
        "HTTP/1.1 {status} X\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{answer}",
        answer.len()
    )?;
    out.flush()
}
