//! `refeed serve` as a child process on a real socket, a minimal HTTP/1.1
//! client over `TcpStream`, and what the process-level tests share: a
//! private copy of the examples, `/proc` readings of the server, and
//! bounded waits.
//!
//! The server runs the built binary on 127.0.0.1 with port 0 (it prints the
//! port it got) and is killed when the handle drops, passing or not. Every
//! wait is a bounded poll, so a broken server fails a test instead of
//! hanging it.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};

/// The bound for waits whose speed is not what the test is about.
pub const PATIENCE: Duration = Duration::from_secs(15);

/// How to start a server; [`Refeed::start`] covers the common case.
pub struct Launch {
    binary: PathBuf,
    /// The working directory.
    cwd: PathBuf,
    /// `--source`, as given; `None` leaves the configured default.
    source: Option<PathBuf>,
    /// `state_dir`: a fresh temporary folder unless the test names one, so
    /// that no two servers share what they keep across restarts.
    state: StateDir,
    env: Vec<(String, String)>,
    uid: Option<u32>,
    log: String,
    ready_within: Duration,
}

impl Launch {
    /// The binary Cargo built for this test run, one worker, the access log
    /// on, on `source`, with a state_dir of its own.
    pub fn new(source: &Path) -> Launch {
        Launch {
            binary: PathBuf::from(env!("CARGO_BIN_EXE_refeed")),
            cwd: source.to_path_buf(),
            source: Some(source.to_path_buf()),
            state: StateDir::Own,
            env: vec![("REFEED_SERVER__WORKERS".into(), "1".into())],
            uid: None,
            log: "info,refeed::access=debug".into(),
            ready_within: PATIENCE,
        }
    }

    /// Runs in `cwd` with `--source source` as given (relative to `cwd`),
    /// or without `--source` for the configured default.
    pub fn in_folder(cwd: &Path, source: Option<&Path>) -> Launch {
        let mut launch = Launch::new(cwd);
        launch.source = source.map(Path::to_path_buf);
        launch
    }

    /// `REFEED_*` variables, applied after the defaults of [`Launch::new`].
    pub fn env(mut self, vars: &[(&str, &str)]) -> Launch {
        self.env
            .extend(vars.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        self
    }

    /// Runs the server as this user (and its group of the same number), so
    /// that file permissions apply to it even when the tests run as root.
    pub fn uid(mut self, uid: u32) -> Launch {
        self.uid = Some(uid);
        self
    }

    /// The `--log` filter.
    pub fn log(mut self, filter: &str) -> Launch {
        self.log = filter.to_string();
        self
    }

    /// A `state_dir` the test keeps, to restart a server on the same state.
    pub fn state_dir(mut self, dir: &Path) -> Launch {
        self.state = StateDir::Given(dir.to_path_buf());
        self
    }

    pub fn binary(mut self, binary: &Path) -> Launch {
        self.binary = binary.to_path_buf();
        self
    }

    /// How long the first load may take.
    pub fn ready_within(mut self, bound: Duration) -> Launch {
        self.ready_within = bound;
        self
    }

    /// Starts the server and waits until it listens and has loaded the
    /// folder (`/healthz` answers 200).
    pub fn start(self) -> Refeed {
        assert!(
            self.binary.is_file(),
            "no refeed binary at {}",
            self.binary.display()
        );
        let mut cmd = Command::new(&self.binary);
        for (key, _) in std::env::vars() {
            if key.starts_with("REFEED_") {
                cmd.env_remove(key);
            }
        }
        let (state_dir, own_state) = match &self.state {
            StateDir::Own => {
                let dir = tempfile::tempdir().expect("state tempdir");
                // Writable by a server started with `uid`, too.
                use std::os::unix::fs::PermissionsExt;
                let mode = std::fs::Permissions::from_mode(0o777);
                std::fs::set_permissions(dir.path(), mode).expect("chmod state tempdir");
                (dir.path().to_path_buf(), Some(dir))
            }
            StateDir::Given(dir) => (dir.clone(), None),
        };
        // Before the test's own variables, which may replace it.
        cmd.env("REFEED_STATE_DIR", &state_dir);
        cmd.current_dir(&self.cwd)
            .args(["serve", "--listen", "127.0.0.1:0"])
            .args(["--log", &self.log]);
        if let Some(source) = &self.source {
            cmd.arg("--source").arg(source);
        }
        cmd.envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        if let Some(uid) = self.uid {
            use std::os::unix::process::CommandExt;
            cmd.uid(uid).gid(uid);
        }
        let mut child = cmd.spawn().expect("spawn refeed");
        let stderr = child.stderr.take().expect("stderr");
        let log = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = mpsc::channel();
        let lines = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if let Some(addr) = bound_address(&line) {
                    let _ = tx.send(addr);
                }
                lines.lock().unwrap().push(line);
            }
        });
        let mut server = Refeed {
            child,
            addr: String::new(),
            log,
            _state: own_state,
        };
        match rx.recv_timeout(self.ready_within) {
            Ok(addr) => server.addr = addr,
            Err(_) => panic!("refeed did not start listening:\n{}", server.log_text()),
        }
        server.wait_for("the first load", self.ready_within, |s| {
            s.get("/healthz").status == 200
        });
        server
    }
}

enum StateDir {
    Own,
    Given(PathBuf),
}

/// A `refeed serve` child process, killed on drop.
pub struct Refeed {
    child: Child,
    pub addr: String,
    log: Arc<Mutex<Vec<String>>>,
    /// Removed after the process is killed (fields drop after `drop`).
    _state: Option<tempfile::TempDir>,
}

impl Refeed {
    /// Starts refeed on `source` with `REFEED_*` variables `env`.
    pub fn start(source: &Path, env: &[(&str, &str)]) -> Refeed {
        Launch::new(source).env(env).start()
    }

    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    pub fn signal(&self, signal: i32) {
        // SAFETY: kill(2) on our own child's pid; no memory is involved.
        let rc = unsafe { libc::kill(self.pid(), signal) };
        assert_eq!(rc, 0, "kill({}, {signal})", self.pid());
    }

    /// Where `server.metrics_listen` was bound, as the server printed it.
    pub fn metrics_addr(&self) -> String {
        let mut addr = None;
        self.wait_for("the metrics listener's address", PATIENCE, |s| {
            addr = s.log.lock().unwrap().iter().find_map(|line| {
                let rest = line.strip_prefix("refeed: metrics on http://")?;
                Some(rest.strip_suffix("/metrics")?.to_string())
            });
            addr.is_some()
        });
        addr.unwrap_or_default()
    }

    pub fn log_text(&self) -> String {
        self.log.lock().unwrap().join("\n")
    }

    pub fn request(&self, method: &str, path: &str, headers: &[(&str, &str)]) -> Response {
        request(&self.addr, method, path, headers)
    }

    pub fn get(&self, path: &str) -> Response {
        self.request("GET", path, &[])
    }

    /// The titles of a feed's items; empty when the feed does not exist.
    pub fn titles(&self, path: &str) -> Vec<String> {
        let r = self.get(path);
        if r.status == 404 {
            return Vec::new();
        }
        assert_eq!(r.status, 200, "{path}");
        feed_rs::parser::parse(&r.body[..])
            .unwrap_or_else(|e| panic!("{path}: {e}"))
            .entries
            .into_iter()
            .map(|e| e.title.map(|t| t.content).unwrap_or_default())
            .collect()
    }

    /// `/healthz` as JSON, whatever its status.
    pub fn health(&self) -> serde_json::Value {
        let r = self.get("/healthz");
        serde_json::from_slice(&r.body).expect("healthz is JSON")
    }

    /// The process is alive and healthy: what every hostile test ends with.
    pub fn assert_alive_and_healthy(&mut self) {
        if let Some(status) = self.child.try_wait().expect("try_wait") {
            panic!("refeed exited: {status:?}\n{}", self.log_text());
        }
        let r = self.get("/healthz");
        assert_eq!(r.status, 200, "{}\n{}", r.text(), self.log_text());
        let log = self.log_text();
        assert!(!log.contains("panicked"), "a thread panicked:\n{log}");
    }

    /// Polls `done` every 20 ms until it holds; panics with the server log
    /// after `bound`. Returns how long it took.
    pub fn wait_for(
        &self,
        what: &str,
        bound: Duration,
        mut done: impl FnMut(&Self) -> bool,
    ) -> Duration {
        let started = Instant::now();
        loop {
            if done(self) {
                return started.elapsed();
            }
            if started.elapsed() > bound {
                panic!(
                    "timed out after {bound:?} waiting for {what}; log:\n{}",
                    self.log_text()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits for the process to exit on its own, within `bound`.
    pub fn wait_exit(&mut self, bound: Duration) -> ExitStatus {
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return status;
            }
            if started.elapsed() > bound {
                panic!(
                    "refeed still running {bound:?} later; log:\n{}",
                    self.log_text()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Resident memory, KiB.
    pub fn rss_kib(&self) -> u64 {
        rss_kib(self.pid())
    }

    /// Open file descriptors.
    pub fn fds(&self) -> usize {
        fd_count(self.pid())
    }
}

impl Drop for Refeed {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `refeed: serving DIR on http://ADDR/ (index), …` -> `ADDR`.
fn bound_address(line: &str) -> Option<String> {
    let rest = line.strip_prefix("refeed: serving ")?;
    let at = rest.find(" on http://")? + " on http://".len();
    let addr = rest[at..].split('/').next()?;
    Some(addr.to_string())
}

// --- /proc ------------------------------------------------------------------

/// `VmRSS` of a process, KiB.
pub fn rss_kib(pid: i32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("/proc status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS")
}

/// Open file descriptors of a process.
pub fn fd_count(pid: i32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .expect("/proc fd")
        .count()
}

/// Raises this process's soft limit of open files to at least `want`
/// (children inherit it); panics when the hard limit is lower.
pub fn raise_fd_limit(want: u64) {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit write/read the struct we pass, nothing else.
    unsafe {
        assert_eq!(libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim), 0);
        if lim.rlim_cur >= want {
            return;
        }
        assert!(
            lim.rlim_max >= want,
            "hard limit of open files is {}, {want} needed",
            lim.rlim_max
        );
        lim.rlim_cur = want;
        assert_eq!(libc::setrlimit(libc::RLIMIT_NOFILE, &lim), 0);
    }
}

// --- a minimal HTTP/1.1 client over TcpStream ---------------------------

/// One response as it came over the wire: `body` is every byte after the
/// header block (de-chunked if chunked), so a HEAD that sent a body shows.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn etag(&self) -> String {
        self.header("etag").expect("ETag").to_string()
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

pub fn connect(addr: &str) -> TcpStream {
    let stream = TcpStream::connect(addr).unwrap_or_else(|e| panic!("connect {addr}: {e}"));
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream
        .set_write_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream
}

pub fn request(addr: &str, method: &str, path: &str, headers: &[(&str, &str)]) -> Response {
    let mut stream = connect(addr);
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).expect("send request");
    let mut raw = Vec::new();
    stream
        .read_to_end(&mut raw)
        .unwrap_or_else(|e| panic!("{method} {path}: {e}"));
    parse_response(&raw).unwrap_or_else(|| panic!("{method} {path}: malformed response {raw:?}"))
}

/// Sends `bytes` as they are, then reads until the server closes the
/// connection or `bound` passes; returns what came back and whether the
/// server closed it.
pub fn exchange(addr: &str, bytes: &[u8], bound: Duration) -> (Vec<u8>, bool) {
    let mut stream = connect(addr);
    // The server may answer and close before it has read everything.
    let _ = stream.write_all(bytes);
    read_until_close(&mut stream, bound)
}

/// Reads until EOF (or a reset) or `bound`; true when the peer closed.
pub fn read_until_close(stream: &mut TcpStream, bound: Duration) -> (Vec<u8>, bool) {
    let started = Instant::now();
    let mut raw = Vec::new();
    let mut buf = [0u8; 16384];
    loop {
        let left = bound.saturating_sub(started.elapsed());
        if left.is_zero() {
            return (raw, false);
        }
        stream.set_read_timeout(Some(left)).unwrap();
        match stream.read(&mut buf) {
            Ok(0) => return (raw, true),
            Ok(n) => raw.extend_from_slice(&buf[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                return (raw, false);
            }
            Err(_) => return (raw, true),
        }
    }
}

pub fn parse_response(raw: &[u8]) -> Option<Response> {
    let (response, _) = parse_one(raw, false)?;
    Some(response)
}

/// Every complete response in `raw`, in order (pipelined or kept alive).
pub fn parse_responses(mut raw: &[u8]) -> Vec<Response> {
    let mut out = Vec::new();
    while let Some((response, used)) = parse_one(raw, true) {
        out.push(response);
        raw = &raw[used..];
    }
    out
}

/// One response and the bytes it took. With `framed`, the body is what
/// `Content-Length` or chunking says; otherwise everything that follows.
pub fn parse_one(raw: &[u8], framed: bool) -> Option<(Response, usize)> {
    let end = raw.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(&raw[..end]).ok()?;
    let mut lines = head.split("\r\n");
    let status = lines.next()?.split(' ').nth(1)?.parse().ok()?;
    let headers: Vec<(String, String)> = lines
        .map(|l| {
            let (k, v) = l.split_once(':')?;
            Some((k.trim().to_ascii_lowercase(), v.trim().to_string()))
        })
        .collect::<Option<_>>()?;
    let rest = &raw[end + 4..];
    let chunked = headers
        .iter()
        .any(|(k, v)| k == "transfer-encoding" && v.eq_ignore_ascii_case("chunked"));
    let length = headers
        .iter()
        .find(|(k, _)| k == "content-length")
        .and_then(|(_, v)| v.parse::<usize>().ok());
    let (body, used) = if chunked {
        let (body, used) = dechunk(rest)?;
        (body, used)
    } else if framed {
        let n = if status == 304 || status == 204 {
            0
        } else {
            length.unwrap_or(0)
        };
        (rest.get(..n)?.to_vec(), n)
    } else {
        (rest.to_vec(), rest.len())
    };
    Some((
        Response {
            status,
            headers,
            body,
        },
        end + 4 + used,
    ))
}

fn dechunk(raw: &[u8]) -> Option<(Vec<u8>, usize)> {
    let mut out = Vec::new();
    let mut at = 0;
    loop {
        let eol = raw[at..].windows(2).position(|w| w == b"\r\n")?;
        let size = std::str::from_utf8(&raw[at..at + eol])
            .ok()?
            .split(';')
            .next()?;
        let size = usize::from_str_radix(size.trim(), 16).ok()?;
        at += eol + 2;
        if size == 0 {
            // Trailer section: ends with an empty line.
            let end = raw[at..].windows(2).position(|w| w == b"\r\n")?;
            return Some((out, at + end + 2));
        }
        out.extend_from_slice(raw.get(at..at + size)?);
        at += size + 2;
    }
}

// --- the source folder ----------------------------------------------------

/// A private copy of `examples/posts` the test may change.
pub fn source_copy() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    copy_tree(&super::examples(), dir.path());
    dir
}

pub fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// Writes `text` beside `path` under a hidden temporary name, then renames
/// it into place, as editors and sync tools do.
pub fn write_atomically(path: &Path, text: &str) {
    let tmp = path.with_file_name(format!(
        ".{}.tmp",
        path.file_name().unwrap().to_string_lossy()
    ));
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

/// `/categories/<a>/<b>/<file>` with each name percent-encoded.
pub fn category(names: &[&str], file: &str) -> String {
    let mut path = String::from("/categories/");
    for name in names {
        path.push_str(&utf8_percent_encode(name, NON_ALPHANUMERIC).to_string());
        path.push('/');
    }
    path + file
}

pub const FORMATS: [&str; 3] = ["rss.xml", "atom.xml", "feed.json"];

/// Every document of the site feed and of the feeds `dirs` (paths ending
/// in `/`), in every format.
pub fn documents(dirs: &[String]) -> Vec<String> {
    std::iter::once("/".to_string())
        .chain(dirs.iter().cloned())
        .flat_map(|d| FORMATS.iter().map(move |f| format!("{d}{f}")))
        .collect()
}

/// `title` is an item of every document in `docs`.
pub fn everywhere(server: &Refeed, docs: &[String], title: &str) -> bool {
    docs.iter()
        .all(|d| server.titles(d).iter().any(|t| t == title))
}

/// `title` is an item of no document in `docs`.
pub fn nowhere(server: &Refeed, docs: &[String], title: &str) -> bool {
    docs.iter()
        .all(|d| server.titles(d).iter().all(|t| t != title))
}

/// Stops a server as a deploy does (SIGTERM), so that it finishes what
/// its reload thread was doing.
pub fn stop(mut server: Refeed) {
    server.signal(libc::SIGTERM);
    assert!(server.wait_exit(PATIENCE).success());
}
