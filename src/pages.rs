//! The HTML pages refeed serves besides feeds: the index of every feed
//! (also written by `refeed build`), a page per feed at its channel link
//! and a plain page per article, so that every link of a feed resolves
//! when refeed is the only site.

use std::fmt::Write;

use chrono::{DateTime, SecondsFormat, Utc};

use crate::article::Content;
use crate::catalog::Entry;
use crate::feed::{Channel, Item};
use crate::site::keys::filed_under;
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
/// many articles it holds, when it last changed and, when counted, how
/// many subscribe to it.
#[derive(Debug, Clone, Copy)]
pub struct FeedSummary<'a> {
    pub channel: &'a Channel,
    pub count: usize,
    pub updated: DateTime<Utc>,
    pub subscribers: Option<u64>,
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

fn feed_line(out: &mut String, f: &FeedSummary, name: &str) {
    feed_item(out, f, name);
    out.push_str("</li>\n");
}

/// A feed's `<li>`, left open for a list of its children.
fn feed_item(out: &mut String, f: &FeedSummary, name: &str) {
    let _ = write!(out, "<li>{} <small>(", esc(name));
    feed_facts(out, f);
    out.push_str(")</small>");
    feed_links(out, f.channel);
}

/// How many articles, when last updated and, when counted, how many
/// subscribers.
fn feed_facts(out: &mut String, f: &FeedSummary) {
    let articles = counted(f.count as u64, "article");
    let _ = write!(out, "{articles}, updated {}", date(f.updated));
    if let Some(n) = f.subscribers {
        let _ = write!(out, ", {}", counted(n, "subscriber"));
    }
}

/// "1 article", "2 articles".
fn counted(n: u64, noun: &str) -> String {
    format!("{n} {noun}{}", if n == 1 { "" } else { "s" })
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
    // Every feed the article is in: the site's, each category node's and
    // each tag's.
    let keys: Vec<FeedKey> = std::iter::once(FeedKey::Site)
        .chain(filed_under(&a.categories, &a.tags))
        .collect();
    for c in keys.iter().filter_map(&channel) {
        autodiscovery(&mut out, c);
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
    // The folder the route table serves a feed's page from, which a name
    // shared with another feed moves.
    let page = |key: &FeedKey| {
        channel(key).map_or_else(|| layout::page_url(scheme, key), |c| c.home_url.clone())
    };
    for path in &a.categories {
        let key = FeedKey::Category(path.as_slice().into());
        let _ = write!(
            out,
            " · <a href=\"{}\">{}</a>",
            esc(&page(&key)),
            esc(&path.join(" / "))
        );
    }
    for tag in &a.tags {
        let key = FeedKey::Tag(tag.as_str().into());
        let _ = write!(out, " · <a href=\"{}\">#{}</a>", esc(&page(&key)), esc(tag));
    }
    out.push_str("</small></p>\n");
    // Already cleaned and sanitized when the article was loaded.
    out.push_str(&content.html);
    out.push_str("\n</article>\n</body>\n</html>\n");
    out
}

/// What a feed's page shows besides its items.
pub struct FeedPage<'a> {
    pub summary: FeedSummary<'a>,
    /// 1-based, of `pages`.
    pub page: usize,
    pub pages: usize,
    /// Whether the other pages exist (`serve`'s `?page=N`); a page
    /// `refeed build` writes has no others, and says it shows the newest.
    pub paged: bool,
}

/// A feed's page at its channel link: its name, its subscribe links with
/// the URLs to copy, autodiscovery, and one page of its newest items,
/// linked to the pages before and after.
pub fn feed(site: &Masthead, page: &FeedPage, items: &[Item]) -> String {
    let channel = page.summary.channel;
    let mut out = String::new();
    head(&mut out, &channel.title, &site.language);
    autodiscovery(&mut out, channel);
    let _ = write!(
        out,
        "</head>\n<body>\n<p><a href=\"{}\">{}</a></p>\n<h1>{}</h1>\n<p>{}</p>\n<p><small>",
        esc(site.url.as_str()),
        esc(&site.title),
        esc(&channel.title),
        esc(&channel.description),
    );
    feed_facts(&mut out, &page.summary);
    out.push_str("</small></p>\n<p>Subscribe: paste one of these into a feed reader.</p>\n<ul>\n");
    for (name, url) in [
        ("RSS", &channel.rss_url),
        ("Atom", &channel.atom_url),
        ("JSON Feed", &channel.json_url),
    ] {
        let _ = writeln!(
            out,
            "<li>{name}: <input readonly size=\"60\" value=\"{0}\" aria-label=\"{name} URL\"> <a href=\"{0}\">open</a></li>",
            esc(url)
        );
    }
    out.push_str("</ul>\n<ol>\n");
    for item in items {
        feed_page_item(&mut out, item);
    }
    out.push_str("</ol>\n");
    pager(&mut out, page, items.len());
    out.push_str("</body>\n</html>\n");
    out
}

fn feed_page_item(out: &mut String, item: &Item) {
    let a = &item.entry.article;
    let _ = write!(
        out,
        "<li><a href=\"{}\">{}</a> <small><time datetime=\"{}\">{}</time></small>",
        esc(&item.url),
        esc(&a.title),
        date(a.date),
        a.date.format("%Y-%m-%d %H:%M UTC"),
    );
    if !item.content.summary.is_empty() {
        let _ = write!(out, "<br>{}", esc(&item.content.summary));
    }
    out.push_str("</li>\n");
}

/// Links to the newer and older pages (`?page=N`; the first has none),
/// absolute: the page may have been asked for without its trailing slash
/// (found by the fifth attack: `./` then left the feed's folder).
fn pager(out: &mut String, page: &FeedPage, shown: usize) {
    if !page.paged {
        let count = page.summary.count;
        if shown < count {
            let _ = writeln!(out, "<p><small>the newest {shown} of {count}</small></p>");
        }
        return;
    }
    let home = &page.summary.channel.home_url;
    let link = |n: usize| match n {
        1 => home.clone(),
        n => format!("{home}?page={n}"),
    };
    out.push_str("<p>");
    if page.page > 1 {
        let _ = write!(
            out,
            "<a rel=\"prev\" href=\"{}\">newer</a> ",
            esc(&link(page.page - 1))
        );
    }
    let _ = write!(out, "<small>page {} of {}</small>", page.page, page.pages);
    if page.page < page.pages {
        let _ = write!(
            out,
            " <a rel=\"next\" href=\"{}\">older</a>",
            esc(&link(page.page + 1))
        );
    }
    out.push_str("</p>\n");
}

#[cfg(test)]
mod tests {
    use super::{counted, nested_lists};

    #[test]
    fn one_article_is_singular() {
        assert_eq!(counted(1, "article"), "1 article");
        assert_eq!(counted(0, "article"), "0 articles");
        assert_eq!(counted(2, "subscriber"), "2 subscribers");
    }

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
