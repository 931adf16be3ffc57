//! Stable ids: `tag:` URIs (RFC 4151) for items and feeds that survive
//! changes of the site URL, the permalink pattern, the title and the
//! scheme, so readers never see an article or a feed twice.

use chrono::NaiveDate;

use super::FeedKey;
use super::links::encode_path;

/// The `tag:authority,date:` prefix every id of the site shares.
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

    /// The id of one copy of an item, in a feed that lists an article
    /// once per include it matches: the article's id with the include as
    /// written as fragment (`categories/<name>/…/` or `tags/<name>/`).
    /// Names, not slugs: `C#` and `C++` share a slug, and so do two names
    /// `tag_map` sends to one, which gave one id twice in a document
    /// (found by the sixth attack). Copies differ, and each keeps its id
    /// whatever else the article comes to match.
    pub fn copy_id(&self, id: &str, include: &FeedKey) -> String {
        format!("{id}#{}", include_fragment(include))
    }

    /// A feed is identified by the folder it is served from, so that two
    /// feeds sharing a slug keep apart.
    pub fn feed_id(&self, dir: &str) -> String {
        self.tag(&format!("feed/{dir}"))
    }

    /// Percent-encoded like URL paths, so that the id is a URI (not just
    /// an IRI) whatever the names hold.
    fn tag(&self, specific: &str) -> String {
        format!("{}{}", self.prefix, encode_path(specific))
    }
}

/// Distinct includes give distinct fragments: each name is one segment,
/// percent-encoded whole (its `/` too).
fn include_fragment(include: &FeedKey) -> String {
    let segment = |name: &str| format!("{}/", encode_path(name).replace('/', "%2F"));
    match include {
        FeedKey::Site => String::new(),
        FeedKey::Category(path) => path
            .iter()
            .fold("categories/".to_string(), |dir, name| dir + &segment(name)),
        FeedKey::Tag(tag) => format!("tags/{}", segment(tag)),
        FeedKey::Configured(slug) => format!("feeds/{}", segment(slug)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `id` split at its scheme: the whole id is checked, in two parts.
    fn specific(id: String) -> String {
        let (scheme, rest) = id.split_once(':').expect("a URI");
        assert_eq!(scheme, "tag");
        rest.to_string()
    }

    #[test]
    fn ids_are_tag_uris() {
        let s = IdScheme::new("example.com", NaiveDate::from_ymd_opt(2021, 1, 1).unwrap());
        assert_eq!(
            specific(s.id_for(None, "金融/a b.md")),
            "example.com,2021-01-01:post/%E9%87%91%E8%9E%8D/a%20b.md"
        );
        assert_eq!(
            specific(s.id_for(Some(" 3f2a "), "x")),
            "example.com,2021-01-01:id/3f2a"
        );
        assert_eq!(
            specific(s.id_for(Some(""), "x.md")),
            "example.com,2021-01-01:post/x.md"
        );
        assert_eq!(
            specific(s.feed_id("categories/C#/")),
            "example.com,2021-01-01:feed/categories/C%23/"
        );
    }

    /// Found by the sixth attack: copies of one article for `C#` and `C++`
    /// (one slug), or for two tags `tag_map` sends to one slug, had one id.
    #[test]
    fn copies_for_includes_sharing_a_slug_have_distinct_ids() {
        let s = IdScheme::new("e", NaiveDate::from_ymd_opt(2021, 1, 1).unwrap());
        let id = s.path_id("a.md");
        let copy = |k: FeedKey| s.copy_id(&id, &k);
        let copies = [
            copy(FeedKey::Tag("C#".into())),
            copy(FeedKey::Tag("C++".into())),
            copy(FeedKey::Tag("a/b".into())),
            copy(FeedKey::Category(vec!["a".into(), "b".into()].into())),
            copy(FeedKey::Category(vec!["a/b".into()].into())),
            copy(FeedKey::Category(vec!["C#".into()].into())),
        ];
        assert_eq!(copies[0], format!("{id}#tags/C%23/"));
        assert_eq!(copies[1], format!("{id}#tags/C++/"));
        assert_eq!(copies[3], format!("{id}#categories/a/b/"));
        assert_eq!(copies[4], format!("{id}#categories/a%2Fb/"));
        let mut unique = copies.to_vec();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), copies.len(), "{copies:?}");
    }

    /// RFC 4151's `specific` allows pchar, `/` and `?`: everything else,
    /// including all non-ASCII, is percent-encoded as UTF-8 (`?` too, so
    /// that an id never looks like it has a query).
    #[test]
    fn ids_escape_what_rfc_4151_does_not_allow() {
        let s = IdScheme::new("e", NaiveDate::from_ymd_opt(2021, 1, 1).unwrap());
        let kept = "azAZ09-._~!$&'()*+,;=:@/";
        assert!(s.path_id(kept).ends_with(&format!(":post/{kept}")));
        let escaped = |c: &char| !c.is_ascii_alphanumeric() && !kept.contains(*c);
        for c in (0u8..0x80).map(char::from).filter(escaped) {
            let id = s.path_id(&c.to_string());
            let want = format!(":post/%{:02X}", c as u8);
            assert!(id.ends_with(&want), "{c:?}: {id}");
        }
    }
}
