//! Properties over generated input (proptest):
//! - any bytes as a post file decode and parse to an article or a reported
//!   error, never a panic; so does any generated YAML front matter (random
//!   keys, tricky scalars, nested lists, dates in many shapes, anchors);
//! - for any set of 1-5 posts (hostile titles, categories, tags and HTML
//!   bodies, explicit ids that collide), every feed document is well-formed
//!   XML (roxmltree) or valid JSON, its ids are unique, and its HTML is inert.
//!
//! The checks are the fuzz targets' own (`fuzz-checks`, `fuzz/checks/`).

use std::path::Path;
use std::sync::Arc;

use proptest::prelude::*;
use refeed::source::{Role, SourceFile};

/// Decodes and parses like the loader; must return, whatever the input.
fn parse_bytes(bytes: &[u8]) {
    let Ok((text, _)) = refeed::source::decode(bytes.to_vec()) else {
        return;
    };
    let file = SourceFile {
        path: Path::new("/nonexistent/a/post.md").to_path_buf(),
        rel: Arc::from("a/post.md"),
        role: Role::Post,
        linked: false,
    };
    if let Ok(parsed) = fuzz_checks::loader().parse(&file, &text, None) {
        assert!(text.is_char_boundary(parsed.body_start));
    }
}

// ------------------------------------------------------------- generators

/// Text that is hard on every layer: controls, XML-forbidden characters,
/// markup, CDATA ends, entities, quotes, CJK, zero-width and RTL marks.
fn nasty_text() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        "[a-zA-Z0-9 ]{0,8}",
        "[\\x00-\\x1f\\x7f]{1,3}",
        Just("\u{FFFE}".to_string()),
        Just("\u{FFFF}".to_string()),
        Just("\u{FDD0}".to_string()),
        Just("]]>".to_string()),
        Just("<![CDATA[".to_string()),
        Just("<".to_string()),
        Just("&".to_string()),
        Just("&amp;".to_string()),
        Just("&#xD800;".to_string()),
        Just("&#0;".to_string()),
        Just("\"'".to_string()),
        Just("<script>alert(1)</script>".to_string()),
        Just("javascript:alert(1)".to_string()),
        Just("{% raw %}".to_string()),
        Just("新浪财经".to_string()),
        Just("\u{200B}\u{202E}\u{FEFF}".to_string()),
        Just("😀".to_string()),
        Just("\\".to_string()),
    ];
    prop::collection::vec(piece, 0..6).prop_map(|v| v.concat())
}

/// `text` as a YAML double-quoted scalar that decodes back to `text`.
fn yaml_quoted(text: &str) -> String {
    let mut out = String::from("\"");
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20
                || ('\u{7f}'..='\u{9f}').contains(&c)
                || matches!(
                    c,
                    '\u{2028}' | '\u{2029}' | '\u{FEFF}' | '\u{FFFE}' | '\u{FFFF}'
                ) =>
            {
                out.push_str(&format!("\\u{:04X}", c as u32));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Scalars as they appear in real and broken front matter, written raw.
fn tricky_scalar() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "~",
            "null",
            "Null",
            "",
            "''",
            "\"\"",
            "yes",
            "no",
            "on",
            "off",
            "true",
            "False",
            "0x1F",
            "0o17",
            "017",
            "1e400",
            "-1e400",
            ".inf",
            "-.Inf",
            ".nan",
            "-0",
            "0.",
            "+12",
            "12345678901234567890123456789",
            "1_000",
            "2021",
            "-",
            "?",
            ":",
            "|",
            ">",
            "!",
            "!!",
            "!!binary aGVsbG8=",
            "!!str 12",
            "!!int x",
            "!!float abc",
            "!custom v",
            "!<tag:x> y",
            "&anchor v",
            "*undefined",
            "'it''s'",
            "\"\\x41\\u00e9\\U0001F600\"",
            "\"\\uD800\"",
            "'unterminated",
            "\"unterminated",
            "[",
            "]",
            "{",
            "}",
            "[a, [b, [c]]]",
            "{a: b, c}",
            "a: b",
            "- x",
            "# comment",
            "%TAG",
            "@at",
            "`tick",
            "---",
            "...",
        ])
        .prop_map(str::to_string),
        date_shape(),
        "[a-z0-9 :/.+-]{0,20}",
        nasty_text().prop_map(|t| yaml_quoted(&t)),
        any::<i64>().prop_map(|n| n.to_string()),
        any::<f64>().prop_map(|n| n.to_string()),
    ]
}

/// Dates in many shapes, real and impossible.
fn date_shape() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "2021-06-22 03:05:53",
            "2021-6-2 3:05",
            "2021/06/22 03:05",
            "2021.06.22",
            "2021-06-22",
            "2021-02-31",
            "2021-02-29 10:00",
            "2020-02-29",
            "2021-13-01",
            "2021-06-22 24:00:00",
            "2021-06-22 23:59:60",
            "0999-01-01",
            "10000-01-01",
            "Tue, 22 Jun 2021 03:05:53 GMT",
            "Tue, 22 Jun 21 03:05:53 +0800",
            "Tuesday, 22-Jun-21 03:05:53 CST",
            "Tue Jun 22 2021 11:05:53 GMT+0800 (China Standard Time)",
            "2021-06-22T03:05:53.123456789+08:00",
            "20210622T030553Z",
            "2001-12-14 21:59:43.10 -5",
            "2021-03-14 02:30:00",
            "2021-03-14 02:30 America/New_York",
            "1624331153",
            "1624331153000",
            "99999999999999",
            "Feb 31 2021",
            "31 Feb 2021 10:00 PST",
            "2021-06-22 03:05:53 +99:99",
            "now",
        ])
        .prop_map(str::to_string),
        (
            0u32..12000,
            0u32..15,
            0u32..40,
            0u32..30,
            0u32..70,
            0u32..70
        )
            .prop_map(|(y, mo, d, h, mi, s)| format!(
                "{y:04}-{mo:02}-{d:02} {h:02}:{mi:02}:{s:02}"
            )),
        (0u32..40, 0u32..15, 0u32..3000).prop_map(|(d, m, y)| format!("{d}/{m}/{y}")),
    ]
}

/// A YAML value: scalars, flow and block lists (of lists), flow mappings.
fn yaml_value() -> impl Strategy<Value = String> {
    tricky_scalar().prop_recursive(3, 24, 5, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(|v| format!("[{}]", v.join(", "))),
            prop::collection::vec(inner.clone(), 1..4)
                .prop_map(|v| v.iter().map(|x| format!("\n  - {x}")).collect::<String>()),
            prop::collection::vec((key(), inner), 0..4).prop_map(|v| {
                let pairs: Vec<String> = v.iter().map(|(k, x)| format!("{k}: {x}")).collect();
                format!("{{{}}}", pairs.join(", "))
            }),
        ]
    })
}

/// Keys refeed reads, in both spellings, and random ones.
fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "title",
            "date",
            "updated",
            "categories",
            "category",
            "tags",
            "tag",
            "author",
            "headimg",
            "thumbnail",
            "cover",
            "image",
            "description",
            "excerpt",
            "summary",
            "permalink",
            "link",
            "comments",
            "published",
            "id",
            "guid",
            "abbrlink",
            "uuid",
            "\"title\"",
            "'date'",
            "<<",
            "? complex",
        ])
        .prop_map(str::to_string),
        "[a-z_]{1,8}",
    ]
}

/// A whole front matter, fenced, with a body.
fn front_matter() -> impl Strategy<Value = String> {
    (
        prop::collection::vec((key(), yaml_value()), 0..8),
        prop::sample::select(vec!["---", ";;;", ""]),
        "[a-z<>/ ]{0,20}",
    )
        .prop_map(|(pairs, fence, body)| {
            let yaml: String = pairs.iter().map(|(k, v)| format!("{k}: {v}\n")).collect();
            format!("{fence}\n{yaml}---\n{body}")
        })
}

/// HTML bodies from a small grammar, hostile bits included.
fn html_body() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        nasty_text(),
        prop::sample::select(vec![
            "<script>alert(1)</script>",
            "<img src=x onerror=alert(1)>",
            "<a href=\"javascript:alert(1)\">j</a>",
            "<a href=\"jav&#x09;ascript:alert(1)\">t</a>",
            "<a href=\"data:text/html,<script>alert(1)</script>\">d</a>",
            "<img src=\"data:image/png;base64,iVBORw0KGgo=\">",
            "<iframe src=\"https://example.com/v\"></iframe>",
            "<object data=\"x.swf\"></object>",
            "<svg onload=alert(1)><circle/></svg>",
            "<style>p{width:expression(alert(1))}</style>",
            "<p style=\"width:expression(alert(1))\">s</p>",
            "<!-- more -->",
            "<!-- comment -->",
            "<![CDATA[ x ]]>",
            "]]>",
            "&#xD800;&#0;&#x1;&#xFFFE;",
            "{% codeblock %}<b>x</b>{% endcodeblock %}",
            "{% img /a.png %}",
            "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
            "<noscript><p title=\"</noscript><img src=x onerror=alert(1)>\">",
            "<pre><code>a < b && c ]]> d</code></pre>",
        ])
        .prop_map(str::to_string),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        (
            prop::sample::select(vec![
                "p",
                "div",
                "b",
                "a",
                "table",
                "li",
                "blockquote",
                "x-y",
            ]),
            prop::collection::vec(inner, 0..4),
        )
            .prop_map(|(tag, children)| format!("<{tag}>{}</{tag}>", children.concat()))
    })
}

#[derive(Debug, Clone)]
struct Post {
    title: String,
    category: Vec<String>,
    tags: Vec<String>,
    id: Option<String>,
    date: String,
    body: String,
    html_ext: bool,
}

fn post() -> impl Strategy<Value = Post> {
    (
        nasty_text(),
        prop::collection::vec(
            prop_oneof![
                nasty_text(),
                Just("A".to_string()),
                Just("金融".to_string())
            ],
            0..3,
        ),
        prop::collection::vec(prop_oneof![nasty_text(), Just("t".to_string())], 0..3),
        prop::option::of(prop::sample::select(vec![
            "same", "same", "other", " same ",
        ])),
        prop_oneof![
            Just("2021-06-22 10:00:00".to_string()),
            Just("2021-06-22 10:00:00".to_string()),
            date_shape()
        ],
        html_body(),
        any::<bool>(),
    )
        .prop_map(|(title, category, tags, id, date, body, html_ext)| Post {
            title,
            category,
            tags,
            id: id.map(str::to_string),
            date,
            body,
            html_ext,
        })
}

impl Post {
    fn file(&self) -> String {
        let list = |v: &[String]| {
            v.iter()
                .map(|s| yaml_quoted(s))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let mut fm = format!(
            "---\ntitle: {}\ndate: {}\ncategories: [{}]\ntags: [{}]\nauthor: {}\n",
            yaml_quoted(&self.title),
            self.date,
            list(&self.category),
            list(&self.tags),
            yaml_quoted(&self.title),
        );
        if let Some(id) = &self.id {
            fm.push_str(&format!("id: {}\n", yaml_quoted(id)));
        }
        format!("{fm}---\n{}\n", self.body)
    }
}

// ------------------------------------------------------------- properties

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn any_bytes_parse_or_report(bytes in prop::collection::vec(any::<u8>(), 0..1024)) {
        parse_bytes(&bytes);
    }

    #[test]
    fn any_fenced_bytes_parse_or_report(
        yaml in prop::collection::vec(any::<u8>(), 0..512),
        body in prop::collection::vec(any::<u8>(), 0..128),
    ) {
        let file = [b"---\n".as_slice(), &yaml, b"\n---\n", &body].concat();
        parse_bytes(&file);
    }

    #[test]
    fn any_front_matter_parses_or_reports(text in front_matter()) {
        parse_bytes(text.as_bytes());
        // The same file through the whole article target: body included.
        fuzz_checks::article(text.as_bytes());
    }

    #[test]
    fn any_date_string_parses_or_reports(date in date_shape()) {
        fuzz_checks::date(date.as_bytes());
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn every_feed_document_is_sound(posts in prop::collection::vec(post(), 1..=5)) {
        let dir = tempfile::tempdir().unwrap();
        for (i, p) in posts.iter().enumerate() {
            let ext = if p.html_ext { "html" } else { "md" };
            let path = dir.path().join(format!("d{}/p{i}.{ext}", i % 2));
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, p.file()).unwrap();
        }
        let mut config = fuzz_checks::config().clone();
        config.source_dir = dir.path().to_path_buf();
        let pipeline = refeed::snapshot::Pipeline::new(&config).unwrap();
        let snap = pipeline.initial().unwrap();
        let loaded = snap.reports.values().filter(|r| r.article.is_some()).count();
        prop_assert_eq!(snap.catalog.len(), loaded);
        for (key, docs) in snap.feeds.iter() {
            for format in refeed::feed::Format::ALL {
                let bytes = docs.doc(format).identity();
                let what = format!("{key:?} {format:?}");
                match format {
                    refeed::feed::Format::Json => fuzz_checks::check_json_feed(bytes, &what),
                    _ => fuzz_checks::check_xml_feed(bytes, &what),
                }
            }
        }
        // Every loaded post is in the site feed, each under its own id,
        // even when several claim the same explicit id.
        let site = &snap.feeds[&refeed::catalog::FeedKey::Site];
        let json: serde_json::Value =
            serde_json::from_slice(site.doc(refeed::feed::Format::Json).identity()).unwrap();
        prop_assert_eq!(json["items"].as_array().unwrap().len(), loaded);
        fuzz_checks::check_xml(snap.opml.identity(), "opml");
    }
}
