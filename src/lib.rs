//! refeed: an archive of Hexo-style posts in, per-category feeds out.
//!
//! The modules follow the data: `source` finds and reads files, `article`
//! turns each into a typed [`article::Article`] (with `date`, `html`, `text`
//! as its pure helpers), `catalog` derives the immutable snapshot of feeds,
//! `routes` decides which URL serves what, `feed` writes the documents, and
//! `server` / `build` hand them out. `live` holds what `serve` publishes
//! (written by `watch`, read by `server`), `ondemand` renders what a request
//! selects off the async workers, and `state` keeps what must outlive a
//! restart in SQLite.

pub mod article;
pub mod build;
pub mod catalog;
pub mod check;
pub mod cli;
pub mod config;
pub mod date;
pub mod feed;
pub mod html;
pub mod live;
pub mod ondemand;
pub mod pages;
pub mod render;
pub mod routes;
pub mod server;
pub mod snapshot;
pub mod source;
pub mod state;
pub mod text;
pub mod watch;
