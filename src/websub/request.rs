//! A subscription request (WebSub §5.1) read once into a typed
//! [`Request`], and the per-address limit on how often one may come.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use url::Url;

use crate::config::WebSub;

/// `hub.secret` must be shorter than this (§5.1).
pub const MAX_SECRET_BYTES: usize = 200;

/// A form body larger than this is refused before it is parsed.
pub const MAX_BODY_BYTES: usize = 16 * 1024;

/// Why a request is refused; the message is the answer's body.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Refused {
    #[error("hub.mode must be subscribe or unsubscribe")]
    Mode,
    #[error("hub.topic is missing or is not one of this site's feeds (no query string)")]
    Topic,
    #[error("hub.callback is missing, not an http(s) URL, or too long")]
    Callback,
    #[error("hub.lease_seconds is not a number of seconds")]
    Lease,
    #[error("hub.secret must be shorter than 200 bytes")]
    Secret,
    #[error("too many subscription requests from this address; retry in a minute")]
    TooMany,
    #[error("the hub is busy; retry shortly")]
    Busy,
}

/// A subscriber's secret: never shown in logs or `Debug` output.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(pub(super) Vec<u8>);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(..)")
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    /// The lease already clamped to the configured bounds.
    Subscribe {
        lease: Duration,
        secret: Option<Secret>,
    },
    Unsubscribe,
}

impl Mode {
    /// `hub.mode` as the spec spells it.
    pub fn name(&self) -> &'static str {
        match self {
            Mode::Subscribe { .. } => "subscribe",
            Mode::Unsubscribe => "unsubscribe",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub mode: Mode,
    /// A canonical feed URL of this site.
    pub topic: String,
    pub callback: Url,
}

/// Reads a form body; `is_topic` says whether a URL is one of the
/// site's feeds as they stand.
pub fn parse(
    body: &[u8],
    config: &WebSub,
    is_topic: impl Fn(&str) -> bool,
) -> Result<Request, Refused> {
    let fields = fields(body);
    let field = |name: &str| fields.get(name).map(|v| String::from_utf8_lossy(v));
    let subscribing = match field("hub.mode").as_deref() {
        Some("subscribe") => true,
        Some("unsubscribe") => false,
        _ => return Err(Refused::Mode),
    };
    let topic = field("hub.topic")
        .filter(|t| is_topic(t))
        .ok_or(Refused::Topic)?;
    let callback = field("hub.callback")
        .filter(|c| c.len() <= config.max_callback_bytes)
        .and_then(|c| Url::parse(&c).ok())
        .filter(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some())
        .ok_or(Refused::Callback)?;
    let mode = if subscribing {
        let asked = match field("hub.lease_seconds").filter(|s| !s.is_empty()) {
            None => config.lease,
            Some(s) => Duration::from_secs(s.trim().parse().map_err(|_| Refused::Lease)?),
        };
        let secret = match fields.get("hub.secret").filter(|s| !s.is_empty()) {
            Some(s) if s.len() >= MAX_SECRET_BYTES => return Err(Refused::Secret),
            Some(s) => Some(Secret(s.clone())),
            None => None,
        };
        Mode::Subscribe {
            lease: asked.clamp(config.min_lease, config.max_lease),
            secret,
        }
    } else {
        Mode::Unsubscribe
    };
    Ok(Request {
        mode,
        topic: topic.into_owned(),
        callback,
    })
}

/// A form's fields by name, the first of a repeated one counting (as in
/// most hubs), each value as the bytes it encodes: a secret is a key, not
/// text, and signed as given (found by the fifth attack: one that was not
/// UTF-8 was signed with its lossy decoding, and every signature failed).
fn fields(body: &[u8]) -> HashMap<String, Vec<u8>> {
    let decode = |raw: &[u8]| -> Vec<u8> {
        let spaced: Vec<u8> = (raw.iter())
            .map(|&b| if b == b'+' { b' ' } else { b })
            .collect();
        percent_encoding::percent_decode(&spaced).collect()
    };
    let mut fields = HashMap::new();
    for pair in body.split(|&b| b == b'&').filter(|p| !p.is_empty()) {
        let (name, value) = match pair.iter().position(|&b| b == b'=') {
            Some(at) => (&pair[..at], &pair[at + 1..]),
            None => (pair, &pair[pair.len()..]),
        };
        let name = String::from_utf8_lossy(&decode(name)).into_owned();
        fields.entry(name).or_insert_with(|| decode(value));
    }
    fields
}

/// Addresses remembered at most; beyond, the oldest minute's are dropped,
/// so a flood of addresses costs bounded memory.
const MAX_CLIENTS: usize = 65_536;

/// Subscription requests per client address and minute. Only the hub's
/// path takes this lock, never a feed request.
pub struct Limiter {
    per_minute: u32,
    started: Instant,
    /// Address -> (minute since `started`, requests in it).
    seen: Mutex<HashMap<IpAddr, (u64, u32)>>,
}

impl Limiter {
    pub fn new(per_minute: u32) -> Self {
        Limiter {
            per_minute,
            started: Instant::now(),
            seen: Mutex::default(),
        }
    }

    /// Counts one request of `client`; false when over the limit.
    pub fn admit(&self, client: IpAddr) -> bool {
        let minute = self.started.elapsed().as_secs() / 60;
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        if seen.len() >= MAX_CLIENTS {
            seen.retain(|_, (m, _)| *m == minute);
        }
        let entry = seen.entry(client).or_insert((minute, 0));
        if entry.0 != minute {
            *entry = (minute, 0);
        }
        entry.1 = entry.1.saturating_add(1);
        entry.1 <= self.per_minute
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> WebSub {
        crate::config::Config::default_embedded().unwrap().websub
    }

    fn form(pairs: &[(&str, &str)]) -> Vec<u8> {
        url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(pairs)
            .finish()
            .into_bytes()
    }

    const TOPIC: &str = "http://127.0.0.1:8080/rss.xml";

    fn subscribe(extra: &[(&str, &str)]) -> Result<Request, Refused> {
        let mut pairs = vec![
            ("hub.mode", "subscribe"),
            ("hub.topic", TOPIC),
            ("hub.callback", "https://reader.example/cb?id=1"),
        ];
        pairs.extend_from_slice(extra);
        parse(&form(&pairs), &config(), |t| t == TOPIC)
    }

    #[test]
    fn leases_are_clamped_and_defaulted() {
        let c = config();
        let lease = |r: Request| match r.mode {
            Mode::Subscribe { lease, .. } => lease,
            Mode::Unsubscribe => panic!("not a subscription"),
        };
        assert_eq!(lease(subscribe(&[]).unwrap()), c.lease);
        let short = subscribe(&[("hub.lease_seconds", "1")]).unwrap();
        assert_eq!(lease(short), c.min_lease);
        let long = subscribe(&[("hub.lease_seconds", "999999999")]).unwrap();
        assert_eq!(lease(long), c.max_lease);
        let no = subscribe(&[("hub.lease_seconds", "soon")]);
        assert_eq!(no, Err(Refused::Lease));
    }

    #[test]
    fn secrets_topics_callbacks_and_modes_are_checked() {
        let ok = "s".repeat(MAX_SECRET_BYTES - 1);
        let too_long = "s".repeat(MAX_SECRET_BYTES);
        assert!(subscribe(&[("hub.secret", &ok)]).is_ok());
        assert_eq!(
            subscribe(&[("hub.secret", &too_long)]),
            Err(Refused::Secret)
        );
        let c = config();
        let with = |pairs: &[(&str, &str)]| parse(&form(pairs), &c, |t| t == TOPIC);
        let cb = "https://reader.example/cb";
        assert_eq!(
            with(&[
                ("hub.mode", "subscribe"),
                ("hub.topic", "http://127.0.0.1:8080/rss.xml?limit=5"),
                ("hub.callback", cb)
            ]),
            Err(Refused::Topic)
        );
        assert_eq!(
            with(&[
                ("hub.mode", "subscribe"),
                ("hub.topic", TOPIC),
                ("hub.callback", "ftp://x/")
            ]),
            Err(Refused::Callback)
        );
        let long = format!(
            "https://reader.example/{}",
            "a".repeat(c.max_callback_bytes)
        );
        assert_eq!(
            with(&[
                ("hub.mode", "subscribe"),
                ("hub.topic", TOPIC),
                ("hub.callback", &long)
            ]),
            Err(Refused::Callback)
        );
        assert_eq!(
            with(&[
                ("hub.mode", "publish"),
                ("hub.topic", TOPIC),
                ("hub.callback", cb)
            ]),
            Err(Refused::Mode)
        );
        let unsub = with(&[
            ("hub.mode", "unsubscribe"),
            ("hub.topic", TOPIC),
            ("hub.callback", cb),
        ]);
        assert_eq!(unsub.map(|r| r.mode), Ok(Mode::Unsubscribe));
    }

    #[test]
    fn secrets_that_are_not_utf8_keep_their_exact_bytes() {
        let body = format!(
            "hub.mode=subscribe&hub.topic={}&hub.callback=https%3A%2F%2Freader.example%2Fcb\
             &hub.secret=%FF%00a+b%C3%A9&hub.secret=second",
            url::form_urlencoded::byte_serialize(TOPIC.as_bytes()).collect::<String>()
        );
        let r = parse(body.as_bytes(), &config(), |t| t == TOPIC).unwrap();
        let Mode::Subscribe { secret, .. } = r.mode else {
            panic!("not a subscription")
        };
        let want = [0xff, 0, b'a', b' ', b'b', 0xc3, 0xa9];
        assert_eq!(secret, Some(Secret(want.to_vec())));
        // The limit is on those bytes, not on a longer lossy decoding.
        let at_limit = body.replace("%FF%00a+b%C3%A9", &"%FF".repeat(MAX_SECRET_BYTES - 1));
        assert!(parse(at_limit.as_bytes(), &config(), |t| t == TOPIC).is_ok());
    }

    #[test]
    fn secrets_do_not_show_in_debug_output() {
        let r = subscribe(&[("hub.secret", "hunter2")]).unwrap();
        assert!(!format!("{r:?}").contains("hunter2"));
    }

    #[test]
    fn each_address_gets_its_own_allowance() {
        let limiter = Limiter::new(2);
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        assert!(limiter.admit(a) && limiter.admit(a));
        assert!(!limiter.admit(a));
        assert!(limiter.admit(b));
    }
}
