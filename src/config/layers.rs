//! Layering: the embedded default, then a file, then `REFEED_*`
//! environment variables, then flags, merged as YAML before anything is
//! read from it.

use std::path::PathBuf;

use serde_yaml::{Mapping, Value};

use super::raw::RawConfig;
use super::{Config, ConfigError, DEFAULT_YAML};

/// Environment variables that name a flag rather than a config key.
const FLAG_VARS: &[&str] = &["REFEED_CONFIG", "REFEED_LOG"];

/// Everything that may contribute to a [`Config`], lowest precedence first.
#[derive(Debug, Default)]
pub struct Sources {
    /// A file that replaces keys of the embedded default.
    pub file: Option<PathBuf>,
    /// `(name, value)` pairs, normally `std::env::vars()`.
    pub env: Vec<(String, String)>,
    /// Dotted keys set by flags, e.g. `("source_dir", "posts")`.
    pub flags: Vec<(String, String)>,
}

impl Sources {
    pub fn resolve(&self) -> Result<Config, ConfigError> {
        let mut tree = parse_mapping(DEFAULT_YAML, "embedded default")?;
        if let Some(path) = &self.file {
            let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                path: path.clone(),
                source,
            })?;
            merge(
                &mut tree,
                parse_mapping(&text, &path.display().to_string())?,
            );
        }
        for (var, value) in &self.env {
            if let Some(key) = env_key(var) {
                set_dotted(&mut tree, &key, yaml_scalar(value)).map_err(|reason| {
                    ConfigError::Env {
                        var: var.clone(),
                        reason,
                    }
                })?;
            }
        }
        for (key, value) in &self.flags {
            let value = Value::String(value.clone());
            set_dotted(&mut tree, key, value).map_err(|reason| ConfigError::Env {
                var: format!("flag for {key}"),
                reason,
            })?;
        }
        let raw: RawConfig =
            serde_yaml::from_value(Value::Mapping(tree)).map_err(|source| ConfigError::Yaml {
                origin: "configuration".into(),
                source,
            })?;
        raw.validate()
    }
}

fn parse_mapping(text: &str, origin: &str) -> Result<Mapping, ConfigError> {
    match serde_yaml::from_str::<Value>(text) {
        Ok(Value::Mapping(m)) => Ok(m),
        Ok(Value::Null) => Ok(Mapping::new()),
        Ok(_) => Err(ConfigError::NotAMapping {
            origin: origin.into(),
        }),
        Err(source) => Err(ConfigError::Yaml {
            origin: origin.into(),
            source,
        }),
    }
}

/// Deep merge: mappings merge key by key, anything else replaces.
fn merge(base: &mut Mapping, over: Mapping) {
    for (key, value) in over {
        match (base.get_mut(&key), value) {
            (Some(Value::Mapping(b)), Value::Mapping(o)) => merge(b, o),
            (_, value) => {
                base.insert(key, value);
            }
        }
    }
}

/// `REFEED_FEED__LIMIT` -> `feed.limit`; flag variables are not keys.
fn env_key(var: &str) -> Option<String> {
    let rest = var.strip_prefix("REFEED_")?;
    if FLAG_VARS.contains(&var) || rest.is_empty() {
        return None;
    }
    Some(rest.to_ascii_lowercase().replace("__", "."))
}

/// Environment values are read as YAML scalars or flow collections so that
/// `50`, `true` and `[a, b]` get their natural types; flags stay text.
fn yaml_scalar(value: &str) -> Value {
    serde_yaml::from_str(value).unwrap_or_else(|_| Value::String(value.into()))
}

fn set_dotted(tree: &mut Mapping, key: &str, parsed: Value) -> Result<(), String> {
    let mut parts = key.split('.').peekable();
    let mut node = tree;
    while let Some(part) = parts.next() {
        let k = Value::String(part.to_string());
        if parts.peek().is_none() {
            node.insert(k, parsed);
            return Ok(());
        }
        let child = node
            .entry(k)
            .or_insert_with(|| Value::Mapping(Mapping::new()));
        node = match child {
            Value::Mapping(m) => m,
            _ => return Err(format!("`{part}` is not a section, cannot set `{key}`")),
        };
    }
    Err("empty key".into())
}

/// The embedded default with `env` and `flags` on top.
#[cfg(test)]
pub(super) fn with(env: &[(&str, &str)], flags: &[(&str, &str)]) -> Result<Config, ConfigError> {
    Sources {
        file: None,
        env: env
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect(),
        flags: flags
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect(),
    }
    .resolve()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_overrides_file_and_flags_override_env() {
        let c = with(
            &[
                ("REFEED_FEED__LIMIT", "7"),
                ("REFEED_TIMEZONE", "Asia/Shanghai"),
                ("REFEED_CONFIG", "ignored"),
                ("REFEED_TITLE", "from env"),
            ],
            &[("title", "from flag")],
        )
        .unwrap();
        assert_eq!(c.feed.limit, 7);
        assert_eq!(c.site.title, "from flag");
        assert_eq!(c.site.timezone, chrono_tz::Asia::Shanghai);
    }

    #[test]
    fn a_scalar_cannot_become_a_section() {
        let err = with(&[("REFEED_TITLE__X", "1")], &[]).unwrap_err();
        assert!(err.to_string().contains("not a section"), "{err}");
    }
}
