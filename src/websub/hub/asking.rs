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
    /// Oldest first.
    jobs: VecDeque<Job>,
    /// How many of `jobs` each host has.
    by_host: HashMap<String, usize>,
}

fn host(job: &Job) -> &str {
    job.callback().map_or("", fair::host)
}

impl Asking {
    pub fn new() -> Asking {
        Asking {
            jobs: VecDeque::new(),
            by_host: HashMap::new(),
        }
    }

    pub fn push(&mut self, job: Job) {
        *self.by_host.entry(host(&job).to_string()).or_default() += 1;
        self.jobs.push_back(job);
    }

    /// Drops the oldest job of the host with the most waiting (on a tie,
    /// of `newcomer`'s host, which just reached it); that host.
    pub fn drop_from_busiest(&mut self, newcomer: &str) -> Option<String> {
        let (busiest, _) = (self.by_host.iter())
            .max_by_key(|&(host, &n)| (n, host == newcomer))
            .map(|(host, &n)| (host.clone(), n))?;
        let at = self.jobs.iter().position(|j| host(j) == busiest)?;
        self.remove(at).map(|_| busiest)
    }

    /// Takes the oldest job whose host `has_room`.
    pub fn next(&mut self, has_room: impl Fn(&str) -> bool) -> Option<Job> {
        let at = self.jobs.iter().position(|j| has_room(host(j)))?;
        self.remove(at)
    }

    fn remove(&mut self, at: usize) -> Option<Job> {
        let job = self.jobs.remove(at)?;
        let h = host(&job);
        if let Some(n) = self.by_host.get_mut(h) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                self.by_host.remove(h);
            }
        }
        Some(job)
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
}
