//! Article links from Hexo's `permalink` pattern, so that item links
//! point where the user's Hexo site publishes the post.

use chrono::{DateTime, Datelike, Timelike, Utc};

use super::slug::{Slugs, slugize};

/// What a post's permalink is made of.
#[derive(Debug, Clone, Copy)]
pub struct Post<'a> {
    /// The front matter's own `permalink`, which wins over the pattern.
    pub fixed: Option<&'a str>,
    pub date: DateTime<Utc>,
    /// Hexo's `:title`: the source path below `_posts` without extension.
    pub slug: &'a str,
    pub title: &'a str,
    /// Hierarchies, root first; the first gives `:category`.
    pub categories: &'a [Vec<String>],
}

/// The site's permalink pattern and what it is read with.
#[derive(Debug)]
pub struct Permalinks {
    pub pattern: String,
    /// Dates in the pattern are the site's local dates.
    pub timezone: chrono_tz::Tz,
    /// Hexo's `default_category`: what `:category` stands for in a post
    /// without categories.
    pub default_category: String,
}

impl Permalinks {
    /// The post's path below the site root, not yet percent-encoded.
    pub fn path(&self, post: &Post, slugs: &Slugs) -> String {
        let category = match post.categories.first() {
            Some(names) => slugs.categories(names).join("/"),
            None => slugs.category(&self.default_category),
        };
        path(&self.pattern, post, self.timezone, &category)
    }
}

/// A front matter's own `permalink` as a path below the site root, with
/// its dot segments resolved as a browser would (RFC 3986 §5.2.4); `None`
/// for one that leaves the root, is empty, or names one of refeed's own
/// paths, which then give way to the site's pattern (found by the third
/// attack: `../../../rss.xml` and `/healthz` stayed the item link of a
/// post no URL served).
pub fn fixed(permalink: &str) -> Option<String> {
    let mut segments: Vec<&str> = Vec::new();
    for part in permalink.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                segments.pop()?;
            }
            part => segments.push(part),
        }
    }
    let last = permalink.rsplit('/').next().unwrap_or_default();
    let folder = matches!(last, "" | "." | "..");
    let path = segments.join("/");
    if path.is_empty() || super::layout::is_reserved(&path) {
        return None;
    }
    Some(if folder { path + "/" } else { path })
}

/// The post's path below the site root, not yet percent-encoded:
/// `2021/06/22/金融/新浪财经/标题/`. `category` is the slug path of the
/// deepest category of the first hierarchy, for `:category`.
fn path(pattern: &str, post: &Post, tz: chrono_tz::Tz, category: &str) -> String {
    if let Some(p) = post.fixed.and_then(fixed) {
        return p;
    }
    let local = post.date.with_timezone(&tz);
    let slug = post.slug;
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
            "post_title" => slugize(post.title),
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

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn post() -> Post<'static> {
        Post {
            fixed: None,
            date: Utc.with_ymd_and_hms(2021, 6, 21, 20, 5, 3).unwrap(),
            slug: "金融/标题 一",
            title: "Hello World",
            categories: &[],
        }
    }

    #[test]
    fn hexo_placeholders_in_site_time() {
        let a = post();
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
    fn front_matter_permalink_wins() {
        let a = Post {
            fixed: Some("/about/me/"),
            ..post()
        };
        assert_eq!(path(":title/", &a, chrono_tz::UTC, ""), "about/me/");
    }

    #[test]
    fn front_matter_permalinks_resolve_dot_segments_and_never_leave_the_root() {
        for (given, wanted) in [
            ("/about/me/", Some("about/me/")),
            ("a/b/../c/", Some("a/c/")),
            ("./x/./y", Some("x/y")),
            ("a/b/..", Some("a/")),
            ("../../../rss.xml", None),
            ("a/../../b/", None),
            ("/", None),
            ("", None),
            ("/healthz", None),
            ("healthz/x", None),
            ("rss.xml", None),
            ("a/../rss.xml", None),
            ("/websub/", None),
            ("posts/rss.xml", Some("posts/rss.xml")),
        ] {
            assert_eq!(fixed(given).as_deref(), wanted, "{given}");
        }
        let a = Post {
            fixed: Some("../../../rss.xml"),
            ..post()
        };
        let pattern = path(":title/", &post(), chrono_tz::UTC, "");
        assert_eq!(path(":title/", &a, chrono_tz::UTC, ""), pattern);
    }

    #[test]
    fn category_falls_back_to_the_default_category() {
        let links = Permalinks {
            pattern: ":category/:title/".into(),
            timezone: chrono_tz::UTC,
            default_category: "uncategorized".into(),
        };
        let slugs = Slugs::new(Default::default(), Default::default());
        let categories = [vec!["A".to_string(), "B".to_string()]];
        let a = Post {
            slug: "cat",
            ..post()
        };
        assert_eq!(links.path(&a, &slugs), "uncategorized/cat/");
        let a = Post {
            categories: &categories,
            ..a
        };
        assert_eq!(links.path(&a, &slugs), "A/B/cat/");
    }
}
