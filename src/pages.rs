//! The two HTML pages refeed serves besides feeds: the index of every feed
//! (also written by `refeed build`) and a plain page per article, so that
//! item links resolve when refeed is the only site.

use std::fmt::Write;

use chrono::{DateTime, SecondsFormat, Utc};

use crate::article::Content;
use crate::catalog::Entry;
use crate::feed::{Channel, Item};
use crate::site::keys::category_keys;
use crate::site::{FeedKey, Format, Masthead, Scheme, layout};
use crate::text::escape_html as esc;

const STYLE: &str = "body{font:16px/1.6 system-ui,sans-serif;max-width:46rem;margin:2rem auto;padding:0 1rem;color:#222}\
a{color:#0b57d0}ul{padding-left:1.2rem}small{color:#666}img{max-width:100%;height:auto}";

fn head(out: &mut String, title: &str, language: &str) {
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"{}\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{}</title>\n<style>{STYLE}</style>\n",
        esc(language),
        esc(title)
    );
}

/// `<link rel="alternate">` for each format of a feed: feed readers find
/// feeds on a page through these.
fn autodiscovery(out: &mut String, channel: &Channel) {
    for (format, mime) in [
        (Format::Rss, "application/rss+xml"),
        (Format::Atom, "application/atom+xml"),
        (Format::Json, "application/feed+json"),
    ] {
        let _ = writeln!(
            out,
            "<link rel=\"alternate\" type=\"{mime}\" title=\"{}\" href=\"{}\">",
            esc(&channel.title),
            esc(channel.url(format))
        );
    }
}

fn feed_links(out: &mut String, channel: &Channel) {
    let _ = write!(
        out,
        " <small><a href=\"{}\">RSS</a> · <a href=\"{}\">Atom</a> · <a href=\"{}\">JSON</a></small>",
        esc(&channel.rss_url),
        esc(&channel.atom_url),
        esc(&channel.json_url)
    );
}

fn date(d: DateTime<Utc>) -> String {
    d.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// What the index shows of one feed: its channel (title, key, URLs), how
/// many articles it holds and when it last changed.
#[derive(Debug, Clone, Copy)]
pub struct FeedSummary<'a> {
    pub channel: &'a Channel,
    pub count: usize,
    pub updated: DateTime<Utc>,
}

/// The index: the site feed, the category tree with counts and last
/// update, and the tags. `feeds` is in key order, which puts every
/// category right after its parent.
pub fn index<'a>(site: &Masthead, feeds: impl IntoIterator<Item = FeedSummary<'a>>) -> String {
    let feeds: Vec<FeedSummary> = feeds.into_iter().collect();
    let mut out = String::new();
    head(&mut out, &site.title, &site.language);
    if let Some(site_feed) = feeds.iter().find(|f| f.channel.key == FeedKey::Site) {
        autodiscovery(&mut out, site_feed.channel);
    }
    let _ = write!(out, "</head>\n<body>\n<h1>{}</h1>\n", esc(&site.title));
    if !site.description.is_empty() {
        let _ = writeln!(out, "<p>{}</p>", esc(&site.description));
    }
    out.push_str("<h2>All articles</h2>\n<ul>\n");
    let (configured, named): (Vec<&FeedSummary>, Vec<&FeedSummary>) = feeds
        .iter()
        .filter(|f| f.channel.key != FeedKey::Site)
        .partition(|f| matches!(f.channel.key, FeedKey::Configured(_)));
    let (cats, tags): (Vec<&FeedSummary>, Vec<&FeedSummary>) = named
        .into_iter()
        .partition(|f| matches!(f.channel.key, FeedKey::Category(_)));
    for f in feeds.iter().filter(|f| f.channel.key == FeedKey::Site) {
        feed_line(&mut out, f, &site.title);
    }
    for f in configured {
        let _ = write!(
            out,
            "<li><a href=\"{}\">{}</a> <small>({} articles, updated {})</small>",
            esc(&f.channel.home_url),
            esc(&f.channel.title),
            f.count,
            date(f.updated)
        );
        feed_links(&mut out, f.channel);
        out.push_str("</li>\n");
    }
    out.push_str("</ul>\n<h2>Categories</h2>\n");
    category_tree(&mut out, &cats);
    out.push_str("<h2>Tags</h2>\n<ul>\n");
    for f in tags {
        if let FeedKey::Tag(t) = &f.channel.key {
            feed_line(&mut out, f, &format!("#{t}"));
        }
    }
    out.push_str("</ul>\n<p><small><a href=\"opml.xml\">OPML of every feed</a></small></p>\n</body>\n</html>\n");
    out
}

/// A configured feed's page: its title and description, links to its
/// documents, and its items with their dates.
pub fn feed_page(site: &Masthead, channel: &Channel, items: &[Item]) -> String {
    let mut out = String::new();
    head(&mut out, &channel.title, &site.language);
    autodiscovery(&mut out, channel);
    let _ = write!(out, "</head>\n<body>\n<h1>{}</h1>\n", esc(&channel.title));
    if channel.description != channel.title {
        let _ = writeln!(out, "<p>{}</p>", esc(&channel.description));
    }
    out.push_str("<p>");
    feed_links(&mut out, channel);
    out.push_str("</p>\n<ul>\n");
    for item in items {
        let _ = writeln!(
            out,
            "<li><a href=\"{}\">{}</a> <small>{}</small></li>",
            esc(&item.url),
            esc(&item.entry.article.title),
            date(item.entry.article.date)
        );
    }
    let _ = writeln!(
        out,
        "</ul>\n<p><small><a href=\"{}\">{}</a></small></p>\n</body>\n</html>",
        esc(site.url.as_str()),
        esc(&site.title)
    );
    out
}

fn feed_line(out: &mut String, f: &FeedSummary, name: &str) {
    feed_item(out, f, name);
    out.push_str("</li>\n");
}

/// A feed's `<li>`, left open for a list of its children.
fn feed_item(out: &mut String, f: &FeedSummary, name: &str) {
    let _ = write!(
        out,
        "<li>{} <small>({} articles, updated {})</small>",
        esc(name),
        f.count,
        date(f.updated)
    );
    feed_links(out, f.channel);
}

fn category_tree(out: &mut String, cats: &[&FeedSummary]) {
    let nodes = cats.iter().filter_map(|f| match &f.channel.key {
        FeedKey::Category(path) => Some((path.len(), (*f, path.last()))),
        _ => None,
    });
    nested_lists(out, nodes, |out, (f, name)| {
        feed_item(out, f, name.map(String::as_str).unwrap_or_default());
    });
}

/// Nested lists for items in tree order at their depth (1 = top): a
/// deeper list goes inside its parent's `<li>`, as HTML requires (a `<ul>`
/// right inside a `<ul>` is invalid; found by the third attack). `item`
/// writes an `<li>` and leaves it open.
fn nested_lists<T>(
    out: &mut String,
    items: impl IntoIterator<Item = (usize, T)>,
    mut item: impl FnMut(&mut String, T),
) {
    let mut depth = 0;
    for (d, x) in items {
        let d = d.max(1);
        if d > depth {
            for level in depth + 1..=d {
                out.push_str("<ul>\n");
                if level < d {
                    out.push_str("<li>\n");
                }
            }
        } else {
            out.push_str("</li>\n");
            for _ in d..depth {
                out.push_str("</ul>\n</li>\n");
            }
        }
        depth = d;
        item(out, x);
    }
    for _ in 0..depth {
        out.push_str("</li>\n</ul>\n");
    }
}

/// A readable page for one article, with autodiscovery of the feeds of
/// every category it is filed under.
/// `channel` gives the rendered feeds' channels, whose URLs are the ones
/// the route table serves.
pub fn article<'a>(
    site: &Masthead,
    scheme: &Scheme,
    entry: &Entry,
    content: &Content,
    channel: impl Fn(&FeedKey) -> Option<&'a Channel>,
) -> String {
    let a = &entry.article;
    let mut out = String::new();
    head(
        &mut out,
        &format!("{} · {}", a.title, site.title),
        &site.language,
    );
    for key in category_keys(&a.categories) {
        if let Some(c) = channel(&key) {
            autodiscovery(&mut out, c);
        }
    }
    let _ = write!(
        out,
        "</head>\n<body>\n<p><a href=\"{}\">{}</a></p>\n<article>\n<h1>{}</h1>\n<p><small>{}",
        esc(site.url.as_str()),
        esc(&site.title),
        esc(&a.title),
        date(a.date)
    );
    if let Some(author) = &a.author {
        let _ = write!(out, " · {}", esc(author));
    }
    for path in &a.categories {
        let key = FeedKey::Category(path.as_slice().into());
        let _ = write!(
            out,
            " · <a href=\"{}\">{}</a>",
            esc(&layout::page_url(scheme, &key)),
            esc(&path.join(" / "))
        );
    }
    out.push_str("</small></p>\n");
    // Already cleaned and sanitized when the article was loaded.
    out.push_str(&content.html);
    out.push_str("\n</article>\n</body>\n</html>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::nested_lists;

    #[test]
    fn nested_lists_open_inside_their_parent_item() {
        let mut out = String::new();
        let depths = [1, 2, 3, 1, 2, 2, 1, 3];
        nested_lists(&mut out, depths.iter().map(|&d| (d, d)), |out, d| {
            out.push_str(&format!("<li>{d}"));
        });
        let compact: String = out.split_whitespace().collect();
        assert_eq!(
            compact,
            "<ul><li>1<ul><li>2<ul><li>3</li></ul></li></ul></li><li>1<ul><li>2</li><li>2</li></ul></li>\
             <li>1<ul><li><ul><li>3</li></ul></li></ul></li></ul>"
        );
    }
}
