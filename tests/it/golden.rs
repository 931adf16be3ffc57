//! Golden documents: what `refeed serve` sends for the reference article
//! (`tests/fixtures/reference/`, a copy of the seed
//! `000_fc8202fde1ad1ddd.txt`), compared byte for byte with
//! `tests/golden/reference/`: the site's RSS, Atom and JSON Feed, and the
//! article's page. Any change to what refeed writes shows as a failure here
//! and as a diff of those files; when the change is meant, regenerate them
//! with `REFEED_BLESS=1 cargo test --test it golden::` and commit the diff.
//!
//! The documents hold nothing from the clock or the disk's file times: the
//! server runs with the embedded configuration alone (the harness clears
//! `REFEED_*`), and every date in them comes from the article's front matter.

use std::path::{Path, PathBuf};

use crate::common::fixtures;
use crate::common::server::Refeed;

/// Set to regenerate the golden files instead of comparing with them.
const BLESS: &str = "REFEED_BLESS";

fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/reference")
}

#[test]
fn reference_article_documents_are_byte_for_byte_golden() {
    let server = Refeed::start(&fixtures().join("reference"), &[]);
    let rss = served(&server, "/rss.xml");
    let page = article_path(&rss);
    let documents = [
        ("rss.xml", rss),
        ("atom.xml", served(&server, "/atom.xml")),
        ("feed.json", served(&server, "/feed.json")),
        ("article.html", served(&server, &page)),
    ];
    let bless = std::env::var_os(BLESS).is_some_and(|v| !v.is_empty());
    let mut differ = Vec::new();
    for (name, bytes) in &documents {
        let path = golden_dir().join(name);
        if bless {
            std::fs::create_dir_all(golden_dir()).expect("mkdir tests/golden");
            std::fs::write(&path, bytes).expect("write golden file");
        } else if let Some(why) = difference(&path, bytes) {
            differ.push(format!("{name}: {why}"));
        }
    }
    assert!(
        differ.is_empty(),
        "served documents differ from tests/golden/reference/ \
         (if the change is meant: {BLESS}=1 cargo test --test it golden::)\n{}",
        differ.join("\n")
    );
}

/// The body of a 200 answer to `GET path`.
fn served(server: &Refeed, path: &str) -> Vec<u8> {
    let r = server.get(path);
    assert_eq!(r.status, 200, "GET {path}");
    r.body
}

/// The path of the article page the site's RSS links to (its one item).
fn article_path(rss: &[u8]) -> String {
    let text = std::str::from_utf8(rss).expect("UTF-8 RSS");
    let doc = roxmltree::Document::parse(text).expect("well-formed RSS");
    let links: Vec<&str> = doc
        .descendants()
        .filter(|n| n.has_tag_name("item"))
        .filter_map(|item| item.children().find(|n| n.has_tag_name("link")))
        .filter_map(|link| link.text())
        .collect();
    assert_eq!(links.len(), 1, "the reference folder holds one article");
    url::Url::parse(links[0])
        .expect("absolute link")
        .path()
        .to_string()
}

/// Why `bytes` are not the golden file at `path`, if they are not: a missing
/// file, or the first byte where they part, with what surrounds it.
fn difference(path: &Path, bytes: &[u8]) -> Option<String> {
    let golden = match std::fs::read(path) {
        Ok(golden) => golden,
        Err(e) => return Some(format!("{}: {e}", path.display())),
    };
    if golden == bytes {
        return None;
    }
    let at = golden
        .iter()
        .zip(bytes)
        .position(|(a, b)| a != b)
        .unwrap_or(golden.len().min(bytes.len()));
    let around = |b: &[u8]| {
        String::from_utf8_lossy(&b[at.saturating_sub(60)..(at + 60).min(b.len())]).into_owned()
    };
    Some(format!(
        "{} bytes golden, {} served; first difference at byte {at}\n  golden: {}\n  served: {}",
        golden.len(),
        bytes.len(),
        around(&golden),
        around(bytes),
    ))
}
