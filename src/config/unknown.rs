//! Keys refeed does not know. They are allowed, so that a Hexo
//! `_config.yml` works as is, but one that is a typo of a known key (a
//! `feed.limt`) would silently do nothing: it gets a warning with the key
//! it was probably meant to be.

use std::fmt;

use serde_yaml::{Mapping, Value};

use super::Origin;

/// The most edits (insertions, deletions, substitutions, swaps of two
/// neighbours) between a key and the known key it is taken for; Hexo's
/// own keys are all further than this from refeed's (`tag_dir` and
/// `tag_map` are 3 apart).
const MAX_EDITS: usize = 2;

/// An unknown key close to a known one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Typo {
    pub origin: Origin,
    pub key: String,
    pub meant: String,
}

impl fmt::Display for Typo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: unknown key `{}` is ignored; did you mean `{}`?",
            self.origin, self.key, self.meant
        )
    }
}

/// Every dotted key of `tree` down to its leaves or to its first key
/// that `known` does not have.
pub(super) fn keys(known: &Mapping, tree: &Mapping) -> Vec<String> {
    let mut out = Vec::new();
    walk(known, tree, "", &mut out);
    out
}

fn walk(known: &Mapping, tree: &Mapping, prefix: &str, out: &mut Vec<String>) {
    for (key, value) in tree {
        let Some(name) = key.as_str() else { continue };
        let dotted = format!("{prefix}{name}");
        match (known.get(name), value) {
            (Some(Value::Mapping(k)), Value::Mapping(v)) if !k.is_empty() => {
                walk(k, v, &format!("{dotted}."), out);
            }
            _ => out.push(dotted),
        }
    }
}

/// The known key a dotted `key` is probably a typo of: the first of its
/// parts that `known` lacks, compared with the known keys beside it. A
/// section whose default is empty (`category_map`) holds the user's own
/// keys and is never checked.
pub(super) fn meant(known: &Mapping, key: &str) -> Option<String> {
    let mut section = known;
    let mut done = Vec::new();
    for part in key.split('.') {
        match section.get(part) {
            Some(Value::Mapping(m)) if m.is_empty() => return None,
            Some(Value::Mapping(m)) => section = m,
            Some(_) => return None,
            None => {
                let closest = section
                    .keys()
                    .filter_map(Value::as_str)
                    .map(|k| (strsim::damerau_levenshtein(part, k), k))
                    .filter(|(d, _)| *d <= MAX_EDITS && d * 3 <= part.len())
                    .min()?;
                done.push(closest.1);
                return Some(done.join("."));
            }
        }
        done.push(part);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn default() -> Mapping {
        serde_yaml::from_str(super::super::DEFAULT_YAML).unwrap()
    }

    #[test]
    fn a_typo_gets_the_key_it_is_close_to() {
        let known = default();
        assert_eq!(meant(&known, "feed.limt").as_deref(), Some("feed.limit"));
        assert_eq!(meant(&known, "feed.lmiit").as_deref(), Some("feed.limit"));
        assert_eq!(meant(&known, "sorce_dir").as_deref(), Some("source_dir"));
        assert_eq!(
            meant(&known, "server.listn").as_deref(),
            Some("server.listen")
        );
        assert_eq!(meant(&known, "wach.enabled").as_deref(), Some("watch"));
    }

    #[test]
    fn far_keys_and_user_sections_get_nothing() {
        let known = default();
        for key in [
            "feed.limit",
            "theme",
            "tag_dir",
            "category_dir",
            "category_map.anything",
            "corpus",
            "feed.x",
        ] {
            assert_eq!(meant(&known, key), None, "{key}");
        }
    }

    #[test]
    fn keys_stop_at_the_first_unknown_part() {
        let tree: Mapping =
            serde_yaml::from_str("feed:\n  limt: 5\n  limit: 3\ndeploy:\n  type: git\n").unwrap();
        assert_eq!(
            keys(&default(), &tree),
            ["feed.limt", "feed.limit", "deploy"]
        );
    }
}
