//! Atom 1.0 (RFC 4287).

use atom_syndication::{
    Category, Content, Entry, Feed, FixedDateTime, Generator, Link, Person, Text,
};
use chrono::{DateTime, Utc};

use super::{Channel, Item, Masthead, clean, image_mime, last_updated};

pub fn render(site: &Masthead, channel: &Channel, items: &[Item]) -> Vec<u8> {
    let feed = Feed {
        title: Text::plain(clean(&channel.title)),
        id: channel.id.clone(),
        updated: fixed(last_updated(site, items)),
        // RFC 4287 wants an author on the feed unless every entry has one.
        authors: vec![person(if site.author.trim().is_empty() {
            &site.title
        } else {
            &site.author
        })],
        generator: Some(Generator {
            value: "refeed".into(),
            uri: None,
            version: Some(env!("CARGO_PKG_VERSION").into()),
        }),
        links: [
            link(&channel.atom_url, "self", Some("application/atom+xml")),
            link(&channel.home_url, "alternate", Some("text/html")),
        ]
        .into_iter()
        .chain(channel.hubs.iter().map(|hub| link(hub, "hub", None)))
        .collect(),
        subtitle: Some(Text::plain(clean(&channel.description))),
        lang: Some(clean(&site.language)).filter(|l| !l.is_empty()),
        entries: items.iter().map(entry).collect(),
        ..Feed::default()
    };
    // Writing into a Vec cannot fail: the only errors are I/O errors.
    let bytes = feed.write_to(Vec::new()).unwrap_or_default();
    declare_utf8(bytes)
}

fn entry(i: &Item) -> Entry {
    let a = &i.entry.article;
    let mut links = vec![link(&i.url, "alternate", Some("text/html"))];
    if let Some(image) = &a.image {
        links.push(link(image, "enclosure", Some(image_mime(image))));
    }
    Entry {
        title: Text::plain(clean(&a.title)),
        id: i.id.clone(),
        updated: fixed(a.last_updated()),
        published: Some(fixed(a.date)),
        authors: a.author.iter().map(|n| person(n)).collect(),
        categories: i
            .terms
            .iter()
            .map(|t| Category {
                term: clean(&t.name),
                scheme: Some(t.url.clone()),
                label: Some(clean(&t.label)),
            })
            .collect(),
        links,
        summary: Some(Text::plain(i.content.summary.clone())),
        content: Some(Content {
            value: Some(i.content.html.clone()),
            content_type: Some("html".into()),
            ..Content::default()
        }),
        ..Entry::default()
    }
}

fn link(href: &str, rel: &str, mime: Option<&str>) -> Link {
    Link {
        href: href.into(),
        rel: rel.into(),
        mime_type: mime.map(Into::into),
        ..Link::default()
    }
}

fn person(name: &str) -> Person {
    Person {
        name: clean(name),
        ..Person::default()
    }
}

fn fixed(d: DateTime<Utc>) -> FixedDateTime {
    d.fixed_offset()
}

/// atom_syndication writes `<?xml version="1.0"?>`; say the encoding as the
/// RSS writer does, for readers that do not default to UTF-8.
fn declare_utf8(bytes: Vec<u8>) -> Vec<u8> {
    const BARE: &[u8] = b"<?xml version=\"1.0\"?>";
    match bytes.strip_prefix(BARE) {
        Some(rest) => [&b"<?xml version=\"1.0\" encoding=\"utf-8\"?>"[..], rest].concat(),
        None => bytes,
    }
}
