//! `refeed check`: the load reports as a human summary or as JSON lines.
//! The JSON shape is a public contract (README, "refeed check --json").

use std::collections::{BTreeMap, HashMap};
use std::io::{self, Write};

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;

use crate::article::{FileReport, Message, Status};
use crate::catalog::{Catalog, feed_keys};
use crate::routes::Routes;
use crate::site::FeedKey;
use crate::source::Role;

/// One line of `refeed check --json`.
#[derive(Debug, Serialize)]
pub struct Record<'a> {
    pub path: &'a str,
    pub status: Status,
    pub draft: bool,
    /// `post`, `draft` or `page` (a non-post file of a Hexo `source/`).
    pub kind: Role,
    pub id: Option<String>,
    /// The item link feeds use (null for drafts, pages and rejected files).
    pub url: Option<String>,
    pub title: Option<&'a str>,
    pub date: Option<String>,
    pub updated: Option<String>,
    pub categories: Vec<Vec<String>>,
    pub tags: &'a [String],
    pub messages: &'a [Message],
}

impl<'a> Record<'a> {
    pub fn new(r: &'a FileReport, catalog: &'a Catalog) -> Self {
        let a = r.article.as_deref();
        let entry = catalog.entry(&r.rel);
        Record {
            path: &r.rel,
            status: r.status(),
            draft: a.is_some_and(|a| a.draft),
            kind: match a {
                Some(a) if a.draft => Role::Draft,
                _ => r.role,
            },
            id: match entry {
                Some(e) => Some(e.id(catalog.scheme())),
                None => a.map(|a| a.id(&catalog.scheme().ids)),
            },
            url: entry.map(|e| e.url(catalog.scheme())),
            title: a.map(|a| a.title.as_str()),
            date: a.map(|a| rfc3339(a.date)),
            updated: a.and_then(|a| a.updated).map(rfc3339),
            categories: a.map(|a| a.categories.clone()).unwrap_or_default(),
            tags: a.map(|a| a.tags.as_slice()).unwrap_or(&[]),
            messages: &r.messages,
        }
    }
}

/// Adds what the route table says about each published article's URLs
/// to its report, as warnings: a category or tag name cut to fit a URL, a
/// feed moved aside by a sibling with the same slug, a permalink that
/// another article, a feed or refeed itself serves.
pub fn add_url_warnings(reports: &mut [FileReport], catalog: &Catalog) {
    let routes = Routes::build(catalog);
    let scheme = catalog.scheme();
    // Worked out once per feed, not once per post in it.
    let mut by_feed: HashMap<FeedKey, Vec<Message>> = HashMap::new();
    for r in reports {
        let Some(entry) = catalog.entry(&r.rel) else {
            continue;
        };
        for key in feed_keys(&entry.article) {
            let warnings = by_feed
                .entry(key)
                .or_insert_with_key(|k| routes.feed_warnings(scheme, k));
            r.messages.extend(warnings.iter().cloned());
        }
        r.messages.extend(routes.permalink_warning(scheme, entry));
    }
}

fn rfc3339(d: DateTime<Utc>) -> String {
    d.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

/// `catalog` holds the published articles of `reports`, for ids and links
/// as the feeds show them.
pub fn write_json(
    reports: &[FileReport],
    catalog: &Catalog,
    out: &mut impl Write,
) -> io::Result<()> {
    for r in reports {
        serde_json::to_writer(&mut *out, &Record::new(r, catalog))?;
        out.write_all(b"\n")?;
    }
    Ok(())
}

/// Counts per status, then files grouped by reason, most common first.
pub fn write_summary(reports: &[FileReport], out: &mut impl Write) -> io::Result<()> {
    let count = |s| reports.iter().filter(|r| r.status() == s).count();
    let drafts = reports
        .iter()
        .filter(|r| r.article.as_ref().is_some_and(|a| a.draft))
        .count();
    writeln!(
        out,
        "{} files: {} loaded, {} with warnings, {} rejected ({} drafts)",
        reports.len(),
        count(Status::Ok),
        count(Status::Warning),
        count(Status::Rejected),
        drafts
    )?;
    for status in [Status::Rejected, Status::Warning] {
        write_groups(reports, status, out)?;
    }
    Ok(())
}

fn write_groups(reports: &[FileReport], status: Status, out: &mut impl Write) -> io::Result<()> {
    let mut groups: BTreeMap<String, Vec<&FileReport>> = BTreeMap::new();
    for r in reports.iter().filter(|r| r.status() == status) {
        groups.entry(group_key(r)).or_default().push(r);
    }
    let mut groups: Vec<_> = groups.into_iter().collect();
    groups.sort_by(|a, b| b.1.len().cmp(&a.1.len()).then(a.0.cmp(&b.0)));
    let label = if status == Status::Rejected {
        "rejected"
    } else {
        "warning"
    };
    for (reason, files) in groups {
        writeln!(out, "\n{label} ({}): {reason}", files.len())?;
        for r in files {
            let detail: Vec<String> = r.messages.iter().map(Message::to_string).collect();
            writeln!(out, "  {}: {}", r.rel, detail.join("; "))?;
        }
    }
    Ok(())
}

/// Groups by field and the reason's first words, so that "impossible
/// date: day 31 ..." and "... day 30 ..." land together.
fn group_key(r: &FileReport) -> String {
    let reason = r.reason().unwrap_or_default();
    let head = reason.split(':').take(2).collect::<Vec<_>>().join(":");
    head.chars().take(60).collect()
}
