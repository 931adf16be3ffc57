//! Feed documents: pure functions from a feed's metadata and items to the
//! bytes of an RSS 2.0, Atom 1.0 or JSON Feed 1.1 document. Every string
//! goes through [`crate::text::xml_safe`] on its way in, so no document can
//! carry a character XML 1.0 forbids.

mod atom;
pub mod convert;
mod json;
pub mod opml;
pub mod query;
mod rss;

use std::borrow::Cow;
use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::article::Content;
use crate::catalog::{Entry, Listed};
use crate::site::keys::filed_under;
use crate::site::{FeedKey, Masthead, Scheme, layout, links};

pub use layout::Format;

/// A category or tag as a document shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Term {
    /// The name itself (`新浪财经－国內`).
    pub name: String,
    /// The whole path for categories (`金融 / 新浪财经 / 新浪财经－国內`).
    pub label: String,
    /// Absolute URL of the category's or tag's page on the site.
    pub url: String,
}

/// One article as a document item.
#[derive(Debug, Clone)]
pub struct Item {
    pub entry: Arc<Entry>,
    pub content: Arc<Content>,
    pub terms: Vec<Term>,
    /// The item link.
    pub url: String,
    /// The item id (see [`Entry::id`]; a copy's is
    /// [`crate::site::IdScheme::copy_id`]).
    pub id: String,
}

impl Item {
    pub fn new(listed: Listed, content: Arc<Content>, scheme: &Scheme) -> Self {
        let Listed { entry, via } = listed;
        let id = entry.id(scheme);
        Item {
            terms: terms(&entry, scheme),
            url: entry.url(scheme),
            id: match via {
                Some(include) => scheme.ids.copy_id(&id, &include),
                None => id,
            },
            entry,
            content,
        }
    }
}

/// Every category node on the article's hierarchies, then its tags:
/// readers file items under any level, as Hexo's own feed plugin does.
fn terms(entry: &Entry, scheme: &Scheme) -> Vec<Term> {
    let article = &entry.article;
    let mut out: Vec<Term> = Vec::new();
    for key in filed_under(&article.categories, &article.tags) {
        let (name, label) = match &key {
            FeedKey::Site | FeedKey::Configured(_) => continue,
            FeedKey::Category(path) => {
                let name = path.last().cloned().unwrap_or_default();
                (name, path.join(" / "))
            }
            FeedKey::Tag(tag) => (tag.to_string(), tag.to_string()),
        };
        let term = Term {
            name,
            label,
            url: layout::page_url(scheme, &key),
        };
        // Two hierarchies can share a node; tags are unique already.
        if matches!(key, FeedKey::Tag(_)) || !out.contains(&term) {
            out.push(term);
        }
    }
    out
}

/// A feed's own metadata, the same for all three formats.
#[derive(Debug, Clone)]
pub struct Channel {
    pub key: FeedKey,
    pub title: String,
    pub description: String,
    /// The site page this feed mirrors.
    pub home_url: String,
    /// Absolute URL of each format of this feed.
    pub rss_url: String,
    pub atom_url: String,
    pub json_url: String,
    pub id: String,
    /// The WebSub hubs this document advertises: the site's for a feed,
    /// none for a query representation, which is no topic.
    pub hubs: Vec<String>,
}

impl Channel {
    /// `dir` is the folder the route table serves this feed from.
    pub fn new(site: &Masthead, scheme: &Scheme, key: &FeedKey, dir: &str) -> Self {
        let url = |f| layout::feed_url(scheme, dir, f);
        let (title, description) = match key {
            FeedKey::Site => (site.title.clone(), site.description.clone()),
            FeedKey::Category(path) => {
                let path = path.join(" / ");
                let d = format!("Articles filed under {path} on {}", site.title);
                (format!("{} · {path}", site.title), d)
            }
            FeedKey::Tag(tag) => {
                let d = format!("Articles tagged {tag} on {}", site.title);
                (format!("{} · #{tag}", site.title), d)
            }
            FeedKey::Configured(slug) => match scheme.configured(slug) {
                Some(f) => (f.title.clone(), f.description.clone()),
                None => (slug.to_string(), String::new()),
            },
        };
        let description = if description.trim().is_empty() {
            title.clone()
        } else {
            description
        };
        Channel {
            id: scheme.ids.feed_id(dir),
            // The folder served, not the one the names alone give: two
            // feeds sharing a slug must not share a channel link.
            home_url: links::absolute(&scheme.url, dir),
            rss_url: url(Format::Rss),
            atom_url: url(Format::Atom),
            json_url: url(Format::Json),
            key: key.clone(),
            title,
            description,
            hubs: site.hubs.clone(),
        }
    }

    /// The same feed selected by a query string: self links must name the
    /// document they are in, query included.
    pub fn with_query(&self, query: &str) -> Channel {
        let q = |url: &str| format!("{url}?{query}");
        Channel {
            rss_url: q(&self.rss_url),
            atom_url: q(&self.atom_url),
            json_url: q(&self.json_url),
            hubs: Vec::new(),
            ..self.clone()
        }
    }

    /// The `Link` header of a document of this feed (WebSub §4): its hubs,
    /// then itself.
    pub fn link_header(&self, format: Format) -> String {
        let mut out = String::new();
        for hub in &self.hubs {
            out.push_str(&format!("<{hub}>; rel=\"hub\", "));
        }
        out.push_str(&format!("<{}>; rel=\"self\"", self.url(format)));
        out
    }

    pub fn url(&self, format: Format) -> &str {
        match format {
            Format::Rss => &self.rss_url,
            Format::Atom => &self.atom_url,
            Format::Json => &self.json_url,
        }
    }
}

/// The newest `updated` of the items, or the site's epoch for an empty
/// feed: never "now", so output is a function of the input alone.
pub fn last_updated(site: &Masthead, items: &[Item]) -> DateTime<Utc> {
    items
        .iter()
        .map(|i| i.entry.article.last_updated())
        .max()
        .unwrap_or(site.epoch)
}

/// One document's bytes.
pub fn render(site: &Masthead, channel: &Channel, items: &[Item], format: Format) -> Vec<u8> {
    render_items(site, channel, &within_budget(site, items), format)
}

fn render_items(site: &Masthead, channel: &Channel, items: &[Item], format: Format) -> Vec<u8> {
    match format {
        Format::Rss => rss::render(site, channel, items),
        Format::Atom => atom::render(site, channel, items),
        Format::Json => json::render(site, channel, items),
    }
}

/// Renders with as many of `items` (newest first) as fit in `max_bytes`,
/// dropping the oldest; at least one item is kept so that a feed with a
/// single huge article is not empty. Items are first held to their budget
/// ([`within_budget`]), so one huge article cannot push the others out.
pub fn render_capped(
    site: &Masthead,
    channel: &Channel,
    items: &[Item],
    format: Format,
    max_bytes: usize,
) -> Vec<u8> {
    let items = within_budget(site, items);
    let full = render_items(site, channel, &items, format);
    if full.len() <= max_bytes || items.len() <= 1 {
        return full;
    }
    // Binary search for the largest prefix that fits: sizes grow with the
    // number of items, and each render is well under a millisecond.
    let (mut fits, mut too_big) = (1, items.len());
    let mut best = render_items(site, channel, &items[..1], format);
    while too_big - fits > 1 {
        let mid = (fits + too_big) / 2;
        let doc = render_items(site, channel, &items[..mid], format);
        if doc.len() <= max_bytes {
            fits = mid;
            best = doc;
        } else {
            too_big = mid;
        }
    }
    best
}

/// `items`, where an item whose HTML is over [`Masthead::max_item_bytes`] shows
/// its summary and a link to its page instead. The choice depends on the
/// item alone, so an item reads the same in every feed and query.
fn within_budget<'i>(site: &Masthead, items: &'i [Item]) -> Cow<'i, [Item]> {
    let over = |i: &Item| i.content.html.len() > site.max_item_bytes;
    if !items.iter().any(over) {
        return Cow::Borrowed(items);
    }
    let shortened = items.iter().map(|i| {
        if !over(i) {
            return i.clone();
        }
        // Rendered as it is: nothing rewrites a content past this point.
        let content = Content {
            html: summary_and_link(site, i),
            summary: i.content.summary.clone(),
            summary_of: i.content.summary_of.clone(),
        };
        Item {
            content: Arc::new(content),
            ..i.clone()
        }
    });
    Cow::Owned(shortened.collect())
}

/// The summary as a paragraph, then a link to the whole article. Both parts
/// are XML-safe already: the summary by construction, the URL by encoding.
fn summary_and_link(site: &Masthead, item: &Item) -> String {
    let escape = |s: &str| {
        s.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&quot;")
    };
    let label = read_more(&site.language);
    let link = format!("<p><a href=\"{}\">{label}</a></p>", escape(&item.url));
    match item.content.summary.as_str() {
        "" => link,
        summary => format!("<p>{}</p>{link}", escape(summary)),
    }
}

/// The link text to a whole article, in the documents' language: a
/// converted document says it in the script it was converted to.
fn read_more(language: &str) -> &'static str {
    let language = language.to_ascii_lowercase();
    let mut subtags = language.split(['-', '_']);
    if subtags.next() != Some("zh") {
        return "Read the full article";
    }
    if subtags.any(|s| matches!(s, "hant" | "tw" | "hk" | "mo")) {
        "閱讀全文"
    } else {
        "阅读全文"
    }
}

/// Text as it may appear in any document: no XML-forbidden characters.
/// Article contents need no pass through here: [`Content`] is XML-safe by
/// construction, and re-checking every item's HTML in three formats was a
/// tenth of start-up.
fn clean(s: &str) -> String {
    crate::text::xml_safe(s).into_owned()
}

/// RFC 822 with a four-digit year and a numeric zone, as RSS wants.
fn rfc822(d: DateTime<Utc>) -> String {
    d.format("%a, %d %b %Y %H:%M:%S +0000").to_string()
}

/// A MIME type for an enclosure, from the image URL's extension.
fn image_mime(url: &str) -> &'static str {
    let path = url.split(['?', '#']).next().unwrap_or(url);
    let ext = path.rsplit('.').next().unwrap_or("").to_ascii_lowercase();
    match ext.as_str() {
        "png" => "image/png",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "svg" => "image/svg+xml",
        "avif" => "image/avif",
        "bmp" => "image/bmp",
        "ico" => "image/x-icon",
        _ => "image/jpeg",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_shortened_item_links_in_the_script_of_its_document() {
        assert_eq!(read_more("zh-CN"), "阅读全文");
        assert_eq!(read_more("zh-Hans"), "阅读全文");
        assert_eq!(read_more("zh-Hant"), "閱讀全文");
        assert_eq!(read_more("zh-TW"), "閱讀全文");
        assert_eq!(read_more("zh-hk"), "閱讀全文");
        assert_eq!(read_more("en"), "Read the full article");
    }

    #[test]
    fn mime_from_extension() {
        assert_eq!(image_mime("https://a/b.PNG?x=1"), "image/png");
        assert_eq!(image_mime("https://a/b.webp#f"), "image/webp");
        assert_eq!(image_mime("https://a/b"), "image/jpeg");
    }

    #[test]
    fn rfc822_has_four_digit_year_and_padded_day() {
        let d = DateTime::parse_from_rfc3339("2021-06-02T03:05:53Z")
            .unwrap()
            .to_utc();
        assert_eq!(rfc822(d), "Wed, 02 Jun 2021 03:05:53 +0000");
    }
}
