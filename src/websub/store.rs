//! The hub's tables in the state file (`state::connect`: WAL, so a crash
//! loses nothing committed): verified subscriptions with their leases and
//! secrets, and the deliveries still owed. Written by the hub thread
//! alone; rows are scoped by source folder as the validators are.

use rusqlite::{Connection, params};

use crate::config::Config;
use crate::state::StateError;

/// A verified subscription as stored. `expires` in Unix seconds.
#[derive(Debug, Clone)]
pub struct Row {
    pub topic: String,
    pub callback: String,
    pub secret: Option<Vec<u8>>,
    pub expires: i64,
}

/// A delivery still owed: attempts made, and when the next is due (Unix
/// milliseconds).
#[derive(Debug, Clone)]
pub struct Owed {
    pub topic: String,
    pub callback: String,
    pub attempts: u32,
    pub due_ms: i64,
}

/// One change to the stored state of a (topic, callback) pair.
#[derive(Debug, Clone)]
pub enum Write {
    Subscribe(Row),
    /// Removes the subscription row only; what it was owed is a
    /// [`Write::Settle`] of its own.
    Unsubscribe {
        topic: String,
        callback: String,
    },
    Owe(Owed),
    Settle {
        topic: String,
        callback: String,
    },
}

pub struct Store {
    conn: Connection,
    scope: String,
}

impl Store {
    /// `None` (with a warning) when the state file cannot be used: the hub
    /// then works from memory, and a restart forgets its subscribers.
    pub fn open(config: &Config) -> Option<Store> {
        let opened = crate::state::dir(config)
            .and_then(|dir| crate::state::connect(&dir))
            .and_then(|(conn, path)| {
                conn.execute_batch(
                    "CREATE TABLE IF NOT EXISTS websub_subscriptions (
                        scope TEXT NOT NULL,
                        topic TEXT NOT NULL,
                        callback TEXT NOT NULL,
                        secret BLOB,
                        expires INTEGER NOT NULL,
                        PRIMARY KEY (scope, topic, callback)
                    ) WITHOUT ROWID;
                    CREATE TABLE IF NOT EXISTS websub_pending (
                        scope TEXT NOT NULL,
                        topic TEXT NOT NULL,
                        callback TEXT NOT NULL,
                        attempts INTEGER NOT NULL,
                        due_ms INTEGER NOT NULL,
                        PRIMARY KEY (scope, topic, callback)
                    ) WITHOUT ROWID;",
                )
                .map_err(|source| StateError::Sql { path, source })?;
                Ok(conn)
            });
        match opened {
            Ok(conn) => Some(Store {
                conn,
                scope: crate::state::scope(config),
            }),
            Err(e) => {
                tracing::warn!("websub: state unusable ({e}); subscriptions last until a restart");
                None
            }
        }
    }

    pub fn load(&self) -> rusqlite::Result<(Vec<Row>, Vec<Owed>)> {
        let mut stmt = self.conn.prepare(
            "SELECT topic, callback, secret, expires FROM websub_subscriptions WHERE scope = ?1",
        )?;
        let rows = stmt
            .query_map(params![self.scope], |r| {
                Ok(Row {
                    topic: r.get(0)?,
                    callback: r.get(1)?,
                    secret: r.get(2)?,
                    expires: r.get(3)?,
                })
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        let mut stmt = self.conn.prepare(
            "SELECT topic, callback, attempts, due_ms FROM websub_pending WHERE scope = ?1",
        )?;
        let owed = stmt
            .query_map(params![self.scope], |r| {
                Ok(Owed {
                    topic: r.get(0)?,
                    callback: r.get(1)?,
                    attempts: r.get(2)?,
                    due_ms: r.get(3)?,
                })
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok((rows, owed))
    }

    /// Writes `writes` in one transaction: all of them or, on an error
    /// (a full disk), none, so the caller can keep them all to retry.
    pub fn save(&mut self, writes: &[Write]) -> rusqlite::Result<()> {
        let tx = self.conn.transaction()?;
        for write in writes {
            match write {
                Write::Subscribe(row) => tx
                    .prepare_cached(
                        "INSERT INTO websub_subscriptions (scope, topic, callback, secret, expires)
                         VALUES (?1, ?2, ?3, ?4, ?5)
                         ON CONFLICT (scope, topic, callback) DO UPDATE
                         SET secret = excluded.secret, expires = excluded.expires",
                    )?
                    .execute(params![
                        self.scope,
                        row.topic,
                        row.callback,
                        row.secret,
                        row.expires
                    ])?,
                Write::Unsubscribe { topic, callback } => tx
                    .prepare_cached(
                        "DELETE FROM websub_subscriptions
                         WHERE scope = ?1 AND topic = ?2 AND callback = ?3",
                    )?
                    .execute(params![self.scope, topic, callback])?,
                Write::Owe(o) => tx
                    .prepare_cached(
                        "INSERT INTO websub_pending (scope, topic, callback, attempts, due_ms)
                         VALUES (?1, ?2, ?3, ?4, ?5)
                         ON CONFLICT (scope, topic, callback) DO UPDATE
                         SET attempts = excluded.attempts, due_ms = excluded.due_ms",
                    )?
                    .execute(params![
                        self.scope, o.topic, o.callback, o.attempts, o.due_ms
                    ])?,
                Write::Settle { topic, callback } => tx
                    .prepare_cached(
                        "DELETE FROM websub_pending WHERE scope = ?1 AND topic = ?2 AND callback = ?3",
                    )?
                    .execute(params![self.scope, topic, callback])?,
            };
        }
        tx.commit()
    }

    /// Makes every later write fail (`true`) as a full disk would, or work
    /// again (`false`).
    #[cfg(test)]
    pub fn refuse_writes(&self, refuse: bool) {
        let pragma = format!("PRAGMA query_only = {}", i32::from(refuse));
        self.conn.execute_batch(&pragma).expect("PRAGMA query_only");
    }
}
