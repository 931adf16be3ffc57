//! criterion micro-benchmarks of refeed's hot paths (issue 5):
//!
//! - `front_matter/split_parse`: `article::front_matter::{split, parse}` of
//!   the reference article (`tests/fixtures/reference/…`);
//! - `date/<shape>`: `date::parse_date` on the date shapes real posts use;
//! - `html/clean_reference`: `html::Cleaner::clean` of the reference body
//!   (`tests/fixtures/reference_body.html`);
//! - `html/markdown_to_html`: a real Markdown post (`md_float_zwsp.md`);
//! - `body/render_reference`: the whole body pipeline of one article (tag
//!   plugins, cleanup, summary), what a feed item costs the first time;
//! - `feed/<format>_<feed>`: `feed::render` of one feed from a snapshot
//!   built with `snapshot::Pipeline` over `examples/posts` (the site feed),
//!   and, when `REFEED_BENCH_SOURCE` names a folder of posts (the suite
//!   passes its generated corpus), of that folder's most popular category
//!   with 50 items;
//! - `feed/opencc_s2t_<feed>`: `?opencc=s2t` on those items and their
//!   channel (`feed::convert`), the work a converted representation adds
//!   to rendering (target: at most 5 ms for the 50-item feed);
//! - `feed/opencc_text_s2t_<feed>_{refeed,ferrous}`: the same items'
//!   content HTML converted as one text by refeed's chains and by
//!   ferrous-opencc's own matcher, the anchor its dictionaries come from.
//!
//! ```text
//! cargo bench --bench hot_paths -- --warm-up-time 1 --measurement-time 3
//! REFEED_BENCH_SOURCE=/tmp/corpus10k cargo bench --bench hot_paths
//! ```

use std::hint::black_box;
use std::path::{Path, PathBuf};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ferrous_opencc::config::BuiltinConfig;

use refeed::article::front_matter;
use refeed::catalog::FeedKey;
use refeed::config::{Config, Sources};
use refeed::date::{DateContext, parse_date};
use refeed::feed::{self, Format, Item, convert};
use refeed::html::{Cleaner, markdown_to_html};
use refeed::opencc::Conversion;
use refeed::snapshot::{Pipeline, Snapshot};

const REFERENCE_ARTICLE: &str = "tests/fixtures/reference/金融/新浪财经/新浪财经－国內/工信部召开部分省市上半年工业经济运行情况座谈会.md";

fn repo(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

fn read(rel: &str) -> String {
    let path = repo(rel);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn config_for(source: &Path) -> Config {
    Sources {
        file: None,
        env: vec![],
        flags: vec![refeed::config::Flag {
            name: "--source".into(),
            key: "source_dir".into(),
            value: source.display().to_string(),
        }],
    }
    .resolve()
    .expect("configuration")
}

fn front_matter_bench(c: &mut Criterion) {
    let text = read(REFERENCE_ARTICLE);
    // Fail loudly if the fixture stops parsing: a benchmark of the error
    // path would look like a speed-up.
    let fm = front_matter::parse(&front_matter::split(&text)).expect("reference front matter");
    assert!(fm.title.is_some() && fm.date.is_some());
    let mut g = c.benchmark_group("front_matter");
    g.throughput(Throughput::Bytes(text.len() as u64));
    g.bench_function("split_parse", |b| {
        b.iter(|| {
            let split = front_matter::split(black_box(&text));
            front_matter::parse(&split).map(black_box).is_ok()
        })
    });
    g.finish();
}

fn date_bench(c: &mut Criterion) {
    let ctx = DateContext::default();
    let shapes = [
        ("rfc2822_gmt", "Tue, 22 Jun 2021 03:05:53 GMT"),
        ("rfc2822_offset", "Tue, 22 Jun 2021 11:05:53 +0800"),
        ("rfc2822_cst", "Tue, 22 Jun 2021 11:05:53 CST"),
        ("rfc3339", "2021-06-22T11:05:53+08:00"),
        ("hexo_local", "2019-08-13 14:53:49"),
        ("unix_seconds", "1624331153"),
    ];
    let mut g = c.benchmark_group("date");
    for (name, input) in shapes {
        parse_date(input, &ctx).unwrap_or_else(|e| panic!("{name}: {input}: {e}"));
        g.bench_function(name, |b| b.iter(|| parse_date(black_box(input), &ctx)));
    }
    g.finish();
}

fn html_bench(c: &mut Criterion) {
    let config = config_for(&repo("examples/posts"));
    let cleaner = Cleaner::new(&config.site.url, &config.load.remove_selectors).expect("cleaner");
    let body = read("tests/fixtures/reference_body.html");
    let md_text = read("tests/fixtures/md_float_zwsp.md");
    let md = front_matter::split(&md_text).body.to_owned();

    let mut g = c.benchmark_group("html");
    g.throughput(Throughput::Bytes(body.len() as u64));
    g.bench_function("clean_reference", |b| {
        b.iter(|| cleaner.clean(black_box(&body)))
    });
    g.throughput(Throughput::Bytes(md.len() as u64));
    g.bench_function("markdown_to_html", |b| {
        b.iter(|| markdown_to_html(black_box(&md)))
    });
    g.finish();

    let article = read(REFERENCE_ARTICLE);
    let split = front_matter::split(&article);
    let path = Path::new(REFERENCE_ARTICLE);
    let summary_length = config.load.summary_length;
    let mut g = c.benchmark_group("body");
    g.throughput(Throughput::Bytes(split.body.len() as u64));
    g.bench_function("render_reference", |b| {
        b.iter(|| {
            refeed::article::body::render(
                path,
                black_box(split.body),
                None,
                &cleaner,
                summary_length,
            )
        })
    });
    g.finish();
}

/// The newest `n` items of `key`, each with its rendered content (from the
/// snapshot when the feed already shows it, else rendered now).
fn items_of(pipeline: &Pipeline, snap: &Snapshot, key: &FeedKey, n: usize) -> Vec<Item> {
    snap.catalog
        .newest(key, n)
        .into_iter()
        .map(|listed| {
            let content = pipeline
                .content_of(snap, &listed.entry)
                .expect("a freshly spilled body reads back");
            Item::new(listed, content, pipeline.settings())
        })
        .collect()
}

fn feed_bench(c: &mut Criterion) {
    let mut cases = vec![("site_examples", repo("examples/posts"), None)];
    if let Some(dir) = std::env::var_os("REFEED_BENCH_SOURCE") {
        cases.push(("category50_corpus", PathBuf::from(dir), Some(50)));
    }
    let mut g = c.benchmark_group("feed");
    for (name, source, limit) in cases {
        let config = config_for(&source);
        let pipeline = Pipeline::new(&config).expect("pipeline");
        let snap = pipeline.initial().expect("initial snapshot");
        // The site feed for the examples; the category with the most
        // articles for a corpus.
        let (key, docs) = match limit {
            None => snap
                .feeds
                .iter()
                .find(|(k, _)| **k == FeedKey::Site)
                .expect("site feed"),
            Some(_) => snap
                .feeds
                .iter()
                .filter(|(k, _)| matches!(k, FeedKey::Category(_)))
                .max_by_key(|(_, d)| d.count)
                .expect("a category feed"),
        };
        let items = items_of(&pipeline, &snap, key, limit.unwrap_or(config.feed.limit));
        assert!(!items.is_empty(), "{name}: no items");
        for format in Format::ALL {
            let bytes = feed::render(&snap.site, &docs.channel, &items, format);
            g.throughput(Throughput::Bytes(bytes.len() as u64));
            let id = format!("{}_{name}_{}items", format_name(format), items.len());
            g.bench_function(id, |b| {
                b.iter(|| feed::render(&snap.site, &docs.channel, black_box(&items), format))
            });
        }
        let s2t = Conversion::S2t.converter().expect("bundled s2t");
        let text: String = items.iter().map(|i| i.content.html.as_str()).collect();
        let reference =
            ferrous_opencc::OpenCC::from_config(BuiltinConfig::S2t).expect("ferrous-opencc's s2t");
        assert_eq!(s2t.text(&text), reference.convert(&text));
        g.throughput(Throughput::Bytes(text.len() as u64));
        let id = format!("opencc_text_s2t_{name}_{}items", items.len());
        g.bench_function(format!("{id}_refeed"), |b| {
            b.iter(|| s2t.text(black_box(&text)))
        });
        g.bench_function(format!("{id}_ferrous"), |b| {
            b.iter(|| reference.convert(black_box(&text)))
        });
        let id = format!("opencc_s2t_{name}_{}items", items.len());
        g.throughput(Throughput::Elements(items.len() as u64));
        g.bench_function(id, |b| {
            b.iter(|| {
                let converted: Vec<Item> = black_box(&items)
                    .iter()
                    .map(|i| convert::item(s2t, i))
                    .collect();
                (converted, convert::channel(s2t, &docs.channel))
            })
        });
    }
    g.finish();
}

fn format_name(format: Format) -> &'static str {
    match format {
        Format::Rss => "rss",
        Format::Atom => "atom",
        Format::Json => "json",
    }
}

criterion_group!(
    benches,
    front_matter_bench,
    date_bench,
    html_bench,
    feed_bench
);
criterion_main!(benches);
