//! refeed: an archive of Hexo-style posts in, per-category feeds out.
//!
//! The modules follow the data: `source` finds and reads files, `article`
//! turns each into a typed [`article::Article`] (with `date`, `html`, `text`
//! as its pure helpers), `catalog` decides which articles each feed holds,
//! `site` names them (URLs, slugs, permalinks, ids, the one resolve policy),
//! `routes` decides which URL serves what, `feed` and `pages` write the
//! documents and `render` keeps their bytes and validators; `snapshot` runs
//! that pipeline into one immutable [`snapshot::Snapshot`], and `server` /
//! `build` hand it out. `live` holds what `serve` publishes (written by
//! `watch`, read by `server`), `ondemand` renders what a request selects off
//! the async workers, `state` keeps what must outlive a restart in
//! SQLite, `metrics` counts what `serve` does for `/metrics`,
//! `subscribers` counts who polls each feed, and `websub` pushes changed
//! feeds to their subscribers (the hub, its subscriptions in that same
//! SQLite file). `config` and `cli` resolve settings once, and `setup`
//! turns them into what `site`, `catalog` and `feed` need; `check` reports
//! a load.
//! `ARCHITECTURE.md` has the whole map.

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
pub mod metrics;
pub mod ondemand;
pub mod opencc;
pub mod pages;
pub mod render;
pub mod routes;
pub mod server;
pub mod setup;
pub mod site;
pub mod snapshot;
pub mod source;
pub mod state;
pub mod subscribers;
pub mod text;
pub mod watch;
pub mod websub;
