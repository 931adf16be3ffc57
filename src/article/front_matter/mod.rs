//! Splitting a post into front matter and body (`split`), and reading the
//! front matter's YAML into typed fields. The only place that knows YAML,
//! with the private `yaml` module, which bounds what parsing it may cost.

mod split;

use std::collections::BTreeMap;

use serde_yaml::{Mapping, Value};

use super::yaml::YamlError;

pub use split::{Split, split};

/// A problem with the front matter, located in the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub line: Option<usize>,
    pub column: Option<usize>,
    pub field: Option<String>,
    pub reason: String,
}

/// A scalar front-matter value with the line its key is on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Located {
    pub value: String,
    pub line: Option<usize>,
}

/// Front matter as typed values; keys refeed does not use stay in `extra`.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct FrontMatter {
    pub title: Option<String>,
    pub date: Option<Located>,
    pub updated: Option<Located>,
    /// Category hierarchies, each root first.
    pub categories: Vec<Vec<String>>,
    pub tags: Vec<String>,
    pub author: Option<String>,
    pub image: Option<String>,
    pub description: Option<String>,
    pub permalink: Option<String>,
    pub link: Option<String>,
    pub comments: Option<bool>,
    pub published: Option<bool>,
    pub id: Option<String>,
    pub extra: BTreeMap<String, serde_json::Value>,
    /// Problems that do not reject the file (a key of the wrong shape).
    pub warnings: Vec<FieldError>,
}

/// Keys whose values refeed reads; everything else is kept in `extra`.
const IMAGE_KEYS: &[&str] = &["headimg", "thumbnail", "cover", "image"];
const ID_KEYS: &[&str] = &["id", "guid", "abbrlink", "uuid"];
const DESCRIPTION_KEYS: &[&str] = &["description", "excerpt", "summary"];

/// Limits per article. Every tag and every category node is a feed that
/// the article is rendered into, with all its other terms, so n terms cost
/// n² of output: 1,000 tags in a 13 KB post made 1,001 feeds and 196 MB.
/// Real posts stay far below (the corpus: 3 tags, 1 hierarchy, 3 levels);
/// what is over is dropped with a warning.
pub const MAX_TAGS: usize = 32;
pub const MAX_HIERARCHIES: usize = 8;
pub const MAX_DEPTH: usize = 8;

/// Warnings kept per file. Each costs a search for its key's line, and a
/// front matter with 100,000 bad values would otherwise take minutes and
/// bury the report; the rest are counted in one last warning.
pub const MAX_WARNINGS: usize = 20;

/// Parses the YAML of a [`Split`]. `None` front matter is an empty one.
pub fn parse(split: &Split<'_>) -> Result<FrontMatter, FieldError> {
    if split.unclosed {
        return Err(FieldError {
            line: Some(split.yaml_line),
            column: None,
            field: None,
            reason: "looks cut short: the front matter opened on this line is never \
                     closed (no fence line after it)"
                .into(),
        });
    }
    let Some(yaml) = split.yaml else {
        return Ok(FrontMatter::default());
    };
    let map = match super::yaml::from_str(yaml) {
        Ok(Value::Mapping(m)) => m,
        Ok(Value::Null) => Mapping::new(),
        Ok(other) => {
            return Err(FieldError {
                line: Some(split.yaml_line),
                column: None,
                field: None,
                reason: format!(
                    "front matter is a {}, not a mapping of keys",
                    kind_name(&other)
                ),
            });
        }
        Err(YamlError::Invalid(e)) => return Err(yaml_error(&e, split.yaml_line)),
        Err(YamlError::Refused(reason)) => {
            return Err(FieldError {
                line: Some(split.yaml_line),
                column: None,
                field: None,
                reason,
            });
        }
    };
    Ok(Reader::new(map, yaml, split.yaml_line).read())
}

fn yaml_error(e: &serde_yaml::Error, first_line: usize) -> FieldError {
    let location = e.location();
    // serde_yaml appends " at line L column C" itself; the location goes in
    // the report's own place instead, counted in the file, not the YAML.
    let message = e.to_string();
    let reason = match message.find(" at line ") {
        Some(i) => message[..i].to_string(),
        None => message,
    };
    FieldError {
        line: location.as_ref().map(|l| l.line() + first_line - 1),
        column: location.as_ref().map(|l| l.column()),
        field: None,
        reason: format!("invalid YAML: {reason}"),
    }
}

fn kind_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Sequence(_) => "list",
        Value::Mapping(_) => "mapping",
        Value::Tagged(_) => "tagged value",
    }
}

/// Takes known keys out of the mapping one by one; what is left is extra.
struct Reader<'a> {
    map: Mapping,
    yaml: &'a str,
    first_line: usize,
    warnings: Vec<FieldError>,
    /// Warnings beyond [`MAX_WARNINGS`], only counted.
    dropped_warnings: usize,
}

impl<'a> Reader<'a> {
    fn new(map: Mapping, yaml: &'a str, first_line: usize) -> Self {
        Reader {
            map,
            yaml,
            first_line,
            warnings: Vec::new(),
            dropped_warnings: 0,
        }
    }

    fn read(mut self) -> FrontMatter {
        let mut fm = FrontMatter {
            title: self.text("title"),
            date: self.located("date"),
            updated: self.located("updated"),
            ..FrontMatter::default()
        };
        let categories = self.take_either("categories", "category");
        fm.categories = self.categories(categories);
        let tags = self.take_either("tags", "tag");
        fm.tags = self.tags(tags);
        fm.author = self.author();
        fm.image = self.first_text(IMAGE_KEYS);
        fm.description = self.first_text(DESCRIPTION_KEYS);
        fm.permalink = self.text("permalink");
        fm.link = self.text("link");
        fm.comments = self.boolean("comments");
        fm.published = self.boolean("published");
        fm.id = self.first_text(ID_KEYS);
        fm.extra = self.extra();
        if self.dropped_warnings > 0 {
            self.warnings.push(FieldError {
                line: None,
                column: None,
                field: None,
                reason: format!("{} more warnings like these", self.dropped_warnings),
            });
        }
        fm.warnings = self.warnings;
        fm
    }

    /// The file line of a top-level key, found by its text since YAML
    /// values carry no positions.
    fn line_of(&self, key: &str) -> Option<usize> {
        self.yaml
            .lines()
            .position(|l| {
                let l = l.trim_start_matches(['"', '\'']);
                l.strip_prefix(key)
                    .map(|r| {
                        r.trim_start_matches(['"', '\''])
                            .trim_start()
                            .starts_with(':')
                    })
                    .unwrap_or(false)
            })
            .map(|i| i + self.first_line)
    }

    fn warn(&mut self, key: &str, reason: String) {
        if self.warnings.len() >= MAX_WARNINGS {
            self.dropped_warnings += 1;
            return;
        }
        let line = self.line_of(key);
        self.warnings.push(FieldError {
            line,
            column: None,
            field: Some(key.to_string()),
            reason,
        });
    }

    fn take(&mut self, key: &str) -> Option<Value> {
        self.map.remove(key).filter(|v| !v.is_null())
    }

    fn take_either(&mut self, plural: &str, singular: &str) -> (String, Option<Value>) {
        match self.take(plural) {
            Some(v) => (plural.to_string(), Some(v)),
            None => (singular.to_string(), self.take(singular)),
        }
    }

    fn text(&mut self, key: &str) -> Option<String> {
        let value = self.take(key)?;
        match scalar_text(&value) {
            Some(s) => Some(s).filter(|s| !s.trim().is_empty()),
            None => {
                let reason = format!("expected text, found a {}; ignored", kind_name(&value));
                self.warn(key, reason);
                None
            }
        }
    }

    fn first_text(&mut self, keys: &[&str]) -> Option<String> {
        let mut found = None;
        for key in keys {
            let value = self.text(key);
            found = found.or(value);
        }
        found
    }

    fn located(&mut self, key: &str) -> Option<Located> {
        let line = self.line_of(key);
        self.text(key).map(|value| Located { value, line })
    }

    fn boolean(&mut self, key: &str) -> Option<bool> {
        match self.take(key)? {
            Value::Bool(b) => Some(b),
            Value::String(s) if s.eq_ignore_ascii_case("true") => Some(true),
            Value::String(s) if s.eq_ignore_ascii_case("false") => Some(false),
            other => {
                let reason = format!("expected true or false, found {}", kind_name(&other));
                self.warn(key, reason);
                None
            }
        }
    }

    /// `author: name` or Hexo's `author: { name: x, ... }`.
    fn author(&mut self) -> Option<String> {
        match self.take("author")? {
            Value::Mapping(m) => m
                .get("name")
                .and_then(scalar_text)
                .filter(|s| !s.trim().is_empty()),
            other => {
                self.map.insert("author".into(), other);
                self.text("author")
            }
        }
    }

    /// Hexo's rule: if any element is a list, every element is its own
    /// hierarchy; otherwise the whole flat list is one hierarchy.
    fn categories(&mut self, (key, value): (String, Option<Value>)) -> Vec<Vec<String>> {
        let items = match value {
            None => return Vec::new(),
            Some(Value::Sequence(items)) => items,
            Some(v) => vec![v],
        };
        let nested = items.iter().any(Value::is_sequence);
        let hierarchies: Vec<Vec<Value>> = if nested {
            items
                .into_iter()
                .map(|v| match v {
                    Value::Sequence(inner) => inner,
                    other => vec![other],
                })
                .collect()
        } else {
            vec![items]
        };
        let mut out: Vec<Vec<String>> = Vec::new();
        let mut over = 0;
        for h in hierarchies {
            let mut path = self.names(&key, h);
            if path.len() > MAX_DEPTH {
                let reason = format!(
                    "a hierarchy of {} levels; only the first {MAX_DEPTH} are used",
                    path.len()
                );
                self.warn(&key, reason);
                path.truncate(MAX_DEPTH);
            }
            if path.is_empty() || out.contains(&path) {
                continue;
            }
            if out.len() == MAX_HIERARCHIES {
                over += 1;
            } else {
                out.push(path);
            }
        }
        if over > 0 {
            let reason = format!(
                "only the first {MAX_HIERARCHIES} hierarchies are used; {over} more ignored"
            );
            self.warn(&key, reason);
        }
        out
    }

    fn tags(&mut self, (key, value): (String, Option<Value>)) -> Vec<String> {
        let items = match value {
            None => return Vec::new(),
            Some(Value::Sequence(items)) => items,
            Some(v) => vec![v],
        };
        let mut tags = Vec::new();
        let mut over = 0;
        for tag in self.names(&key, items) {
            if tags.contains(&tag) {
                continue;
            }
            if tags.len() == MAX_TAGS {
                over += 1;
            } else {
                tags.push(tag);
            }
        }
        if over > 0 {
            let reason = format!("only the first {MAX_TAGS} tags are used; {over} more ignored");
            self.warn(&key, reason);
        }
        tags
    }

    /// Scalars as names; empty ones dropped; anything else warned about.
    fn names(&mut self, key: &str, values: Vec<Value>) -> Vec<String> {
        let mut names = Vec::new();
        for v in values {
            match scalar_text(&v) {
                Some(s) if !s.trim().is_empty() => names.push(s.trim().to_string()),
                Some(_) => {}
                None if v.is_null() => {}
                None => {
                    let reason = format!("a {} is not a name; ignored", kind_name(&v));
                    self.warn(key, reason);
                }
            }
        }
        names
    }

    fn extra(&mut self) -> BTreeMap<String, serde_json::Value> {
        let map = std::mem::take(&mut self.map);
        let mut extra = BTreeMap::new();
        for (k, v) in map {
            let Some(key) = scalar_text(&k) else { continue };
            match serde_json::to_value(&v) {
                Ok(json) => {
                    extra.insert(key, json);
                }
                Err(e) => self.warn(&key, format!("kept out of extra fields: {e}")),
            }
        }
        extra
    }
}

/// Strings, numbers and booleans as text: Hexo titles such as `2048` or
/// dates that YAML reads as numbers are still text to the reader.
fn scalar_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Tagged(t) => scalar_text(&t.value),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fm(text: &str) -> FrontMatter {
        parse(&split(text)).unwrap()
    }

    #[test]
    fn an_unclosed_front_matter_is_refused_naming_its_line() {
        let s = split("\n---\n\ntitle: a\ndate: 2021-01-01\nbody");
        assert!(s.unclosed && s.yaml.is_none());
        let err = parse(&s).unwrap_err();
        assert_eq!(err.line, Some(2));
        assert!(err.reason.contains("never closed"), "{}", err.reason);
    }

    #[test]
    fn an_unclosed_fence_before_text_is_a_rule_in_the_body() {
        for text in ["---\n\nSome text\n", "---\n# Heading\n"] {
            let s = split(text);
            assert!(!s.unclosed && s.yaml.is_none() && s.opened, "{text:?}");
            assert_eq!(s.body, text);
            assert!(parse(&s).is_ok());
        }
    }

    /// A file cut within its first bytes is no post with a `<hr>` body.
    #[test]
    fn nothing_but_the_start_of_a_fence_is_cut_short() {
        for text in [
            "-",
            "--",
            "---",
            "---\n",
            "\n---\n\n",
            ";",
            ";;;\n",
            "-----",
        ] {
            let s = split(text);
            assert!(s.unclosed, "{text:?}");
            let err = parse(&s).unwrap_err();
            assert!(err.reason.starts_with("looks cut short"), "{}", err.reason);
        }
        for text in ["- item\n", "---\nHello", "***"] {
            assert!(!split(text).unclosed, "{text:?}");
        }
    }

    #[test]
    fn json_front_matter() {
        let f = fm(";;;\n{\"title\": \"j\", \"tags\": [\"x\"]}\n;;;\nbody");
        assert_eq!(f.title.as_deref(), Some("j"));
        assert_eq!(f.tags, vec!["x"]);
    }

    #[test]
    fn categories_follow_hexo() {
        let cat = |y: &str| fm(&format!("---\n{y}\n---\n")).categories;
        assert_eq!(cat("categories: A"), vec![vec!["A"]]);
        assert_eq!(cat("categories: [A, B]"), vec![vec!["A", "B"]]);
        assert_eq!(
            cat("categories: [[A, B], [C]]"),
            vec![vec!["A", "B"], vec!["C"]]
        );
        assert_eq!(
            cat("categories: [[A, B], C]"),
            vec![vec!["A", "B"], vec!["C"]]
        );
        assert_eq!(cat("category: [A, B]"), vec![vec!["A", "B"]]);
        assert_eq!(cat("categories:"), Vec::<Vec<String>>::new());
        assert_eq!(cat("categories: [2021, '', null]"), vec![vec!["2021"]]);
    }

    #[test]
    fn tags_list_or_string() {
        assert_eq!(fm("---\ntags: one\n---\n").tags, vec!["one"]);
        assert_eq!(fm("---\ntags: [a, b, a]\n---\n").tags, vec!["a", "b"]);
        assert_eq!(fm("---\ntag: [x]\n---\n").tags, vec!["x"]);
    }

    #[test]
    fn numeric_title_is_text_and_unknown_keys_are_kept() {
        let f = fm("---\ntitle: 2048\ntoc: true\nheadimg: h.png\n---\n");
        assert_eq!(f.title.as_deref(), Some("2048"));
        assert_eq!(f.image.as_deref(), Some("h.png"));
        assert_eq!(f.extra.get("toc"), Some(&serde_json::Value::Bool(true)));
    }

    #[test]
    fn wrong_shapes_warn_with_their_line() {
        let f = fm("---\ntitle: t\nauthor: [a, b]\n---\n");
        assert_eq!(f.author, None);
        assert_eq!(f.warnings[0].field.as_deref(), Some("author"));
        assert_eq!(f.warnings[0].line, Some(3));
    }

    #[test]
    fn yaml_errors_are_located_in_the_file() {
        let err = parse(&split("\n---\ntitle: a\ndate: [\n---\n")).unwrap_err();
        assert!(err.reason.starts_with("invalid YAML"), "{err:?}");
        assert!(err.line.unwrap() >= 4, "{err:?}");
    }

    #[test]
    fn tags_and_categories_are_capped_with_a_warning() {
        let list = |n: usize| {
            (0..n)
                .map(|i| format!("n{i}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let f = fm(&format!("---\ntags: [{}]\n---\n", list(1000)));
        assert_eq!(f.tags.len(), MAX_TAGS);
        assert_eq!(f.tags[0], "n0");
        assert!(
            f.warnings[0].reason.contains("968 more ignored"),
            "{:?}",
            f.warnings
        );
        let f = fm(&format!("---\ncategories: [{}]\n---\n", list(100)));
        assert_eq!(
            f.categories,
            vec![(0..MAX_DEPTH).map(|i| format!("n{i}")).collect::<Vec<_>>()]
        );
        let nested: Vec<String> = (0..20).map(|i| format!("[a{i}, b]")).collect();
        let f = fm(&format!("---\ncategories: [{}]\n---\n", nested.join(", ")));
        assert_eq!(f.categories.len(), MAX_HIERARCHIES);
        assert!(
            f.warnings[0].reason.contains("12 more ignored"),
            "{:?}",
            f.warnings
        );
    }

    #[test]
    fn warnings_are_capped() {
        let lists = "  - - x\n".repeat(10_000);
        let f = fm(&format!("---\ntags:\n{lists}---\n"));
        assert_eq!(f.warnings.len(), MAX_WARNINGS + 1);
        assert_eq!(f.warnings[0].line, Some(2));
        assert_eq!(
            f.warnings[MAX_WARNINGS].reason,
            "9980 more warnings like these"
        );
    }

    #[test]
    fn author_mapping_and_ids() {
        let f = fm("---\nauthor: {name: N, link: x}\nabbrlink: 3f2a\n---\n");
        assert_eq!(f.author.as_deref(), Some("N"));
        assert_eq!(f.id.as_deref(), Some("3f2a"));
    }
}
