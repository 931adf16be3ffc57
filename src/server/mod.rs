//! `refeed serve`: actix-web over the current snapshot. Requests read the
//! snapshot through one atomic load and never wait on a lock; the loader
//! and the watcher swap in new snapshots beside them.

mod body;
pub mod conditional;
mod health;
mod routes;

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use actix_web::dev::{Service, ServiceRequest, ServiceResponse};
use actix_web::{App, HttpServer, web};
use arc_swap::{ArcSwap, ArcSwapOption};

use crate::config::Config;
use crate::feed::query;
use crate::snapshot::{Pipeline, Snapshot};

pub use health::SourceHealth;

/// Everything a request handler can see.
pub struct State {
    snapshot: ArcSwapOption<Snapshot>,
    source: ArcSwap<SourceHealth>,
    pub pipeline: Arc<Pipeline>,
    policy: conditional::Policy,
    limits: query::Limits,
    max_url_bytes: usize,
    max_header_bytes: usize,
    started: SystemTime,
}

impl State {
    pub fn new(config: &Config, pipeline: Arc<Pipeline>) -> Self {
        State {
            snapshot: ArcSwapOption::empty(),
            source: ArcSwap::from_pointee(SourceHealth::Ok),
            pipeline,
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
        }
    }

    pub fn current(&self) -> Option<Arc<Snapshot>> {
        self.snapshot.load_full()
    }

    /// Publishes a snapshot: requests that started earlier finish on the
    /// old one, later ones see the new one, none sees a mix.
    pub fn publish(&self, snap: Snapshot) {
        self.snapshot.store(Some(Arc::new(snap)));
    }

    pub fn set_source_health(&self, health: SourceHealth) {
        self.source.store(Arc::new(health));
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
/// port 0 in `server.listen` they name the port the system chose.
pub async fn run(config: &Config, state: web::Data<State>) -> std::io::Result<()> {
    let s = &config.server;
    let workers = if s.workers == 0 {
        std::thread::available_parallelism().map_or(1, |n| n.get())
    } else {
        s.workers
    };
    let app_state = state.clone();
    let server = HttpServer::new(move || {
        App::new()
            .wrap_fn(log_request)
            .configure(configure(app_state.clone()))
    })
    .workers(workers)
    .max_connections(s.max_connections.div_ceil(workers))
    .client_request_timeout(Duration::from_secs(s.client_request_timeout))
    .client_disconnect_timeout(Duration::from_secs(1))
    .keep_alive(Duration::from_secs(s.keep_alive))
    .shutdown_timeout(10)
    .shutdown_signal(stop_requested())
    .bind(s.listen)?;
    for addr in server.addrs() {
        eprintln!(
            "refeed: serving {} on http://{addr}/ (index), http://{addr}/rss.xml (site feed)",
            config.source_dir.display()
        );
    }
    server.run().await
}
