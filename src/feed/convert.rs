//! A feed's text under an OpenCC conversion (`?opencc=`): titles,
//! summaries, category and tag labels, author names, the channel's title
//! and description, the site's name and author, and the text of the
//! content; the documents' language follows. Links, ids, attributes and
//! code are left as they are.

use std::sync::Arc;

use super::{Channel, Item, Term};
use crate::article::Article;
use crate::catalog::Entry;
use crate::opencc::{Conversion, ConversionError, Converter};
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
    let content = item.content.rewritten(|html| c.html(html));
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

/// `site`, `channel` and `items` as a document under `conversion` shows
/// them.
pub fn parts(
    conversion: Conversion,
    site: &Masthead,
    channel: &Channel,
    items: &[Item],
) -> Result<(Masthead, Channel, Vec<Item>), ConversionError> {
    let c = conversion.converter()?;
    let items = items.iter().map(|i| item(c, i)).collect();
    Ok((
        masthead(conversion, c, site),
        self::channel(c, channel),
        items,
    ))
}

pub fn channel(c: Converter, channel: &Channel) -> Channel {
    Channel {
        title: c.text(&channel.title),
        description: c.text(&channel.description),
        ..channel.clone()
    }
}

/// The site's name, description and author, as the documents show them,
/// and the language they are in: the conversion's, when the site's is
/// Chinese. Any other site keeps its own (an `en` site has little Chinese
/// to convert, and a `ja` one converted with `jp2t` is still Japanese).
fn masthead(conversion: Conversion, c: Converter, site: &Masthead) -> Masthead {
    let language = if is_chinese(&site.language) {
        conversion.language().to_string()
    } else {
        site.language.clone()
    };
    Masthead {
        title: c.text(&site.title),
        description: c.text(&site.description),
        author: c.text(&site.author),
        language,
        ..site.clone()
    }
}

/// Whether a language tag's primary subtag is `zh`.
fn is_chinese(tag: &str) -> bool {
    let primary = tag.split(['-', '_']).next().unwrap_or("");
    primary.eq_ignore_ascii_case("zh")
}
