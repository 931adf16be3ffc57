//! JSON Feed 1.1 (https://jsonfeed.org/version/1.1).

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;

use super::{Channel, Item, Masthead, clean};

#[derive(Serialize)]
struct JsonFeed<'a> {
    version: &'static str,
    title: String,
    home_page_url: &'a str,
    feed_url: &'a str,
    description: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    language: Option<String>,
    authors: Vec<Author>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    hubs: Vec<Hub<'a>>,
    items: Vec<JsonItem>,
}

#[derive(Serialize)]
struct Hub<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    url: &'a str,
}

#[derive(Serialize)]
struct Author {
    name: String,
}

#[derive(Serialize)]
struct JsonItem {
    id: String,
    url: String,
    title: String,
    content_html: String,
    summary: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    image: Option<String>,
    date_published: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    date_modified: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    authors: Vec<Author>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    tags: Vec<String>,
}

pub fn render(site: &Masthead, channel: &Channel, items: &[Item]) -> Vec<u8> {
    let feed = JsonFeed {
        version: "https://jsonfeed.org/version/1.1",
        title: clean(&channel.title),
        home_page_url: &channel.home_url,
        feed_url: &channel.json_url,
        description: clean(&channel.description),
        language: Some(clean(&site.language)).filter(|l| !l.is_empty()),
        authors: vec![Author {
            name: clean(&site.author),
        }],
        hubs: channel
            .hubs
            .iter()
            .map(|url| Hub {
                kind: "WebSub",
                url,
            })
            .collect(),
        items: items.iter().map(item).collect(),
    };
    // Serializing plain structs of strings into a Vec cannot fail.
    serde_json::to_vec(&feed).unwrap_or_default()
}

fn item(i: &Item) -> JsonItem {
    let a = &i.entry.article;
    let mut tags: Vec<String> = Vec::new();
    for t in &i.terms {
        let name = clean(&t.name);
        if !tags.contains(&name) {
            tags.push(name);
        }
    }
    JsonItem {
        id: i.id.clone(),
        url: i.url.clone(),
        title: clean(&a.title),
        content_html: i.content.html.clone(),
        summary: i.content.summary.clone(),
        image: a.image.clone(),
        date_published: rfc3339(a.date),
        date_modified: a.updated.map(rfc3339),
        authors: a.author.iter().map(|n| Author { name: clean(n) }).collect(),
        tags,
    }
}

fn rfc3339(d: DateTime<Utc>) -> String {
    d.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}
