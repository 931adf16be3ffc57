//! The integration tests, one binary with a module per suite (as ripgrep
//! does): one link instead of one per suite, and one process whose test
//! threads share the work. Select a suite or a test by its path:
//! `cargo test --test it malicious::`, `cargo test --test it fs_faults::burst`.
//! The soak (`tests/soak.rs`) is a binary of its own: it runs in release,
//! by hand or from `.ci/run`; a plain `cargo test` builds it and skips it.

mod common;

mod build_output;
mod config_errors;
mod configured_feeds;
mod corpus;
mod cut_short;
mod dates;
mod feed_pages;
mod feeds;
mod fs_faults;
mod fuzz_regressions;
mod golden;
mod hostile_http;
mod html;
mod http_dates;
mod live_reload;
mod loader;
mod malicious;
mod metrics;
mod opencc;
mod packaging;
mod properties;
mod serve_faults;
mod server;
mod stats;
mod urls;
mod websub;
