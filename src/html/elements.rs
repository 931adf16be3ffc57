//! Element lists that more than one part of `html` relies on, spelled once.

/// Block-level elements a body's top level is made of; their boundaries
/// separate words.
pub(super) const BLOCKS: &[&str] = &[
    "address",
    "article",
    "aside",
    "blockquote",
    "br",
    "center",
    "details",
    "div",
    "dl",
    "figure",
    "footer",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "header",
    "hgroup",
    "hr",
    "main",
    "nav",
    "ol",
    "p",
    "pre",
    "section",
    "table",
    "ul",
];

/// Parts of blocks (list items, table cells, captions, …): they separate
/// words too, but a body does not start with them.
pub(super) const BLOCK_PARTS: &[&str] = &[
    "caption",
    "dd",
    "dt",
    "figcaption",
    "li",
    "summary",
    "tbody",
    "td",
    "tfoot",
    "th",
    "thead",
    "tr",
];

/// Elements whose content is not for a feed (scripts, embeds, forms,
/// metadata): dropped together with everything inside them.
pub(super) const DROPPED_WITH_CONTENT: &[&str] = &[
    "applet", "embed", "frame", "frameset", "head", "iframe", "math", "noembed", "noframes",
    "noscript", "object", "script", "select", "style", "svg", "template", "textarea", "title",
];
