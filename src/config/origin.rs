//! Where a key got its value — the built-in default, a line of the
//! file, an environment variable or a flag — so that an error names the
//! place a person has to change.

use std::fmt;
use std::path::PathBuf;

use serde::de::{DeserializeSeed, Deserializer, Error as _, IgnoredAny, MapAccess, Visitor};

/// The layer that set a key last.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    Default,
    /// `line` is 1-based.
    File {
        path: PathBuf,
        line: usize,
    },
    Env {
        var: String,
    },
    Flag {
        name: String,
    },
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Default => f.write_str("the built-in default"),
            Origin::File { path, line } => write!(f, "{}, line {line}", path.display()),
            Origin::Env { var } => write!(f, "environment variable {var}"),
            Origin::Flag { name } => write!(f, "flag {name}"),
        }
    }
}

/// What a [`Found`] visitor expects, so that its error is told apart from
/// the YAML's own.
const FOUND: &str = "\u{0}found";

/// The 1-based line of the value at the dotted `key` in the YAML `text`.
/// serde_yaml keeps no positions in its values, but it attaches the
/// position of the event being read to an error raised there: the text is
/// read again down to the key, and reading its value fails on purpose.
pub(super) fn line_of(text: &str, key: &str) -> Option<usize> {
    let path: Vec<&str> = key.split('.').collect();
    let err = Seek(&path)
        .deserialize(serde_yaml::Deserializer::from_str(text))
        .err()?;
    if !err.to_string().contains(FOUND) {
        return None;
    }
    err.location().map(|l| l.line())
}

/// Walks mappings along a key path, skipping every other entry.
struct Seek<'a>(&'a [&'a str]);

impl<'de> DeserializeSeed<'de> for Seek<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        if self.0.is_empty() {
            d.deserialize_any(Found)
        } else {
            d.deserialize_map(self)
        }
    }
}

impl<'de> Visitor<'de> for Seek<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a mapping")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let Some((first, rest)) = self.0.split_first() else {
            return Err(A::Error::custom("empty key"));
        };
        while let Some(key) = map.next_key::<serde_yaml::Value>()? {
            if key.as_str() == Some(first) {
                return map.next_value_seed(Seek(rest));
            }
            map.next_value::<IgnoredAny>()?;
        }
        Ok(())
    }
}

/// Refuses every value, so that the error carries the value's position.
struct Found;

impl Visitor<'_> for Found {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(FOUND)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "title: t\n# a comment\nfeed:\n  max_limit: 9\n  limit: abc\nserver:\n  listen: x\nlist: [1, 2]\n";

    #[test]
    fn finds_the_line_of_a_nested_key() {
        assert_eq!(line_of(TEXT, "title"), Some(1));
        assert_eq!(line_of(TEXT, "feed.limit"), Some(5));
        assert_eq!(line_of(TEXT, "server.listen"), Some(7));
        assert_eq!(line_of(TEXT, "list"), Some(8));
    }

    #[test]
    fn an_absent_key_has_no_line() {
        assert_eq!(line_of(TEXT, "feed.nope"), None);
        assert_eq!(line_of(TEXT, "title.deeper"), None);
        assert_eq!(line_of("b: ]\na: 1\n", "a"), None);
    }
}
