//! Aggregators' own subscriber counts, read from their User-Agents: one
//! table of who says what, one pattern for the count and one for the
//! aggregator's feed id. A User-Agent nobody in the table sends, or one
//! without a count, gives nothing; no input panics.

use std::sync::LazyLock;

use regex::bytes::Regex;

/// What an aggregator said about one of its feeds in one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// The aggregator's name, as `refeed stats` shows it.
    pub aggregator: &'static str,
    pub subscribers: u64,
    /// The aggregator's id for the feed, when it sends one: two ids of
    /// one aggregator are two groups of subscribers (one subscribed by
    /// `http:`, one by `https:`), while one id polled by several fetchers
    /// is one group.
    pub feed_id: Option<String>,
}

/// Who sends a count, by a text (lower case) its User-Agents contain.
/// Order matters where one names another: Feedly and Feedspot say "like
/// FeedFetcher-Google", so Google's row comes after theirs.
const AGGREGATORS: &[(&str, &str)] = &[
    ("feedly", "Feedly"),
    ("inoreader", "Inoreader"),
    ("newsblur", "NewsBlur"),
    ("feedbin", "Feedbin"),
    ("theoldreader", "The Old Reader"),
    ("bloglovin", "Bloglovin"),
    ("feedspot", "Feedspot"),
    ("netvibes", "Netvibes"),
    ("bazqux", "BazQux"),
    ("tiny tiny rss", "Tiny Tiny RSS"),
    ("newsgator", "NewsGator"),
    ("bloglines", "Bloglines"),
    ("dreamwidth", "Dreamwidth"),
    ("overcast", "Overcast"),
    ("feedfetcher-google", "Google Feedfetcher"),
];

/// Only the head of a User-Agent is read: every known form has its count
/// well within it, and the work per poller stays bounded.
const MAX_READ: usize = 512;

/// The largest count one aggregator's group is believed: the biggest
/// aggregators report tens of thousands for the most followed feeds, so a
/// larger number is a made-up one, refused rather than shown.
pub const MAX_GROUP_SUBSCRIBERS: u64 = 10_000_000;

/// "42 subscribers", "1 subscriber", Dreamwidth's "2 readers".
static COUNT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i-u)\b([0-9]{1,15})\s*(?:subscribers?|readers?)\b").expect("a valid pattern")
});

/// "feed-id=…" (Google, The Old Reader, Overcast), "feed-id:…" (Feedbin),
/// "feedID: …" (Netvibes).
static FEED_ID: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i-u)\bfeed-?id\s*[=:]\s*([A-Za-z0-9_.-]{1,64})").expect("a valid pattern")
});

/// The count a known aggregator reports in `agent`, if any.
pub fn parse(agent: &[u8]) -> Option<Report> {
    let agent = &agent[..agent.len().min(MAX_READ)];
    let lower = agent.to_ascii_lowercase();
    let aggregator = AGGREGATORS
        .iter()
        .find(|(needle, _)| memchr::memmem::find(&lower, needle.as_bytes()).is_some())
        .map(|(_, name)| *name)?;
    let digits = COUNT.captures(agent)?.get(1)?;
    if signed_or_grouped(&agent[..digits.start()]) {
        return None;
    }
    let subscribers = std::str::from_utf8(digits.as_bytes()).ok()?.parse().ok()?;
    if subscribers > MAX_GROUP_SUBSCRIBERS {
        return None;
    }
    let feed_id = FEED_ID
        .captures(agent)
        .and_then(|c| c.get(1))
        .map(|m| String::from_utf8_lossy(m.as_bytes()).into_owned());
    Some(Report {
        aggregator,
        subscribers,
        feed_id,
    })
}

/// Whether the digits that follow `before` are not a count of their own:
/// a sign (`-5`, `+77`), a decimal point, or the last group of a larger
/// number (`1,234`, `1'234`, `1 234`, `1\u{202f}234`). Read as a count they
/// would be a wrong one, so the whole count is refused.
fn signed_or_grouped(before: &[u8]) -> bool {
    const SEPARATORS: &[&[u8]] = &[
        b"-",
        b"+",
        b",",
        b".",
        b"'",
        b"_",
        "\u{a0}".as_bytes(),
        "\u{2009}".as_bytes(),
        "\u{202f}".as_bytes(),
        "\u{2019}".as_bytes(),
    ];
    if SEPARATORS.iter().any(|s| before.ends_with(s)) {
        return true;
    }
    // A space between digits groups them too.
    matches!(before, [.., b'0'..=b'9', b' '])
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Real User-Agents, each with where it was seen.
    const REAL: &[(&str, &str, u64, Option<&str>, &str)] = &[
        (
            "Feedly/1.0 (+http://www.feedly.com/fetcher.html; 462 subscribers; )",
            "Feedly",
            462,
            None,
            "Buttondown's RSS subscribers documentation",
        ),
        (
            "Feedly/1.0 (+http://www.feedly.com/fetcher.html; 5 subscribers; like FeedFetcher-Google)",
            "Feedly",
            5,
            None,
            "a Hugo site's nginx access log, 2020, quoted in a public repository",
        ),
        (
            "Mozilla/5.0 (compatible; inoreader.com; 114 subscribers)",
            "Inoreader",
            114,
            None,
            "Buttondown's RSS subscribers documentation",
        ),
        (
            "Mozilla/5.0 (compatible; inoreader.com; 5 subscribers)",
            "Inoreader",
            5,
            None,
            "a public server's log summary (top User-Agents)",
        ),
        (
            "NewsBlur Feed Fetcher - 27 subscribers - https://www.newsblur.com/site/7704055/rendezvous-with-cassidoo \
             (\"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) \
             Version/14.0.1 Safari/605.1.15\")",
            "NewsBlur",
            27,
            None,
            "Buttondown's RSS subscribers documentation",
        ),
        (
            "Feedbin feed-id:1697787 - 102 subscribers",
            "Feedbin",
            102,
            Some("1697787"),
            "Buttondown's RSS subscribers documentation",
        ),
        (
            "Feedbin - 1 subscribers",
            "Feedbin",
            1,
            None,
            "the aua Ruby User-Agent parser's spec; Feedbin's own subscriber-statistics.md",
        ),
        (
            "Mozilla/5.0 (compatible; theoldreader.com; 1 subscribers; feed-id=cead6c3a837650eeefd8fe4a)",
            "The Old Reader",
            1,
            Some("cead6c3a837650eeefd8fe4a"),
            "Buttondown's RSS subscribers documentation",
        ),
        (
            "Bloglovin/1.0 (http://www.bloglovin.com; 1 subscribers)",
            "Bloglovin",
            1,
            None,
            "a public list of crawler User-Agents",
        ),
        (
            "Netvibes (http://www.netvibes.com/; 1 subscribers; feedID: 6639445)",
            "Netvibes",
            1,
            Some("6639445"),
            "the aua Ruby User-Agent parser's spec",
        ),
        (
            "Mozilla/5.0 (compatible; BazQux/2.4; +https://bazqux.com/fetcher; 1 subscribers)",
            "BazQux",
            1,
            None,
            "Buttondown's RSS subscribers documentation",
        ),
        (
            "NewsGatorOnline/2.0 (http://www.newsgator.com; 1 subscribers)",
            "NewsGator",
            1,
            None,
            "the aua Ruby User-Agent parser's spec",
        ),
        (
            "Feedfetcher-Google; (+http://www.google.com/feedfetcher.html; 4 subscribers; feed-id=9048986372668769311)",
            "Google Feedfetcher",
            4,
            Some("9048986372668769311"),
            "a public list of sample User-Agents",
        ),
        (
            "Dreamwidth Studios (webmaster@dreamwidth.org; for https://www.dreamwidth.org/users/vikingschoice_feed/; 2 readers)",
            "Dreamwidth",
            2,
            None,
            "Buttondown's RSS subscribers documentation",
        ),
        (
            "Overcast/1.0 Podcast Sync (1190 subscribers; feed-id=554901; +http://overcast.fm/)",
            "Overcast",
            1190,
            Some("554901"),
            "the Changelog podcast site's tests (Elixir AgentKit)",
        ),
    ];

    #[test]
    fn real_aggregator_agents_give_their_counts() {
        for &(agent, aggregator, subscribers, feed_id, _source) in REAL {
            let expected = Report {
                aggregator,
                subscribers,
                feed_id: feed_id.map(str::to_string),
            };
            assert_eq!(parse(agent.as_bytes()), Some(expected), "{agent}");
        }
    }

    /// Real User-Agents that say no count: single-user readers, and
    /// aggregators' fetchers that leave it out.
    #[test]
    fn agents_without_a_count_give_none() {
        for agent in [
            "Feedly/1.0 (+http://www.feedly.com/fetcher.html; like FeedFetcher-Google)",
            "Feedspot/1.0 (+https://www.feedspot.com/fs/fetcher; like FeedFetcher-Google)",
            "Tiny Tiny RSS/20.08-2b50aaed6 (http://tt-rss.org/)",
            "Netvibes (http://www.netvibes.com)",
            "Mozilla/5.0 (compatible; Miniflux/2.2.3; +https://miniflux.app)",
            "NetNewsWire/3.2b24 (Mac OS X; http://www.newsgator.com/Individuals/NetNewsWire/)",
            "Feedfetcher-Google; (+http://www.google.com/feedfetcher.html; feed-id=6486597085114830250)",
            "Blogtrottr/2.0",
            "",
        ] {
            assert_eq!(parse(agent.as_bytes()), None, "{agent}");
        }
    }

    #[test]
    fn unknown_and_malformed_agents_give_none_without_panicking() {
        for agent in [
            &b"Mozilla whatever whatever 11 subscribers"[..],
            b"Feedly/1.0 (; 99999999999999999999999 subscribers; )",
            b"Feedly/1.0 (; subscribers 12; )",
            b"Feedly/1.0 (\xff\xfe 12\xff subscribers)",
            b"\xff\xfeinoreader.com\xc3",
        ] {
            assert_eq!(parse(agent), None, "{}", String::from_utf8_lossy(agent));
        }
        let long = format!("Feedly/1.0 ({}; 7 subscribers)", "x".repeat(1000));
        assert_eq!(parse(long.as_bytes()), None);
    }

    /// Spoofed or mis-formatted counts give no count, rather than a wrong
    /// one (the second reading of "-1000000" was 1000000).
    #[test]
    fn signed_separated_and_implausible_counts_are_refused() {
        for agent in [
            "Feedly/1.0 (+http://www.feedly.com/fetcher.html; -5 subscribers; )",
            "NewsBlur Feed Fetcher - -1000000 subscribers - https://www.newsblur.com/site/1/x",
            "Feedly/1.0 (+http://www.feedly.com/fetcher.html; 1,234 subscribers; )",
            "Feedly/1.0 (+http://www.feedly.com/fetcher.html; +77 subscribers; )",
            "Feedly/1.0 (+http://www.feedly.com/fetcher.html; 1.5 subscribers; )",
            "Feedly/1.0 (+http://www.feedly.com/fetcher.html; 1'234 subscribers; )",
            "Feedly/1.0 (+http://www.feedly.com/fetcher.html; 1 234 subscribers; )",
            "Feedly/1.0 (+http://www.feedly.com/fetcher.html; 1\u{202f}234 subscribers; )",
            "Feedbin feed-id:1 - 99999999999999 subscribers",
            "Feedbin feed-id:1 - 10000001 subscribers",
        ] {
            assert_eq!(parse(agent.as_bytes()), None, "{agent}");
        }
        let most = "Feedbin feed-id:1 - 10000000 subscribers";
        assert_eq!(
            parse(most.as_bytes()).map(|r| r.subscribers),
            Some(10_000_000)
        );
    }

    proptest::proptest! {
        #[test]
        fn any_bytes_after_a_known_name_parse_without_panicking(
            tail in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..700)
        ) {
            let mut agent = b"Feedly/1.0 (".to_vec();
            agent.extend_from_slice(&tail);
            if let Some(report) = parse(&agent) {
                proptest::prop_assert_eq!(report.aggregator, "Feedly");
            }
        }
    }

    #[test]
    fn an_aggregator_named_by_another_is_the_one_that_sent_it() {
        let agent = b"Feedspot/1.0 (+https://www.feedspot.com/fs/fetcher; 3 subscribers; like FeedFetcher-Google)";
        assert_eq!(parse(agent).map(|r| r.aggregator), Some("Feedspot"));
    }
}
