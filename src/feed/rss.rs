//! RSS 2.0 with the content, Dublin Core, Atom and Media RSS extensions.

use std::collections::BTreeMap;

use rss::extension::atom::{AtomExtension, Link};
use rss::extension::dublincore::DublinCoreExtension;
use rss::extension::{Extension, ExtensionMap};
use rss::{Category, Channel as RssChannel, Enclosure, Guid, Item as RssItem};

use super::{Channel, Item, Masthead, clean, image_mime, last_updated, rfc822};

const MEDIA_NS: &str = "http://search.yahoo.com/mrss/";

/// refeed never downloads images, so it cannot know their size. RSS
/// requires a length and the W3C validator rejects 0 as "not a positive
/// integer", so an unknown length is written as 1.
const UNKNOWN_LENGTH: &str = "1";

/// The RSS Best Practices Profile prefers `&#x26;` and `&#x3C;` for `&`
/// and `<` in titles; the writer escapes them as named entities, so titles
/// carry these noncharacters (removed from all input by `xml_safe`) as
/// placeholders that are swapped after writing.
const AMP: char = '\u{FDD0}';
const LT: char = '\u{FDD1}';

pub fn render(site: &Masthead, channel: &Channel, items: &[Item]) -> Vec<u8> {
    let doc = RssChannel {
        title: title(&channel.title),
        link: channel.home_url.clone(),
        description: clean(&channel.description),
        language: Some(clean(&site.language)).filter(|l| !l.is_empty()),
        generator: Some("refeed".into()),
        docs: Some("https://www.rssboard.org/rss-specification".into()),
        last_build_date: Some(rfc822(last_updated(site, items))),
        atom_ext: Some(AtomExtension {
            links: channel
                .hubs
                .iter()
                .map(|hub| Link {
                    href: hub.clone(),
                    rel: "hub".into(),
                    ..Link::default()
                })
                .chain([Link {
                    href: channel.rss_url.clone(),
                    rel: "self".into(),
                    mime_type: Some("application/rss+xml".into()),
                    ..Link::default()
                }])
                .collect(),
        }),
        namespaces: BTreeMap::from([("media".to_string(), MEDIA_NS.to_string())]),
        items: items.iter().map(item).collect(),
        ..RssChannel::default()
    };
    // Writing into a Vec cannot fail: the only errors are I/O errors.
    let bytes = doc.write_to(Vec::new()).unwrap_or_default();
    swap_placeholders(bytes)
}

fn item(i: &Item) -> RssItem {
    let a = &i.entry.article;
    RssItem {
        title: Some(title(&a.title)),
        link: Some(i.url.clone()),
        description: Some(html_escape(&i.content.summary)),
        guid: Some(Guid {
            value: i.id.clone(),
            permalink: false,
        }),
        pub_date: Some(rfc822(a.date)),
        content: Some(i.content.html.clone()),
        categories: i
            .terms
            .iter()
            .map(|t| Category {
                name: clean(&t.name),
                domain: Some(t.url.clone()),
            })
            .collect(),
        comments: a.comments.then(|| format!("{}#comments", i.url)),
        enclosure: a.image.as_ref().map(|url| Enclosure {
            url: url.clone(),
            length: UNKNOWN_LENGTH.into(),
            mime_type: image_mime(url).into(),
        }),
        dublin_core_ext: a.author.as_ref().map(|name| DublinCoreExtension {
            creators: vec![clean(name)],
            ..DublinCoreExtension::default()
        }),
        extensions: a.image.as_ref().map(|u| thumbnail(u)).unwrap_or_default(),
        ..RssItem::default()
    }
}

fn thumbnail(url: &str) -> ExtensionMap {
    let ext = Extension {
        name: "media:thumbnail".into(),
        attrs: BTreeMap::from([("url".to_string(), url.to_string())]),
        ..Extension::default()
    };
    let by_name = BTreeMap::from([("thumbnail".to_string(), vec![ext])]);
    BTreeMap::from([("media".to_string(), by_name)])
}

fn title(s: &str) -> String {
    clean(s)
        .replace('&', &AMP.to_string())
        .replace('<', &LT.to_string())
}

/// The description is HTML by RSS convention; the summary is plain text.
fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn swap_placeholders(bytes: Vec<u8>) -> Vec<u8> {
    // SIMD validation: a feed of Chinese text is all multi-byte sequences.
    let Ok(text) = simdutf8::basic::from_utf8(&bytes) else {
        return Vec::new();
    };
    if !text.contains([AMP, LT]) {
        return bytes;
    }
    text.replace(AMP, "&#x26;")
        .replace(LT, "&#x3C;")
        .into_bytes()
}
