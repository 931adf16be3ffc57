//! The loader against the reference article, the examples and purpose-made
//! files for each front-matter and encoding rule.

use crate::common;

use chrono::SecondsFormat;
use refeed::article::{Status, body};
use refeed::html::Cleaner;

use common::{config, fixtures, load, tree};

fn rfc3339(d: chrono::DateTime<chrono::Utc>) -> String {
    d.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

#[test]
fn reference_article_is_normalized() {
    let source = fixtures().join("reference");
    let reports = load(&source);
    assert_eq!(reports.len(), 1);
    let r = &reports[0];
    assert_eq!(r.status(), Status::Ok, "{:?}", r.messages);
    let a = r.article.as_ref().unwrap();
    assert_eq!(a.title, "工信部召开部分省市上半年工业经济运行情况座谈会");
    assert_eq!(rfc3339(a.date), "2021-06-22T03:05:53Z");
    assert_eq!(
        a.categories,
        vec![vec!["金融", "新浪财经", "新浪财经－国內"]]
    );
    assert_eq!(a.author.as_deref(), Some("新浪财经"));
    assert!(!a.comments);
    assert_eq!(
        a.image.as_deref(),
        Some("https://n.sinaimg.cn/finance/cece9e13/20200514/343233024.png")
    );

    let cfg = config(&source, &[]);
    let cleaner = Cleaner::new(&cfg.site.url, &cfg.load.remove_selectors).unwrap();
    let text = std::fs::read_to_string(source.join(&*a.rel)).unwrap();
    let split = refeed::article::front_matter::split(&text);
    assert_eq!(
        refeed::html::BodyFormat::detect(std::path::Path::new(&*a.rel), split.body),
        refeed::html::BodyFormat::Html
    );
    let content = body::render(
        std::path::Path::new(&*a.rel),
        split.body,
        None,
        &cleaner,
        200,
    );
    assert!(
        content.summary.starts_with("上证报中国证券网讯"),
        "{}",
        content.summary
    );
    assert!(content.summary.chars().count() <= 200);
    let html = &content.html;
    for gone in [
        "<style",
        "appendQr",
        "<!--",
        "&#123;",
        "二维码",
        "责任编辑",
        "{",
    ] {
        assert!(!html.contains(gone), "{gone} still in {html}");
    }
    assert!(html.contains("<p>　　上证报中国证券网讯"), "{html}");
    assert_eq!(html.matches("<p>").count(), 4, "{html}");
}

#[test]
fn examples_all_load_and_show_each_rule() {
    let reports = load(&common::examples());
    assert_eq!(reports.len(), 12);
    let by = |suffix: &str| {
        reports
            .iter()
            .find(|r| r.rel.ends_with(suffix))
            .unwrap_or_else(|| panic!("no {suffix}"))
    };
    for r in &reports {
        assert_ne!(r.status(), Status::Rejected, "{}: {:?}", r.rel, r.messages);
    }
    let multi = by("示例平台调整内容推荐规则.md").article.clone().unwrap();
    assert_eq!(
        multi.categories,
        vec![
            vec!["科技", "互联网"],
            vec!["金融", "新浪财经", "新浪财经－国內"]
        ]
    );
    let from_name = by("2021-06-15-a-note-without-date.md")
        .article
        .clone()
        .unwrap();
    assert_eq!(rfc3339(from_name.date), "2021-06-15T00:00:00Z");
    let zoneless = by("cdata-and-escapes.md").article.clone().unwrap();
    assert_eq!(rfc3339(zoneless.date), "2021-06-19T08:00:00Z");
    let cst = by("示例银行下调部分存款利率.md").article.clone().unwrap();
    assert_eq!(
        rfc3339(cst.date),
        "2021-06-24T01:30:00Z",
        "CST is China time by default"
    );
    let draft = by("draft-idea.md");
    assert!(draft.article.as_ref().unwrap().draft);
    let numeric = by("2048.md").article.clone().unwrap();
    assert_eq!(numeric.title, "2048");
    let no_opener = by("hello-world.md").article.clone().unwrap();
    assert_eq!(no_opener.title, "Hello World");
    assert_eq!(no_opener.categories, vec![vec!["Tech"]]);
    let rust = by("ownership-in-practice.md").article.clone().unwrap();
    assert_eq!(rust.author.as_deref(), Some("Example Author"));
    assert_eq!(rust.explicit_id.as_deref(), Some("ownership-2021"));
    assert_eq!(rfc3339(rust.updated.unwrap()), "2021-06-25T08:00:00Z");
}

#[test]
fn front_matter_variants() {
    let dir = tree(&[
        (
            "bom.md",
            "\u{feff}---\ntitle: BOM\ndate: 2021-01-01\n---\nbody",
        ),
        (
            "crlf.md",
            "\r\n---\r\ntitle: CRLF\r\ndate: 2021-01-02 03:04\r\n---\r\nbody\r\n---\r\nmore",
        ),
        (
            "leading.md",
            "\n\n---\ntitle: leading\ndate: 2021-01-03\n---\nbody",
        ),
        ("no-title.md", "---\ndate: 2021-01-04\n---\nbody"),
        ("folder/index.md", "---\ndate: 2021-01-05\n---\nbody"),
        (
            "lol.md",
            "---\ntitle: t\ndate: 2021-01-06\ncategories:\n  - [A, B]\n  - [C]\ntags: one\n---\n",
        ),
        (
            "singular.md",
            "---\ntitle: t\ndate: 2021-01-07\ncategory: X\ntag: [y]\n---\n",
        ),
        (
            "unpublished.md",
            "---\ntitle: t\ndate: 2021-01-08\npublished: false\n---\n",
        ),
        ("_drafts/d.md", "---\ntitle: t\ndate: 2021-01-09\n---\n"),
        (".hidden/x.md", "---\ntitle: hidden\n---\n"),
        (".hidden.md", "---\ntitle: hidden\n---\n"),
        ("notes.txt", "not a post"),
    ]);
    let reports = load(dir.path());
    let get = |rel: &str| {
        reports
            .iter()
            .find(|r| &*r.rel == rel)
            .and_then(|r| r.article.clone())
            .unwrap_or_else(|| panic!("{rel} not loaded: {reports:?}"))
    };
    assert_eq!(reports.len(), 9, "hidden files and .txt are not walked");
    assert_eq!(get("bom.md").title, "BOM");
    assert_eq!(get("crlf.md").title, "CRLF");
    assert_eq!(rfc3339(get("crlf.md").date), "2021-01-02T03:04:00Z");
    assert_eq!(get("leading.md").title, "leading");
    assert_eq!(get("no-title.md").title, "no-title");
    assert_eq!(get("folder/index.md").title, "folder");
    assert_eq!(get("lol.md").categories, vec![vec!["A", "B"], vec!["C"]]);
    assert_eq!(get("lol.md").tags, vec!["one"]);
    assert_eq!(get("singular.md").categories, vec![vec!["X"]]);
    assert_eq!(get("singular.md").tags, vec!["y"]);
    assert!(get("unpublished.md").draft);
    assert!(get("_drafts/d.md").draft);
    assert!(!get("bom.md").draft);
}

#[test]
fn rejections_name_file_line_and_field() {
    let dir = tree(&[
        ("feb31.md", "---\ntitle: t\ndate: 2021-02-31 10:00\n---\n"),
        ("garbled.md", "---\ntitle: t\ndate: next tuesday\n---\n"),
        ("yaml.md", "---\ntitle: [unclosed\ndate: 2021-01-01\n---\n"),
        ("scalar.md", "---\njust a string\n---\nbody"),
        ("cut.md", "\n---\ntitle: t\ndate: 2021-01-01\n\n<p>body"),
    ]);
    let reports = load(dir.path());
    let msg = |rel: &str| {
        let r = reports.iter().find(|r| &*r.rel == rel).unwrap();
        assert_eq!(r.status(), Status::Rejected, "{rel}");
        r.messages[0].clone()
    };
    let m = msg("feb31.md");
    assert_eq!((m.line, m.field.as_deref()), (Some(3), Some("date")));
    assert!(m.text.starts_with("impossible date"), "{}", m.text);
    let m = msg("garbled.md");
    assert_eq!((m.line, m.field.as_deref()), (Some(3), Some("date")));
    assert!(m.text.contains("unrecognised"), "{}", m.text);
    let m = msg("yaml.md");
    assert!(m.text.starts_with("invalid YAML"), "{}", m.text);
    assert!(m.line.is_some_and(|l| l >= 2), "{m:?}");
    let m = msg("scalar.md");
    assert!(m.text.contains("not a mapping"), "{}", m.text);
    let m = msg("cut.md");
    assert_eq!(m.line, Some(2), "{m:?}");
    assert!(m.text.contains("never closed"), "{}", m.text);
}

#[test]
fn encodings_and_sizes() {
    let dir = tree(&[("ok.md", "---\ntitle: ok\ndate: 2021-01-01\n---\n")]);
    let (gb, _, _) =
        encoding_rs::GB18030.encode("---\ntitle: 新浪财经\ndate: 2021-01-01\n---\n正文");
    std::fs::write(dir.path().join("gb.md"), &gb).unwrap();
    std::fs::write(dir.path().join("binary.md"), [0u8, 159, 146, 150, 0, 1]).unwrap();
    std::fs::write(dir.path().join("empty.md"), b"").unwrap();
    std::fs::write(dir.path().join("big.md"), vec![b'a'; 2048]).unwrap();
    let cfg = config(dir.path(), &[("load.max_file_size", "1024")]);
    let reports = refeed::setup::loader(&cfg).load_folder(dir.path()).unwrap();
    let find = |rel: &str| reports.iter().find(|r| &*r.rel == rel).unwrap();
    let gb = find("gb.md");
    assert_eq!(gb.status(), Status::Warning);
    assert_eq!(gb.article.as_ref().unwrap().title, "新浪财经");
    assert!(gb.messages[0].text.contains("GB18030"));
    assert_eq!(find("binary.md").status(), Status::Rejected);
    assert!(find("big.md").messages[0].text.contains("1024-byte limit"));
    // An empty file is what a truncation leaves, not a post.
    let empty = find("empty.md");
    assert_eq!(empty.status(), Status::Rejected);
    assert!(empty.messages[0].text.contains("cut short"));
}

#[test]
fn explicit_zone_wins_over_configured_timezone() {
    let dir = tree(&[
        ("a.md", "---\ntitle: a\ndate: 2021-06-22 11:05:53\n---\n"),
        (
            "b.md",
            "---\ntitle: b\ndate: Tue, 22 Jun 2021 03:05:53 GMT\n---\n",
        ),
    ]);
    let cfg = config(dir.path(), &[("timezone", "Asia/Shanghai")]);
    let reports = refeed::setup::loader(&cfg).load_folder(dir.path()).unwrap();
    for r in &reports {
        let a = r.article.as_ref().unwrap();
        assert_eq!(rfc3339(a.date), "2021-06-22T03:05:53Z", "{}", r.rel);
    }
}

/// Issue 10, fault 17: `<<: *base` was kept as an unknown key, so the title
/// fell back to the file name and the categories were lost, with status ok.
#[test]
fn yaml_merge_keys_apply() {
    let dir = tree(&[
        (
            "merged.md",
            "---\n_defaults: &base\n  title: From the base\n  categories: [News, World]\n  tags: [t]\n\
             <<: *base\ndate: 2021-03-04\ntags: [own]\n---\nbody",
        ),
        (
            "list.md",
            "---\na: &a {title: First}\nb: &b {title: Second, categories: [B]}\n\
             <<: [*a, *b]\ndate: 2021-03-05\n---\nbody",
        ),
        (
            "bad.md",
            "---\ntitle: t\ndate: 2021-03-06\n<<: 5\n---\nbody",
        ),
    ]);
    let reports = load(dir.path());
    let get = |rel: &str| reports.iter().find(|r| &*r.rel == rel).unwrap();
    let merged = get("merged.md");
    assert_eq!(merged.status(), Status::Ok, "{:?}", merged.messages);
    let a = merged.article.as_ref().unwrap();
    assert_eq!(a.title, "From the base");
    assert_eq!(a.categories, vec![vec!["News", "World"]]);
    assert_eq!(a.tags, vec!["own"], "keys written in the mapping win");
    let a = get("list.md").article.clone().unwrap();
    assert_eq!(a.title, "First", "earlier mappings in the list win");
    assert_eq!(a.categories, vec![vec!["B"]]);
    let bad = get("bad.md");
    assert!(bad.article.is_none(), "a merge of a scalar is an error");
    assert!(
        bad.messages.iter().any(|m| m.text.contains("merg")),
        "{:?}",
        bad.messages
    );
}

/// The other half of fault 2: whatever the cleaner costs per byte, one body
/// costs at most `load.max_body_bytes` of it, and the cut is reported.
#[test]
fn bodies_over_the_limit_are_cut_with_a_warning() {
    let body = "line of text\n".repeat(100);
    let dir = tree(&[(
        "long.md",
        &format!("---\ntitle: t\ndate: 2021-01-01\n---\n{body}"),
    )]);
    let cfg = config(dir.path(), &[("load.max_body_bytes", "200")]);
    let reports = refeed::setup::loader(&cfg).load_folder(dir.path()).unwrap();
    let r = &reports[0];
    assert_eq!(r.status(), Status::Warning);
    let warning = &r.messages[0];
    assert!(warning.text.contains("load.max_body_bytes"), "{warning:?}");
    // 15 whole lines of 13 bytes fit in 200; the body starts on line 5.
    assert_eq!(warning.line, Some(5 + 15));
    let cleaner = Cleaner::new(&cfg.site.url, &[])
        .unwrap()
        .with_max_body_bytes(cfg.load.max_body_bytes);
    let content = body::render(std::path::Path::new("long.md"), &body, None, &cleaner, 200);
    assert_eq!(content.html.matches("line of text").count(), 15);
}

/// A file that is nothing but the start of a front matter (`-`, `---` and
/// blank lines) is a post cut in its first bytes: rejected as cut short,
/// never loaded as a post titled after its file with a `<hr>` body.
#[test]
fn a_file_that_is_only_an_opening_fence_is_cut_short() {
    let cut = ["-", "--", "---", "---\n", "\n---\n\n", ";;;\n"];
    let files: Vec<(String, &str)> = cut
        .iter()
        .enumerate()
        .map(|(i, text)| (format!("cut-{i}.md"), *text))
        .collect();
    let mut all: Vec<(&str, &str)> = files.iter().map(|(n, t)| (n.as_str(), *t)).collect();
    // A rule with text after it is a body, as Hexo reads it.
    all.push(("rule.md", "---\nHello\n"));
    let dir = tree(&all);
    for r in load(dir.path()) {
        if &*r.rel == "rule.md" {
            assert_eq!(r.article.as_ref().unwrap().title, "rule");
            continue;
        }
        assert_eq!(r.status(), Status::Rejected, "{}: {:?}", r.rel, r.messages);
        assert!(r.looks_cut(), "{}: {:?}", r.rel, r.messages);
    }
}
