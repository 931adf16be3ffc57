//! Dates as they really appear in Hexo front matter, feeds and file names,
//! read as `DateTime<Utc>`.

mod shape;

pub use shape::*;
