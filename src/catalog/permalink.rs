//! Article links from Hexo's `permalink` pattern, so that item links
//! point where the user's Hexo site publishes the post.

use chrono::{Datelike, Timelike};
use percent_encoding::{AsciiSet, CONTROLS, utf8_percent_encode};

use crate::article::Article;

/// Characters that must be escaped inside a URL path (besides non-ASCII).
const PATH: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'[')
    .add(b'\\')
    .add(b']')
    .add(b'^')
    .add(b'`')
    .add(b'{')
    .add(b'|')
    .add(b'}');

/// The post's path below the site root, not yet percent-encoded:
/// `2021/06/22/金融/新浪财经/标题/`. `category` is the slug path of the
/// deepest category of the first hierarchy, for `:category`.
pub fn path(pattern: &str, article: &Article, tz: chrono_tz::Tz, category: &str) -> String {
    if let Some(p) = &article.permalink {
        return p.trim_start_matches('/').to_string();
    }
    let local = article.date.with_timezone(&tz);
    let slug = article.slug();
    let name = slug.rsplit('/').next().unwrap_or(slug);
    let mut out = String::with_capacity(pattern.len() + slug.len() + 16);
    let mut rest = pattern.trim_start_matches('/');
    while let Some(i) = rest.find(':') {
        out.push_str(&rest[..i]);
        rest = &rest[i + 1..];
        let len = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(rest.len());
        let value = match &rest[..len] {
            "year" => format!("{:04}", local.year()),
            "month" => format!("{:02}", local.month()),
            "i_month" => local.month().to_string(),
            "day" => format!("{:02}", local.day()),
            "i_day" => local.day().to_string(),
            "hour" => format!("{:02}", local.hour()),
            "minute" => format!("{:02}", local.minute()),
            "second" => format!("{:02}", local.second()),
            "title" => slug.to_string(),
            "name" => name.to_string(),
            "post_title" => super::slug::slugize(&article.title),
            "id" => slug.to_string(),
            "category" => category.to_string(),
            other => format!(":{other}"),
        };
        out.push_str(&value);
        rest = &rest[len..];
    }
    out.push_str(rest);
    out
}

/// Percent-encodes a site-relative path and joins it to the site URL.
pub fn absolute(base: &url::Url, path: &str) -> String {
    format!("{}{}", base, encode_path(path))
}

pub fn encode_path(path: &str) -> String {
    utf8_percent_encode(path, PATH).to_string()
}

/// The length of [`encode_path`]'s result, without building it.
pub fn encoded_len(path: &str) -> usize {
    utf8_percent_encode(path, PATH).map(str::len).sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn article() -> Article {
        Article {
            rel: "_posts/金融/标题 一.md".into(),
            draft: false,
            page: false,
            explicit_id: None,
            title: "Hello World".into(),
            date: chrono::Utc.with_ymd_and_hms(2021, 6, 21, 20, 5, 3).unwrap(),
            updated: None,
            categories: vec![],
            tags: vec![],
            author: None,
            image: None,
            description: None,
            permalink: None,
            link: None,
            comments: true,
            extra: Default::default(),
        }
    }

    #[test]
    fn hexo_placeholders_in_site_time() {
        let a = article();
        let p = path(
            ":year/:month/:day/:title/",
            &a,
            chrono_tz::Asia::Shanghai,
            "",
        );
        assert_eq!(p, "2021/06/22/金融/标题 一/");
        let p = path(":i_month-:i_day/:name.html", &a, chrono_tz::UTC, "");
        assert_eq!(p, "6-21/标题 一.html");
        let p = path(":category/:post_title/:unknown", &a, chrono_tz::UTC, "c/d");
        assert_eq!(p, "c/d/Hello-World/:unknown");
    }

    #[test]
    fn front_matter_permalink_wins_and_urls_are_encoded() {
        let mut a = article();
        a.permalink = Some("/about/me/".into());
        assert_eq!(path(":title/", &a, chrono_tz::UTC, ""), "about/me/");
        let base = url::Url::parse("https://e.com/blog/").unwrap();
        assert_eq!(
            absolute(&base, "金融/a b?/"),
            "https://e.com/blog/%E9%87%91%E8%9E%8D/a%20b%3F/"
        );
    }
}
