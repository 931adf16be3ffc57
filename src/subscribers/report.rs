//! `refeed stats`: the counts as a table for people, or as one JSON
//! object for scripts.

use std::collections::BTreeMap;
use std::io::{self, Write};

use super::{Counts, FeedCount};

/// The path a feed folder is served at: `/` for the site feed.
fn path(folder: &str) -> String {
    format!("/{folder}")
}

/// One line per feed, most subscribers first.
pub fn write_table(counts: &Counts, out: &mut dyn Write) -> io::Result<()> {
    writeln!(out, "subscribers over the last {} days", counts.window_days)?;
    if counts.feeds.is_empty() {
        return writeln!(out, "no feed has been polled yet");
    }
    let mut feeds: Vec<(&String, &FeedCount)> = counts.feeds.iter().collect();
    feeds.sort_by(|a, b| b.1.total().cmp(&a.1.total()).then(a.0.cmp(b.0)));
    let width = feeds
        .iter()
        .map(|(f, _)| path(f).chars().count())
        .max()
        .unwrap_or(0)
        .max("feed".len());
    writeln!(
        out,
        "{:<width$}  {:>11}  {:>7}  aggregators",
        "feed", "subscribers", "pollers"
    )?;
    for (feed, count) in feeds {
        let aggregators: Vec<String> = count
            .aggregators
            .iter()
            .map(|(name, n)| format!("{name} {n}"))
            .collect();
        let line = format!(
            "{:<width$}  {:>11}  {:>7}  {}",
            path(feed),
            count.total(),
            count.pollers,
            aggregators.join(", ")
        );
        writeln!(out, "{}", line.trim_end())?;
    }
    Ok(())
}

/// `{"window_days":7,"feeds":[{"feed":"/","subscribers":44,"pollers":2,
/// "aggregators":{"Feedly":42}}]}`, feeds in path order. A contract like
/// `check --json`'s: fields are only ever added.
pub fn write_json(counts: &Counts, out: &mut dyn Write) -> io::Result<()> {
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
    };
    serde_json::to_writer(&mut *out, &report)?;
    writeln!(out)
}

#[cfg(test)]
mod tests {
    use super::*;

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
        write_table(&counts(), &mut out).unwrap();
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
        write_json(&counts(), &mut out).unwrap();
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["window_days"], 7);
        assert_eq!(v["feeds"][0]["feed"], "/");
        assert_eq!(v["feeds"][0]["subscribers"], 44);
        assert_eq!(v["feeds"][0]["aggregators"]["Feedly"], 42);
        assert_eq!(v["feeds"][1]["pollers"], 1);
    }
}
