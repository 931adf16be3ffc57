//! Subscriber counts in the state file (`crate::state`), as daily
//! aggregates scoped by source folder: for each feed and day, the keyed
//! hash of each distinct poller, and the latest count of each aggregator's
//! group of subscribers; and how many of those each source address (its
//! keyed hash) added. Written by the stats thread alone; read by it and
//! by `refeed stats`. Rows older than the window are removed as it moves.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use rusqlite::{Connection, OptionalExtension, params};

use super::{Counts, FeedCount};
use crate::state::StateError;

/// Rows kept per day (all feeds together): distinct pollers plus
/// aggregator groups. Beyond, a day's new pollers and groups are not
/// counted, so a flood of made-up User-Agents cannot grow the file without
/// bound.
pub const MAX_ROWS_PER_DAY: u64 = 100_000;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(transparent)]
    State(#[from] StateError),
    #[error("cannot make the key that hashes pollers: {0}")]
    Random(getrandom::Error),
    #[error("no state file at {}: {reason}", path.display())]
    Missing { path: PathBuf, reason: &'static str },
}

/// One poller, or one aggregator group, seen since the last flush.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    pub feed: Box<str>,
    /// Keyed hash of the source address alone (no User-Agent, no feed),
    /// which an address's share (`stats.per_address`) is kept by; `None`
    /// without an address.
    pub source: Option<u64>,
    /// Unix seconds of the latest request.
    pub at: i64,
    pub who: Who,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Who {
    /// Keyed hash of feed, address and User-Agent.
    Poller(u64),
    /// What an aggregator reported; `group` is its feed id, else the
    /// document it polled.
    Aggregator {
        name: &'static str,
        group: Box<str>,
        subscribers: u64,
    },
}

/// Days since the Unix epoch, in UTC: the unit rows are kept by.
pub fn day(unix_seconds: i64) -> i64 {
    unix_seconds.div_euclid(86_400)
}

pub struct Store {
    conn: Connection,
    path: PathBuf,
    scope: String,
    /// [`MAX_ROWS_PER_DAY`]; smaller in tests.
    cap: u64,
    /// New rows one address may add to one feed's day: enough for a
    /// household or an office behind one address, small enough that one
    /// client with many made-up User-Agents cannot use up the cap and
    /// leave every real reader of the day uncounted.
    per_address: u64,
}

impl Store {
    pub fn open(dir: &Path, scope: &str) -> Result<Store, StateError> {
        let (conn, path) = crate::state::connect(dir)?;
        conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS stats_pollers (
                scope TEXT NOT NULL,
                feed TEXT NOT NULL,
                day INTEGER NOT NULL,
                poller INTEGER NOT NULL,
                PRIMARY KEY (scope, day, feed, poller)
            ) WITHOUT ROWID;
            CREATE TABLE IF NOT EXISTS stats_aggregators (
                scope TEXT NOT NULL,
                feed TEXT NOT NULL,
                day INTEGER NOT NULL,
                aggregator TEXT NOT NULL,
                grp TEXT NOT NULL,
                subscribers INTEGER NOT NULL,
                seen INTEGER NOT NULL,
                PRIMARY KEY (scope, day, feed, aggregator, grp)
            ) WITHOUT ROWID;
            CREATE TABLE IF NOT EXISTS stats_sources (
                scope TEXT NOT NULL,
                feed TEXT NOT NULL,
                day INTEGER NOT NULL,
                source INTEGER NOT NULL,
                added INTEGER NOT NULL,
                PRIMARY KEY (scope, day, feed, source)
            ) WITHOUT ROWID;
            CREATE TABLE IF NOT EXISTS stats_key (
                id INTEGER PRIMARY KEY CHECK (id = 0),
                key BLOB NOT NULL
            );",
        )
        .map_err(|source| StateError::Sql {
            path: path.clone(),
            source,
        })?;
        Ok(Store::over(conn, path, scope))
    }

    fn over(conn: rusqlite::Connection, path: std::path::PathBuf, scope: &str) -> Store {
        Store {
            conn,
            path,
            scope: scope.to_string(),
            cap: MAX_ROWS_PER_DAY,
            per_address: u64::MAX,
        }
    }

    /// The counts in the state file under `dir`, for reading alone (`refeed
    /// stats`): nothing is created, written or chmodded (found by the
    /// fifth attack: reading a copy changed it).
    pub fn read_only(dir: &Path, scope: &str) -> Result<Store, StateError> {
        let path = dir.join(crate::state::FILE);
        let flags =
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = rusqlite::Connection::open_with_flags(&path, flags)
            .and_then(|conn| {
                conn.busy_timeout(std::time::Duration::from_secs(5))?;
                Ok(conn)
            })
            .map_err(|source| StateError::Sql {
                path: path.clone(),
                source,
            })?;
        Ok(Store::over(conn, path, scope))
    }

    /// Whether the file holds the counts' tables: a `serve` with
    /// `stats.enabled: false` never made them.
    pub fn has_counts(&self) -> Result<bool, StateError> {
        self.conn
            .query_row(
                "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'stats_pollers'",
                [],
                |row| row.get::<_, i64>(0),
            )
            .map(|n| n > 0)
            .map_err(|e| self.sql(e))
    }

    /// Keeps each address to `per_address` new rows per feed and day
    /// (`stats.per_address`; `None`: no limit).
    pub fn with_per_address(mut self, per_address: Option<u64>) -> Store {
        self.per_address = per_address.unwrap_or(u64::MAX);
        self
    }

    fn sql(&self, source: rusqlite::Error) -> StateError {
        StateError::Sql {
            path: self.path.clone(),
            source,
        }
    }

    /// The key pollers are hashed with: made once, at random, and kept, so
    /// that a poller is the same poller after a restart, while no one
    /// without the file can tell which address a hash stands for.
    pub fn key(&self) -> Result<[u8; 16], StoreError> {
        let read = |conn: &Connection| {
            conn.query_row("SELECT key FROM stats_key WHERE id = 0", [], |row| {
                row.get::<_, Vec<u8>>(0)
            })
            .optional()
        };
        let stored = read(&self.conn).map_err(|e| self.sql(e))?;
        let bytes = match stored {
            Some(bytes) => bytes,
            None => {
                let mut fresh = [0u8; 16];
                getrandom::fill(&mut fresh).map_err(StoreError::Random)?;
                // Another process may have made one meanwhile: its wins.
                self.conn
                    .execute(
                        "INSERT OR IGNORE INTO stats_key (id, key) VALUES (0, ?1)",
                        params![&fresh[..]],
                    )
                    .and_then(|_| read(&self.conn))
                    .map_err(|e| self.sql(e))?
                    .unwrap_or(fresh.to_vec())
            }
        };
        let mut key = [0u8; 16];
        // A key of another length (a hand-edited file) still makes a key.
        for (k, b) in key.iter_mut().zip(bytes.iter().cycle()) {
            *k = *b;
        }
        Ok(key)
    }

    /// Stores what was seen in one transaction and removes the days that
    /// left the window. Returns how many new pollers and aggregator groups
    /// the daily cap or an address's share left out. Nothing is written
    /// unless it all is.
    pub fn save(&mut self, seen: &[Seen], window_days: u32, today: i64) -> Result<u64, StateError> {
        let tx = self.conn.transaction().map_err(|source| StateError::Sql {
            path: self.path.clone(),
            source,
        })?;
        let (scope, cap, per_address) = (self.scope.as_str(), self.cap, self.per_address);
        let written = (|| {
            let mut left_out = 0;
            let mut room: BTreeMap<i64, u64> = BTreeMap::new();
            let mut count_day = tx.prepare_cached(
                "SELECT (SELECT COUNT(*) FROM stats_pollers WHERE scope = ?1 AND day = ?2)
                      + (SELECT COUNT(*) FROM stats_aggregators WHERE scope = ?1 AND day = ?2)",
            )?;
            let mut share = tx.prepare_cached(
                "SELECT added FROM stats_sources
                 WHERE scope = ?1 AND day = ?2 AND feed = ?3 AND source = ?4",
            )?;
            let mut took = tx.prepare_cached(
                "INSERT INTO stats_sources (scope, feed, day, source, added)
                 VALUES (?1, ?2, ?3, ?4, 1)
                 ON CONFLICT (scope, day, feed, source) DO UPDATE SET added = added + 1",
            )?;
            let mut poller_known = tx.prepare_cached(
                "SELECT 1 FROM stats_pollers
                 WHERE scope = ?1 AND day = ?2 AND feed = ?3 AND poller = ?4",
            )?;
            let mut poller = tx.prepare_cached(
                "INSERT INTO stats_pollers (scope, feed, day, poller) VALUES (?1, ?2, ?3, ?4)",
            )?;
            let mut group_seen = tx.prepare_cached(
                "SELECT seen FROM stats_aggregators
                 WHERE scope = ?1 AND day = ?2 AND feed = ?3 AND aggregator = ?4 AND grp = ?5",
            )?;
            let mut group = tx.prepare_cached(
                "INSERT INTO stats_aggregators (scope, feed, day, aggregator, grp, subscribers, seen)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                 ON CONFLICT (scope, day, feed, aggregator, grp) DO UPDATE
                 SET subscribers = excluded.subscribers, seen = excluded.seen
                 WHERE excluded.seen >= seen",
            )?;
            for s in seen {
                let d = day(s.at);
                let feed = &*s.feed;
                // A row already kept is updated (an aggregator's newer
                // count) at no cost; only a new one takes room.
                let known = match &s.who {
                    // SQLite's integers are signed; the bits are the hash.
                    Who::Poller(hash) => poller_known
                        .query_row(params![scope, d, feed, *hash as i64], |_| Ok(()))
                        .optional()?
                        .is_some(),
                    Who::Aggregator { name, group, .. } => group_seen
                        .query_row(params![scope, d, feed, name, &**group], |_| Ok(()))
                        .optional()?
                        .is_some(),
                };
                if !known {
                    let room = match room.entry(d) {
                        std::collections::btree_map::Entry::Occupied(e) => e.into_mut(),
                        std::collections::btree_map::Entry::Vacant(e) => {
                            let n: u64 = count_day.query_row(params![scope, d], |r| r.get(0))?;
                            e.insert(cap.saturating_sub(n))
                        }
                    };
                    let used = match s.source {
                        Some(source) => share
                            .query_row(params![scope, d, feed, source as i64], |r| {
                                r.get::<_, u64>(0)
                            })
                            .optional()?
                            .unwrap_or(0),
                        None => 0,
                    };
                    if *room == 0 || used >= per_address {
                        left_out += 1;
                        continue;
                    }
                    *room -= 1;
                    if let Some(source) = s.source {
                        took.execute(params![scope, feed, d, source as i64])?;
                    }
                }
                match &s.who {
                    Who::Poller(hash) => {
                        if !known {
                            poller.execute(params![scope, feed, d, *hash as i64])?;
                        }
                    }
                    Who::Aggregator {
                        name,
                        group: grp,
                        subscribers,
                    } => {
                        let subscribers = i64::try_from(*subscribers).unwrap_or(i64::MAX);
                        group.execute(params![scope, feed, d, name, &**grp, subscribers, s.at])?;
                    }
                }
            }
            let oldest_kept = today - i64::from(window_days) + 1;
            for table in ["stats_pollers", "stats_aggregators", "stats_sources"] {
                tx.execute(
                    &format!("DELETE FROM {table} WHERE scope = ?1 AND day < ?2"),
                    params![scope, oldest_kept],
                )?;
            }
            Ok(left_out)
        })();
        written
            .and_then(|left_out| tx.commit().map(|()| left_out))
            .map_err(|source| StateError::Sql {
                path: self.path.clone(),
                source,
            })
    }

    /// The other source folders this state file has counts for, when this
    /// one has none: what `refeed stats` names, so that a wrong `--source`
    /// is told apart from a feed nobody polled.
    pub fn other_scopes(&self) -> Result<Vec<String>, StateError> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT scope FROM stats_pollers WHERE scope <> ?1
                 UNION SELECT scope FROM stats_aggregators WHERE scope <> ?1
                 ORDER BY 1",
            )
            .map_err(|e| self.sql(e))?;
        let rows = stmt
            .query_map(params![self.scope], |r| r.get::<_, String>(0))
            .map_err(|e| self.sql(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.sql(e))
    }

    /// Makes the file as full as a full disk would (`None`: no limit).
    #[cfg(test)]
    pub fn limit_pages(&self, pages: Option<u32>) {
        let pages = pages.unwrap_or(u32::MAX);
        self.conn
            .pragma_update(None, "max_page_count", pages)
            .unwrap();
    }

    /// The counts of every feed over the `window_days` days up to `today`:
    /// distinct pollers, and for each aggregator the sum over its groups
    /// of each group's latest count.
    pub fn counts(&self, window_days: u32, today: i64) -> Result<Counts, StateError> {
        let oldest = today - i64::from(window_days) + 1;
        let mut feeds: BTreeMap<String, FeedCount> = BTreeMap::new();
        let mut stmt = self
            .conn
            .prepare(
                "SELECT feed, COUNT(DISTINCT poller) FROM stats_pollers
                 WHERE scope = ?1 AND day >= ?2 GROUP BY feed",
            )
            .map_err(|e| self.sql(e))?;
        let rows = stmt
            .query_map(params![self.scope, oldest], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, u64>(1)?))
            })
            .map_err(|e| self.sql(e))?;
        for row in rows {
            let (feed, pollers) = row.map_err(|e| self.sql(e))?;
            feeds.entry(feed).or_default().pollers = pollers;
        }
        // With MAX(), SQLite takes the other columns from the row that
        // holds the maximum: each group's latest count.
        let mut stmt = self
            .conn
            .prepare(
                "SELECT feed, aggregator, subscribers, MAX(seen) FROM stats_aggregators
                 WHERE scope = ?1 AND day >= ?2 GROUP BY feed, aggregator, grp",
            )
            .map_err(|e| self.sql(e))?;
        let rows = stmt
            .query_map(params![self.scope, oldest], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, i64>(2)?,
                ))
            })
            .map_err(|e| self.sql(e))?;
        for row in rows {
            let (feed, aggregator, subscribers) = row.map_err(|e| self.sql(e))?;
            let sum = feeds
                .entry(feed)
                .or_default()
                .aggregators
                .entry(aggregator)
                .or_default();
            *sum = sum
                .saturating_add(u64::try_from(subscribers).unwrap_or(0))
                .min(super::MAX_TOTAL);
        }
        Ok(Counts { window_days, feeds })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn poller(feed: &str, at: i64, hash: u64) -> Seen {
        Seen {
            feed: feed.into(),
            source: None,
            at,
            who: Who::Poller(hash),
        }
    }

    fn feedly(feed: &str, at: i64, group: &str, subscribers: u64) -> Seen {
        Seen {
            feed: feed.into(),
            source: None,
            at,
            who: Who::Aggregator {
                name: "Feedly",
                group: group.into(),
                subscribers,
            },
        }
    }

    const DAY: i64 = 86_400;
    const T0: i64 = 20_000 * DAY;

    #[test]
    fn distinct_pollers_are_counted_over_the_window_only() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(dir.path(), "/a").unwrap();
        // The same poller on three days is one; another, 8 days before
        // the last day, is outside a 7-day window.
        let seen = [
            poller("", T0, 1),
            poller("", T0 + DAY, 1),
            poller("", T0 + 2 * DAY, 1),
            poller("", T0 + 2 * DAY, 2),
            poller("tags/x/", T0 + 2 * DAY, 2),
        ];
        store.save(&seen, 30, day(T0 + 2 * DAY)).unwrap();
        let counts = store.counts(7, day(T0 + 2 * DAY)).unwrap();
        assert_eq!(counts.feeds[""].pollers, 2);
        assert_eq!(counts.feeds["tags/x/"].pollers, 1);
        let later = store.counts(7, day(T0 + 7 * DAY)).unwrap();
        assert_eq!(later.feeds[""].pollers, 2, "day 2 is still in the window");
        let later = store.counts(7, day(T0 + 9 * DAY)).unwrap();
        assert!(later.feeds.is_empty(), "{later:?}");
        // Saving with the window moved removes the days that left it.
        store.save(&[], 7, day(T0 + 9 * DAY)).unwrap();
        let all = store.counts(30, day(T0 + 9 * DAY)).unwrap();
        assert!(all.feeds.is_empty(), "{all:?}");
    }

    #[test]
    fn each_aggregator_group_counts_with_its_latest_report() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(dir.path(), "/a").unwrap();
        let seen = [
            feedly("", T0 + 10, "rss.xml", 40),
            feedly("", T0 + 30, "rss.xml", 42),
            feedly("", T0 + 20, "rss.xml", 41),
            feedly("", T0 + 5, "atom.xml", 3),
        ];
        store.save(&seen, 7, day(T0)).unwrap();
        // A later day's report replaces an earlier day's.
        store
            .save(&[feedly("", T0 + DAY, "rss.xml", 39)], 7, day(T0 + DAY))
            .unwrap();
        let counts = store.counts(7, day(T0 + DAY)).unwrap();
        assert_eq!(counts.feeds[""].aggregators["Feedly"], 39 + 3);
        assert_eq!(counts.feeds[""].total(), 42);
        let other = Store::open(dir.path(), "/b").unwrap();
        assert!(other.counts(7, day(T0 + DAY)).unwrap().feeds.is_empty());
    }

    #[test]
    fn the_key_is_made_once() {
        let dir = tempfile::tempdir().unwrap();
        let key = Store::open(dir.path(), "/a").unwrap().key().unwrap();
        assert_eq!(Store::open(dir.path(), "/b").unwrap().key().unwrap(), key);
        let other = tempfile::tempdir().unwrap();
        assert_ne!(Store::open(other.path(), "/a").unwrap().key().unwrap(), key);
    }

    #[test]
    fn a_day_keeps_at_most_its_cap_of_pollers() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(dir.path(), "/a").unwrap();
        store.cap = 10;
        let seen: Vec<Seen> = (0..8).map(|h| poller("", T0, h)).collect();
        assert_eq!(store.save(&seen, 7, day(T0)).unwrap(), 0);
        // Pollers already stored take no room again.
        let again = (0..8).map(|h| poller("", T0, h));
        let seen: Vec<Seen> = again
            .chain((0..5).map(|h| poller("tags/x/", T0, h)))
            .collect();
        assert_eq!(store.save(&seen, 7, day(T0)).unwrap(), 3);
        let counts = store.counts(7, day(T0)).unwrap();
        assert_eq!(counts.feeds[""].pollers, 8);
        assert_eq!(counts.feeds["tags/x/"].pollers, 2);
    }

    fn from(source: u64, mut seen: Seen) -> Seen {
        seen.source = Some(source);
        seen
    }

    /// A flood of distinct aggregator groups (`Feedbin feed-id:{i}`) is
    /// held to the same daily cap as pollers; a group already kept still
    /// takes its newer count.
    #[test]
    fn aggregator_groups_count_against_the_daily_cap() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(dir.path(), "/a").unwrap();
        store.cap = 10;
        let seen: Vec<Seen> = (0..4)
            .map(|h| poller("", T0, h))
            .chain((0..20).map(|g| feedly("", T0, &g.to_string(), 1)))
            .collect();
        assert_eq!(store.save(&seen, 7, day(T0)).unwrap(), 14);
        let counts = store.counts(7, day(T0)).unwrap();
        assert_eq!(counts.feeds[""].pollers, 4);
        assert_eq!(counts.feeds[""].aggregators["Feedly"], 6);
        let newer = [feedly("", T0 + 1, "0", 5), feedly("", T0 + 1, "new", 5)];
        assert_eq!(store.save(&newer, 7, day(T0)).unwrap(), 1);
        let counts = store.counts(7, day(T0)).unwrap();
        assert_eq!(counts.feeds[""].aggregators["Feedly"], 10);
        // The next day has room again.
        let tomorrow = [feedly("", T0 + DAY, "new", 5)];
        assert_eq!(store.save(&tomorrow, 7, day(T0 + DAY)).unwrap(), 0);
    }

    /// One address with many User-Agents fills its own share of a feed's
    /// day, not the day: the others are still counted.
    #[test]
    fn one_address_cannot_use_up_the_daily_cap() {
        let dir = tempfile::tempdir().unwrap();
        let kept = 16;
        let mut store = Store::open(dir.path(), "/a")
            .unwrap()
            .with_per_address(Some(kept));
        store.cap = 100;
        let flood: Vec<Seen> = (0..50)
            .map(|h| from(7, poller("", T0, h)))
            .chain((0..50).map(|g| from(7, feedly("", T0, &g.to_string(), 1))))
            .collect();
        assert_eq!(store.save(&flood, 7, day(T0)).unwrap(), 100 - kept);
        // Pollers already kept poll again at no cost; the same address
        // has a share of another feed; other addresses are counted.
        let more: Vec<Seen> = (0..kept)
            .map(|h| from(7, poller("", T0, h)))
            .chain((0..3).map(|h| from(7, poller("tags/x/", T0, h))))
            .chain((1000..1020).map(|h| from(h, poller("", T0, h))))
            .collect();
        assert_eq!(store.save(&more, 7, day(T0)).unwrap(), 0);
        let counts = store.counts(7, day(T0)).unwrap();
        assert_eq!(counts.feeds[""].pollers, kept + 20);
        assert_eq!(counts.feeds["tags/x/"].pollers, 3);
    }
}
