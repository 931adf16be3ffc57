//! `refeed serve`: actix-web over the current snapshot. Requests read the
//! snapshot through one atomic load and never wait on a lock; the loader
//! and the watcher swap in new snapshots beside them.

mod body;
pub mod conditional;
mod deadline;
mod health;
mod peers;
mod routes;
mod scrape;
mod websub;

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use actix_http::HttpService;
use actix_http::error::DispatchError;
use actix_service::{ServiceFactoryExt, fn_service, map_config};
use actix_web::dev::{AppConfig, Server, Service, ServiceRequest, ServiceResponse};
use actix_web::rt::net::TcpStream;
use actix_web::{App, web};

use crate::config::{self, Config};
use crate::feed::query;
use crate::live::Live;
use crate::metrics::Metrics;
use crate::ondemand::OnDemand;
use crate::snapshot::Snapshot;
use crate::subscribers::Subscribers;

/// Everything a request handler can see: the live state, and the HTTP
/// policy from the configuration.
pub struct State {
    live: Arc<Live>,
    /// Query representations and article pages: rendered off the workers.
    ondemand: Arc<OnDemand>,
    policy: conditional::Policy,
    limits: query::Limits,
    max_url_bytes: usize,
    max_header_bytes: usize,
    started: SystemTime,
    /// `None` when `server.metrics` is off: then nothing is counted.
    metrics: Option<Arc<Metrics>>,
    /// Whether `/metrics` is answered on the main listener.
    metrics_here: bool,
    /// `None` when `stats.enabled` is false or the state file is unusable.
    subscribers: Option<Arc<Subscribers>>,
    /// The WebSub hub, when refeed runs one or pings others.
    hub: Option<Arc<crate::websub::Hub>>,
    /// The state file's health, as the dates' history sees it.
    state_file: Option<Arc<crate::state::StateHealth>>,
}

impl State {
    pub fn new(config: &Config, live: Arc<Live>, ondemand: Arc<OnDemand>) -> Self {
        State {
            live,
            ondemand,
            policy: conditional::Policy {
                max_age: config.server.max_age,
                stale_while_revalidate: config.server.stale_while_revalidate,
            },
            limits: query::Limits {
                default_limit: config.feed.limit,
                max_limit: config.feed.max_limit,
                max_pattern_bytes: config.server.max_filter_bytes,
            },
            max_url_bytes: config.server.max_url_bytes,
            max_header_bytes: config.server.max_header_bytes,
            started: SystemTime::now(),
            metrics: None,
            metrics_here: config.server.metrics == config::Metrics::Main,
            subscribers: None,
            hub: None,
            state_file: None,
        }
    }

    /// Shows the state file's health in `/healthz`.
    pub fn with_state_health(mut self, health: Arc<crate::state::StateHealth>) -> Self {
        self.state_file = Some(health);
        self
    }

    /// Answers subscriptions at the hub's path and shows it in `/healthz`.
    pub fn with_hub(mut self, hub: Arc<crate::websub::Hub>) -> Self {
        self.hub = Some(hub);
        self
    }

    /// Counts requests into `metrics`, served at `/metrics` where
    /// `server.metrics` says; without it, nothing is counted or served.
    pub fn with_metrics(mut self, metrics: Arc<Metrics>) -> Self {
        self.metrics = Some(metrics);
        self
    }

    /// Counts who polls each feed into `subscribers`, and serves the index
    /// page with its counts.
    pub fn with_subscribers(mut self, subscribers: Arc<Subscribers>) -> Self {
        self.subscribers = Some(subscribers);
        self
    }

    fn current(&self) -> Option<Arc<Snapshot>> {
        self.live.current()
    }
}

/// Registers refeed's single catch-all handler; shared by `serve` and by
/// the integration tests' `actix_web::test::init_service`.
pub fn configure(state: web::Data<State>) -> impl FnOnce(&mut web::ServiceConfig) {
    move |cfg| {
        cfg.app_data(state).default_service(web::to(routes::handle));
    }
}

/// Resolves on the first SIGTERM or SIGINT. Given to actix in place of its
/// own handlers, which stop *forcibly* on SIGINT (dropping requests in
/// flight); the issue asks for a graceful stop on both.
async fn stop_requested() {
    use actix_web::rt::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        tracing::error!("cannot handle SIGTERM/SIGINT");
        return std::future::pending().await;
    };
    let name = std::future::poll_fn(|cx| {
        if term.poll_recv(cx).is_ready() {
            std::task::Poll::Ready("SIGTERM")
        } else if int.poll_recv(cx).is_ready() {
            std::task::Poll::Ready("SIGINT")
        } else {
            std::task::Poll::Pending
        }
    })
    .await;
    tracing::info!("{name} received; stopping gracefully");
}

/// The tracing target of the request log: off by default, on with
/// `--log info,refeed::access=debug`. One line per request: method, path
/// and query, status, user agent, milliseconds.
pub const ACCESS_LOG: &str = "refeed::access";

/// The request log middleware; costs one filter check when it is off.
fn log_request<S, B>(
    req: ServiceRequest,
    srv: &S,
) -> impl Future<Output = Result<ServiceResponse<B>, actix_web::Error>> + use<S, B>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error>,
{
    let logged = tracing::enabled!(target: ACCESS_LOG, tracing::Level::DEBUG).then(|| {
        let agent = req
            .headers()
            .get(actix_web::http::header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("-")
            .to_string();
        (
            req.method().clone(),
            req.uri().clone(),
            agent,
            Instant::now(),
        )
    });
    let response = srv.call(req);
    async move {
        let response = response.await?;
        if let Some((method, uri, agent, started)) = logged {
            tracing::debug!(
                target: ACCESS_LOG,
                "{method} {uri} {} {agent:?} {:.1}ms",
                response.status().as_u16(),
                started.elapsed().as_secs_f64() * 1000.0
            );
        }
        Ok(response)
    }
}

/// Binds and runs the server until SIGINT/SIGTERM (graceful: in-flight
/// requests finish). Once bound, prints the URLs to open to stderr; with
/// port 0 in `server.listen` they name the port the system chose, and so
/// does the line for `server.metrics_listen`, when it is set.
///
/// This is what `actix_web::HttpServer` does for HTTP/1, with two
/// differences: every connection goes through [`deadline::Deadlines`], so
/// that `client_request_timeout` bounds every request head of a
/// keep-alive connection, not just the first, and `write_timeout` every
/// response the client stops reading; and a connection beyond
/// `max_connections_per_ip` of its address is closed as it is accepted.
/// The sockets `serve` listens on, bound before anything is loaded: a
/// port already taken ends `serve` at once, not after reading the archive.
pub struct Listeners {
    main: std::net::TcpListener,
    metrics: Option<std::net::TcpListener>,
}

/// Binds the configured addresses; must run inside the actix runtime.
pub fn bind(config: &Config) -> std::io::Result<Listeners> {
    let s = &config.server;
    let bound = |addr, what: &str| {
        listen(addr).map_err(|e| std::io::Error::new(e.kind(), format!("{what} {addr}: {e}")))
    };
    let main = bound(s.listen, "server.listen")?;
    let metrics = match s.metrics {
        config::Metrics::Apart(at) => Some(bound(at, "server.metrics_listen")?),
        config::Metrics::Off | config::Metrics::Main => None,
    };
    Ok(Listeners { main, metrics })
}

pub async fn run(
    config: &Config,
    state: web::Data<State>,
    listeners: Listeners,
) -> std::io::Result<()> {
    let s = &config.server;
    let workers = s.workers;
    let peers = peers::PeerLimit::new(s.max_connections_per_ip);
    let write_timeout = s.write_timeout;
    let listener = listeners.main;
    let addr = listener.local_addr()?;
    let request_timeout = s.client_request_timeout;
    let keep_alive = s.keep_alive;
    let builder = Server::build()
        .workers(workers)
        .max_concurrent_connections(s.max_connections.div_ceil(workers))
        .shutdown_timeout(10)
        .shutdown_signal(stop_requested());
    // Closes idle keep-alive connections as soon as a stop begins, so that
    // they do not hold it up for `keep_alive` seconds.
    let stopping = builder.graceful_shutdown_signal();
    let mut metrics_at = None;
    let builder = match listeners.metrics {
        Some(listener) => {
            let at = listener.local_addr()?;
            metrics_at = Some(at);
            let state = state.clone();
            let stopping = stopping.clone();
            // Apart from the public listener: no per-peer limit or write
            // deadline, as only the operator's scraper comes here.
            builder.listen("refeed-metrics", listener, move || {
                let app = App::new()
                    .app_data(state.clone())
                    .default_service(web::to(scrape::only));
                let stopping = stopping.clone();
                HttpService::build()
                    .graceful_shutdown_signal(move || {
                        let stopping = stopping.clone();
                        async move { stopping.notified().await }
                    })
                    .keep_alive(keep_alive)
                    .client_request_timeout(request_timeout)
                    .local_addr(at)
                    .h1(map_config(app, |_| AppConfig::default()))
                    .tcp()
            })?
        }
        None => builder,
    };
    let server = builder
        .listen("refeed", listener, move || {
            let app = App::new()
                .wrap_fn(log_request)
                .configure(configure(state.clone()));
            let stopping = stopping.clone();
            let http = HttpService::build()
                .graceful_shutdown_signal(move || {
                    let stopping = stopping.clone();
                    async move { stopping.notified().await }
                })
                .keep_alive(keep_alive)
                .client_request_timeout(request_timeout)
                .client_disconnect_timeout(Duration::from_secs(1))
                .local_addr(addr)
                .h1(map_config(app, |_| AppConfig::default()));
            let peers = peers.clone();
            fn_service(move |io: TcpStream| {
                let peers = peers.clone();
                async move {
                    let peer = io.peer_addr()?;
                    let Some(place) = peers.admit(peer.ip()) else {
                        tracing::debug!(%peer, "over server.max_connections_per_ip; closed");
                        return Err(DispatchError::Io(std::io::Error::other(
                            "over max_connections_per_ip",
                        )));
                    };
                    // Responses go out whole; no reason to wait for more.
                    let _ = io.set_nodelay(true);
                    let io = deadline::Deadlines::new(io, request_timeout, write_timeout, place);
                    Ok((io, Some(peer)))
                }
            })
            .and_then(http)
        })?
        .run();
    eprintln!(
        "refeed: serving {} on http://{addr}/ (index), http://{addr}/rss.xml (site feed)",
        config.source_dir.display()
    );
    if let Some(at) = metrics_at {
        eprintln!("refeed: metrics on http://{at}/metrics");
    }
    server.await
}

/// Pending connections the kernel may queue before refeed accepts them;
/// what `actix_server` uses (std's `TcpListener::bind` would give 128, and
/// a burst of connections beyond it waits for SYN retransmissions).
const BACKLOG: u32 = 2048;

fn listen(addr: std::net::SocketAddr) -> std::io::Result<std::net::TcpListener> {
    let socket = if addr.is_ipv4() {
        actix_web::rt::net::TcpSocket::new_v4()?
    } else {
        actix_web::rt::net::TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(BACKLOG)?.into_std()
}

/// A short text answer that no cache keeps: errors, refusals, waits.
pub(super) fn plain(status: actix_web::http::StatusCode, message: &str) -> actix_web::HttpResponse {
    use actix_web::http::header::{self, HeaderValue};
    actix_web::HttpResponse::build(status)
        .insert_header((
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        ))
        .insert_header((header::CACHE_CONTROL, HeaderValue::from_static("no-store")))
        .body(format!("{message}\n"))
}
