//! `refeed serve`: actix-web over the current snapshot. Requests read the
//! snapshot through one atomic load and never wait on a lock; the loader
//! and the watcher swap in new snapshots beside them.

pub mod conditional;
mod health;
mod routes;

use std::sync::Arc;
use std::time::{Duration, SystemTime};

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

/// Binds and runs the server until SIGINT/SIGTERM (graceful: in-flight
/// requests finish).
pub async fn run(config: &Config, state: web::Data<State>) -> std::io::Result<()> {
    let s = &config.server;
    let workers = if s.workers == 0 {
        std::thread::available_parallelism().map_or(1, |n| n.get())
    } else {
        s.workers
    };
    let app_state = state.clone();
    HttpServer::new(move || App::new().configure(configure(app_state.clone())))
        .workers(workers)
        .max_connections(s.max_connections.div_ceil(workers))
        .client_request_timeout(Duration::from_secs(s.client_request_timeout))
        .client_disconnect_timeout(Duration::from_secs(1))
        .keep_alive(Duration::from_secs(s.keep_alive))
        .shutdown_timeout(10)
        .bind(s.listen)?
        .run()
        .await
}
