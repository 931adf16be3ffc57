//! Command-line definitions. Flags become config overrides here and
//! nowhere else, so `config` stays the one place that resolves settings.

use std::path::PathBuf;

use clap::{CommandFactory, Parser, Subcommand};

use crate::config::{Flag, Sources};

#[derive(Debug, Parser)]
#[command(
    name = "refeed",
    version,
    about = "Serve an archive of Hexo posts as per-category RSS, Atom and JSON feeds",
    after_help = "Every configuration key can also be set by an environment variable: \
                  `feed.limit` by REFEED_FEED__LIMIT, `source_dir` by REFEED_SOURCE_DIR. \
                  Flags override variables, which override the --config file. \
                  SIGHUP makes `refeed serve` rescan the source folder."
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
    /// adds one line per HTTP request to `refeed serve`'s log. A bare
    /// `debug` or `trace` applies to refeed's own messages only (the HTML
    /// parser would log every token of every post).
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
    /// Show how many subscribe to each feed, as counted by `refeed serve`
    /// in `state_dir` (aggregators' own counts and distinct other pollers
    /// over `stats.window_days`); needs no running server.
    Stats {
        /// One JSON object instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Print a completion script for a shell, e.g.
    /// `refeed completions bash > /usr/share/bash-completion/completions/refeed`.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the manual page refeed(1) (roff), e.g. `refeed man | man -l -`;
    /// given a folder, write it and the page of each subcommand there.
    Man {
        /// e.g. /usr/local/share/man/man1
        #[arg(value_name = "DIR")]
        dir: Option<PathBuf>,
    },
}

/// The completion script for `shell`, made from these definitions.
pub fn write_completions(
    shell: clap_complete::Shell,
    out: &mut dyn std::io::Write,
) -> std::io::Result<()> {
    let mut command = Cli::command();
    let name = command.get_name().to_string();
    // `generate` panics when its writer fails (a closed pipe): it writes
    // to memory, and only this write can fail.
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut command, name, &mut script);
    out.write_all(&script)
}

/// The manual page refeed(1), made from these definitions.
pub fn write_man(out: &mut dyn std::io::Write) -> std::io::Result<()> {
    // As `man_pages_to` makes it: no `help` subcommand, which would be a
    // page refeed(1) refers to and no one writes.
    clap_mangen::Man::new(Cli::command().disable_help_subcommand(true)).render(out)
}

/// refeed(1) and a page per subcommand (`refeed-serve.1`, ...), which
/// refeed(1) refers to, written into `dir`.
pub fn man_pages_to(dir: &std::path::Path) -> std::io::Result<()> {
    clap_mangen::generate_to(Cli::command(), dir)
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

/// The tracing filter `--log` asks for: a bare `debug` or `trace` means
/// refeed's own messages, the libraries staying at `info`.
pub fn log_filter(arg: &str) -> String {
    match arg.trim() {
        level @ ("debug" | "trace") => format!("info,refeed={level}"),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_bare_verbose_level_is_refeeds_own() {
        use super::log_filter;
        assert_eq!(log_filter("debug"), "info,refeed=debug");
        assert_eq!(log_filter("trace"), "info,refeed=trace");
        assert_eq!(log_filter("warn"), "warn");
        assert_eq!(log_filter("html5ever=debug"), "html5ever=debug");
    }
}
