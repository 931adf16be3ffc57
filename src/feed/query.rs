//! Feed query parameters in the manner of RSSHub: `limit`, `format`,
//! `filter*`, `filterout*`, `filter_case_sensitive`, `brief`, `opencc`. Parsed once
//! into a typed [`Query`] whose canonical form is the cache key of the
//! representation it selects.

use regex::{Regex, RegexBuilder};

use super::{Format, Item};
use crate::opencc::Conversion;

/// Parameters that select items by a regular expression, with the text
/// each one is matched against.
const FILTERS: &[&str] = &[
    "filter",
    "filter_title",
    "filter_description",
    "filter_author",
    "filter_category",
    "filterout",
    "filterout_title",
    "filterout_description",
    "filterout_author",
    "filterout_category",
];

/// Upper bound of `brief`, in characters.
pub const MAX_BRIEF: usize = 10_000;

/// Compiled-program bound per pattern: together with the pattern length
/// limit, this keeps a hostile pattern from costing real memory. The regex
/// crate matches in linear time, so no pattern can be catastrophic.
const REGEX_SIZE_LIMIT: usize = 1 << 20;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("query parameter `{param}`: {reason}")]
pub struct QueryError {
    pub param: String,
    pub reason: String,
}

fn err(param: &str, reason: impl Into<String>) -> QueryError {
    QueryError {
        param: param.to_string(),
        reason: reason.into(),
    }
}

/// Bounds that come from the configuration.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub default_limit: usize,
    pub max_limit: usize,
    pub max_pattern_bytes: usize,
}

#[derive(Debug, Clone)]
pub struct Query {
    pub limit: usize,
    pub format: Option<Format>,
    pub brief: Option<usize>,
    /// Simplified/Traditional conversion of the representation's text,
    /// applied to the items that the filters kept.
    pub opencc: Option<Conversion>,
    filters: Vec<(String, Regex)>,
    /// The recognised parameters, sorted and URL-encoded: the cache key, and
    /// the query of the representation's self links.
    canonical: String,
}

impl Query {
    /// Parses a raw query string. Unknown parameters are ignored (cache
    /// busters such as `?_=123` then share one representation); a known
    /// one with a bad value is an error that names it; of a repeated one
    /// the first value wins and the others are ignored.
    pub fn parse(raw: &str, limits: &Limits) -> Result<Self, QueryError> {
        let mut pairs: Vec<(String, String)> = url::form_urlencoded::parse(raw.as_bytes())
            .into_owned()
            .filter(|(k, _)| is_known(k))
            .collect();
        // A repeated parameter keeps its first value (as most servers and
        // RSSHub do): a stable sort by name, then the later duplicates go.
        pairs.sort_by(|a, b| a.0.cmp(&b.0));
        pairs.dedup_by(|later, first| later.0 == first.0);
        let get = |k: &str| pairs.iter().find(|(p, _)| p == k).map(|(_, v)| v.as_str());
        let case_sensitive = match get("filter_case_sensitive") {
            None | Some("true") => true,
            Some("false") => false,
            Some(_) => return Err(err("filter_case_sensitive", "expected true or false")),
        };
        let limit = match get("limit") {
            None => limits.default_limit,
            Some(v) => bounded(v, "limit", 1, limits.max_limit)?,
        };
        let format = match get("format") {
            None => None,
            Some(v) => Some(
                Format::from_query(v).ok_or_else(|| err("format", "expected rss, atom or json"))?,
            ),
        };
        let brief = get("brief")
            .map(|v| bounded(v, "brief", 1, MAX_BRIEF))
            .transpose()?;
        let opencc = match get("opencc") {
            None => None,
            Some(v) => Some(Conversion::from_name(v).ok_or_else(|| {
                err("opencc", format!("expected one of {}", Conversion::names()))
            })?),
        };
        // `S2T` and `s2t` are one representation.
        if let (Some(c), Some(pair)) = (opencc, pairs.iter_mut().find(|(k, _)| k == "opencc")) {
            pair.1 = c.name().to_string();
        }
        let mut filters = Vec::new();
        for (k, v) in pairs.iter().filter(|(k, _)| FILTERS.contains(&k.as_str())) {
            filters.push((k.clone(), compile(k, v, case_sensitive, limits)?));
        }
        let canonical = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(&pairs)
            .finish();
        Ok(Query {
            limit,
            format,
            brief,
            opencc,
            filters,
            canonical,
        })
    }

    /// No recognised parameter: the plain, precomputed representation.
    pub fn is_plain(&self) -> bool {
        self.canonical.is_empty()
    }

    pub fn cache_key(&self) -> &str {
        &self.canonical
    }

    /// Whether an item survives every `filter*` (must match) and
    /// `filterout*` (must not match) parameter.
    pub fn keeps(&self, item: &Item) -> bool {
        self.filters.iter().all(|(name, re)| {
            let (out, field) = match name.strip_prefix("filterout") {
                Some(rest) => (true, rest),
                None => (false, name.strip_prefix("filter").unwrap_or("")),
            };
            let hit = matches_field(item, field, re);
            hit != out
        })
    }
}

fn is_known(k: &str) -> bool {
    FILTERS.contains(&k)
        || matches!(
            k,
            "limit" | "format" | "brief" | "filter_case_sensitive" | "opencc"
        )
}

fn bounded(v: &str, param: &str, min: usize, max: usize) -> Result<usize, QueryError> {
    let n: usize = v
        .parse()
        .map_err(|_| err(param, format!("`{v}` is not a whole number")))?;
    if !(min..=max).contains(&n) {
        return Err(err(param, format!("{n} is outside {min}..={max}")));
    }
    Ok(n)
}

fn compile(
    name: &str,
    pattern: &str,
    case_sensitive: bool,
    limits: &Limits,
) -> Result<Regex, QueryError> {
    if pattern.len() > limits.max_pattern_bytes {
        let reason = format!("pattern longer than {} bytes", limits.max_pattern_bytes);
        return Err(err(name, reason));
    }
    RegexBuilder::new(pattern)
        .case_insensitive(!case_sensitive)
        .size_limit(REGEX_SIZE_LIMIT)
        .dfa_size_limit(REGEX_SIZE_LIMIT)
        .build()
        .map_err(|e| err(name, first_line(&e.to_string())))
}

fn first_line(s: &str) -> String {
    s.lines()
        .last()
        .unwrap_or(s)
        .trim()
        .chars()
        .take(200)
        .collect()
}

/// RSSHub's fields: `filter` alone looks at title and description.
fn matches_field(item: &Item, field: &str, re: &Regex) -> bool {
    let a = &item.entry.article;
    let description = || re.is_match(&item.content.html) || re.is_match(&item.content.summary);
    match field {
        "_title" => re.is_match(&a.title),
        "_description" => description(),
        "_author" => a.author.as_deref().is_some_and(|x| re.is_match(x)),
        "_category" => item.terms.iter().any(|t| re.is_match(&t.name)),
        _ => re.is_match(&a.title) || description(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: Limits = Limits {
        default_limit: 20,
        max_limit: 100,
        max_pattern_bytes: 32,
    };

    fn parse(q: &str) -> Result<Query, QueryError> {
        Query::parse(q, &LIMITS)
    }

    #[test]
    fn plain_and_ignored_parameters() {
        assert!(parse("").unwrap().is_plain());
        assert!(parse("_=123&utm_source=x").unwrap().is_plain());
        assert_eq!(parse("").unwrap().limit, 20);
    }

    #[test]
    fn canonical_form_is_order_independent() {
        let a = parse("limit=5&format=json").unwrap();
        let b = parse("format=json&limit=5&x=1").unwrap();
        assert_eq!(a.cache_key(), b.cache_key());
        assert_eq!(a.format, Some(Format::Json));
    }

    #[test]
    fn bad_values_name_the_parameter() {
        for (q, param) in [
            ("limit=0", "limit"),
            ("limit=101", "limit"),
            ("limit=abc", "limit"),
            ("limit=99999999999999999999999", "limit"),
            ("format=xml", "format"),
            ("brief=0", "brief"),
            ("filter=(", "filter"),
            (
                "filter_title=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
                "filter_title",
            ),
            ("filter_case_sensitive=maybe", "filter_case_sensitive"),
            ("opencc=s2x", "opencc"),
        ] {
            let e = parse(q).unwrap_err();
            assert_eq!(e.param, param, "{q}: {e}");
        }
    }

    #[test]
    fn opencc_names_its_valid_values_and_is_case_insensitive() {
        let e = parse("opencc=zh").unwrap_err();
        assert!(e.reason.contains("s2t, t2s, s2tw, s2twp"), "{e}");
        assert!(e.reason.contains("jp2t"), "{e}");
        let a = parse("opencc=S2TW").unwrap();
        assert_eq!(a.opencc, Some(Conversion::S2tw));
        assert_eq!(a.cache_key(), parse("opencc=s2tw").unwrap().cache_key());
        assert_ne!(a.cache_key(), parse("opencc=s2t").unwrap().cache_key());
    }

    #[test]
    fn huge_repetition_is_refused_by_size_not_time() {
        let e = parse("filter=(a{1000}){1000}").unwrap_err();
        assert_eq!(e.param, "filter");
    }
}
