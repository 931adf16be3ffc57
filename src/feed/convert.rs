//! A feed's text under an OpenCC conversion (`?opencc=`): titles,
//! summaries, category and tag labels, author names, the channel's title
//! and description, the site's name and author, and the text of the
//! content. Links, ids, attributes and code are left as they are.

use std::sync::Arc;

use super::{Channel, Item, Term};
use crate::article::{Article, Content};
use crate::catalog::Entry;
use crate::opencc::Converter;
use crate::site::Masthead;

/// `item` with its text converted. Its link, id and terms' URLs were
/// derived from the original names, so they stay what the plain feed says.
pub fn item(c: Converter, item: &Item) -> Item {
    let a = &item.entry.article;
    let article = Article {
        title: c.text(&a.title),
        author: a.author.as_deref().map(|x| c.text(x)),
        ..Article::clone(a)
    };
    let mut entry = Entry::clone(&item.entry);
    entry.article = Arc::new(article);
    let content = Content {
        html: c.html(&item.content.html),
        summary: c.text(&item.content.summary),
    };
    let terms = item
        .terms
        .iter()
        .map(|t| Term {
            name: c.text(&t.name),
            label: c.text(&t.label),
            url: t.url.clone(),
        })
        .collect();
    Item {
        entry: Arc::new(entry),
        content: Arc::new(content),
        terms,
        url: item.url.clone(),
        id: item.id.clone(),
    }
}

pub fn channel(c: Converter, channel: &Channel) -> Channel {
    Channel {
        title: c.text(&channel.title),
        description: c.text(&channel.description),
        ..channel.clone()
    }
}

/// The site's name, description and author, as the documents show them.
pub fn masthead(c: Converter, site: &Masthead) -> Masthead {
    Masthead {
        title: c.text(&site.title),
        description: c.text(&site.description),
        author: c.text(&site.author),
        ..site.clone()
    }
}
