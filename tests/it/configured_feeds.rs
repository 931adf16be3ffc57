//! Configured feeds (`feeds:`) through `refeed serve`, `refeed build` and
//! `refeed check`: overlapping includes give one item, excludes hold, a
//! story filed twice shows once (earliest file), both switchable; the
//! feed has everything other feeds have.

use std::path::Path;
use std::process::{Command, Output};

use crate::common;
use crate::common::server::{Launch, PATIENCE, Refeed, write_atomically};

use serde_json::Value;

const SEED: &str =
    "reference/金融/新浪财经/新浪财经－国內/工信部召开部分省市上半年工业经济运行情况座谈会.md";
const SEED_TITLE: &str = "工信部召开部分省市上半年工业经济运行情况座谈会";
const SEED_TITLE_S2T: &str = "工信部召開部分省市上半年工業經濟運行情況座談會";

fn post(title: &str, date: &str, categories: &str, tags: &str) -> String {
    format!(
        "---\ntitle: '{title}'\ndate: {date}\ncategories: {categories}\ntags: {tags}\n---\n{title} 正文\n"
    )
}

const CONFIG: &str = "feeds:
  - slug: china-economy
    title: 中国经济
    description: 宏观与财经
    include:
      categories: [[金融, 新浪财经], [财经]]
      tags: [宏观]
    exclude:
      categories: [[金融, 新浪财经, 新浪财经－美股]]
      tags: [广告]
      title: '(?i)直播'
  - slug: every-copy
    title: Every copy
    include:
      categories: [[金融, 新浪财经], [财经]]
      tags: [宏观]
    merge_includes: false
    dedup_titles: false
  - slug: nothing-yet
    title: Nothing yet
    include:
      tags: [不存在]
  - slug: china-economy-hant
    title: 中国经济（繁体）
    include:
      categories: [[金融, 新浪财经], [财经]]
      tags: [宏观]
    exclude:
      title: '(?i)直播'
    opencc: s2t
";

/// The seed article, the same story filed again a day later under another
/// category (other punctuation), one article both includes match, three
/// excluded ones and one outside every include.
fn source() -> tempfile::TempDir {
    let seed = std::fs::read_to_string(common::fixtures().join(SEED)).expect("seed fixture");
    common::tree(&[
        ("posts/金融/seed.md", &seed),
        (
            "posts/财经/again.md",
            &post(
                "工信部召开部分省市上半年工业经济运行情况座谈会！",
                "2021-06-23 08:00:00",
                "[财经]",
                "[]",
            ),
        ),
        (
            "posts/财经/both.md",
            &post("出口数据超预期", "2021-06-24 08:00:00", "[财经]", "[宏观]"),
        ),
        (
            "posts/财经/live.md",
            &post("今日直播：经济", "2021-06-25 08:00:00", "[财经]", "[]"),
        ),
        (
            "posts/美股/us.md",
            &post(
                "美股收盘",
                "2021-06-26 08:00:00",
                "[[金融, 新浪财经, 新浪财经－美股]]",
                "[]",
            ),
        ),
        (
            "posts/财经/ad.md",
            &post("推广", "2021-06-27 08:00:00", "[财经]", "[广告]"),
        ),
        (
            "posts/科技/other.md",
            &post("芯片", "2021-06-28 08:00:00", "[科技]", "[]"),
        ),
        ("refeed.yaml", CONFIG),
    ])
}

const EXPECTED: &[&str] = &["出口数据超预期", SEED_TITLE];

/// `refeed serve` of `dir`'s posts with its configuration.
fn serve(dir: &tempfile::TempDir) -> Refeed {
    let config = dir.path().join("refeed.yaml");
    Launch::new(&dir.path().join("posts"))
        .env(&[("REFEED_CONFIG", config.to_str().unwrap())])
        .start()
}

fn titles(feed: &Value) -> Vec<String> {
    feed["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|i| i["title"].as_str().unwrap_or("").to_string())
        .collect()
}

fn refeed(dir: &Path, args: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_refeed"));
    for (key, _) in std::env::vars() {
        if key.starts_with("REFEED_") {
            cmd.env_remove(key);
        }
    }
    cmd.current_dir(dir)
        .args(["--config", "refeed.yaml", "--log", "warn"])
        .args(args)
        .output()
        .expect("run refeed")
}

#[test]
fn serve_merges_excludes_and_dedups_with_everything_feeds_have() {
    let dir = source();
    let server = serve(&dir);
    let r = server.get("/feeds/china-economy/feed.json");
    assert_eq!(r.status, 200, "{}", r.text());
    let feed: Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(titles(&feed), EXPECTED);
    assert_eq!(feed["title"], "中国经济");
    assert_eq!(feed["description"], "宏观与财经");
    assert!(
        feed["items"][1]["url"]
            .as_str()
            .unwrap()
            .contains("%E9%87%91%E8%9E%8D"),
        "the earliest file of the story (the seed, under 金融) wins"
    );

    // Both switches off: one item per include matched, every copy of a story.
    let every: Value =
        serde_json::from_slice(&server.get("/feeds/every-copy/feed.json").body).unwrap();
    let every = titles(&every);
    assert_eq!(
        every.iter().filter(|t| *t == "出口数据超预期").count(),
        2,
        "{every:?}"
    );
    assert!(every.iter().any(|t| t.ends_with('！')), "{every:?}");

    for path in [
        "/feeds/china-economy/rss.xml",
        "/feeds/china-economy/atom.xml",
    ] {
        let r = server.get(path);
        assert_eq!(r.status, 200, "{path}");
        common::assert_well_formed(&r.body);
        let again = server.request("GET", path, &[("If-None-Match", &r.etag())]);
        assert_eq!(again.status, 304, "{path}");
        let gz = server.request("GET", path, &[("Accept-Encoding", "gzip")]);
        assert_eq!(gz.header("content-encoding"), Some("gzip"), "{path}");
    }
    let limited = server.titles("/feeds/china-economy/rss.xml?limit=1");
    assert_eq!(limited, EXPECTED[..1]);
    let s2t = server
        .get("/feeds/china-economy/feed.json?opencc=s2t")
        .text();
    assert!(s2t.contains(SEED_TITLE_S2T));
    let hant = server.get("/feeds/china-economy-hant/rss.xml").text();
    assert!(hant.contains(SEED_TITLE_S2T) && !hant.contains(SEED_TITLE));
    assert!(s2t.contains("中國經濟"));

    let empty = server.titles("/feeds/nothing-yet/atom.xml");
    assert!(empty.is_empty());
    assert!(
        server
            .log_text()
            .contains("`nothing-yet`: include.tags names `不存在`")
    );

    let page = server.get("/feeds/china-economy/");
    assert_eq!(page.status, 200);
    assert!(page.text().contains("出口数据超预期") && page.text().contains("中国经济"));
    assert!(
        server
            .get("/")
            .text()
            .contains("/feeds/china-economy/rss.xml")
    );
    assert!(
        server
            .get("/opml.xml")
            .text()
            .contains("/feeds/china-economy/rss.xml")
    );

    // Live reload: a new article under an include appears.
    write_atomically(
        &dir.path().join("posts/财经/new.md"),
        &post("新到的文章", "2021-06-29 08:00:00", "[财经]", "[]"),
    );
    server.wait_for("the new article in the configured feed", PATIENCE, |s| {
        s.titles("/feeds/china-economy/atom.xml")
            .first()
            .map(String::as_str)
            == Some("新到的文章")
    });
}

#[test]
fn build_writes_the_configured_feed_and_check_warns() {
    let dir = source();
    let out = refeed(dir.path(), &["build", "--source", "posts", "--out", "out"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("`nothing-yet`: include.tags names `不存在`"),
        "{stderr}"
    );
    let built = dir.path().join("out/feeds/china-economy");
    let feed: Value =
        serde_json::from_slice(&std::fs::read(built.join("feed.json")).unwrap()).unwrap();
    assert_eq!(titles(&feed), EXPECTED);
    for file in ["rss.xml", "atom.xml", "index.html", "rss.xml.gz"] {
        assert!(built.join(file).is_file(), "{file}");
    }

    // A feed published converted: what a built site, without query
    // strings, offers instead of `?opencc=`.
    let hant = dir.path().join("out/feeds/china-economy-hant/feed.json");
    let hant: Value = serde_json::from_slice(&std::fs::read(hant).unwrap()).unwrap();
    assert_eq!(hant["title"], "中國經濟（繁體）");
    let seed = |f: &Value| {
        f["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["url"].as_str().unwrap().contains("%E9%87%91%E8%9E%8D"))
            .cloned()
            .expect("the seed item")
    };
    let (converted, plain) = (seed(&hant), seed(&feed));
    assert_eq!(converted["title"], SEED_TITLE_S2T);
    assert_eq!(converted["authors"][0]["name"], "新浪財經");
    assert_eq!(converted["url"], plain["url"], "links untouched");
    assert_eq!(converted["id"], plain["id"]);
    assert_eq!(converted["image"], plain["image"]);
    let html = converted["content_html"].as_str().unwrap();
    assert!(html.contains("工業和信息化部"), "{html}");

    // The built page has no other pages to link to: it says it shows the
    // newest, never "page 1 of 1" over a feed longer than it (found by
    // the re-attack).
    let limited = Command::new(env!("CARGO_BIN_EXE_refeed"))
        .current_dir(dir.path())
        .env("REFEED_FEED__LIMIT", "1")
        .args(["--config", "refeed.yaml", "--log", "warn"])
        .args(["build", "--source", "posts", "--out", "limited"])
        .output()
        .expect("run refeed");
    assert!(limited.status.success());
    let page = dir.path().join("limited/feeds/china-economy/index.html");
    let page = std::fs::read_to_string(page).unwrap();
    assert!(
        !page.contains("page 1 of") && page.contains("the newest 1 of 2"),
        "{page}"
    );

    let out = refeed(dir.path(), &["check", "--source", "posts"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(
        !stdout.contains("`广告`"),
        "a tag some article has: {stdout}"
    );
    assert!(
        stdout.contains("warning: configured feed `nothing-yet`: include.tags names `不存在`"),
        "{stdout}"
    );
}

#[test]
fn a_bad_regex_or_a_reserved_slug_is_a_config_error_naming_the_key() {
    for (config, key) in [
        (
            "feeds:\n  - {slug: a, title: t, exclude: {title: '(直播'}}\n",
            "`feeds[0].exclude.title`",
        ),
        ("feeds:\n  - {slug: rss.xml, title: t}\n", "`feeds[0].slug`"),
    ] {
        let dir = common::tree(&[
            ("refeed.yaml", config),
            ("posts/a.md", "---\ntitle: a\n---\n"),
        ]);
        let out = refeed(dir.path(), &["check", "--source", "posts"]);
        assert_eq!(out.status.code(), Some(2));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(key), "{stderr}");
        assert!(stderr.contains("refeed.yaml"), "{stderr}");
    }
}

/// Found by the sixth attack: a feed whose `include:` was left empty
/// passed `check` and was listed in the index and OPML, always empty.
#[test]
fn a_feed_without_an_include_is_a_config_error_not_an_empty_feed() {
    let dir = common::tree(&[
        (
            "refeed.yaml",
            "feeds:\n  - slug: empty\n    title: Empty\n    include:\n",
        ),
        ("posts/a.md", "---\ntitle: a\ntags: [x]\n---\n"),
    ]);
    let out = refeed(dir.path(), &["check", "--source", "posts"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("`feeds[0].include`"), "{stderr}");
    assert!(
        stderr.contains("at least one category or tag to include"),
        "{stderr}"
    );
}

/// Found by the fifth attack: an edit to an article a configured feed
/// already held (same file, same date, so the same members) never reached
/// that feed, nor its WebSub subscribers.
#[test]
fn an_edit_to_a_member_reaches_the_configured_feed() {
    let dir = source();
    let server = serve(&dir);
    let path = "/feeds/china-economy/feed.json";
    assert_eq!(
        titles(&serde_json::from_slice(&server.get(path).body).unwrap()),
        EXPECTED
    );
    common::server::write_atomically(
        &dir.path().join("posts/财经/both.md"),
        &post(
            "出口数据超预期 改标题",
            "2021-06-24 08:00:00",
            "[财经]",
            "[宏观]",
        ),
    );
    server.wait_for(
        "the edit in the configured feed",
        common::server::PATIENCE,
        |s| {
            let feed: Value = serde_json::from_slice(&s.get(path).body).unwrap();
            titles(&feed).first().map(String::as_str) == Some("出口数据超预期 改标题")
        },
    );
}

/// Found by the fifth attack: a feed configured with `opencc: s2t` served
/// its page and its query representations unconverted.
#[test]
fn every_representation_of_a_converted_configured_feed_is_converted() {
    let dir = source();
    let server = serve(&dir);
    let converted = |path: &str| {
        let r = server.get(path);
        assert_eq!(r.status, 200, "{path}");
        let text = r.text();
        assert!(text.contains(SEED_TITLE_S2T), "{path}: {text}");
        assert!(!text.contains(SEED_TITLE), "{path}: unconverted");
        assert!(text.contains("中國經濟（繁體）"), "{path}: the channel");
        text
    };
    let page = converted("/feeds/china-economy-hant/");
    assert!(page.contains("lang=\"zh-Hant\""), "{page}");
    converted("/feeds/china-economy-hant/rss.xml?limit=5");
    converted("/feeds/china-economy-hant/atom.xml?filter=%E5%B7%A5%E4%BF%A1%E9%83%A8");
    let json = converted("/feeds/china-economy-hant/feed.json?brief=100");
    assert!(json.contains("\"language\":\"zh-Hant\""), "{json}");

    // A conversion the query names wins, applied to the text as written:
    // `t2s` gives the Simplified text back, `s2tw` Taiwan's forms of it.
    let t2s = server
        .get("/feeds/china-economy-hant/feed.json?opencc=t2s")
        .text();
    assert!(t2s.contains(SEED_TITLE) && !t2s.contains(SEED_TITLE_S2T));
    assert!(t2s.contains("\"language\":\"zh-Hans\""), "{t2s}");
    let tw = server
        .get("/feeds/china-economy-hant/rss.xml?opencc=s2tw")
        .text();
    assert!(tw.contains(SEED_TITLE_S2T), "{tw}");
    assert!(tw.contains("<language>zh-TW</language>"), "{tw}");
}

/// Found by the fifth attack: with `merge_includes: false`, the copies of
/// an article shared one Atom id, RSS guid and JSON id in one document.
#[test]
fn copies_listed_once_per_include_have_distinct_stable_ids() {
    let dir = source();
    let server = serve(&dir);
    let inner = |part: &str, tag: &str| {
        let open = format!("<{tag}");
        let from = part.split_once(&open).map_or("", |(_, r)| r);
        let from = from.split_once('>').map_or("", |(_, r)| r);
        from.split_once(&format!("</{tag}>"))
            .map_or("", |(v, _)| v)
            .to_string()
    };
    let feed = "/feeds/every-copy";
    let atom = server.get(&format!("{feed}/atom.xml")).text();
    let rss = server.get(&format!("{feed}/rss.xml?limit=10")).text();
    let json: Value =
        serde_json::from_slice(&server.get(&format!("{feed}/feed.json")).body).unwrap();
    let documents = [
        atom.split("<entry")
            .skip(1)
            .map(|e| inner(e, "id"))
            .collect::<Vec<_>>(),
        rss.split("<item>")
            .skip(1)
            .map(|i| inner(i, "guid"))
            .collect(),
        json["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["id"].as_str().unwrap().to_string())
            .collect(),
    ];
    for ids in &documents {
        assert_eq!(ids.len(), 7, "{ids:?}");
        let mut unique = ids.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), ids.len(), "{ids:?}");
        assert_eq!(ids, &documents[2], "one id per copy in every format");
    }
    // Each copy is named by the include it is listed for, so its id stays
    // whatever else the article comes to match.
    let both: Vec<&str> = json["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["title"] == "出口数据超预期")
        .filter_map(|i| i["id"].as_str()?.split_once('#').map(|(_, via)| via))
        .collect();
    assert_eq!(
        both,
        ["categories/%E8%B4%A2%E7%BB%8F/", "tags/%E5%AE%8F%E8%A7%82/"]
    );
    let merged: Value =
        serde_json::from_slice(&server.get("/feeds/china-economy/feed.json").body).unwrap();
    assert!(!merged["items"][0]["id"].as_str().unwrap().contains('#'));
}

/// The item ids of one built document of feed `slug` below `out`, in
/// document order: Atom ids, RSS guids or JSON Feed ids.
fn built_ids(out: &Path, slug: &str) -> [Vec<String>; 3] {
    let dir = out.join("feeds").join(slug);
    let read = |f: &str| std::fs::read_to_string(dir.join(f)).expect("built document");
    let inner = |part: &str, tag: &str| {
        let from = part.split_once('>').map_or("", |(_, r)| r);
        from.split_once(&format!("</{tag}>"))
            .map_or("", |(v, _)| v)
            .to_string()
    };
    let json: Value = serde_json::from_str(&read("feed.json")).unwrap();
    [
        read("atom.xml")
            .split("<entry>")
            .skip(1)
            .map(|e| inner(e.split_once("<id").map_or("", |(_, r)| r), "id"))
            .collect(),
        read("rss.xml")
            .split("<item>")
            .skip(1)
            .map(|i| inner(i.split_once("<guid").map_or("", |(_, r)| r), "guid"))
            .collect(),
        json["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["id"].as_str().unwrap().to_string())
            .collect(),
    ]
}

/// Found by the sixth attack: with `merge_includes: false`, a copy's id
/// named its include by slug, so tags `C#` and `C++` (both slug `C`), or
/// two tags `tag_map` sends to one slug, gave one id twice in a document.
#[test]
fn copies_for_includes_sharing_a_slug_have_distinct_ids() {
    let config = "tag_map: {Node js: node, NodeJS: node}
feeds:
  - slug: langs
    title: Langs
    include:
      tags: ['C#', 'C++', 'C#', Node js, NodeJS]
    merge_includes: false
";
    let dir = common::tree(&[
        ("refeed.yaml", config),
        (
            "posts/a.md",
            &post(
                "a",
                "2021-06-24 08:00:00",
                "[]",
                "['C#', 'C++', Node js, NodeJS]",
            ),
        ),
    ]);
    let out = refeed(dir.path(), &["build", "--source", "posts", "--out", "out"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let documents = built_ids(&dir.path().join("out"), "langs");
    for ids in &documents {
        let fragments: Vec<&str> = ids
            .iter()
            .filter_map(|id| id.split_once('#').map(|(_, f)| f))
            .collect();
        // One copy per include, `C#` written twice counting once.
        let mut want = ["tags/C%23/", "tags/C++/", "tags/Node%20js/", "tags/NodeJS/"];
        let mut got = fragments.clone();
        got.sort();
        want.sort();
        assert_eq!(got, want, "{ids:?}");
        assert_eq!(ids, &documents[2], "one id per copy in every format");
    }
}
