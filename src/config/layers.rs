//! Layering: the embedded default, then a file, then `REFEED_*`
//! environment variables, then flags, merged as YAML before anything is
//! read from it.

use std::path::{Path, PathBuf};

use serde_yaml::{Mapping, Value};

use super::origin::{Origin, line_of};
use super::raw::RawConfig;
use super::unknown::{self, Typo};
use super::validate::Invalid;
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
    /// Keys set by flags.
    pub flags: Vec<Flag>,
}

/// A key set by a command-line flag.
#[derive(Debug, Clone)]
pub struct Flag {
    /// As typed, e.g. `--source`: what an error about it names.
    pub name: String,
    /// The dotted key it sets, e.g. `source_dir`.
    pub key: String,
    pub value: String,
}

/// The configuration file, read once.
struct File<'a> {
    path: &'a Path,
    text: String,
}

impl File<'_> {
    /// The file and line of `key`, if the file has it.
    fn origin(&self, key: &str) -> Option<Origin> {
        line_of(&self.text, key).map(|line| Origin::File {
            path: self.path.to_path_buf(),
            line,
        })
    }
}

impl Sources {
    /// The configuration; unknown keys close to known ones are logged as
    /// warnings.
    pub fn resolve(&self) -> Result<Config, ConfigError> {
        let (config, typos) = self.resolve_noting()?;
        for typo in typos {
            tracing::warn!("{typo}");
        }
        Ok(config)
    }

    /// The configuration and the unknown keys that look like typos.
    pub(super) fn resolve_noting(&self) -> Result<(Config, Vec<Typo>), ConfigError> {
        let known = parse_mapping(DEFAULT_YAML, "the built-in default")?;
        let mut tree = known.clone();
        let mut typos = Vec::new();
        let file = self.read_file()?;
        if let Some(file) = &file {
            let over = parse_mapping(&file.text, &file.path.display().to_string())?;
            for key in unknown::keys(&known, &over) {
                if let (Some(meant), Some(origin)) =
                    (unknown::meant(&known, &key), file.origin(&key))
                {
                    typos.push(Typo { origin, key, meant });
                }
            }
            merge(&mut tree, over);
        }
        for (var, value) in &self.env {
            let Some(key) = env_key(var) else { continue };
            let origin = || Origin::Env { var: var.clone() };
            if let Some(meant) = unknown::meant(&known, &key) {
                typos.push(Typo {
                    origin: origin(),
                    key: key.clone(),
                    meant,
                });
            }
            set_dotted(&mut tree, &key, yaml_scalar(value)).map_err(|reason| ConfigError::At {
                origin: origin(),
                key,
                reason,
            })?;
        }
        for flag in &self.flags {
            let value = Value::String(flag.value.clone());
            set_dotted(&mut tree, &flag.key, value).map_err(|reason| ConfigError::At {
                origin: Origin::Flag {
                    name: flag.name.clone(),
                },
                key: flag.key.clone(),
                reason,
            })?;
        }
        let raw: RawConfig =
            serde_path_to_error::deserialize(Value::Mapping(tree)).map_err(|e| {
                let key = e.path().to_string();
                ConfigError::At {
                    origin: self.origin(&map_keys(e.path()), file.as_ref()),
                    reason: in_words(&e.into_inner().to_string()),
                    key,
                }
            })?;
        let config = raw
            .validate()
            .map_err(|Invalid { key, reason }| ConfigError::At {
                // `feeds[2].slug` is found by its mapping key, `feeds`.
                origin: self.origin(key.split('[').next().unwrap_or(&key), file.as_ref()),
                key,
                reason,
            })?;
        Ok((config, typos))
    }

    /// The source folder is a folder, or an error that says where refeed
    /// looked, which layer sent it there and how to point it elsewhere.
    pub fn require_source_dir(&self, config: &Config) -> Result<(), ConfigError> {
        let problem = match std::fs::metadata(&config.source_dir) {
            Ok(m) if m.is_dir() => return Ok(()),
            Ok(_) => "is not a folder".to_string(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => "does not exist".to_string(),
            Err(e) => format!("cannot be read ({e})"),
        };
        // Read again: this runs once, on the way out with an error.
        let file = self.read_file().ok().flatten();
        Err(ConfigError::SourceDir {
            path: config.source_dir.clone(),
            origin: self.origin("source_dir", file.as_ref()),
            problem,
        })
    }

    fn read_file(&self) -> Result<Option<File<'_>>, ConfigError> {
        let Some(path) = &self.file else {
            return Ok(None);
        };
        let text = std::fs::read_to_string(path).map_err(|error| ConfigError::Read {
            path: path.clone(),
            error,
        })?;
        Ok(Some(File { path, text }))
    }

    /// The layer that set the dotted `key` (or a section above it) last.
    fn origin(&self, key: &str, file: Option<&File<'_>>) -> Origin {
        let sets = |set: &str| key == set || key.starts_with(&format!("{set}."));
        if let Some(flag) = self.flags.iter().rev().find(|f| sets(&f.key)) {
            return Origin::Flag {
                name: flag.name.clone(),
            };
        }
        let mut env = self.env.iter().rev();
        if let Some((var, _)) = env.find(|(v, _)| env_key(v).is_some_and(|k| sets(&k))) {
            return Origin::Env { var: var.clone() };
        }
        if let Some(origin) = file.and_then(|f| f.origin(key)) {
            return origin;
        }
        Origin::Default
    }
}

/// The mapping keys of a path to a value, without sequence indices:
/// `load.remove_selectors[1]` -> `load.remove_selectors`.
fn map_keys(path: &serde_path_to_error::Path) -> String {
    use serde_path_to_error::Segment;
    path.iter()
        .map_while(|s| match s {
            Segment::Map { key } => Some(key.as_str()),
            _ => None,
        })
        .collect::<Vec<_>>()
        .join(".")
}

/// serde's `invalid type: string "abc", expected usize` as a person would
/// say it: what was expected first, in words, then what was found.
fn in_words(message: &str) -> String {
    let Some((found, expected)) = message
        .strip_prefix("invalid type: ")
        .or_else(|| message.strip_prefix("invalid value: "))
        .and_then(|m| m.rsplit_once(", expected "))
    else {
        return message.to_string();
    };
    let expected = match expected {
        "usize" | "u64" | "u32" => "a whole number (0 or more)",
        "a sequence" => "a list",
        e if e.starts_with("struct ") => "a section of keys",
        e => e,
    };
    format!("expected {expected}, found {found}")
}

fn parse_mapping(text: &str, origin: &str) -> Result<Mapping, ConfigError> {
    match serde_yaml::from_str::<Value>(text) {
        Ok(Value::Mapping(m)) => Ok(m),
        Ok(Value::Null) => Ok(Mapping::new()),
        Ok(_) => Err(ConfigError::NotAMapping {
            origin: origin.into(),
        }),
        Err(e) => Err(ConfigError::Syntax {
            origin: origin.into(),
            message: e.to_string(),
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
            .map(|(key, value)| Flag {
                name: format!("--{key}"),
                key: key.to_string(),
                value: value.to_string(),
            })
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

    /// A file with `text`, resolved under the embedded default.
    fn from_file(text: &str) -> (tempfile::TempDir, PathBuf, Sources) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("refeed.yaml");
        std::fs::write(&path, text).unwrap();
        let sources = Sources {
            file: Some(path.clone()),
            ..Sources::default()
        };
        (dir, path, sources)
    }

    #[test]
    fn a_wrong_type_in_the_file_names_file_line_and_key_once() {
        let (_dir, path, sources) = from_file("title: x\nfeed:\n  limit: abc\n");
        let err = sources.resolve().unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "{}, line 3: `feed.limit`: expected a whole number (0 or more), found string \"abc\"",
                path.display()
            )
        );
        assert!(std::error::Error::source(&err).is_none(), "said once");
    }

    #[test]
    fn a_value_refused_by_validation_names_its_line() {
        let (_dir, path, sources) = from_file("\n\ntimezone: Asia/Beijing\n");
        assert_eq!(
            sources.resolve().unwrap_err().to_string(),
            format!(
                "{}, line 3: `timezone`: `Asia/Beijing` is not an IANA time zone",
                path.display()
            )
        );
        let (_dir, path, sources) = from_file("load:\n  remove_selectors: [a, 7]\n");
        assert_eq!(
            sources.resolve().unwrap_err().to_string(),
            format!(
                "{}, line 2: `load.remove_selectors[1]`: expected a string, found integer `7`",
                path.display()
            )
        );
        let (_dir, path, sources) = from_file("feed: 5\n");
        assert_eq!(
            sources.resolve().unwrap_err().to_string(),
            format!(
                "{}, line 1: `feed`: expected a section of keys, found integer `5`",
                path.display()
            )
        );
    }

    #[test]
    fn variables_and_flags_are_named() {
        let err = with(&[("REFEED_FEED__LIMIT", "abc")], &[]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "environment variable REFEED_FEED__LIMIT: `feed.limit`: \
             expected a whole number (0 or more), found string \"abc\""
        );
        let err = with(&[("REFEED_FEED", "{limit: -1}")], &[]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "environment variable REFEED_FEED: `feed.limit`: \
             expected a whole number (0 or more), found integer `-1`"
        );
        let err = with(
            &[("REFEED_SERVER__LISTEN", "x")],
            &[("server.listen", "localhost")],
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "flag --server.listen: `server.listen`: `localhost`: \
             invalid socket address syntax (expected IP:PORT)"
        );
    }

    #[test]
    fn typos_are_noted_with_the_key_they_resemble() {
        let (_dir, path, sources) = from_file("feed:\n  limt: 5\ntheme: landscape\n");
        let (config, typos) = sources.resolve_noting().unwrap();
        assert_eq!(config.feed.limit, 20, "the typo changes nothing");
        let texts: Vec<String> = typos.iter().map(ToString::to_string).collect();
        assert_eq!(
            texts,
            [format!(
                "{}, line 2: unknown key `feed.limt` is ignored; did you mean `feed.limit`?",
                path.display()
            )]
        );
        let sources = Sources {
            env: vec![("REFEED_SORCE_DIR".into(), "posts".into())],
            ..Sources::default()
        };
        let (_, typos) = sources.resolve_noting().unwrap();
        assert_eq!(
            typos[0].to_string(),
            "environment variable REFEED_SORCE_DIR: unknown key `sorce_dir` is ignored; \
             did you mean `source_dir`?"
        );
    }

    #[test]
    fn a_missing_source_folder_says_where_and_how() {
        let here = std::env::current_dir().unwrap();
        let sources = Sources::default();
        let config = sources.resolve().unwrap();
        let mut config_elsewhere = config.clone();
        config_elsewhere.source_dir = here.join("no-such-folder");
        assert_eq!(
            sources
                .require_source_dir(&config_elsewhere)
                .unwrap_err()
                .to_string(),
            format!(
                "source folder {} does not exist (`source_dir` from the built-in default); \
                 set it with --source DIR, `source_dir: DIR` in the --config file \
                 or REFEED_SOURCE_DIR=DIR",
                here.join("no-such-folder").display()
            )
        );
        let (_dir, path, sources) = from_file("title: t\nsource_dir: Cargo.toml\n");
        let config = sources.resolve().unwrap();
        let err = sources.require_source_dir(&config).unwrap_err().to_string();
        assert!(
            err.starts_with(&format!(
                "source folder {} is not a folder (`source_dir` from {}, line 2); set it with",
                here.join("Cargo.toml").display(),
                path.display()
            )),
            "{err}"
        );
        let sources = Sources {
            env: vec![("REFEED_SOURCE_DIR".into(), "src".into())],
            ..Sources::default()
        };
        sources
            .require_source_dir(&sources.resolve().unwrap())
            .unwrap();
    }
}
