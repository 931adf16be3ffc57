//! OPML 2.0 subscription list of every feed, so a reader can subscribe to
//! all categories at once. Written by hand: no OPML crate is worth a
//! dependency for three elements.

use std::fmt::Write;

use crate::text::escape_html as escape;

use super::{Channel, Masthead};

pub fn render(site: &Masthead, channels: &[Channel]) -> Vec<u8> {
    let mut out = String::from(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<opml version=\"2.0\">\n<head>\n",
    );
    let _ = writeln!(out, "<title>{}</title>", escape(&site.title));
    out.push_str("</head>\n<body>\n");
    for c in channels {
        let _ = writeln!(
            out,
            "<outline type=\"rss\" text=\"{t}\" title=\"{t}\" xmlUrl=\"{x}\" htmlUrl=\"{h}\"/>",
            t = escape(&c.title),
            x = escape(&c.rss_url),
            h = escape(&c.home_url),
        );
    }
    out.push_str("</body>\n</opml>\n");
    out.into_bytes()
}
