//! Front-matter YAML read within bounds of time and memory.
//!
//! serde_yaml 0.9 (libyaml underneath) has two blow-ups on hostile input,
//! both measured on a release build:
//!
//! - **Flow nesting is quadratic.** libyaml keeps one "simple key" slot per
//!   open `[`/`{` and walks all of them for every token, so `[[[[…` of depth
//!   d costs O(d²) before serde_yaml's own depth limit (128) even sees it:
//!   20,000 levels (40 KB) take 0.85 s, and a 10 MiB file of `[` would take
//!   days. The work is at most (tokens × flow depth) ≤ (bytes × number of
//!   `[`/`{`), so that product is capped ([`MAX_FLOW_WORK`]); front matter
//!   under ~11 KB is never affected.
//! - **Aliases are expanded eagerly.** `a: &a [x, …]` then `b: [*a, *a, …]`
//!   builds every copy (serde_yaml only limits alias *jumps*, to 100 per
//!   event): a 30 KB front matter of 6,000 × 6,000 took 20 s and 3.7 GB, and
//!   a 60 KB one runs out of memory. Values are therefore built through a
//!   budget: aliases may not make a front matter produce more values or
//!   text than any alias-free front matter of the same size could.
//!
//! A front matter over [`MAX_FRONT_MATTER_BYTES`] is refused outright: real
//! ones are a few hundred bytes (the 817-post corpus tops out at 369), and
//! even without aliases serde_yaml needs about 100 bytes per value.

use std::cell::Cell;
use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, EnumAccess, MapAccess, SeqAccess, Visitor};
use serde_yaml::value::{Tag, TaggedValue};
use serde_yaml::{Mapping, Value};

/// Largest front matter read, in bytes.
pub const MAX_FRONT_MATTER_BYTES: usize = 256 * 1024;

/// Bound on bytes × `[`/`{` count: about 0.15 s of libyaml in the worst case.
pub const MAX_FLOW_WORK: usize = 1 << 27;

/// Why a front matter was not read.
#[derive(Debug)]
pub enum YamlError {
    /// Refused before or while parsing, to bound time or memory.
    Refused(String),
    /// Not valid YAML (or a shape serde_yaml rejects, such as depth > 128).
    Invalid(serde_yaml::Error),
}

/// `serde_yaml::from_str::<Value>`, with the limits above.
pub fn from_str(yaml: &str) -> Result<Value, YamlError> {
    if yaml.len() > MAX_FRONT_MATTER_BYTES {
        return Err(YamlError::Refused(format!(
            "front matter is {} bytes, over the {MAX_FRONT_MATTER_BYTES}-byte limit",
            yaml.len()
        )));
    }
    let opens = yaml.bytes().filter(|b| matches!(b, b'[' | b'{')).count();
    if opens.saturating_mul(yaml.len()) > MAX_FLOW_WORK {
        return Err(YamlError::Refused(format!(
            "front matter has {opens} `[`/`{{` in {} bytes, too many to parse safely \
             (a YAML nesting bomb?)",
            yaml.len()
        )));
    }
    // An alias-free document makes about one value per byte at most
    // (`{a,b}`) and 1.5 bytes of text per byte (`\L` is 2 bytes of YAML, 3
    // of UTF-8); twice that leaves a margin.
    let budget = Budget {
        values: Cell::new(2 * yaml.len() + 4096),
        text: Cell::new(2 * yaml.len() + 4096),
        exceeded: Cell::new(false),
    };
    let de = serde_yaml::Deserializer::from_str(yaml);
    match Bounded(&budget).deserialize(de) {
        Ok(value) => apply_merges(value),
        Err(_) if budget.exceeded.get() => Err(YamlError::Refused(
            "YAML aliases expand the front matter far beyond its size \
             (a \"billion laughs\" bomb?)"
                .into(),
        )),
        Err(e) => Err(YamlError::Invalid(e)),
    }
}

/// Rounds of [`Value::apply_merge`]: one resolves the merge keys a document
/// has, the next those that merged mappings brought in themselves
/// (`b: {<<: *a}`, `c: {<<: *b}`); chains longer than this are refused.
const MAX_MERGE_ROUNDS: usize = 8;

/// YAML 1.1 merge keys (`<<: *base`, `<<: [*a, *b]`), as Hexo's js-yaml
/// applies them: keys written in the mapping win over merged ones. Merging
/// moves values, it copies none, so the alias budget still holds; a merge of
/// something other than mappings is an error, as it is for js-yaml.
fn apply_merges(mut value: Value) -> Result<Value, YamlError> {
    for _ in 0..MAX_MERGE_ROUNDS {
        if !has_merge_key(&value) {
            return Ok(value);
        }
        value.apply_merge().map_err(YamlError::Invalid)?;
    }
    if has_merge_key(&value) {
        return Err(YamlError::Refused(format!(
            "merge keys (`<<`) chained more than {MAX_MERGE_ROUNDS} deep"
        )));
    }
    Ok(value)
}

fn has_merge_key(value: &Value) -> bool {
    let mut stack = vec![value];
    while let Some(v) = stack.pop() {
        match v {
            Value::Mapping(m) => {
                if m.contains_key("<<") {
                    return true;
                }
                stack.extend(m.values());
            }
            Value::Sequence(s) => stack.extend(s),
            Value::Tagged(t) => stack.push(&t.value),
            _ => {}
        }
    }
    false
}

struct Budget {
    values: Cell<usize>,
    text: Cell<usize>,
    exceeded: Cell<bool>,
}

impl Budget {
    /// Accounts for one value holding `text` bytes of text.
    fn take<E: de::Error>(&self, text: usize) -> Result<(), E> {
        let (values, left) = (self.values.get(), self.text.get());
        if values == 0 || left < text {
            self.exceeded.set(true);
            return Err(E::custom("front matter expands past its budget"));
        }
        self.values.set(values - 1);
        self.text.set(left - text);
        Ok(())
    }
}

/// Builds a [`Value`] exactly as serde_yaml's own `Deserialize` does
/// (including its duplicate-key and empty-tag errors), drawing on a budget.
#[derive(Clone, Copy)]
struct Bounded<'b>(&'b Budget);

impl<'de> DeserializeSeed<'de> for Bounded<'_> {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Bounded<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any YAML value")
    }

    fn visit_bool<E: de::Error>(self, b: bool) -> Result<Value, E> {
        self.0.take(0)?;
        Ok(Value::Bool(b))
    }

    fn visit_i64<E: de::Error>(self, i: i64) -> Result<Value, E> {
        self.0.take(0)?;
        Ok(Value::Number(i.into()))
    }

    fn visit_u64<E: de::Error>(self, u: u64) -> Result<Value, E> {
        self.0.take(0)?;
        Ok(Value::Number(u.into()))
    }

    fn visit_f64<E: de::Error>(self, f: f64) -> Result<Value, E> {
        self.0.take(0)?;
        Ok(Value::Number(f.into()))
    }

    fn visit_str<E: de::Error>(self, s: &str) -> Result<Value, E> {
        self.0.take(s.len())?;
        Ok(Value::String(s.to_owned()))
    }

    fn visit_string<E: de::Error>(self, s: String) -> Result<Value, E> {
        self.0.take(s.len())?;
        Ok(Value::String(s))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        self.0.take(0)?;
        Ok(Value::Null)
    }

    fn visit_none<E: de::Error>(self) -> Result<Value, E> {
        self.visit_unit()
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        self.deserialize(deserializer)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        self.0.take(0)?;
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(self)? {
            items.push(item);
        }
        Ok(Value::Sequence(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        self.0.take(0)?;
        let mut mapping = Mapping::new();
        while let Some(key) = map.next_key_seed(self)? {
            if mapping.contains_key(&key) {
                return Err(de::Error::custom(duplicate_key(&key)));
            }
            let value = map.next_value_seed(self)?;
            mapping.insert(key, value);
        }
        Ok(Value::Mapping(mapping))
    }

    fn visit_enum<A: EnumAccess<'de>>(self, data: A) -> Result<Value, A::Error> {
        self.0.take(0)?;
        let (tag, contents): (String, _) = data.variant()?;
        if tag.is_empty() {
            return Err(de::Error::custom("empty YAML tag is not allowed"));
        }
        let value = de::VariantAccess::newtype_variant_seed(contents, self)?;
        Ok(Value::Tagged(Box::new(TaggedValue {
            tag: Tag::new(tag),
            value,
        })))
    }
}

/// serde_yaml's wording for a repeated key.
fn duplicate_key(key: &Value) -> String {
    match key {
        Value::Null => "duplicate entry with null key".into(),
        Value::Bool(b) => format!("duplicate entry with key `{b}`"),
        Value::Number(n) => format!("duplicate entry with key {n}"),
        Value::String(s) => format!("duplicate entry with key {s:?}"),
        _ => "duplicate entry in YAML map".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn laughs(levels: usize, width: usize) -> String {
        let mut s = format!("a0: &a0 [{}]\n", vec!["lol"; width].join(","));
        for l in 1..levels {
            let refs = vec![format!("*a{}", l - 1); width].join(",");
            s.push_str(&format!("a{l}: &a{l} [{refs}]\n"));
        }
        s
    }

    #[test]
    fn same_values_as_serde_yaml() {
        for yaml in [
            "title: a\ntags: [x, y]\nn: 1\nf: 1.5\nb: true\nz: ~\n",
            "a: &x [1, 2]\nb: *x\n",
            "t: !custom {k: v}\nu: !<!> x\n",
            "",
            "[1, {a: b}]",
            "'quoted': \"\\L\\L\\L\"\n",
            &"- x\n".repeat(10_000),
        ] {
            let ours = from_str(yaml).unwrap_or_else(|e| panic!("{} bytes: {e:?}", yaml.len()));
            let theirs: Value = serde_yaml::from_str(yaml).unwrap();
            assert!(ours == theirs, "{} bytes differ", yaml.len());
        }
    }

    #[test]
    fn same_errors_as_serde_yaml() {
        for yaml in ["a: 1\na: 2\n", "a: [\n", "--- a\n--- b\n", "1: x\n1: y\n"] {
            let ours = match from_str(yaml) {
                Err(YamlError::Invalid(e)) => e.to_string(),
                other => panic!("{yaml:?}: {other:?}"),
            };
            let theirs = serde_yaml::from_str::<Value>(yaml).unwrap_err().to_string();
            assert_eq!(ours, theirs, "{yaml:?}");
        }
    }

    #[test]
    fn alias_bombs_are_refused_before_they_expand() {
        let n = 6000;
        let wide = format!(
            "a: &a [{}]\nb: [{}]\n",
            vec!["x"; n].join(","),
            vec!["*a"; n].join(",")
        );
        // Refused by the alias budget, before anything is expanded: the
        // refusal itself is what keeps the time bounded.
        for yaml in [laughs(9, 9), wide] {
            assert!(matches!(from_str(&yaml), Err(YamlError::Refused(_))));
        }
        // A few aliases of a small anchor are fine.
        assert!(from_str(&laughs(3, 3)).is_ok());
    }

    #[test]
    fn merge_keys_are_applied_and_written_keys_win() {
        let yaml = "base: &b {title: T, n: 1}\nmore: &m {<<: *b, x: 2}\n\
                    post:\n  <<: [*m, {y: 3}]\n  n: 9\n";
        let merged = from_str(yaml).unwrap();
        let expected: Value = serde_yaml::from_str(
            "base: {title: T, n: 1}\nmore: {title: T, n: 1, x: 2}\n\
             post: {title: T, n: 9, x: 2, y: 3}\n",
        )
        .unwrap();
        assert_eq!(merged, expected);
        assert!(matches!(
            from_str("a: {<<: 5}\n"),
            Err(YamlError::Invalid(_))
        ));
    }

    #[test]
    fn nesting_bombs_are_refused_before_parsing() {
        let n = 100_000;
        let deep = format!("a: {}{}", "[".repeat(n), "]".repeat(n));
        assert!(matches!(from_str(&deep), Err(YamlError::Refused(_))));
        // Below the work bound, serde_yaml's own depth limit answers.
        let n = 1000;
        let deep = format!("a: {}{}", "[".repeat(n), "]".repeat(n));
        assert!(matches!(from_str(&deep), Err(YamlError::Invalid(_))));
    }

    #[test]
    fn oversized_front_matter_is_refused() {
        let yaml = format!("a: {}\n", "x".repeat(MAX_FRONT_MATTER_BYTES));
        assert!(matches!(from_str(&yaml), Err(YamlError::Refused(_))));
    }
}
