//! Command-line definitions. Flags become config overrides here and
//! nowhere else, so `config` stays the one place that resolves settings.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::config::{Flag, Sources};

#[derive(Debug, Parser)]
#[command(
    name = "refeed",
    version,
    about = "Serve an archive of Hexo posts as per-category RSS, Atom and JSON feeds"
)]
pub struct Cli {
    /// Configuration file (YAML); keys it sets replace the built-in defaults.
    #[arg(long, global = true, env = "REFEED_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Folder of posts (`source_dir`): a `_posts` folder or a Hexo `source/` folder.
    #[arg(long, global = true, value_name = "DIR")]
    pub source: Option<PathBuf>,
    /// Site URL (`url`) that links and ids are built on.
    #[arg(long, global = true, value_name = "URL")]
    pub url: Option<String>,
    /// Log filter, e.g. `info` or `refeed=debug`; `info,refeed::access=debug`
    /// adds one line per HTTP request to `refeed serve`'s log.
    #[arg(long, global = true, env = "REFEED_LOG", default_value = "info")]
    pub log: String,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve every feed over HTTP and reload when files change (the default).
    Serve {
        /// Address to listen on (`server.listen`).
        #[arg(long, value_name = "IP:PORT")]
        listen: Option<String>,
    },
    /// Write every feed, precompressed, into a folder for static hosting.
    Build {
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
    },
    /// Load every post and report what was loaded, warned about or rejected.
    Check {
        /// One JSON object per file and line instead of a summary.
        #[arg(long)]
        json: bool,
    },
}

impl Cli {
    /// The configuration sources these arguments and `env` describe.
    pub fn sources(&self, env: Vec<(String, String)>) -> Sources {
        let flag = |name: &str, key: &str, value: String| Flag {
            name: name.to_string(),
            key: key.to_string(),
            value,
        };
        let mut flags = Vec::new();
        if let Some(s) = &self.source {
            flags.push(flag("--source", "source_dir", s.display().to_string()));
        }
        if let Some(u) = &self.url {
            flags.push(flag("--url", "url", u.clone()));
        }
        if let Some(Command::Serve { listen: Some(l) }) = &self.command {
            flags.push(flag("--listen", "server.listen", l.clone()));
        }
        Sources {
            file: self.config.clone(),
            env,
            flags,
        }
    }
}
