//! `refeed build` as a process: what it leaves in its output folder while
//! it runs, when the disk fills, and across rebuilds.

use crate::common;

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use common::server::{source_copy, write_atomically};
use common::{fill, small_disk};

/// `refeed --source <source> build --out <out>`, with no `REFEED_*` from
/// the environment.
fn build(source: &Path, out: &Path) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_refeed"));
    for (key, _) in std::env::vars() {
        if key.starts_with("REFEED_") {
            cmd.env_remove(key);
        }
    }
    cmd.arg("--source")
        .arg(source)
        .arg("build")
        .arg("--out")
        .arg(out);
    cmd.output().expect("run refeed")
}

/// Every file under `dir` with its bytes, by path relative to `dir`.
fn files(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<PathBuf, Vec<u8>>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(root, &path, out);
            } else {
                let rel = path.strip_prefix(root).unwrap().to_path_buf();
                out.insert(rel, std::fs::read(&path).unwrap());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

#[test]
fn build_replaces_files_atomically() {
    let source = source_copy();
    let out = tempfile::tempdir().unwrap();
    assert!(build(source.path(), out.path()).status.success());
    let rss = out.path().join("rss.xml");
    let good = std::fs::read(&rss).unwrap();
    let inode = std::fs::metadata(&rss).unwrap().ino();

    let done = AtomicBool::new(false);
    let (reads, bad) = std::thread::scope(|s| {
        let reader = s.spawn(|| {
            let (mut reads, mut bad) = (0u64, 0u64);
            let bound = Instant::now() + Duration::from_secs(120);
            while !done.load(Ordering::Relaxed) && Instant::now() < bound {
                // Every build writes the same bytes: anything else is a
                // file seen while being written.
                if std::fs::read(&rss).map_or(true, |b| b != good) {
                    bad += 1;
                }
                reads += 1;
            }
            (reads, bad)
        });
        for _ in 0..5 {
            assert!(build(source.path(), out.path()).status.success());
        }
        done.store(true, Ordering::Relaxed);
        reader.join().unwrap()
    });
    assert!(reads > 0);
    assert_eq!(
        bad, 0,
        "{bad} of {reads} reads saw a cut or missing rss.xml"
    );
    assert_ne!(
        std::fs::metadata(&rss).unwrap().ino(),
        inode,
        "replaced by a rename, not rewritten in place"
    );
    let leftovers: Vec<_> = files(out.path())
        .into_keys()
        .filter(|p| p.to_string_lossy().ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn build_on_a_full_disk_keeps_the_previous_files() {
    let (source, holder) = (source_copy(), tempfile::tempdir().unwrap());
    let Some(_mount) = small_disk(holder.path()) else {
        return;
    };
    let (disk, out) = (holder.path().join("disk"), holder.path().join("disk/ex"));
    let first = build(source.path(), &out);
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    let before = files(&out);

    // New bytes for every feed, then a disk with no room left.
    write_atomically(
        &source.path().join("new.md"),
        "---\ntitle: Written when the disk was full\ndate: 2030-01-01 00:00:00\n---\n\nBody.\n",
    );
    fill(&disk.join("filler"), 0);

    let second = build(source.path(), &out);
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert_eq!(second.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("not written"), "{stderr}");
    assert_eq!(
        files(&out),
        before,
        "a failed write must leave the previous build whole"
    );
}

#[test]
fn rebuild_removes_feeds_that_are_gone() {
    let source = tempfile::tempdir().unwrap();
    let post = |name: &str, category: &str| {
        write_atomically(
            &source.path().join(name),
            &format!(
                "---\ntitle: In {category}\ndate: 2021-06-01 00:00:00\ncategories: [{category}]\n---\n\nBody.\n"
            ),
        )
    };
    post("gone.md", "Gone");
    post("stay.md", "Stay");
    let out = tempfile::tempdir().unwrap();
    // A file of the user's own, which no build wrote.
    std::fs::write(out.path().join("robots.txt"), "keep").unwrap();
    assert!(build(source.path(), out.path()).status.success());
    let gone = out.path().join("categories/Gone");
    assert!(gone.join("rss.xml").is_file());

    std::fs::remove_file(source.path().join("gone.md")).unwrap();
    let second = build(source.path(), out.path());
    assert!(second.status.success(), "{second:?}");
    assert!(
        !gone.exists(),
        "{:?}",
        files(out.path()).keys().collect::<Vec<_>>()
    );
    assert!(out.path().join("categories/Stay/rss.xml").is_file());
    assert_eq!(
        std::fs::read_to_string(out.path().join("robots.txt")).unwrap(),
        "keep"
    );
    let site = std::fs::read_to_string(out.path().join("rss.xml")).unwrap();
    assert!(!site.contains("In Gone"));
}

/// Found by the third attack: a build stopped by a full disk could not
/// write its manifest, so the files it had written were unknown to the
/// next build and stayed for ever, and its index and OPML listed feeds
/// that were not there.
#[test]
fn a_build_stopped_by_a_full_disk_leaves_nothing_behind() {
    let (source, holder) = (source_copy(), tempfile::tempdir().unwrap());
    let Some(_mount) = small_disk(holder.path()) else {
        return;
    };
    let (disk, out) = (holder.path().join("disk"), holder.path().join("disk/ex"));
    assert!(build(source.path(), &out).status.success());
    let lists_before = [
        std::fs::read(out.join("index.html")).unwrap(),
        std::fs::read(out.join("opml.xml")).unwrap(),
    ];

    let fresh = source.path().join("fresh.md");
    let posts: String = (0..40)
        .map(|i| {
            format!(
                "---\ntitle: Fresh {i}\ndate: 2030-01-01\ncategories: [Fresh{i}]\n---\n\nBody.\n"
            )
        })
        .collect();
    for (i, post) in posts.split_inclusive("Body.\n").enumerate() {
        write_atomically(&fresh.with_file_name(format!("fresh{i}.md")), post);
    }
    fill(&disk.join("filler"), 64 * 1024);
    let failed = build(source.path(), &out);
    assert_eq!(failed.status.code(), Some(1), "{:?}", failed);
    let lists_after = [
        std::fs::read(out.join("index.html")).unwrap(),
        std::fs::read(out.join("opml.xml")).unwrap(),
    ];
    assert!(
        lists_before == lists_after,
        "the index and OPML of a failed build must be the previous ones"
    );
    assert!(
        files(&out)
            .keys()
            .any(|p| p.starts_with("categories/fresh0") || p.to_string_lossy().contains("Fresh")),
        "the disk had room for some new feeds: {:?}",
        files(&out).keys().collect::<Vec<_>>()
    );

    std::fs::remove_file(disk.join("filler")).unwrap();
    for i in 0..40 {
        std::fs::remove_file(fresh.with_file_name(format!("fresh{i}.md"))).unwrap();
    }
    assert!(build(source.path(), &out).status.success());
    let clean = tempfile::tempdir().unwrap();
    assert!(build(source.path(), clean.path()).status.success());
    let names = |dir: &Path| files(dir).into_keys().collect::<Vec<_>>();
    assert_eq!(
        names(&out),
        names(clean.path()),
        "after the failed build, the next one leaves what a clean build does"
    );
}

/// Progress is for a person at a terminal: with stderr a pipe (a log, CI,
/// cron), `build` writes nothing there.
#[test]
fn build_draws_no_progress_when_not_a_terminal() {
    let out = tempfile::tempdir().unwrap();
    let run = build(&common::examples(), out.path());
    assert!(run.status.success());
    assert_eq!(String::from_utf8_lossy(&run.stderr), "");
    assert!(String::from_utf8_lossy(&run.stdout).starts_with("wrote "));
}

/// On a terminal (`script` runs it on a pseudo-terminal) it shows what it
/// reads, then clears the line for its summary.
#[test]
fn build_shows_progress_on_a_terminal() {
    let out = tempfile::tempdir().unwrap();
    let examples = common::examples();
    let command = format!(
        "'{}' --log warn --source '{}' build --out '{}'",
        env!("CARGO_BIN_EXE_refeed"),
        examples.display(),
        out.path().display()
    );
    let run = Command::new("script")
        .args(["-qec", &command, "/dev/null"])
        .env_remove("REFEED_CONFIG")
        .output()
        .expect("`script` (util-linux) runs refeed on a terminal");
    assert!(run.status.success(), "{run:?}");
    let screen = String::from_utf8_lossy(&run.stdout);
    assert!(
        screen.contains(&format!("reading {}", examples.display())),
        "{screen:?}"
    );
    assert!(screen.contains("\r\u{1b}[2Kwrote "), "{screen:?}");
}

/// Found by the fourth attack: a build killed half way left its temporary
/// files beside the documents, and no later build removed them.
#[test]
fn a_killed_build_leaves_no_temporary_file_after_the_next() {
    let source = tempfile::tempdir().unwrap();
    write_atomically(
        &source.path().join("a.md"),
        "---\ntitle: A\ndate: 2021-06-01 00:00:00\ncategories: [Stay]\n---\n\nBody.\n",
    );
    let out = tempfile::tempdir().unwrap();
    assert!(build(source.path(), out.path()).status.success());
    let leftovers = ["categories/Stay/.refeed-RaANaT.tmp", ".refeed-BYcWlO.tmp"];
    for f in leftovers {
        std::fs::write(out.path().join(f), "half").unwrap();
    }
    // Not a name a build makes: the user's own.
    std::fs::write(out.path().join(".refeed-notes.txt"), "mine").unwrap();
    assert!(build(source.path(), out.path()).status.success());
    for f in leftovers {
        assert!(!out.path().join(f).exists(), "{f} left");
    }
    assert!(out.path().join(".refeed-notes.txt").exists());
}
