//! Simplified/Traditional Chinese conversion (`?opencc=`, as RSSHub names
//! it) with OpenCC's own dictionaries and phrase rules (`chain`, over the
//! dictionaries ferrous-opencc ships). Converts text, and the text nodes of
//! HTML outside code; never markup, attributes, or URLs and e-mail
//! addresses, written as text or not (`addresses`).

mod addresses;
mod chain;
mod data;

use std::cell::Cell;
use std::rc::Rc;
use std::sync::OnceLock;

use chain::Chain;
use lol_html::html_content::{ContentType, Element, TextChunk};
use lol_html::{DocumentContentHandlers, ElementContentHandlers, RewriteStrSettings, Selector};

/// One of OpenCC's conversions, by RSSHub's name for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Conversion {
    S2t,
    T2s,
    S2tw,
    Tw2s,
    S2twp,
    Tw2sp,
    S2hk,
    Hk2s,
    T2tw,
    T2hk,
    T2jp,
    Jp2t,
}

impl Conversion {
    /// Every conversion, in the order RSSHub lists them.
    pub const ALL: [Conversion; 12] = [
        Conversion::S2t,
        Conversion::T2s,
        Conversion::S2tw,
        Conversion::S2twp,
        Conversion::Tw2s,
        Conversion::Tw2sp,
        Conversion::S2hk,
        Conversion::Hk2s,
        Conversion::T2tw,
        Conversion::T2hk,
        Conversion::T2jp,
        Conversion::Jp2t,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Conversion::S2t => "s2t",
            Conversion::T2s => "t2s",
            Conversion::S2tw => "s2tw",
            Conversion::Tw2s => "tw2s",
            Conversion::S2twp => "s2twp",
            Conversion::Tw2sp => "tw2sp",
            Conversion::S2hk => "s2hk",
            Conversion::Hk2s => "hk2s",
            Conversion::T2tw => "t2tw",
            Conversion::T2hk => "t2hk",
            Conversion::T2jp => "t2jp",
            Conversion::Jp2t => "jp2t",
        }
    }

    /// The conversion a query value names; case-insensitive, as RSSHub's.
    pub fn from_name(value: &str) -> Option<Conversion> {
        Self::ALL
            .into_iter()
            .find(|c| c.name().eq_ignore_ascii_case(value))
    }

    /// The valid names, comma-separated, for an error message.
    pub fn names() -> String {
        Self::ALL.map(Conversion::name).join(", ")
    }

    /// The language tag of the text this conversion writes, when the text
    /// is Chinese: the script or region it converts to. `t2jp` writes
    /// Japanese kanji forms, which readers choose Japanese fonts for; the
    /// Simplified targets are `zh-Hans`, not `zh-CN`, since only the script
    /// is known (`tw2s` keeps Taiwan's vocabulary).
    pub fn language(self) -> &'static str {
        match self {
            Conversion::S2t | Conversion::Jp2t => "zh-Hant",
            Conversion::T2s | Conversion::Tw2s | Conversion::Tw2sp | Conversion::Hk2s => "zh-Hans",
            Conversion::S2tw | Conversion::S2twp | Conversion::T2tw => "zh-TW",
            Conversion::S2hk | Conversion::T2hk => "zh-HK",
            Conversion::T2jp => "ja",
        }
    }

    /// The converter, built from the bundled dictionaries on first use
    /// (up to a tenth of a second for the ones with the phrase list, done
    /// once per process).
    pub fn converter(self) -> Result<Converter, ConversionError> {
        static BUILT: [OnceLock<Result<Chain, String>>; 12] = [const { OnceLock::new() }; 12];
        let slot = Self::ALL.iter().position(|c| *c == self).unwrap_or(0);
        match BUILT[slot].get_or_init(|| Chain::load(self.name())) {
            Ok(opencc) => Ok(Converter(opencc)),
            Err(reason) => Err(ConversionError {
                conversion: self.name(),
                reason: reason.clone(),
            }),
        }
    }
}

/// A bundled dictionary that does not load: a build of refeed gone wrong,
/// never a fault of the input.
#[derive(Debug, Clone, thiserror::Error)]
#[error("OpenCC conversion {conversion} cannot be loaded: {reason}")]
pub struct ConversionError {
    pub conversion: &'static str,
    pub reason: String,
}

/// A loaded conversion.
#[derive(Clone, Copy)]
pub struct Converter(&'static Chain);

/// Elements whose text is code, kept as written.
const VERBATIM: &str = "code, pre, kbd, samp";

impl Converter {
    pub fn text(self, s: &str) -> String {
        addresses::convert_outside_addresses(self.0, s)
    }

    /// `html` with the text of every text node converted, except inside
    /// [`VERBATIM`] elements. Markup passes through as written. A text node
    /// reaches the handler in chunks; it is converted whole, so that a
    /// phrase across a chunk boundary converts as a phrase.
    pub fn html(self, html: &str) -> String {
        let verbatim_depth = Rc::new(Cell::new(0usize));
        let opened = Rc::clone(&verbatim_depth);
        let verbatim = ElementContentHandlers::default().element(move |el: &mut Element| {
            enter_verbatim(el, &opened);
            Ok(())
        });
        let mut pending = String::new();
        let text = DocumentContentHandlers::default().text(move |chunk: &mut TextChunk| {
            if verbatim_depth.get() > 0 {
                return Ok(());
            }
            pending.push_str(chunk.as_str());
            if chunk.last_in_text_node() {
                // The text is as written in the markup, references included;
                // they are ASCII, which no conversion touches.
                chunk.replace(&self.text(&pending), ContentType::Html);
                pending.clear();
            } else {
                chunk.remove();
            }
            Ok(())
        });
        let settings = RewriteStrSettings::new()
            .with_strict(false)
            .with_enable_esi_tags(false)
            .append_element_content_handler((
                std::borrow::Cow::Borrowed(verbatim_selector()),
                verbatim,
            ))
            .append_document_content_handler(text);
        // Rewriting a string fails only on a handler's error, and these
        // return none; the text alone is then better than no item.
        lol_html::rewrite_str(html, settings).unwrap_or_else(|_| html.to_string())
    }
}

fn verbatim_selector() -> &'static Selector {
    static VERBATIM_SELECTOR: OnceLock<Selector> = OnceLock::new();
    VERBATIM_SELECTOR.get_or_init(|| VERBATIM.parse().expect("a valid selector"))
}

/// Counts the verbatim elements open around the parser, so that nested
/// `<pre><code>` closes right.
fn enter_verbatim(el: &mut Element, depth: &Rc<Cell<usize>>) {
    let Some(handlers) = el.end_tag_handlers() else {
        return;
    };
    depth.set(depth.get() + 1);
    let closed = Rc::clone(depth);
    handlers.push(Box::new(move |_| {
        closed.set(closed.get().saturating_sub(1));
        Ok(())
    }));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s2t() -> Converter {
        Conversion::S2t.converter().unwrap()
    }

    #[test]
    fn every_conversion_loads_and_names_round_trip() {
        for c in Conversion::ALL {
            assert!(c.converter().is_ok(), "{}", c.name());
            assert_eq!(Conversion::from_name(c.name()), Some(c));
        }
        assert_eq!(Conversion::from_name("S2TW"), Some(Conversion::S2tw));
        assert_eq!(Conversion::from_name("s2x"), None);
    }

    #[test]
    fn phrases_convert_with_opencc_rules() {
        assert_eq!(
            s2t().text("工信部召开部分省市上半年工业经济运行情况座谈会"),
            "工信部召開部分省市上半年工業經濟運行情況座談會"
        );
        let tw = Conversion::S2twp.converter().unwrap();
        assert_eq!(tw.text("鼠标和软件"), "滑鼠和軟體");
        assert_eq!(Conversion::T2s.converter().unwrap().text("經濟"), "经济");
    }

    #[test]
    fn html_converts_text_nodes_only() {
        let html = "<p title=\"经济\">经济 &amp; <a href=\"https://x/经济\">会议</a></p>\
                    <pre><code>let 经济 = 1;</code></pre><p>后<code>发</code>面</p>";
        assert_eq!(
            s2t().html(html),
            "<p title=\"经济\">經濟 &amp; <a href=\"https://x/经济\">會議</a></p>\
             <pre><code>let 经济 = 1;</code></pre><p>後<code>发</code>面</p>"
        );
    }

    #[test]
    fn a_text_node_in_many_chunks_converts_as_one() {
        let long = "工业经济".repeat(5000);
        let html = format!("<p>{long}</p>");
        assert_eq!(
            s2t().html(&html),
            format!("<p>{}</p>", "工業經濟".repeat(5000))
        );
    }
}
