//! Stable item ids: `tag:` URIs (RFC 4151) that survive changes of the
//! site URL, the permalink pattern, the title and the scheme, so readers
//! never see an article twice.

use chrono::NaiveDate;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

/// RFC 4151's `specific` allows pchar, `/` and `?`; everything else,
/// including all non-ASCII, is percent-encoded as UTF-8.
const SPECIFIC: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~')
    .remove(b'!')
    .remove(b'$')
    .remove(b'&')
    .remove(b'\'')
    .remove(b'(')
    .remove(b')')
    .remove(b'*')
    .remove(b'+')
    .remove(b',')
    .remove(b';')
    .remove(b'=')
    .remove(b':')
    .remove(b'@')
    .remove(b'/');

#[derive(Debug, Clone)]
pub struct IdScheme {
    prefix: String,
}

impl IdScheme {
    pub fn new(authority: &str, date: NaiveDate) -> Self {
        IdScheme {
            prefix: format!("tag:{authority},{}:", date.format("%Y-%m-%d")),
        }
    }

    /// An explicit front-matter id wins; otherwise the path id.
    pub fn id_for(&self, explicit: Option<&str>, path: &str) -> String {
        match explicit.map(str::trim).filter(|s| !s.is_empty()) {
            Some(id) => self.tag(&format!("id/{id}")),
            None => self.path_id(path),
        }
    }

    /// The source path (below `_posts`, extension kept so it is unique)
    /// is what identifies a Hexo post.
    pub fn path_id(&self, path: &str) -> String {
        self.tag(&format!("post/{path}"))
    }

    fn tag(&self, specific: &str) -> String {
        format!("{}{}", self.prefix, utf8_percent_encode(specific, SPECIFIC))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_tag_uris() {
        let s = IdScheme::new("example.com", NaiveDate::from_ymd_opt(2021, 1, 1).unwrap());
        assert_eq!(
            s.id_for(None, "金融/a b.md"),
            "tag:example.com,2021-01-01:post/%E9%87%91%E8%9E%8D/a%20b.md"
        );
        assert_eq!(
            s.id_for(Some(" 3f2a "), "x"),
            "tag:example.com,2021-01-01:id/3f2a"
        );
        assert_eq!(
            s.id_for(Some(""), "x.md"),
            "tag:example.com,2021-01-01:post/x.md"
        );
    }
}
