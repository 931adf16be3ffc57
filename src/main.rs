use std::io::Write;
use std::process::ExitCode;
use std::sync::Arc;

use actix_web::web;

use anyhow::Context;
use clap::Parser;

use refeed::article::Status;
use refeed::catalog::Catalog;
use refeed::cli::{Cli, Command};
use refeed::config::Config;
use refeed::live::{Live, OnPublish};
use refeed::metrics::Metrics;
use refeed::ondemand::OnDemand;
use refeed::server::State;
use refeed::snapshot::Pipeline;

/// glibc's allocator spends a fifth of a 100k-post load consolidating the
/// chunks that per-file buffers leave between long-lived small ones.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(&cli.log);
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("refeed: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn init_logging(filter: &str) {
    let filter = tracing_subscriber::EnvFilter::try_new(refeed::cli::log_filter(filter))
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // Colours only for a terminal: a log file or pipe gets plain text.
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr)
        .init();
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    // The errors name the file, variable or flag themselves.
    let config = || -> anyhow::Result<Config> {
        let sources = cli.sources(std::env::vars().collect());
        let config = sources.resolve()?;
        sources.require_source_dir(&config)?;
        Ok(config)
    };
    match &cli.command {
        Some(Command::Check { json }) => check(&config()?, *json),
        Some(Command::Build { out }) => {
            // A folder of files has no hub at `websub.path`: only the
            // others (`websub.hubs`) are advertised.
            let mut config = config()?;
            config.websub.enabled = false;
            build(&config, out)
        }
        Some(Command::Serve { .. }) | None => serve(&config()?),
        Some(Command::Stats { json }) => stats(&config()?, *json),
        // These describe the command line itself and need no configuration.
        Some(Command::Completions { shell }) => {
            refeed::cli::write_completions(*shell, &mut std::io::stdout().lock())?;
            Ok(ExitCode::SUCCESS)
        }
        Some(Command::Man { dir: None }) => {
            refeed::cli::write_man(&mut std::io::stdout().lock())?;
            Ok(ExitCode::SUCCESS)
        }
        Some(Command::Man { dir: Some(dir) }) => {
            refeed::cli::man_pages_to(dir)
                .with_context(|| format!("writing manual pages into {}", dir.display()))?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// How long a stop waits for the WebSub hub's last save.
const HUB_STOP: std::time::Duration = std::time::Duration::from_secs(10);

fn serve(config: &Config) -> anyhow::Result<ExitCode> {
    let system = actix_web::rt::System::new();
    // Bound first: a port already taken ends `serve` before any loading.
    let listeners = system
        .block_on(async { refeed::server::bind(config) })
        .context("binding")?;
    let history = refeed::state::History::open(config, chrono::Utc::now());
    let pipeline = Arc::new(Pipeline::new(config)?.with_history(history));
    let closing = pipeline.clone();
    let ondemand = Arc::new(OnDemand::new(config, pipeline.clone()));
    let forget = ondemand.clone();
    let mut on_publish: Vec<OnPublish> = vec![Box::new(move |snap| forget.forget_stale(snap))];
    // Made only when served: off, nothing is counted.
    let metrics =
        (config.server.metrics != refeed::config::Metrics::Off).then(|| Arc::new(Metrics::new()));
    if let Some(metrics) = metrics.clone() {
        on_publish.push(Box::new(move |snap| metrics.published(snap)));
    }
    let subscribers = refeed::subscribers::open(config);
    if let Some((counted, _)) = &subscribers {
        let counted = counted.clone();
        on_publish.push(Box::new(move |snap| counted.refresh_index(snap)));
    }
    let hub = refeed::websub::Hub::start(config);
    if let Some(hub) = &hub {
        on_publish.push(hub.on_publish());
    }
    let live = Arc::new(Live::new(pipeline, on_publish));
    let mut state =
        State::new(config, live.clone(), ondemand).with_state_health(closing.history_health());
    let flusher = match subscribers {
        Some((counted, store)) => {
            state = state.with_subscribers(counted.clone());
            let flusher = refeed::subscribers::start(config, counted, store, live.clone());
            Some(flusher.context("starting the stats thread")?)
        }
        None => None,
    };
    if let Some(metrics) = metrics {
        state = state.with_metrics(metrics);
    }
    if let Some(hub) = hub.clone() {
        state = state.with_hub(hub);
    }
    let _reloader = refeed::watch::start(config, live).context("starting the loader")?;
    let retrying = closing.clone();
    let retrier = refeed::state::Retrier::start(std::time::Duration::from_secs(10), move || {
        retrying.retry_history()
    })
    .context("starting the state thread")?;
    let listen = config.server.listen;
    // `server::run` prints the URLs to open once it serves.
    let served = system
        .block_on(refeed::server::run(
            config,
            web::Data::new(state),
            listeners,
        ))
        .with_context(|| format!("serving on {listen}"));
    // The last counts and dates are written once no request can add to
    // them.
    drop(flusher);
    drop(retrier);
    closing.close_history();
    if let Some(hub) = hub {
        hub.stop(HUB_STOP);
    }
    served?;
    Ok(ExitCode::SUCCESS)
}

fn stats(config: &Config, json: bool) -> anyhow::Result<ExitCode> {
    let stored = refeed::subscribers::read(config).context("reading the subscriber counts")?;
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    if json {
        refeed::subscribers::report::write_json(&stored, &mut out)?;
    } else {
        refeed::subscribers::report::write_table(&stored, &mut out)?;
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

fn build(config: &Config, out: &std::path::Path) -> anyhow::Result<ExitCode> {
    let started = std::time::Instant::now();
    let pipeline = Pipeline::new(config)?;
    let progress = Progress::reading(&config.source_dir);
    let snap = pipeline
        .initial()
        .with_context(|| format!("loading {}", config.source_dir.display()))?;
    let written = refeed::build::write(&snap, out, progress.writing())?;
    drop(progress);
    for failure in &written.failed {
        eprintln!("refeed: not written: {failure}");
    }
    let rejected = snap.rejected().count();
    println!(
        "wrote {} feeds ({} documents, {} bytes with .gz) from {} articles into {} in {:.2?}{}",
        written.feeds,
        written.documents,
        written.bytes,
        snap.catalog.len(),
        out.display(),
        started.elapsed(),
        if rejected > 0 {
            format!("; {rejected} files rejected (see `refeed check`)")
        } else {
            String::new()
        }
    );
    Ok(if written.failed.is_empty() {
        ExitCode::SUCCESS
    } else {
        eprintln!(
            "refeed: {} documents could not be written (the others were)",
            written.failed.len()
        );
        ExitCode::from(1)
    })
}

/// `refeed build`'s progress on stderr: the folder it reads, then the
/// documents it has written. indicatif draws nothing when stderr is not a
/// terminal, so logs and pipes get none of it; dropped, it clears its line.
struct Progress(indicatif::ProgressBar);

impl Progress {
    fn reading(source: &std::path::Path) -> Progress {
        let bar = indicatif::ProgressBar::new_spinner();
        bar.set_message(format!("reading {}", source.display()));
        // Drawn now, not only once the ticking thread gets to it.
        bar.tick();
        bar.enable_steady_tick(std::time::Duration::from_millis(100));
        Progress(bar)
    }

    fn writing(&self) -> &indicatif::ProgressBar {
        if let Ok(style) = indicatif::ProgressStyle::with_template(
            "writing {wide_bar} {pos}/{len} documents, {elapsed}",
        ) {
            self.0.set_style(style);
        }
        &self.0
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.0.finish_and_clear();
    }
}

fn check(config: &Config, json: bool) -> anyhow::Result<ExitCode> {
    let loader = refeed::setup::loader(config);
    let mut reports = loader.load_folder(&config.source_dir)?;
    let articles = reports.iter().filter_map(|r| r.article.clone()).collect();
    let catalog = Catalog::build(Arc::new(refeed::setup::scheme(config)), articles);
    refeed::check::add_url_warnings(&mut reports, &catalog);
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    if json {
        refeed::check::write_json(&reports, &catalog, &mut out)?;
        // Not a file's report: JSON lines stay one per file.
        for warning in catalog.configured_warnings() {
            tracing::warn!("{warning}");
        }
    } else {
        refeed::check::write_summary(&reports, &mut out)?;
        for warning in catalog.configured_warnings() {
            writeln!(out, "warning: {warning}")?;
        }
    }
    out.flush()?;
    let rejected = reports.iter().any(|r| r.status() == Status::Rejected);
    Ok(if rejected {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
