//! Every request the hub makes to a URL a stranger gave it, on a fixed pool
//! of threads (`websub.concurrency`), each bounded by `websub.timeout`,
//! without redirects or proxies, through a resolver that drops loopback,
//! private, link-local and multicast addresses after DNS: the check holds
//! for the address actually connected to, at verification and at every
//! delivery alike.

use std::io::Read;
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::sync::mpsc::{Receiver, Sender, SyncSender};
use std::sync::{Arc, Mutex};

use hmac::{Hmac, Mac};
use sha2::Sha256;
use url::Url;

use super::command::{Command, Delivered};
use super::request::{Request, Secret};
use crate::config::WebSub;

/// A challenge echo longer than this is wrong anyway: one byte more is
/// read, to know, and no further.
const MAX_ECHO_BYTES: u64 = 1024;

pub enum Job {
    /// Verification of intent (§5.3): `challenge` must come back.
    Verify { request: Request, challenge: String },
    /// §5.2: the subscription is refused.
    Deny {
        topic: String,
        callback: Url,
        reason: &'static str,
    },
    /// Content distribution (§7).
    Deliver(Delivery),
    /// Tells another hub that `topic` changed.
    Ping { hub: Url, topic: String },
}

impl Job {
    /// Where the job goes, when that is a callback (a ping goes to a hub
    /// of `websub.hubs`).
    pub fn callback(&self) -> Option<&Url> {
        match self {
            Job::Verify { request, .. } => Some(&request.callback),
            Job::Deny { callback, .. } => Some(callback),
            Job::Deliver(d) => Some(&d.callback),
            Job::Ping { .. } => None,
        }
    }
}

pub struct Delivery {
    pub topic: String,
    pub callback: Url,
    pub secret: Option<Secret>,
    pub body: Arc<[u8]>,
    pub content_type: &'static str,
    pub link: String,
}

/// Starts the pool; jobs wait in the channel, the hub thread bounds how
/// many it queues.
pub fn start(config: &WebSub, results: SyncSender<Command>) -> Sender<Job> {
    let agent = ureq::AgentBuilder::new()
        .timeout(config.timeout)
        .redirects(0)
        // A fan-out to many callbacks on one host reuses a connection per
        // thread of its share (`fair::per_host`, the most it has at once)
        // instead of opening one per delivery; an idle connection was made
        // to an address the resolver allowed, so reuse keeps the check.
        .max_idle_connections(config.concurrency * 4)
        .max_idle_connections_per_host(super::fair::per_host(config.concurrency))
        .user_agent(concat!(
            "refeed/",
            env!("CARGO_PKG_VERSION"),
            " (WebSub hub)"
        ))
        .resolver(Guard {
            allow_private: config.allow_private_callbacks,
        })
        .build();
    let (jobs, queue) = std::sync::mpsc::channel::<Job>();
    let queue = Arc::new(Mutex::new(queue));
    for i in 0..config.concurrency {
        let (agent, queue, results) = (agent.clone(), queue.clone(), results.clone());
        let spawned = std::thread::Builder::new()
            .name(format!("websub-{i}"))
            .spawn(move || work(&agent, &queue, &results));
        if let Err(e) = spawned {
            tracing::error!("websub: cannot start an outbound thread: {e}");
        }
    }
    jobs
}

fn work(agent: &ureq::Agent, queue: &Mutex<Receiver<Job>>, results: &SyncSender<Command>) {
    loop {
        let job = match queue.lock().unwrap_or_else(|p| p.into_inner()).recv() {
            Ok(job) => job,
            Err(_) => return,
        };
        let result = match job {
            Job::Verify { request, challenge } => {
                let verified = verify(agent, &request, &challenge);
                Command::Verified(request, verified)
            }
            Job::Deny {
                topic,
                callback,
                reason,
            } => {
                let party = super::fair::party(&callback);
                deny(agent, &topic, callback, reason);
                Command::Denied { party }
            }
            Job::Deliver(d) => {
                let outcome = deliver(agent, &d);
                Command::Delivered {
                    topic: d.topic,
                    callback: d.callback,
                    outcome,
                }
            }
            Job::Ping { hub, topic } => {
                ping(agent, &hub, &topic);
                continue;
            }
        };
        if results.send(result).is_err() {
            return;
        }
    }
}

/// Whether the subscriber echoed the challenge with a 2xx.
fn verify(agent: &ureq::Agent, request: &Request, challenge: &str) -> Result<(), String> {
    let mut url = request.callback.clone();
    {
        let mut q = url.query_pairs_mut();
        q.append_pair("hub.mode", request.mode.name());
        q.append_pair("hub.topic", &request.topic);
        q.append_pair("hub.challenge", challenge);
        if let super::request::Mode::Subscribe { lease, .. } = &request.mode {
            q.append_pair("hub.lease_seconds", &lease.as_secs().to_string());
        }
    }
    let response = agent.request_url("GET", &url).call().map_err(describe)?;
    if !(200..300).contains(&response.status()) {
        return Err(format!("answered {}", response.status()));
    }
    let mut echo = Vec::new();
    response
        .into_reader()
        .take(MAX_ECHO_BYTES + 1)
        .read_to_end(&mut echo)
        .map_err(|e| e.to_string())?;
    // §5.3: the body is the challenge, white space around it aside; a
    // body that only begins with it is not (found by the sixth attack:
    // the first KiB, trimmed, was compared and the rest never read).
    if echo.len() as u64 > MAX_ECHO_BYTES {
        Err(format!("answered more than {MAX_ECHO_BYTES} bytes"))
    } else if echo.trim_ascii() == challenge.as_bytes() {
        Ok(())
    } else {
        Err("did not echo the challenge".into())
    }
}

fn deny(agent: &ureq::Agent, topic: &str, mut callback: Url, reason: &str) {
    callback
        .query_pairs_mut()
        .append_pair("hub.mode", "denied")
        .append_pair("hub.topic", topic)
        .append_pair("hub.reason", reason);
    if let Err(e) = agent.request_url("GET", &callback).call() {
        tracing::info!(topic, "websub: denial not received: {}", describe(e));
    }
}

fn deliver(agent: &ureq::Agent, d: &Delivery) -> Delivered {
    let mut req = agent
        .request_url("POST", &d.callback)
        .set("Content-Type", d.content_type)
        .set("Link", &d.link);
    if let Some(secret) = &d.secret {
        req = req.set("X-Hub-Signature", &signature(secret, &d.body));
    }
    match req.send_bytes(&d.body) {
        Ok(r) if (200..300).contains(&r.status()) => Delivered::Ok,
        Ok(r) => Delivered::Failed(format!("answered {}", r.status())),
        Err(ureq::Error::Status(410, _)) => Delivered::Gone,
        Err(e) => Delivered::Failed(describe(e)),
    }
}

fn ping(agent: &ureq::Agent, hub: &Url, topic: &str) {
    let sent = agent
        .request_url("POST", hub)
        .send_form(&[("hub.mode", "publish"), ("hub.url", topic)]);
    if let Err(e) = sent {
        tracing::warn!(%hub, topic, "websub: publish ping failed: {}", describe(e));
    }
}

/// `sha256=` and the HMAC of the body under the subscriber's secret (§8).
pub fn signature(secret: &Secret, body: &[u8]) -> String {
    // HMAC takes a key of any length; this cannot fail.
    let mut mac = Hmac::<Sha256>::new_from_slice(&secret.0).unwrap_or_else(|_| unreachable!());
    mac.update(body);
    format!("sha256={}", super::hex(&mac.finalize().into_bytes()))
}

/// A failed request in a line, without the body of any answer and
/// without the callback's URL, whose userinfo and query are often its
/// credentials (found by the fifth attack: FreshRSS's `?k=` key in the
/// log); the log names the host beside it.
fn describe(e: ureq::Error) -> String {
    match e {
        ureq::Error::Status(code, _) => format!("answered {code}"),
        ureq::Error::Transport(t) => {
            let cause = std::error::Error::source(&t).map(ToString::to_string);
            [
                Some(t.kind().to_string()),
                t.message().map(str::to_string),
                cause,
            ]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(": ")
        }
    }
}

/// The resolver every outbound request goes through.
struct Guard {
    allow_private: bool,
}

impl ureq::Resolver for Guard {
    fn resolve(&self, netloc: &str) -> std::io::Result<Vec<SocketAddr>> {
        let all: Vec<SocketAddr> = netloc.to_socket_addrs()?.collect();
        if self.allow_private {
            return Ok(all);
        }
        let public: Vec<SocketAddr> = all.into_iter().filter(|a| is_public(a.ip())).collect();
        if public.is_empty() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::PermissionDenied,
                "resolves only to loopback, private, link-local or multicast addresses \
                 (websub.allow_private_callbacks is false)",
            ));
        }
        Ok(public)
    }
}

/// IPv4 blocks that are not globally reachable (IANA's special-purpose
/// registry): this network, private, shared, loopback, link-local, IETF
/// protocol assignments, documentation, 6to4 relay anycast, benchmarking,
/// multicast, reserved and broadcast.
const V4_NOT_GLOBAL: &[(u32, u32)] = &[
    (0x0000_0000, 8),
    (0x0a00_0000, 8),
    (0x6440_0000, 10),
    (0x7f00_0000, 8),
    (0xa9fe_0000, 16),
    (0xac10_0000, 12),
    (0xc000_0000, 24),
    (0xc000_0200, 24),
    (0xc058_6300, 24),
    (0xc0a8_0000, 16),
    (0xc612_0000, 15),
    (0xc633_6400, 24),
    (0xcb00_7100, 24),
    (0xe000_0000, 4),
    (0xf000_0000, 4),
];

/// IPv6 blocks refused whatever they carry: unspecified and loopback (in
/// `::/96`, the deprecated IPv4-compatible form), local-use NAT64, discard,
/// IETF protocol assignments (Teredo among them), documentation, unique
/// local, site-local, link-local and multicast.
const V6_NOT_GLOBAL: &[(u128, u32)] = &[
    (0, 96),
    (0x0064_ff9b_0001 << 80, 48),
    (0x0100 << 112, 64),
    (0x2001 << 112, 23),
    (0x2001_0db8 << 96, 32),
    (0xfc00 << 112, 7),
    (0xfec0 << 112, 10),
    (0xfe80 << 112, 10),
    (0xff00 << 112, 8),
];

fn in_block<T>(addr: T, (base, len): (T, u32)) -> bool
where
    T: Copy + std::ops::Shr<u32, Output = T> + PartialEq + Default,
{
    let width = (std::mem::size_of::<T>() * 8) as u32;
    len == 0 || addr >> (width - len) == base >> (width - len)
}

/// Whether an address is globally reachable, as IANA's special-purpose
/// registries say; an IPv6 address that carries an IPv4 one (mapped,
/// SIIT, NAT64, 6to4) is judged by that address (found by the fifth
/// attack: NAT64 and 6to4 forms of 169.254.169.254 passed).
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let bits = u32::from(v4);
            !V4_NOT_GLOBAL.iter().any(|&b| in_block(bits, b))
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = embedded_v4(v6) {
                return is_public(IpAddr::V4(v4));
            }
            let bits = u128::from(v6);
            !V6_NOT_GLOBAL.iter().any(|&b| in_block(bits, b))
        }
    }
}

/// The IPv4 address an IPv6 one stands for: IPv4-mapped (`::ffff:0:0/96`),
/// SIIT (`::ffff:0:0:0/96`), NAT64 (`64:ff9b::/96`) and 6to4
/// (`2002::/16`, bits 16 to 48).
fn embedded_v4(v6: std::net::Ipv6Addr) -> Option<std::net::Ipv4Addr> {
    let bits = u128::from(v6);
    let low = std::net::Ipv4Addr::from(bits as u32);
    let prefix96 = bits >> 32;
    if prefix96 == 0xffff || prefix96 == 0xffff_0000 || prefix96 == 0x0064_ff9b << 64 {
        return Some(low);
    }
    (bits >> 112 == 0x2002).then(|| std::net::Ipv4Addr::from((bits >> 80) as u32))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_public_addresses_pass() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "224.0.0.1",
            "0.0.0.0",
            "100.64.0.1",
            "::1",
            "fe80::1",
            "fd00::1",
            "ff02::1",
            "::ffff:127.0.0.1",
            // Found by the fifth attack.
            "198.18.0.1",
            "192.0.0.1",
            "192.88.99.1",
            "64:ff9b::a9fe:a9fe",
            "64:ff9b::7f00:1",
            "2002:a9fe:a9fe::1",
            "::127.0.0.1",
            "::ffff:0:127.0.0.1",
            "2001::1",
            "100::1",
            "fec0::1",
            "2001:db8::1",
            "255.255.255.255",
            "240.0.0.1",
        ] {
            assert!(!is_public(ip.parse().unwrap()), "{ip}");
        }
        for ip in [
            "93.184.216.34",
            "2606:2800:220:1::1",
            "::ffff:93.184.216.34",
            "64:ff9b::5db8:d822",
            "2002:5db8:d822::1",
            "1.1.1.1",
            "2a00:1450:4001::1",
        ] {
            assert!(is_public(ip.parse().unwrap()), "{ip}");
        }
    }

    #[test]
    fn the_resolver_refuses_loopback_names_unless_allowed() {
        use ureq::Resolver;
        let guard = Guard {
            allow_private: false,
        };
        assert!(guard.resolve("localhost:80").is_err());
        assert!(guard.resolve("127.0.0.1:80").is_err());
        let open = Guard {
            allow_private: true,
        };
        assert!(open.resolve("127.0.0.1:80").is_ok());
    }

    #[test]
    fn signatures_are_hmac_sha256_in_hex() {
        // RFC 4231, test case 2.
        let secret = Secret(b"Jefe".to_vec());
        assert_eq!(
            signature(&secret, b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
