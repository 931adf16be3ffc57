//! The real-post corpus (`../shared/corpus`, 817 Hexo posts from three
//! public sites). Its path comes from `REFEED_CORPUS`, which `.ci/run`
//! sets; run with `cargo test --test it corpus:: -- --ignored`. Without the
//! variable these tests fail rather than pass vacuously.

use crate::common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use refeed::article::{FileReport, Status};
use refeed::feed::Format;
use refeed::snapshot::Snapshot;

const POSTS: usize = 817;

fn corpus() -> PathBuf {
    let dir = std::env::var_os("REFEED_CORPUS")
        .expect("REFEED_CORPUS must name the shared corpus folder (.ci/run sets it)");
    PathBuf::from(dir)
}

/// Every article gets its content rendered and every item fits.
fn everything() -> Snapshot {
    let cfg = common::config(
        &corpus(),
        &[
            ("feed.limit", "1000"),
            ("feed.max_limit", "1000"),
            ("feed.max_bytes", "1000000000"),
        ],
    );
    common::snapshot(&cfg).1
}

fn report<'a>(reports: &'a [FileReport], rel: &str) -> &'a FileReport {
    reports
        .iter()
        .find(|r| &*r.rel == rel)
        .unwrap_or_else(|| panic!("{rel} not reported"))
}

#[test]
#[ignore = "needs REFEED_CORPUS; run by .ci/run"]
fn every_post_is_accounted_for() {
    let reports = common::load(&corpus());
    assert_eq!(reports.len(), POSTS);
    let by_status: BTreeMap<String, usize> = reports.iter().fold(BTreeMap::new(), |mut m, r| {
        *m.entry(format!("{:?}", r.status())).or_default() += 1;
        m
    });
    assert_eq!(by_status.get("Rejected"), None, "{by_status:?}");
    // The only warnings are posts with no date anywhere and, of those, the
    // ones with nothing after their front matter (Hexo doc pages, which
    // their layout makes).
    for r in reports.iter().filter(|r| r.status() == Status::Warning) {
        let dateless = r
            .messages
            .iter()
            .any(|m| m.field.as_deref() == Some("date"));
        let expected = |m: &&refeed::article::Message| {
            m.field.as_deref() == Some("date") || (dateless && m.text.starts_with("empty body"))
        };
        assert!(
            r.messages.iter().all(|m| expected(&m)),
            "{}: {:?}",
            r.rel,
            r.messages
        );
    }
}

/// (path, title, date, categories, tags)
type Expect = (
    &'static str,
    &'static str,
    &'static str,
    &'static [&'static [&'static str]],
    &'static [&'static str],
);

const NAMED: &[Expect] = &[
    // No opening `---`.
    (
        "hexo-theme-unit-test/source/_posts/hello-world.md",
        "Hello World",
        "2013-12-24T17:49:32Z",
        &[],
        &[],
    ),
    (
        "hexo-theme-unit-test/source/_posts/long-title.md",
        "Lorem ipsum dolor sit amet, consectetur adipiscing elit. Aliquam justo turpis, tincidunt ac convallis id.",
        "2013-12-24T23:31:06Z",
        &[],
        &[],
    ),
    (
        "hexo-theme-unit-test/source/_posts/中文測試.md",
        "中文測試",
        "2013-12-24T23:31:30Z",
        &[],
        &[],
    ),
    // No opener and a `---` rule inside the body.
    (
        "hexo-theme-unit-test/source/_posts/elements.md",
        "Elements",
        "2013-12-24T23:29:08Z",
        &[],
        &[],
    ),
    // No title: from the file name.
    (
        "hexo-theme-unit-test/source/_posts/no-title.md",
        "no-title",
        "2013-12-25T22:57:49Z",
        &[],
        &[],
    ),
    // A flat list is ONE hierarchy.
    (
        "hexo-theme-unit-test/source/_posts/categories.md",
        "Categories",
        "2013-12-24T23:30:09Z",
        &[&["Foo", "Bar", "Baz"]],
        &[],
    ),
    (
        "hexo-theme-unit-test/source/_posts/excerpts.md",
        "Excerpts",
        "2013-12-25T00:23:23Z",
        &[],
        &[],
    ),
    // `HH:mm` dates without seconds.
    (
        "hexojs-site/source/_posts/2019-06-01-hexo-cli-2-0-0-released.md",
        "hexo-cli 2.0.0 Released!!",
        "2019-06-01T15:40:00Z",
        &[],
        &[],
    ),
    (
        "hexojs-site/source/_posts/2019-01-11-hexo-deployer-git-1.0.0_released.md",
        "Official plugin hexo-deployer-git 1.0.0 Released!!",
        "2019-01-11T22:13:00Z",
        &[],
        &[],
    ),
    // No date key: from the `YYYY-MM-DD-` file name.
    (
        "hexojs-site/source/_posts/2014-06-14-hexo-2-7-released.md",
        "Hexo 2.7 Released",
        "2014-06-14T00:00:00Z",
        &[],
        &[],
    ),
    // No title key, `index.md`: from the folder; `tag:` singular.
    (
        "fightinggg-hexo-blog/blog/Others/Nginx/index.md",
        "Nginx",
        "2021-01-11T00:00:00Z",
        &[],
        &["nginx"],
    ),
    (
        "fightinggg-hexo-blog/blog/操作系统/Linux/SSH/index.md",
        "SSH",
        "2020-09-14T22:42:00Z",
        &[],
        &[],
    ),
    // U+0002 in the body.
    (
        "fightinggg-hexo-blog/blog/计算机网络/计算机网络-自顶向下方法/index.md",
        "计算机网络-自顶向下方法",
        "2021-03-31T13:57:00Z",
        &[],
        &["读书"],
    ),
    // `]]>` in code.
    (
        "fightinggg-hexo-blog/blog/ACM/学习笔记/树/Kruskal重构树/index.md",
        "Kruskal重构树",
        "",
        &[],
        &[],
    ),
    (
        "fightinggg-hexo-blog/blog/ACM/学习笔记/平衡树/splay/index.md",
        "splay",
        "",
        &[],
        &[],
    ),
    // <script> in the body; tag plugins.
    (
        "hexo-theme-unit-test/source/_posts/code-highlight.md",
        "Code Highlight Style test",
        "2019-07-25T16:43:00Z",
        &[],
        &[],
    ),
    (
        "hexo-theme-unit-test/source/_posts/tag-plugins.md",
        "Tag Plugins",
        "",
        &[],
        &[],
    ),
    // javascript: link.
    (
        "fightinggg-hexo-blog/blog/Hexo/hexo博客搭建浅谈/index.md",
        "hexo博客搭建浅谈",
        "",
        &[],
        &[],
    ),
    // Zero-width spaces.
    (
        "hexojs-site/source/_posts/2019-12-09-hexo-4-1-released.md",
        "Hexo 4.1.0 Released",
        "2019-12-09T00:00:00Z",
        &[],
        &[],
    ),
    // Protocol-relative URLs and iframes.
    (
        "fightinggg-hexo-blog/blog/Docker/K8s/k8s学习/index.md",
        "k8s学习",
        "",
        &[],
        &[],
    ),
    (
        "hexo-theme-unit-test/source/_posts/videos.md",
        "Videos",
        "",
        &[],
        &[],
    ),
];

#[test]
#[ignore = "needs REFEED_CORPUS; run by .ci/run"]
fn named_files_load_as_expected() {
    let reports = common::load(&corpus());
    let mut failures = Vec::new();
    for (path, title, date, categories, tags) in NAMED {
        let r = report(&reports, path);
        let Some(a) = &r.article else {
            failures.push(format!("{path}: rejected {:?}", r.messages));
            continue;
        };
        let got_date = a.date.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true);
        let got_cats: Vec<Vec<&str>> = a
            .categories
            .iter()
            .map(|h| h.iter().map(String::as_str).collect())
            .collect();
        let want_cats: Vec<Vec<&str>> = categories.iter().map(|h| h.to_vec()).collect();
        if a.title != *title
            || (!date.is_empty() && got_date != *date)
            || got_cats != want_cats
            || a.tags != *tags
        {
            failures.push(format!(
                "{path}: got {:?} {got_date} {got_cats:?} {:?}",
                a.title, a.tags
            ));
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

fn content_of(snap: &Snapshot, rel: &str) -> String {
    snap.content(rel)
        .unwrap_or_else(|| panic!("no content for {rel}"))
        .html
        .clone()
}

#[test]
#[ignore = "needs REFEED_CORPUS; run by .ci/run"]
fn named_contents_are_clean() {
    let snap = everything();
    let excerpt = snap
        .content("hexo-theme-unit-test/source/_posts/excerpts.md")
        .unwrap();
    assert_eq!(
        excerpt.summary,
        "The following contents should be invisible in home/archive page."
    );
    let u2 = content_of(
        &snap,
        "fightinggg-hexo-blog/blog/计算机网络/计算机网络-自顶向下方法/index.md",
    );
    assert!(!u2.contains('\u{2}'));
    let cdata = content_of(
        &snap,
        "fightinggg-hexo-blog/blog/ACM/学习笔记/树/Kruskal重构树/index.md",
    );
    assert!(
        cdata.contains("]]&gt;") || cdata.contains("]]>"),
        "the code keeps its ]]>"
    );
    let js = content_of(
        &snap,
        "fightinggg-hexo-blog/blog/Hexo/hexo博客搭建浅谈/index.md",
    );
    assert!(!js.to_ascii_lowercase().contains("javascript:"));
    let tags = content_of(&snap, "hexo-theme-unit-test/source/_posts/tag-plugins.md");
    assert!(!tags.contains("{%"), "{tags}");
    assert!(tags.contains("<blockquote"), "{tags}");
    let videos = content_of(&snap, "hexo-theme-unit-test/source/_posts/videos.md");
    assert!(!videos.contains("<iframe"), "{videos}");
    let k8s = content_of(
        &snap,
        "fightinggg-hexo-blog/blog/Docker/K8s/k8s学习/index.md",
    );
    assert!(
        !k8s.contains("src=\"//") && !k8s.contains("href=\"//"),
        "protocol-relative URLs made absolute"
    );
    let zwsp = snap
        .content("hexojs-site/source/_posts/2019-12-09-hexo-4-1-released.md")
        .unwrap();
    assert!(!zwsp.summary.contains('\u{200b}'));
}

/// Every document of every feed, with every article in it: well-formed,
/// parseable, free of active content, ids unique per feed.
#[test]
#[ignore = "needs REFEED_CORPUS; run by .ci/run"]
fn every_document_is_valid_and_inert() {
    let snap = everything();
    assert_eq!(snap.catalog.len(), POSTS);
    for (key, feed) in &snap.feeds {
        for format in Format::ALL {
            let bytes = feed.doc(format).identity();
            if format == Format::Json {
                serde_json::from_slice::<serde_json::Value>(bytes).unwrap();
            } else {
                common::assert_well_formed(bytes);
            }
            let parsed = feed_rs::parser::parse(&bytes[..])
                .unwrap_or_else(|e| panic!("{key:?} {format:?}: {e}"));
            assert_eq!(parsed.entries.len(), feed.count, "{key:?} {format:?}");
            let ids: BTreeSet<_> = parsed.entries.iter().map(|e| e.id.clone()).collect();
            assert_eq!(ids.len(), parsed.entries.len(), "duplicate ids in {key:?}");
            for e in &parsed.entries {
                let html = e
                    .content
                    .as_ref()
                    .and_then(|c| c.body.clone())
                    .unwrap_or_default();
                common::assert_inert(&html, &format!("{key:?} {format:?} {}", e.id));
            }
        }
    }
}

#[test]
#[ignore = "needs REFEED_CORPUS; run by .ci/run"]
fn output_is_deterministic() {
    let cfg = common::config(&corpus(), &[]);
    let (_, a) = common::snapshot(&cfg);
    let (_, b) = common::snapshot(&cfg);
    for (key, feed) in &a.feeds {
        for format in Format::ALL {
            assert_eq!(
                feed.doc(format).identity(),
                b.feeds[key].doc(format).identity(),
                "{key:?}"
            );
        }
    }
}
