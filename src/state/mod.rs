//! What `refeed serve` keeps across restarts, in one SQLite file under
//! `state_dir` (WAL mode): the validator (hash and
//! `Last-Modified`) of every document it served, by path, so that a
//! restart never dates changed bytes at or before a date a client already
//! holds. Other state lives in the same file, in tables of its own
//! (subscriber counts: `crate::subscribers::store`; WebSub subscriptions:
//! `crate::websub::store`). `refeed build` and `check` never open it.
//!
//! Only the reload thread reads and writes the validators: once before
//! the first snapshot, then after each publish. Requests never wait on it.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::DateTime;
use rusqlite::{Connection, params};

use crate::config::Config;
use crate::render::Validator;

mod history;

pub use history::{History, HistoryView, Retrier, StateHealth, StateReport};

/// The file inside `state_dir`.
pub const FILE: &str = "refeed.sqlite3";

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("cannot create {}: {source}", path.display())]
    Create {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: {source}", path.display())]
    Sql {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error("no state_dir set, and neither XDG_STATE_HOME nor HOME names a folder")]
    NoDefault,
}

/// `$XDG_STATE_HOME/refeed`, else `~/.local/state/refeed` (the XDG base
/// directory rules: a relative `XDG_STATE_HOME` is ignored).
pub fn default_dir() -> Option<PathBuf> {
    default_dir_from(std::env::var_os("XDG_STATE_HOME"), std::env::var_os("HOME"))
}

/// [`default_dir`] from the two variables. XDG's base folder is created
/// when missing, as the XDG spec says; a home folder that does not exist
/// (`nobody`'s `/nonexistent`) is no place to create one under.
fn default_dir_from(
    xdg_state_home: Option<std::ffi::OsString>,
    home: Option<std::ffi::OsString>,
) -> Option<PathBuf> {
    let absolute =
        |var: Option<std::ffi::OsString>| var.map(PathBuf::from).filter(|p| p.is_absolute());
    absolute(xdg_state_home)
        .map(|d| d.join("refeed"))
        .or_else(|| {
            absolute(home)
                .filter(|h| h.is_dir())
                .map(|h| h.join(".local/state/refeed"))
        })
}

/// The state file under `dir` (created with `dir` when missing), opened
/// as every user of it needs it: WAL, and a wait for the other writer.
/// Each table belongs to one module and is written by one thread.
///
/// The file holds the key of the pollers' hashes next to the hashes, so
/// it is for its owner only: a folder refeed creates is 0700, the file
/// 0600 (an older one is narrowed to it when refeed owns it), and SQLite
/// gives `-wal` and `-shm` the file's mode.
pub fn connect(dir: &Path) -> Result<(Connection, PathBuf), StateError> {
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
    let create = |path: &Path, source| StateError::Create {
        path: path.to_path_buf(),
        source,
    };
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| create(dir, e))?;
    let path = dir.join(FILE);
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
    {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            if let Ok(meta) = std::fs::metadata(&path)
                && meta.permissions().mode() & 0o077 != 0
            {
                // Another user's file is left as it is.
                let narrowed = std::fs::Permissions::from_mode(meta.permissions().mode() & 0o700);
                let _ = std::fs::set_permissions(&path, narrowed);
            }
        }
        Err(e) => return Err(create(&path, e)),
    }
    let sql = |source| StateError::Sql {
        path: path.clone(),
        source,
    };
    let conn = Connection::open(&path).map_err(sql)?;
    // WAL: a crash never leaves a torn table; NORMAL loses at most the
    // last write on power loss, which the rules for changed bytes
    // (dated "now" or later) make harmless, and which costs subscriber
    // counts at most their last flush.
    conn.busy_timeout(std::time::Duration::from_secs(5))
        .and_then(|()| conn.pragma_update(None, "journal_mode", "WAL"))
        .and_then(|()| conn.pragma_update(None, "synchronous", "NORMAL"))
        .map_err(sql)?;
    Ok((conn, path))
}

/// The configured `state_dir`, else the per-user default.
pub fn dir(config: &Config) -> Result<PathBuf, StateError> {
    config
        .state_dir
        .clone()
        .or_else(default_dir)
        .ok_or(StateError::NoDefault)
}

/// What rows are scoped by: the source folder, so that two instances
/// sharing the default `state_dir` keep apart.
pub fn scope(config: &Config) -> String {
    std::fs::canonicalize(&config.source_dir)
        .unwrap_or_else(|_| config.source_dir.clone())
        .to_string_lossy()
        .into_owned()
}

/// The SQLite store. Rows are scoped by source folder ([`scope`]).
pub struct Store {
    conn: Connection,
    path: PathBuf,
    scope: String,
}

impl Store {
    pub fn open(dir: &Path, scope: &str) -> Result<Store, StateError> {
        let (conn, path) = connect(dir)?;
        conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS documents (
                scope TEXT NOT NULL,
                path TEXT NOT NULL,
                hash TEXT NOT NULL,
                last_modified INTEGER NOT NULL,
                PRIMARY KEY (scope, path)
            ) WITHOUT ROWID;
            CREATE TABLE IF NOT EXISTS sessions (
                scope TEXT PRIMARY KEY,
                open INTEGER NOT NULL
            ) WITHOUT ROWID;",
        )
        .map_err(|source| StateError::Sql {
            path: path.clone(),
            source,
        })?;
        Ok(Store {
            conn,
            path,
            scope: scope.to_string(),
        })
    }

    fn sql(&self, source: rusqlite::Error) -> StateError {
        StateError::Sql {
            path: self.path.clone(),
            source,
        }
    }

    /// Every stored validator of this scope, by document path.
    pub fn validators(&self) -> Result<HashMap<String, Validator>, StateError> {
        let mut stmt = self
            .conn
            .prepare("SELECT path, hash, last_modified FROM documents WHERE scope = ?1")
            .map_err(|e| self.sql(e))?;
        let rows = stmt
            .query_map(params![self.scope], |row| {
                let seconds: i64 = row.get(2)?;
                Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?, seconds))
            })
            .map_err(|e| self.sql(e))?;
        let mut out = HashMap::new();
        for row in rows {
            let (path, hash, seconds) = row.map_err(|e| self.sql(e))?;
            // A date this build cannot represent is as good as unknown.
            if let Some(last_modified) = DateTime::from_timestamp(seconds, 0) {
                out.insert(
                    path,
                    Validator {
                        hash,
                        last_modified,
                    },
                );
            }
        }
        Ok(out)
    }

    /// Whether the last process serving this scope stopped without
    /// saying that every date it served is stored (a crash, or a disk
    /// that stayed full to the end).
    fn ended_unsaved(&self) -> Result<bool, StateError> {
        let open: Option<i64> = self
            .conn
            .query_row(
                "SELECT open FROM sessions WHERE scope = ?1",
                params![self.scope],
                |row| row.get(0),
            )
            .or_else(|e| match e {
                rusqlite::Error::QueryReturnedNoRows => Ok(None),
                e => Err(e),
            })
            .map_err(|e| self.sql(e))?;
        Ok(open == Some(1))
    }

    /// Stores `changed` and whether this process may still serve dates
    /// the file does not have (`open`), in one transaction.
    pub fn save(
        &mut self,
        changed: &[(Arc<str>, Validator)],
        open: bool,
    ) -> Result<(), StateError> {
        let tx = self.conn.transaction().map_err(|e| StateError::Sql {
            path: self.path.clone(),
            source: e,
        })?;
        let written = (|| {
            let mut stmt = tx.prepare_cached(
                "INSERT INTO documents (scope, path, hash, last_modified)
                 VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (scope, path) DO UPDATE
                 SET hash = excluded.hash, last_modified = excluded.last_modified",
            )?;
            for (path, v) in changed {
                stmt.execute(params![
                    self.scope,
                    &**path,
                    v.hash,
                    v.last_modified.timestamp()
                ])?;
            }
            tx.prepare_cached(
                "INSERT INTO sessions (scope, open) VALUES (?1, ?2)
                 ON CONFLICT (scope) DO UPDATE SET open = excluded.open",
            )?
            .execute(params![self.scope, i64::from(open)])?;
            Ok(())
        })();
        written
            .and_then(|()| tx.commit())
            .map_err(|source| StateError::Sql {
                path: self.path.clone(),
                source,
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use history::tests::v;

    #[test]
    fn validators_round_trip_per_scope() {
        let dir = tempfile::tempdir().unwrap();
        let mut a = Store::open(dir.path(), "/a").unwrap();
        a.save(&[("rss.xml".into(), v("h1", 1_600_000_000))], true)
            .unwrap();
        a.save(&[("rss.xml".into(), v("h2", 1_600_000_001))], true)
            .unwrap();
        drop(a);
        let a = Store::open(dir.path(), "/a").unwrap();
        let stored = a.validators().unwrap();
        assert_eq!(stored.len(), 1);
        assert_eq!(stored.get("rss.xml"), Some(&v("h2", 1_600_000_001)));
        let b = Store::open(dir.path(), "/b").unwrap();
        assert!(b.validators().unwrap().is_empty());
    }

    #[test]
    fn an_unusable_state_dir_is_an_error_not_a_panic() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("not-a-folder");
        std::fs::write(&file, "x").unwrap();
        assert!(Store::open(&file, "/a").is_err());
    }

    #[test]
    fn the_state_folder_and_file_are_for_their_owner_only() {
        use std::os::unix::fs::PermissionsExt;
        let home = tempfile::tempdir().unwrap();
        let dir = home.path().join("state/refeed");
        let mut store = Store::open(&dir, "/a").unwrap();
        store
            .save(&[("rss.xml".into(), v("h1", 1_600_000_000))], true)
            .unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&dir), 0o700);
        for name in [FILE, "refeed.sqlite3-wal", "refeed.sqlite3-shm"] {
            assert_eq!(mode(&dir.join(name)), 0o600, "{name}");
        }
        drop(store);
        // A file an earlier version made readable by all is narrowed.
        let file = dir.join(FILE);
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
        drop(Store::open(&dir, "/a").unwrap());
        assert_eq!(mode(&file), 0o600);
    }

    #[test]
    fn no_state_folder_under_a_home_that_does_not_exist() {
        let home = tempfile::tempdir().unwrap();
        let missing = home.path().join("nonexistent");
        assert_eq!(default_dir_from(None, Some(missing.clone().into())), None);
        assert!(!missing.exists());
        assert_eq!(
            default_dir_from(None, Some(home.path().into())),
            Some(home.path().join(".local/state/refeed"))
        );
        let xdg = home.path().join("xdg");
        assert_eq!(
            default_dir_from(Some(xdg.clone().into()), Some(missing.into())),
            Some(xdg.join("refeed"))
        );
        assert_eq!(default_dir_from(None, Some("relative".into())), None);
    }
}
