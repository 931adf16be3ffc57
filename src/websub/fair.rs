//! Fairness between callback hosts: at most a quarter of the pool's threads
//! (at least one) work for one host at once, and owed deliveries are handed
//! out one host at a time in turn, so a host whose callbacks are slow or
//! many delays its own jobs and no other host's (found by the fifth
//! attack: 99 callbacks that answered after the timeout held every thread,
//! and a subscriber on another host waited 20.7 s).

use std::collections::{BTreeMap, HashMap};

use url::Url;

use super::Key;

/// A callback's host as the limits name it (`max_per_callback_host` too).
pub fn host(callback: &Url) -> &str {
    callback.host_str().unwrap_or("")
}

/// Jobs (verifications, denials, deliveries) in the pool by callback host.
pub struct Hosts {
    per_host: usize,
    busy: HashMap<String, usize>,
    /// The host the last round of deliveries ended with; the next round
    /// starts after it.
    last: Option<String>,
}

impl Hosts {
    pub fn new(concurrency: usize) -> Hosts {
        Hosts {
            per_host: per_host(concurrency),
            busy: HashMap::new(),
            last: None,
        }
    }

    /// How many more jobs `host` may have in the pool now.
    pub fn room(&self, host: &str) -> usize {
        let busy = self.busy.get(host).copied().unwrap_or(0);
        self.per_host.saturating_sub(busy)
    }

    pub fn took(&mut self, host: &str) {
        *self.busy.entry(host.to_string()).or_default() += 1;
    }

    /// A job of `host` is back from the pool.
    pub fn done(&mut self, host: &str) {
        if let Some(busy) = self.busy.get_mut(host) {
            *busy = busy.saturating_sub(1);
            if *busy == 0 {
                self.busy.remove(host);
            }
        }
    }

    /// Up to `most` of `due` (by host, each at most its room), one host at
    /// a time in turn, beginning after the host the last call ended with.
    pub fn in_turn(&mut self, due: BTreeMap<String, Vec<Key>>, most: usize) -> Vec<(String, Key)> {
        let (after, upto): (Vec<_>, Vec<_>) = due
            .into_iter()
            .partition(|(host, _)| self.last.as_ref().is_some_and(|last| host > last));
        let mut queues: Vec<(String, std::vec::IntoIter<Key>)> = (after.into_iter())
            .chain(upto)
            .map(|(host, keys)| (host, keys.into_iter()))
            .collect();
        let mut picked = Vec::new();
        while picked.len() < most && !queues.is_empty() {
            queues.retain_mut(|(host, keys)| {
                if picked.len() >= most {
                    return true;
                }
                let Some(key) = keys.next() else {
                    return false;
                };
                picked.push((host.clone(), key));
                true
            });
        }
        if let Some((host, _)) = picked.last() {
            self.last = Some(host.clone());
        }
        picked
    }
}

/// A host's jobs in the pool at most: a quarter of its threads, so three
/// quarters stay for the others, and at least one.
pub fn per_host(concurrency: usize) -> usize {
    (concurrency / 4).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(host: &str, n: usize) -> (String, Vec<Key>) {
        let keys = (0..n)
            .map(|i| ("t".to_string(), format!("http://{host}/{i}")))
            .collect();
        (host.to_string(), keys)
    }

    #[test]
    fn hosts_take_turns_and_the_next_call_goes_on_from_the_last() {
        let mut hosts = Hosts::new(16);
        let due = BTreeMap::from([keys("a", 3), keys("b", 1), keys("c", 2)]);
        let order: Vec<String> = (hosts.in_turn(due.clone(), 4).into_iter())
            .map(|(h, _)| h)
            .collect();
        assert_eq!(order, ["a", "b", "c", "a"]);
        let order: Vec<String> = (hosts.in_turn(due, 2).into_iter())
            .map(|(h, _)| h)
            .collect();
        assert_eq!(order, ["b", "c"]);
    }

    #[test]
    fn a_host_has_room_for_a_quarter_of_the_pool() {
        let mut hosts = Hosts::new(16);
        assert_eq!(hosts.room("a"), 4);
        (0..4).for_each(|_| hosts.took("a"));
        assert_eq!(hosts.room("a"), 0);
        assert_eq!(hosts.room("b"), 4);
        hosts.done("a");
        assert_eq!(hosts.room("a"), 1);
        assert_eq!(per_host(1), 1);
        assert_eq!(per_host(3), 1);
    }
}
