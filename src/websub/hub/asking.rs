//! Verifications and denials waiting in the hub thread for their callback
//! host's room in the pool. Their number is bounded; at the bound, room is
//! made by the host with the most waiting, never by a host with few (found
//! by the sixth attack: one slow host's 1,100 requests filled the whole
//! queue, and every other host's request was dropped after its 202 for
//! ~43 minutes).

use std::collections::{HashMap, VecDeque};

use crate::websub::fair;
use crate::websub::outbound::Job;

pub struct Asking {
    /// Oldest first, each with its callback's [`fair::party`].
    jobs: VecDeque<(String, Job)>,
    /// How many of `jobs` each party has.
    by_party: HashMap<String, usize>,
}

impl Asking {
    pub fn new() -> Asking {
        Asking {
            jobs: VecDeque::new(),
            by_party: HashMap::new(),
        }
    }

    /// Queues `job`; its party.
    pub fn push(&mut self, job: Job) -> String {
        let party = job.callback().map(fair::party).unwrap_or_default();
        *self.by_party.entry(party.clone()).or_default() += 1;
        self.jobs.push_back((party.clone(), job));
        party
    }

    /// Drops and returns the oldest job of the party with the most waiting
    /// (on a tie, of `newcomer`'s party, which just reached it).
    pub fn drop_from_busiest(&mut self, newcomer: &str) -> Option<Job> {
        let busiest = (self.by_party.iter())
            .max_by_key(|&(party, &n)| (n, party == newcomer))
            .map(|(party, _)| party.clone())?;
        let at = self.jobs.iter().position(|(p, _)| *p == busiest)?;
        self.remove(at).map(|(_, job)| job)
    }

    /// Takes the oldest job whose party `has_room`, with that party.
    pub fn next(&mut self, has_room: impl Fn(&str) -> bool) -> Option<(String, Job)> {
        let at = self.jobs.iter().position(|(p, _)| has_room(p))?;
        self.remove(at)
    }

    fn remove(&mut self, at: usize) -> Option<(String, Job)> {
        let (party, job) = self.jobs.remove(at)?;
        if let Some(n) = self.by_party.get_mut(&party) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                self.by_party.remove(&party);
            }
        }
        Some((party, job))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc::Receiver;

    use url::Url;

    use super::*;
    use crate::websub::hub::now_ms;
    use crate::websub::hub::tests::{CALLBACK, TOPIC, hub, request, subscription};
    use crate::websub::request::Mode;

    /// The verifications in the pool's queue: callback and mode.
    fn verifications(queue: &Receiver<Job>) -> Vec<(Url, &'static str)> {
        (queue.try_iter())
            .filter_map(|j| match j {
                Job::Verify { request, .. } => Some((request.callback, request.mode.name())),
                _ => None,
            })
            .collect()
    }

    /// Found by the sixth attack: callbacks on one slow host filled the
    /// whole queue of waiting verifications, and another host's subscribe
    /// and unsubscribe requests were dropped after their 202.
    #[test]
    fn a_slow_hosts_requests_never_crowd_out_another_hosts() {
        let (mut hub, queue, _snap) = hub();
        let bound = hub.config.concurrency * 64;
        let extra = 100;
        for i in 0..bound + extra {
            let callback = format!("https://slow.example/{i}");
            hub.request(request(&callback, subscription(b"k")));
            // The host's share goes to the pool and, slow, never returns.
            hub.dispatch(now_ms());
        }
        let newcomer = "https://fast.example/cb";
        hub.request(request(newcomer, subscription(b"k")));
        hub.request(request(CALLBACK, Mode::Unsubscribe));
        hub.dispatch(now_ms());

        let sent = verifications(&queue);
        let on = |host: &str| -> Vec<&str> {
            (sent.iter())
                .filter(|(u, _)| u.host_str() == Some(host))
                .map(|(_, mode)| *mode)
                .collect()
        };
        let share = crate::websub::fair::per_host(hub.config.concurrency);
        assert_eq!(on("slow.example").len(), share);
        let (fast, reader) = (on("fast.example"), on("reader.example"));
        assert_eq!((fast, reader), (vec!["subscribe"], vec!["unsubscribe"]));
        // Room was made by the slow host, one of its own per newcomer.
        assert_eq!(hub.counts.read().dropped, extra as u64 + 2);

        hub.verified(request(newcomer, subscription(b"k")), Ok(()));
        hub.verified(request(CALLBACK, Mode::Unsubscribe), Ok(()));
        assert!(hub.exists(TOPIC, newcomer));
        assert!(!hub.exists(TOPIC, CALLBACK));
    }

    /// Found by the re-attack of the sixth: verifications for several
    /// names of one domain had a share of the pool for each name.
    #[test]
    fn several_names_of_one_domain_wait_for_one_share_of_the_pool() {
        let (mut hub, queue, _snap) = hub();
        let names = [
            "slow.example",
            "a.slow.example",
            "b.slow.example",
            "c.slow.example",
        ];
        for (i, name) in names.iter().cycle().take(40).enumerate() {
            hub.request(request(&format!("https://{name}/{i}"), subscription(b"k")));
        }
        hub.request(request("https://fast.example/cb", subscription(b"k")));
        hub.dispatch(now_ms());
        let sent = verifications(&queue);
        let slow = (sent.iter())
            .filter(|(u, _)| u.host_str().is_some_and(|h| h.ends_with("slow.example")))
            .count();
        let fast = (sent.iter())
            .filter(|(u, _)| u.host_str() == Some("fast.example"))
            .count();
        assert_eq!((slow, fast), (fair::per_host(hub.config.concurrency), 1));
    }
}
