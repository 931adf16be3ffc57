//! At most `server.max_connections_per_ip` open connections per client
//! address, so that one host cannot take every connection of
//! `server.max_connections`. Counted once per connection (at accept and
//! on close), never per request, in a lock-free map shared by the workers.

use std::net::{IpAddr, Ipv6Addr};
use std::sync::Arc;

use papaya::{Compute, Operation};

pub struct PeerLimit {
    cap: usize,
    open: papaya::HashMap<IpAddr, usize>,
}

/// One admitted connection; dropping it (with the connection) frees its
/// place.
pub struct Admitted {
    limit: Arc<PeerLimit>,
    ip: IpAddr,
}

impl PeerLimit {
    pub fn new(cap: usize) -> Arc<Self> {
        Arc::new(PeerLimit {
            cap,
            open: papaya::HashMap::new(),
        })
    }

    /// A place for one more connection from `ip`, if it has one left.
    pub fn admit(self: &Arc<Self>, ip: IpAddr) -> Option<Admitted> {
        let ip = client(ip);
        let open = self.open.pin();
        let result = open.compute(ip, |held| match held {
            None => Operation::Insert(1),
            Some((_, &n)) if n < self.cap => Operation::Insert(n + 1),
            Some(_) => Operation::Abort(()),
        });
        match result {
            Compute::Aborted(()) => None,
            _ => Some(Admitted {
                limit: self.clone(),
                ip,
            }),
        }
    }

    #[cfg(test)]
    fn held(&self, ip: IpAddr) -> usize {
        self.open.pin().get(&ip).copied().unwrap_or(0)
    }
}

/// The address a client is counted under: an IPv4 address as it is (also
/// when mapped into IPv6), an IPv6 address by its /64, which one host
/// usually holds whole and could otherwise rotate through.
fn client(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(Ipv6Addr::from(u128::from(v6) & !u128::from(u64::MAX))),
        },
    }
}

impl Drop for Admitted {
    fn drop(&mut self) {
        self.limit.open.pin().compute(self.ip, |held| match held {
            Some((_, &n)) if n > 1 => Operation::Insert(n - 1),
            Some(_) => Operation::Remove,
            None => Operation::Abort(()),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn places_are_per_address_and_come_back_on_drop() {
        let limit = PeerLimit::new(2);
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        let first = limit.admit(a).unwrap();
        let second = limit.admit(a).unwrap();
        assert!(limit.admit(a).is_none());
        let other = limit.admit(b).unwrap();
        drop(first);
        assert_eq!(limit.held(a), 1);
        let third = limit.admit(a).unwrap();
        assert!(limit.admit(a).is_none());
        drop((second, third, other));
        assert_eq!(limit.held(a), 0);
        assert_eq!(limit.held(b), 0);
    }

    #[test]
    fn an_ipv6_host_is_counted_by_its_64() {
        let limit = PeerLimit::new(1);
        let one: IpAddr = "2001:db8:1:2::1".parse().unwrap();
        let other_in_64: IpAddr = "2001:db8:1:2:ffff::9".parse().unwrap();
        let next_64: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        let _held = limit.admit(one).unwrap();
        assert!(limit.admit(other_in_64).is_none());
        assert!(limit.admit(next_64).is_some());
        let mapped: IpAddr = "::ffff:10.0.0.1".parse().unwrap();
        let _v4 = limit.admit(mapped).unwrap();
        assert!(limit.admit("10.0.0.1".parse().unwrap()).is_none());
    }
}
