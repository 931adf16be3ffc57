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

use super::hub::Command;
use super::request::{Request, Secret};
use crate::config::WebSub;

/// A challenge echo longer than this is wrong anyway; no more is read.
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

pub struct Delivery {
    pub topic: String,
    pub callback: Url,
    pub secret: Option<Secret>,
    pub body: Arc<[u8]>,
    pub content_type: &'static str,
    pub link: String,
}

/// How a delivery went.
#[derive(Debug)]
pub enum Delivered {
    Ok,
    /// 410: the subscriber is gone for good.
    Gone,
    Failed(String),
}

/// Starts the pool; jobs wait in the channel, the hub thread bounds how
/// many it queues.
pub fn start(config: &WebSub, results: SyncSender<Command>) -> Sender<Job> {
    let agent = ureq::AgentBuilder::new()
        .timeout(config.timeout)
        .redirects(0)
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
                deny(agent, &topic, callback, reason);
                continue;
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
        .take(MAX_ECHO_BYTES)
        .read_to_end(&mut echo)
        .map_err(|e| e.to_string())?;
    if echo.trim_ascii() == challenge.as_bytes() {
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

/// A failed request in a line, without the body of any answer.
fn describe(e: ureq::Error) -> String {
    match e {
        ureq::Error::Status(code, _) => format!("answered {code}"),
        ureq::Error::Transport(t) => t.to_string(),
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

/// Whether an address is on the public internet: not loopback, private
/// (RFC 1918, fc00::/7), shared (100.64/10), link-local, multicast,
/// broadcast, unspecified or reserved; IPv4-mapped IPv6 as its IPv4.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            !(v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_multicast()
                || v4.is_broadcast()
                || v4.is_unspecified()
                || v4.is_documentation()
                || a == 0
                || a >= 240
                || (a == 100 && (64..128).contains(&b)))
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public(IpAddr::V4(v4));
            }
            let first = v6.segments()[0];
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80)
        }
    }
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
        ] {
            assert!(!is_public(ip.parse().unwrap()), "{ip}");
        }
        for ip in [
            "93.184.216.34",
            "2606:2800:220:1::1",
            "::ffff:93.184.216.34",
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
