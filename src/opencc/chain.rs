//! One OpenCC conversion as a chain of dictionary steps, each applied to
//! the whole text in turn: at every position the longest key of the step's
//! dictionaries is replaced by its first value, else the character is kept
//! (what OpenCC's configurations mean, as ferrous-opencc reads them: no
//! segmentation pass; a key in two dictionaries of a group takes the
//! first's value; a key twice in one file takes the later line's).
//!
//! Each step is one leftmost-longest Aho-Corasick automaton, so a step
//! costs one pass over the text instead of a dictionary walk from every
//! character.

use std::collections::{BTreeMap, HashSet};

use daachorse::{CharwiseDoubleArrayAhoCorasick, CharwiseDoubleArrayAhoCorasickBuilder, MatchKind};
use serde_json::Value;

use super::data;

pub struct Chain {
    steps: Vec<Step>,
}

struct Step {
    automaton: CharwiseDoubleArrayAhoCorasick<u32>,
    values: Vec<&'static str>,
}

impl Chain {
    /// The chain the bundled configuration `name` (`s2t`, ...) describes.
    pub fn load(name: &str) -> Result<Chain, String> {
        let config = find(data::CONFIGS, name)?;
        let config: Value =
            serde_json::from_str(config).map_err(|e| format!("{name}.json: {e}"))?;
        let nodes = config["conversion_chain"]
            .as_array()
            .ok_or_else(|| format!("{name}.json has no conversion_chain"))?;
        let steps = nodes
            .iter()
            .map(|node| Step::of(&node["dict"]))
            .collect::<Result<_, _>>()?;
        Ok(Chain { steps })
    }

    pub fn convert(&self, text: &str) -> String {
        let mut current = text.to_string();
        for step in &self.steps {
            current = step.apply(&current);
        }
        current
    }
}

impl Step {
    fn of(dict: &Value) -> Result<Step, String> {
        let mut files = Vec::new();
        dictionary_files(dict, &mut files)?;
        let mut seen = HashSet::new();
        let mut patterns = Vec::new();
        let mut values = Vec::new();
        for file in files {
            for (key, value) in entries(find(data::DICTIONARIES, file)?) {
                if seen.insert(key) {
                    patterns.push((key, values.len() as u32));
                    values.push(value);
                }
            }
        }
        let automaton = CharwiseDoubleArrayAhoCorasickBuilder::new()
            .match_kind(MatchKind::LeftmostLongest)
            .build_with_values(patterns)
            .map_err(|e| e.to_string())?;
        Ok(Step { automaton, values })
    }

    fn apply(&self, text: &str) -> String {
        let mut out = String::with_capacity(text.len() + text.len() / 8);
        let mut kept_from = 0;
        for m in self.automaton.leftmost_find_iter(text) {
            out.push_str(&text[kept_from..m.start()]);
            out.push_str(self.values.get(m.value() as usize).copied().unwrap_or(""));
            kept_from = m.end();
        }
        out.push_str(&text[kept_from..]);
        out
    }
}

/// The dictionary files of a step, in their order: a group's members
/// (groups nest), or the one file.
fn dictionary_files(dict: &Value, files: &mut Vec<&'static str>) -> Result<(), String> {
    match dict["type"].as_str() {
        Some("group") => {
            let members = dict["dicts"].as_array().ok_or("a group without dicts")?;
            members.iter().try_for_each(|d| dictionary_files(d, files))
        }
        Some("ocd2" | "text") => {
            let file = dict["file"].as_str().ok_or("a dictionary without file")?;
            let stem = file.rsplit_once('.').map_or(file, |(stem, _)| stem);
            let (name, _) = data::DICTIONARIES
                .iter()
                .find(|(name, _)| *name == stem)
                .ok_or_else(|| format!("no bundled dictionary {file}"))?;
            files.push(name);
            Ok(())
        }
        other => Err(format!("unknown dictionary type {other:?}")),
    }
}

/// `key<TAB>value[ value…]` lines; `#` comments and malformed lines are
/// skipped, and of a key given twice the later line counts.
fn entries(text: &'static str) -> BTreeMap<&'static str, &'static str> {
    let mut map = BTreeMap::new();
    for line in text.lines() {
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let mut parts = line.split('\t');
        let (Some(key), Some(values), None) = (parts.next(), parts.next(), parts.next()) else {
            continue;
        };
        if key.is_empty() || values.split(' ').any(str::is_empty) {
            continue;
        }
        if let Some(first) = values.split(' ').next() {
            map.insert(key, first);
        }
    }
    map
}

fn find(
    table: &'static [(&'static str, &'static str)],
    name: &str,
) -> Result<&'static str, String> {
    table
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, text)| *text)
        .ok_or_else(|| format!("no bundled {name}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::opencc::Conversion;
    use ferrous_opencc::OpenCC;
    use ferrous_opencc::config::BuiltinConfig as B;

    fn reference(c: Conversion) -> OpenCC {
        let b = match c {
            Conversion::S2t => B::S2t,
            Conversion::T2s => B::T2s,
            Conversion::S2tw => B::S2tw,
            Conversion::Tw2s => B::Tw2s,
            Conversion::S2twp => B::S2twp,
            Conversion::Tw2sp => B::Tw2sp,
            Conversion::S2hk => B::S2hk,
            Conversion::Hk2s => B::Hk2s,
            Conversion::T2tw => B::T2tw,
            Conversion::T2hk => B::T2hk,
            Conversion::T2jp => B::T2jp,
            Conversion::Jp2t => B::Jp2t,
        };
        OpenCC::from_config(b).expect("ferrous-opencc loads its own configuration")
    }

    fn texts() -> Vec<String> {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut texts = Vec::new();
        let mut dirs = vec![
            root.join("examples/posts"),
            root.join("tests/fixtures/reference"),
        ];
        while let Some(dir) = dirs.pop() {
            for entry in std::fs::read_dir(&dir).expect("fixture folder").flatten() {
                let path = entry.path();
                if path.is_dir() {
                    dirs.push(path);
                } else if let Ok(text) = std::fs::read_to_string(&path) {
                    texts.push(text);
                }
            }
        }
        assert!(texts.len() > 10, "the fixtures are missing");
        texts
    }

    /// Every conversion gives ferrous-opencc's output on the bundled
    /// articles, in Simplified and (converted by s2t) Traditional script,
    /// and on the keys of every dictionary, where phrase overlaps are.
    #[test]
    fn every_chain_converts_as_ferrous_opencc_does() {
        let mut texts = texts();
        let s2t = reference(Conversion::S2t);
        let traditional: Vec<String> = texts.iter().map(|t| s2t.convert(t)).collect();
        texts.extend(traditional);
        let keys: String = data::DICTIONARIES
            .iter()
            .flat_map(|(_, text)| entries(text).into_keys())
            .collect::<Vec<_>>()
            .join("，");
        texts.push(keys);
        for c in Conversion::ALL {
            let ours = Chain::load(c.name()).expect("bundled chain");
            let theirs = reference(c);
            for text in &texts {
                assert!(
                    ours.convert(text) == theirs.convert(text),
                    "{} differs",
                    c.name()
                );
            }
        }
    }

    #[test]
    fn a_group_takes_the_first_dictionarys_value_and_a_file_its_later_line() {
        let map = entries("# comment\n干\t幹 乾\n干\t乾\nbad line\nx\t\n");
        assert_eq!(map.into_iter().collect::<Vec<_>>(), [("干", "乾")]);
    }
}
