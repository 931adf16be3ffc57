//! What the store is behind on. The hub thread changes its memory first
//! and notes which rows of a (topic, callback) pair changed; [`Saving::save`]
//! then writes each noted pair as memory has it now, in one transaction.
//! A write that fails (a full disk) leaves the notes in place, so nothing
//! the hub acknowledged is dropped: it is retried, less and less often, on
//! later wake-ups and once more when the hub stops, and counted as unsaved
//! for `/healthz` meanwhile (found by the fifth attack: such a subscription
//! was only in memory, unreported, and gone after a restart).

use std::collections::HashMap;

use super::Key;
use super::store::{Owed, Row, Store, Write};

/// The first retry of a failed save; each next one waits twice as long.
const FIRST_RETRY_MS: i64 = 1000;

/// The longest wait between two attempts: a store that works again is
/// noticed within this (found by the sixth attack: with a minute, a stop
/// soon after the disk recovered still lost what was unsaved).
const LAST_RETRY_MS: i64 = 10_000;

/// Which of a pair's rows the store does not have as memory does.
#[derive(Debug, Default, Clone, Copy)]
struct Behind {
    subscription: bool,
    owed: bool,
}

/// Since when saving fails: when to try next, and how long to wait after.
struct Failing {
    next_ms: i64,
    delay_ms: i64,
}

pub struct Saving {
    store: Store,
    behind: HashMap<Key, Behind>,
    failing: Option<Failing>,
}

/// What memory holds of a pair, as the rows the store would.
pub struct Current {
    pub subscription: Option<Row>,
    pub owed: Option<Owed>,
}

impl Saving {
    pub fn new(store: Store) -> Saving {
        Saving {
            store,
            behind: HashMap::new(),
            failing: None,
        }
    }

    pub fn load(&self) -> rusqlite::Result<(Vec<Row>, Vec<Owed>)> {
        self.store.load()
    }

    /// A subscription was made, renewed or ended.
    pub fn subscription_changed(&mut self, key: &Key) {
        self.note(key).subscription = true;
    }

    /// A delivery became owed, was retried, settled or given up.
    pub fn owed_changed(&mut self, key: &Key) {
        self.note(key).owed = true;
    }

    fn note(&mut self, key: &Key) -> &mut Behind {
        self.behind.entry(key.clone()).or_default()
    }

    /// Subscriptions whose last change the store does not have yet.
    pub fn unsaved(&self) -> usize {
        self.behind.len()
    }

    /// When the next attempt is due, while saving fails.
    pub fn next_retry(&self) -> Option<i64> {
        let failing = self.failing.as_ref()?;
        (!self.behind.is_empty()).then_some(failing.next_ms)
    }

    /// Makes the next [`Saving::save`] an attempt whatever the retry
    /// delay: the last one, when the hub stops.
    pub fn retry_now(&mut self) {
        if let Some(failing) = &mut self.failing {
            failing.next_ms = i64::MIN;
        }
    }

    /// Writes every noted pair as `current` says memory has it. While
    /// saving fails, only when the next retry is due: a full disk costs an
    /// attempt per retry delay, not one per message.
    pub fn save(&mut self, now_ms: i64, current: impl Fn(&Key) -> Current) {
        if self.behind.is_empty() {
            return;
        }
        if self.failing.as_ref().is_some_and(|f| now_ms < f.next_ms) {
            return;
        }
        let writes: Vec<Write> = (self.behind.iter())
            .flat_map(|(key, behind)| writes(key, *behind, current(key)))
            .collect();
        match self.store.save(&writes) {
            Ok(()) => {
                if self.failing.take().is_some() {
                    tracing::info!(
                        written = self.behind.len(),
                        "websub: state saved again; nothing is kept in memory only"
                    );
                }
                self.behind.clear();
            }
            Err(e) => self.failed(now_ms, &e),
        }
    }

    fn failed(&mut self, now_ms: i64, e: &rusqlite::Error) {
        let delay_ms = match &self.failing {
            Some(f) => (f.delay_ms * 2).min(LAST_RETRY_MS),
            None => {
                tracing::warn!(
                    unsaved = self.behind.len(),
                    "websub: cannot save state ({e}); subscriptions are kept in memory \
                     and saved when it works again (/healthz: unsaved_subscriptions)"
                );
                FIRST_RETRY_MS
            }
        };
        self.failing = Some(Failing {
            next_ms: now_ms.saturating_add(delay_ms),
            delay_ms,
        });
    }

    /// Makes the store refuse (or take again) every write.
    #[cfg(test)]
    pub fn refuse_writes(&self, refuse: bool) {
        self.store.refuse_writes(refuse);
    }
}

/// The writes that bring the store to `current` for the rows `behind`.
fn writes(key: &Key, behind: Behind, current: Current) -> impl Iterator<Item = Write> {
    let (topic, callback) = (key.0.clone(), key.1.clone());
    let subscription = behind.subscription.then(|| {
        current.subscription.map_or_else(
            || Write::Unsubscribe {
                topic: topic.clone(),
                callback: callback.clone(),
            },
            Write::Subscribe,
        )
    });
    let owed = behind.owed.then(|| {
        current
            .owed
            .map_or_else(|| Write::Settle { topic, callback }, Write::Owe)
    });
    subscription.into_iter().chain(owed)
}
