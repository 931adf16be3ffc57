//! `?opencc=` through `refeed serve`: the seed article converted, code and
//! URLs left alone, every format, its own ETag, unknown values refused.

use crate::common;
use crate::common::server::Refeed;

use serde_json::Value;

const SEED: &str =
    "reference/金融/新浪财经/新浪财经－国內/工信部召开部分省市上半年工业经济运行情况座谈会.md";
const SEED_S2T: &str = "工信部召開部分省市上半年工業經濟運行情況座談會";

const CODE_POST: &str = "---
title: 软件发展
date: 2021-06-01 10:00:00
categories: [技术]
tags: [软件]
author: 张三
description: 经济发展的软件
---
经济发展见 <a href=\"https://example.com/经济/软件?发=1\" title=\"经济\">软件链接</a>。

```
let 软件 = \"经济发展\";
```

行内 <code>发展代码</code> 之后
";

fn source() -> tempfile::TempDir {
    let seed = std::fs::read_to_string(common::fixtures().join(SEED)).expect("seed fixture");
    common::tree(&[("金融/seed.md", &seed), ("技术/code.md", CODE_POST)])
}

fn json(server: &Refeed, path: &str) -> Value {
    let r = server.get(path);
    assert_eq!(r.status, 200, "{path}: {}", r.text());
    serde_json::from_slice(&r.body).expect("JSON Feed")
}

fn item<'a>(feed: &'a Value, url_part: &str) -> &'a Value {
    feed["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|i| i["url"].as_str().unwrap_or("").contains(url_part))
        .unwrap_or_else(|| panic!("no item at {url_part}"))
}

/// Every `href="…"` and `src="…"` value, in order.
fn urls(html: &str) -> Vec<String> {
    let mut out = Vec::new();
    for attr in ["href=\"", "src=\""] {
        for part in html.split(attr).skip(1) {
            out.push(part.split('"').next().unwrap_or("").to_string());
        }
    }
    out
}

#[test]
fn s2t_converts_text_and_leaves_code_and_urls() {
    let dir = source();
    let server = Refeed::start(dir.path(), &[]);
    let plain = json(&server, "/feed.json?limit=10");
    let s2t = json(&server, "/feed.json?opencc=s2t");
    assert_eq!(s2t["title"], plain["title"], "an ASCII site title stays");

    let seed = item(&s2t, "seed");
    assert_eq!(seed["title"], SEED_S2T);
    assert_eq!(seed["authors"][0]["name"], "新浪財經");
    assert!(
        seed["tags"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t == "新浪財經")
    );
    let summary = seed["summary"].as_str().unwrap();
    assert!(summary.contains("工業和信息化部"), "{summary}");

    let plain_code = item(&plain, "code");
    let code = item(&s2t, "code");
    assert_eq!(code["title"], "軟件發展");
    assert_eq!(code["summary"], "經濟發展的軟件");
    assert_eq!(code["authors"][0]["name"], "張三");
    let html = code["content_html"].as_str().unwrap();
    assert!(html.contains("經濟發展見"), "{html}");
    assert!(html.contains("軟件鏈接"), "{html}");
    assert!(html.contains("title=\"经济\""), "attributes stay: {html}");
    assert!(
        html.contains("let 软件 = &quot;经济发展&quot;;")
            || html.contains("let 软件 = \"经济发展\";")
    );
    assert!(html.contains("<code>发展代码</code>"), "{html}");
    assert!(html.contains("之後"), "{html}");
    let plain_html = plain_code["content_html"].as_str().unwrap();
    assert!(!urls(plain_html).is_empty());
    assert_eq!(urls(html), urls(plain_html), "URLs untouched");
    for key in ["url", "id"] {
        assert_eq!(code[key], plain_code[key], "{key}");
    }
    let self_link = s2t["feed_url"].as_str().unwrap();
    assert!(self_link.ends_with("/feed.json?opencc=s2t"), "{self_link}");
}

#[test]
fn every_format_converts_and_each_conversion_is_its_own_representation() {
    let dir = source();
    let server = Refeed::start(dir.path(), &[]);
    for path in [
        "/rss.xml?opencc=s2t",
        "/atom.xml?opencc=s2t",
        "/rss.xml?opencc=S2T&format=atom",
    ] {
        let r = server.get(path);
        assert_eq!(r.status, 200, "{path}");
        let text = r.text();
        assert!(text.contains(SEED_S2T), "{path}");
        assert!(!text.contains("工业经济"), "{path}: unconverted text");
        common::assert_well_formed(&r.body);
    }
    let rss_tw = server.get("/rss.xml?opencc=s2twp").text();
    assert!(rss_tw.contains("軟體發展"), "s2twp uses Taiwan's phrases");

    let etags: Vec<String> = ["", "?opencc=s2t", "?opencc=s2tw", "?opencc=s2t&limit=1"]
        .iter()
        .map(|q| server.get(&format!("/rss.xml{q}")).etag())
        .collect();
    for (i, a) in etags.iter().enumerate() {
        for b in &etags[i + 1..] {
            assert_ne!(a, b);
        }
    }
    let again = server.request(
        "GET",
        "/rss.xml?opencc=s2t",
        &[("If-None-Match", &etags[1])],
    );
    assert_eq!(again.status, 304);
    let gz = server.request("GET", "/rss.xml?opencc=s2t", &[("Accept-Encoding", "gzip")]);
    assert_eq!(gz.header("content-encoding"), Some("gzip"));
}

#[test]
fn unknown_conversions_are_refused_with_the_valid_ones() {
    let dir = source();
    let server = Refeed::start(dir.path(), &[]);
    let r = server.get("/feed.json?opencc=zh-hant");
    assert_eq!(r.status, 400);
    let text = r.text();
    for name in [
        "s2t", "t2s", "s2tw", "s2twp", "tw2s", "tw2sp", "s2hk", "hk2s", "t2tw", "t2hk", "t2jp",
        "jp2t",
    ] {
        assert!(text.contains(name), "{name} missing from: {text}");
    }
}

/// The first text between `start` and `end` in `text`.
fn between<'a>(text: &'a str, start: &str, end: &str) -> &'a str {
    let from = text.split_once(start).map_or("", |(_, rest)| rest);
    from.split_once(end).map_or("", |(value, _)| value)
}

/// Found by the fifth attack: converted documents kept the site's `zh-CN`.
#[test]
fn a_converted_document_says_the_language_it_was_converted_to() {
    let dir = source();
    let server = Refeed::start(dir.path(), &[]);
    let rss = |q: &str| server.get(&format!("/rss.xml{q}")).text();
    let atom = |q: &str| server.get(&format!("/atom.xml{q}")).text();
    let json = |q: &str| json(&server, &format!("/feed.json{q}"))["language"].clone();
    assert_eq!(between(&rss(""), "<language>", "<"), "zh-CN");
    assert_eq!(between(&rss("?opencc=s2t"), "<language>", "<"), "zh-Hant");
    assert_eq!(between(&rss("?opencc=jp2t"), "<language>", "<"), "zh-Hant");
    assert_eq!(between(&rss("?opencc=t2jp"), "<language>", "<"), "ja");
    assert_eq!(between(&atom("?opencc=s2tw"), "xml:lang=\"", "\""), "zh-TW");
    assert_eq!(
        between(&atom("?opencc=s2twp"), "xml:lang=\"", "\""),
        "zh-TW"
    );
    assert_eq!(json("?opencc=s2hk"), "zh-HK");
    assert_eq!(json("?opencc=t2hk"), "zh-HK");
    assert_eq!(json("?opencc=tw2sp"), "zh-Hans");
    assert_eq!(json(""), "zh-CN");

    // A site that is not written in Chinese keeps its language.
    let en = Refeed::start(dir.path(), &[("REFEED_LANGUAGE", "en")]);
    let text = en.get("/rss.xml?opencc=s2t").text();
    assert_eq!(between(&text, "<language>", "<"), "en");
}

/// Found by the fifth attack: the content kept its code as written, and
/// the summary made from that content converted the same code.
#[test]
fn a_summary_keeps_the_code_its_content_keeps() {
    let whole = "---\ntitle: 全文\ndate: 2021-06-02 10:00:00\n---\n\
                 经济发展见 <code>let 软件 = 发展;</code> 之后\n\n\
                 ```\nlet 经济 = 1;\n```\n";
    let head = "---\ntitle: 摘要\ndate: 2021-06-03 10:00:00\n---\n\
                开头 `发展代码` 经济\n\n<!-- more -->\n\n后文 `软件`\n";
    let dir = common::tree(&[("a/whole.md", whole), ("a/head.md", head)]);
    let server = Refeed::start(dir.path(), &[]);
    let feed = json(&server, "/feed.json?opencc=s2t");
    let summary = |part: &str| item(&feed, part)["summary"].as_str().unwrap().to_string();
    assert_eq!(
        summary("whole"),
        "經濟發展見 let 软件 = 发展; 之後 let 经济 = 1;"
    );
    assert_eq!(summary("head"), "開頭 发展代码 經濟");
    let briefed = json(&server, "/feed.json?opencc=s2t&brief=100");
    let brief = item(&briefed, "head")["summary"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(brief, "開頭 发展代码 經濟 後文 软件");
}

/// Found by the sixth attack: URLs and e-mail addresses written as text
/// (a link's text, a bare URL with an IDN host and a Chinese path, an
/// address) were converted into other addresses, in the content, the
/// summary and the title. (An address with a Chinese local part or domain
/// is converted like the prose it cannot be told from: the re-attack.)
#[test]
fn urls_and_addresses_written_as_text_are_not_converted() {
    const WIKI: &str = "https://zh.wikipedia.org/wiki/软件";
    const BARE: &str = "https://例子.中国/软件发展";
    const MAIL: &str = "ruanjian@xn--fsqu00a.xn--fiqs8s";
    let post = format!(
        "---\ntitle: 软件 {BARE} 软件\ndate: 2021-06-04 10:00:00\n---\n\
         软件见 <a href=\"{WIKI}\">{WIKI}</a>，软件：{BARE} 或写信给 {MAIL} 软件\n"
    );
    let dir = common::tree(&[("a/links.md", &post)]);
    let server = Refeed::start(dir.path(), &[]);
    let feed = json(&server, "/feed.json?opencc=s2twp");
    let links = item(&feed, "links");
    assert_eq!(links["title"], format!("軟體 {BARE} 軟體"));
    let content = links["content_html"].as_str().unwrap();
    let summary = links["summary"].as_str().unwrap();
    for text in [content, summary] {
        assert!(text.contains("軟體見 "), "{text}");
        assert!(
            text.contains(&format!("{WIKI}</a>，軟體："))
                || text.contains(&format!("{WIKI}，軟體：")),
            "{text}"
        );
        assert!(
            text.contains(&format!("軟體：{BARE} 或寫信給 {MAIL} 軟體")),
            "{text}"
        );
    }
    assert!(!content.contains("軟體發展") && !content.contains("中國"));
}
