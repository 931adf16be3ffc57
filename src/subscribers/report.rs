//! `refeed stats`: the counts as a table for people, or as one JSON
//! object for scripts.

use std::collections::BTreeMap;
use std::io::{self, Write};

use unicode_width::UnicodeWidthStr;

use super::{Counts, FeedCount};

/// What `refeed stats` read from the state file.
#[derive(Debug, Clone, Default)]
pub struct Stored {
    pub counts: Counts,
    /// The source folder the counts are kept by.
    pub source: String,
    /// When `source` has no counts, the source folders that have some.
    pub other_sources: Vec<String>,
}

/// The path a feed folder is served at: `/` for the site feed.
fn path(folder: &str) -> String {
    format!("/{folder}")
}

/// Pads `text` with spaces to `width` columns as a terminal shows them.
fn pad(text: &str, width: usize) -> String {
    let fill = width.saturating_sub(text.width());
    format!("{text}{}", " ".repeat(fill))
}

/// One line per feed, most subscribers first.
pub fn write_table(stored: &Stored, out: &mut dyn Write) -> io::Result<()> {
    let counts = &stored.counts;
    writeln!(out, "subscribers over the last {} days", counts.window_days)?;
    if counts.feeds.is_empty() && !stored.other_sources.is_empty() {
        return writeln!(
            out,
            "no counts for {}; this state file has counts for: {}",
            stored.source,
            stored.other_sources.join(", ")
        );
    }
    if counts.feeds.is_empty() {
        return writeln!(out, "no feed has been polled yet");
    }
    let mut feeds: Vec<(&String, &FeedCount)> = counts.feeds.iter().collect();
    feeds.sort_by(|a, b| b.1.total().cmp(&a.1.total()).then(a.0.cmp(b.0)));
    let width = feeds
        .iter()
        .map(|(f, _)| path(f).width())
        .max()
        .unwrap_or(0)
        .max("feed".len());
    writeln!(
        out,
        "{}  {:>11}  {:>7}  aggregators",
        pad("feed", width),
        "subscribers",
        "pollers"
    )?;
    for (feed, count) in feeds {
        let aggregators: Vec<String> = count
            .aggregators
            .iter()
            .map(|(name, n)| format!("{name} {n}"))
            .collect();
        let line = format!(
            "{}  {:>11}  {:>7}  {}",
            pad(&path(feed), width),
            count.total(),
            count.pollers,
            aggregators.join(", ")
        );
        writeln!(out, "{}", line.trim_end())?;
    }
    Ok(())
}

/// `{"window_days":7,"feeds":[{"feed":"/","subscribers":44,"pollers":2,
/// "aggregators":{"Feedly":42}}],"other_sources":[]}`, feeds in path
/// order. A contract like `check --json`'s: fields are only ever added.
pub fn write_json(stored: &Stored, out: &mut dyn Write) -> io::Result<()> {
    let counts = &stored.counts;
    #[derive(serde::Serialize)]
    struct Feed<'a> {
        feed: String,
        subscribers: u64,
        pollers: u64,
        aggregators: &'a BTreeMap<String, u64>,
    }
    #[derive(serde::Serialize)]
    struct Report<'a> {
        window_days: u32,
        feeds: Vec<Feed<'a>>,
        other_sources: &'a [String],
    }
    let feeds = counts
        .feeds
        .iter()
        .map(|(feed, count)| Feed {
            feed: path(feed),
            subscribers: count.total(),
            pollers: count.pollers,
            aggregators: &count.aggregators,
        })
        .collect();
    let report = Report {
        window_days: counts.window_days,
        feeds,
        other_sources: &stored.other_sources,
    };
    serde_json::to_writer(&mut *out, &report)?;
    writeln!(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stored(counts: Counts) -> Stored {
        Stored {
            counts,
            source: "/srv/posts".into(),
            other_sources: Vec::new(),
        }
    }

    fn counts() -> Counts {
        let site = FeedCount {
            aggregators: [("Feedly".to_string(), 42)].into(),
            pollers: 2,
        };
        let tag = FeedCount {
            aggregators: Default::default(),
            pollers: 1,
        };
        Counts {
            window_days: 7,
            feeds: [(String::new(), site), ("tags/x/".to_string(), tag)].into(),
        }
    }

    #[test]
    fn the_table_lists_the_most_followed_first() {
        let mut out = Vec::new();
        write_table(&stored(counts()), &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "subscribers over the last 7 days");
        assert!(
            lines[2].starts_with("/ ") && lines[2].ends_with("Feedly 42"),
            "{text}"
        );
        assert_eq!(lines[3], "/tags/x/            1        1", "{text}");
    }

    #[test]
    fn json_names_each_feed_by_its_path() {
        let mut out = Vec::new();
        write_json(&stored(counts()), &mut out).unwrap();
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["window_days"], 7);
        assert_eq!(v["feeds"][0]["feed"], "/");
        assert_eq!(v["feeds"][0]["subscribers"], 44);
        assert_eq!(v["feeds"][0]["aggregators"]["Feedly"], 42);
        assert_eq!(v["feeds"][1]["pollers"], 1);
    }

    #[test]
    fn cjk_feed_names_align_by_display_width() {
        let one = FeedCount {
            aggregators: Default::default(),
            pollers: 1,
        };
        let counts = Counts {
            window_days: 7,
            feeds: [
                ("tags/日本語/".to_string(), one.clone()),
                ("tags/abcdef/".to_string(), one),
            ]
            .into(),
        };
        let mut out = Vec::new();
        write_table(&stored(counts), &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        // "/tags/日本語/" is 13 columns wide, like "/tags/abcdef/".
        let widths: Vec<usize> = text.lines().skip(2).map(|l| l.width()).collect();
        assert_eq!(widths, [13 + 2 + 11 + 2 + 7; 2], "{text}");
    }

    #[test]
    fn counts_only_for_other_sources_are_named() {
        let mut other = stored(Counts::default());
        other.other_sources = vec!["/srv/a".into(), "/srv/b".into()];
        let mut out = Vec::new();
        write_table(&other, &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(
            text.contains(
                "no counts for /srv/posts; this state file has counts for: /srv/a, /srv/b"
            ),
            "{text}"
        );
    }
}
