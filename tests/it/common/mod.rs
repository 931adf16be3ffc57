//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

use refeed::article::FileReport;
use refeed::config::{Config, Sources};
use refeed::snapshot::{Pipeline, Snapshot};

pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

pub fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/posts")
}

/// The embedded default with a source folder and extra `REFEED_*`-style
/// overrides such as `("feed.limit", "5")`.
pub fn config(source: &Path, overrides: &[(&str, &str)]) -> Config {
    let env = overrides
        .iter()
        .map(|(k, v)| {
            (
                format!("REFEED_{}", k.to_ascii_uppercase().replace('.', "__")),
                v.to_string(),
            )
        })
        .collect();
    Sources {
        file: None,
        env,
        flags: vec![refeed::config::Flag {
            name: "--source".into(),
            key: "source_dir".into(),
            value: source.display().to_string(),
        }],
    }
    .resolve()
    .expect("test configuration is valid")
}

pub fn load(source: &Path) -> Vec<FileReport> {
    refeed::setup::loader(&config(source, &[]))
        .load_folder(source)
        .expect("folder loads")
}

pub fn snapshot(config: &Config) -> (Pipeline, Snapshot) {
    let pipeline = Pipeline::new(config).expect("pipeline");
    let snap = pipeline.initial().expect("initial snapshot");
    (pipeline, snap)
}

/// Writes `files` (relative path, text) under a fresh temporary folder.
pub fn tree(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    for (rel, text) in files {
        let path = dir.path().join(rel);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(path, text).expect("write");
    }
    dir
}

/// A strict XML 1.0 parse, as xmllint would do it.
pub fn assert_well_formed(bytes: &[u8]) -> roxmltree::Document<'_> {
    let text = std::str::from_utf8(bytes).expect("UTF-8");
    roxmltree::Document::parse(text).unwrap_or_else(|e| panic!("not well-formed XML: {e}\n{text}"))
}

/// No element of `html` can run code: no script-like elements, no event
/// handler attributes, no `javascript:`/`vbscript:` URLs. Parsed, so code
/// samples that merely mention them as text do not count.
pub fn assert_inert(html: &str, what: &str) {
    use lol_html::{RewriteStrSettings, element, rewrite_str};
    let problems = std::cell::RefCell::new(Vec::new());
    let settings = RewriteStrSettings::new().append_element_content_handler(element!("*", |el| {
        let tag = el.tag_name().to_ascii_lowercase();
        if [
            "script", "iframe", "object", "embed", "applet", "form", "style",
        ]
        .contains(&tag.as_str())
        {
            problems.borrow_mut().push(format!("<{tag}>"));
        }
        for attr in el.attributes() {
            let name = attr.name().to_ascii_lowercase();
            let value: String = attr
                .value()
                .chars()
                .filter(|c| !c.is_whitespace())
                .collect();
            let value = value.to_ascii_lowercase();
            if name.starts_with("on") || name == "style" {
                problems.borrow_mut().push(format!("{tag} {name}="));
            }
            if value.starts_with("javascript:") || value.starts_with("vbscript:") {
                problems.borrow_mut().push(format!("{tag} {name}={value}"));
            }
        }
        Ok(())
    }));
    rewrite_str(html, settings).expect("parsable HTML");
    let problems = problems.into_inner();
    assert!(problems.is_empty(), "{what}: {problems:?}");
}

/// `refeed serve` as a child process, and a raw HTTP/1.1 client.
pub mod server;
pub mod subscriber;

/// Unmounts the tmpfs when the test ends, however it ends.
pub struct Mount(pub PathBuf);

/// A 1 MB tmpfs at `holder/disk`, unmounted when the guard drops; `None`
/// (with a note) where this process may not mount one.
pub fn small_disk(holder: &Path) -> Option<Mount> {
    let disk = holder.join("disk");
    std::fs::create_dir(&disk).unwrap();
    let mounted = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=1m", "tmpfs"])
        .arg(&disk)
        .output();
    match mounted {
        Ok(o) if o.status.success() => Some(Mount(disk)),
        Ok(o) => {
            eprintln!(
                "skipped: cannot mount a tmpfs here ({})",
                String::from_utf8_lossy(&o.stderr).trim()
            );
            None
        }
        Err(e) => {
            eprintln!("skipped: no mount command ({e})");
            None
        }
    }
}

/// Fills the disk holding `filler`, then frees `room` bytes of it.
pub fn fill(filler: &Path, room: u64) {
    let mut f = std::fs::File::create(filler).unwrap();
    let chunk = vec![b'x'; 4096];
    while std::io::Write::write_all(&mut f, &chunk).is_ok() {}
    let len = f.metadata().unwrap().len();
    f.set_len(len.saturating_sub(room)).unwrap();
}

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}
