//! The raw file-read floor: the least work any loader of a folder of posts
//! has to do, to compare the real loader against.
//!
//! ```text
//! cargo bench --bench floor -- DIR [THREADS]
//! ```
//!
//! Walks `DIR` for `.md` files (walkdir, on the calling thread), then on a
//! rayon pool of `THREADS` threads (default: the number of CPUs) reads each
//! file into a `String` (so UTF-8 is checked) and parses its front matter,
//! the lines between the first two `---` lines (blank lines before the first
//! one allowed), with `serde_yaml::from_str::<serde_yaml::Value>`. Prints
//! `files=<n> bytes=<total> yaml_ok=<n> seconds=<wall>`, the wall time
//! covering the walk, the reads and the parsing. Arguments starting with
//! `--` (cargo passes `--bench`) are ignored.

use std::path::PathBuf;
use std::time::Instant;

use rayon::prelude::*;

/// The text between the first two `---` lines, if the file has them.
fn front_matter(text: &str) -> Option<&str> {
    let mut rest = text;
    // Skip blank lines, then expect the opening `---`.
    loop {
        let (line, next) = rest.split_once('\n')?;
        rest = next;
        let line = line.trim_end();
        if line == "---" {
            break;
        }
        if !line.is_empty() {
            return None;
        }
    }
    let start = rest;
    let mut offset = 0;
    for line in start.split_inclusive('\n') {
        if line.trim_end() == "---" {
            return Some(&start[..offset]);
        }
        offset += line.len();
    }
    None
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let Some(dir) = args.first().map(PathBuf::from) else {
        eprintln!("usage: cargo bench --bench floor -- DIR [THREADS]");
        std::process::exit(2);
    };
    let threads = match args.get(1) {
        Some(t) => t.parse().expect("THREADS must be a number"),
        None => std::thread::available_parallelism().map_or(1, |n| n.get()),
    };
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .expect("thread pool");

    let started = Instant::now();
    let paths: Vec<PathBuf> = walkdir::WalkDir::new(&dir)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file() && e.path().extension().is_some_and(|x| x == "md"))
        .map(walkdir::DirEntry::into_path)
        .collect();
    let (bytes, yaml_ok) = pool.install(|| {
        paths
            .par_iter()
            .map(|path| {
                let text = std::fs::read_to_string(path)
                    .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
                let ok = front_matter(&text).is_some_and(|fm| {
                    serde_yaml::from_str::<serde_yaml::Value>(fm)
                        .map(std::hint::black_box)
                        .is_ok()
                });
                (text.len() as u64, u64::from(ok))
            })
            .reduce(|| (0, 0), |a, b| (a.0 + b.0, a.1 + b.1))
    });
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "files={} bytes={bytes} yaml_ok={yaml_ok} seconds={seconds:.3}",
        paths.len()
    );
}
