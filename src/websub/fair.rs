//! Fairness between callback hosts: at most a quarter of the pool's threads
//! (at least one) work for one host at once, and owed deliveries are handed
//! out one host at a time in turn, so a host whose callbacks are slow or
//! many delays its own jobs and no other host's (found by the fifth
//! attack: 99 callbacks that answered after the timeout held every thread,
//! and a subscriber on another host waited 20.7 s).
//!
//! A "host" here is the party that controls the callback, not its literal
//! name: several names for one server, or a wildcard domain's endless
//! names, would each have had a share (found by the re-attack of the sixth:
//! `localhost`, `runsc`, `vm` and `[::ffff:127.0.0.1]` took the whole pool).

use std::collections::{BTreeMap, HashMap};
use std::net::{Ipv4Addr, Ipv6Addr};

use url::{Host, Url};

use super::Key;

/// The party a callback's share, turn and limits (`max_per_callback_host`
/// too) are counted for: a domain name's registrable domain by the Public
/// Suffix List (the name itself, lower-cased, when it has none, as
/// `localhost` or a suffix), an address's /24 (IPv4, which an IPv6 address
/// embedding one is taken as) or /48 (IPv6): what one owner holds at once.
pub fn party(callback: &Url) -> String {
    match callback.host() {
        Some(Host::Domain(name)) => domain_party(name),
        Some(Host::Ipv4(ip)) => v4_party(ip),
        Some(Host::Ipv6(ip)) => match ip.to_ipv4() {
            Some(v4) if !ip.is_loopback() && !ip.is_unspecified() => v4_party(v4),
            _ => v6_party(ip),
        },
        None => String::new(),
    }
}

fn domain_party(name: &str) -> String {
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    match psl::domain_str(&name) {
        Some(registrable) => registrable.to_string(),
        None => name,
    }
}

fn v4_party(ip: Ipv4Addr) -> String {
    let [a, b, c, _] = ip.octets();
    format!("{a}.{b}.{c}.0/24")
}

fn v6_party(ip: Ipv6Addr) -> String {
    let s = ip.segments();
    format!("{:x}:{:x}:{:x}::/48", s[0], s[1], s[2])
}

/// Jobs (verifications, denials, deliveries) in the pool by [`party`].
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

    fn party_of(url: &str) -> String {
        party(&Url::parse(url).unwrap())
    }

    #[test]
    fn every_subdomain_of_a_registrable_domain_is_one_party() {
        let evil = party_of("https://evil.example/cb");
        assert_eq!(evil, "evil.example");
        assert_eq!(party_of("https://a.evil.example/cb"), evil);
        assert_eq!(party_of("http://B.x.Evil.Example.:8080/cb"), evil);
        assert_ne!(party_of("https://other.example/cb"), evil);
    }

    #[test]
    fn a_public_suffix_of_several_labels_is_not_one_party() {
        let example = party_of("https://a.example.co.uk/cb");
        assert_eq!(example, "example.co.uk");
        assert_eq!(party_of("https://b.example.co.uk/cb"), example);
        assert_eq!(party_of("https://example.co.uk/cb"), example);
        assert_ne!(party_of("https://other.co.uk/cb"), example);
        assert_eq!(party_of("https://co.uk/cb"), "co.uk");
    }

    #[test]
    fn a_name_without_a_registrable_domain_is_its_own_party() {
        assert_eq!(party_of("http://localhost/cb"), "localhost");
        assert_eq!(party_of("http://LocalHost./cb"), "localhost");
        assert_ne!(party_of("http://runsc/cb"), party_of("http://vm/cb"));
    }

    #[test]
    fn addresses_of_one_network_are_one_party_however_written() {
        let local = party_of("http://127.0.0.1/cb");
        assert_eq!(party_of("http://[::ffff:127.0.0.1]/cb"), local);
        assert_eq!(party_of("http://[::127.0.0.1]/cb"), local);
        assert_eq!(party_of("http://127.0.0.9:81/cb"), local);
        assert_eq!(party_of("http://2130706433/cb"), local);
        assert_ne!(party_of("http://127.0.1.1/cb"), local);
        let v6 = party_of("http://[2001:db8:1::1]/cb");
        assert_eq!(party_of("http://[2001:db8:1:ffff::2]/cb"), v6);
        assert_ne!(party_of("http://[2001:db8:2::1]/cb"), v6);
        assert_ne!(party_of("http://[::1]/cb"), party_of("http://0.0.0.1/cb"));
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
