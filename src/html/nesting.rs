//! A cap on element nesting before html5ever sees the markup.
//!
//! html5ever's tree builder checks element scopes by walking the stack of open
//! elements, so 100 000 nested `<div>`s cost it tens of seconds. Browsers cap
//! nesting too; beyond [`MAX_DEPTH`] elements are unwrapped (tags dropped,
//! content kept), which loses nothing a reader would show.

use std::borrow::Cow;
use std::cell::Cell;
use std::rc::Rc;
use std::sync::OnceLock;

use lol_html::html_content::Element;
use lol_html::{ElementContentHandlers, RewriteStrSettings, Selector};

pub(crate) const MAX_DEPTH: usize = 256;

/// Elements whose end tag may be omitted: counting them would make depth
/// drift upward in old-style HTML (`<p>` without `</p>`), and html5ever closes
/// them implicitly anyway.
const OPTIONAL_END_TAG: &[&str] = &[
    "body", "caption", "colgroup", "dd", "dt", "head", "html", "li", "optgroup", "option", "p",
    "rb", "rp", "rt", "rtc", "tbody", "td", "tfoot", "th", "thead", "tr",
];

/// Whether `html` has enough tags to possibly nest deeper than the cap; the
/// cheap test that lets ordinary articles skip the extra pass.
pub(crate) fn may_exceed(html: &str) -> bool {
    html.bytes().filter(|&b| b == b'<').count() > MAX_DEPTH
}

fn any_element() -> &'static Selector {
    static ANY: OnceLock<Selector> = OnceLock::new();
    ANY.get_or_init(|| "*".parse().expect("`*` is a valid selector"))
}

/// A lol_html handler pair that unwraps elements nested deeper than [`MAX_DEPTH`].
pub(crate) fn depth_limiter<'h>() -> (Cow<'static, Selector>, ElementContentHandlers<'h>) {
    let depth = Rc::new(Cell::new(0usize));
    let handlers = ElementContentHandlers::default().element(move |el: &mut Element| {
        limit(el, &depth);
        Ok(())
    });
    (Cow::Borrowed(any_element()), handlers)
}

fn limit(el: &mut Element, depth: &Rc<Cell<usize>>) {
    if !el.can_have_content() || el.is_self_closing() {
        return;
    }
    if OPTIONAL_END_TAG.contains(&el.tag_name().as_str()) {
        return;
    }
    if depth.get() >= MAX_DEPTH {
        el.remove_and_keep_content();
        return;
    }
    depth.set(depth.get() + 1);
    let on_close = Rc::clone(depth);
    if let Some(handlers) = el.end_tag_handlers() {
        handlers.push(Box::new(move |_| {
            on_close.set(on_close.get().saturating_sub(1));
            Ok(())
        }));
    }
}

/// `html` with over-deep elements unwrapped; borrowed when it cannot be too deep.
pub(crate) fn limit_depth(html: &str) -> Cow<'_, str> {
    if !may_exceed(html) {
        return Cow::Borrowed(html);
    }
    let settings = RewriteStrSettings::new()
        .with_strict(false)
        .with_enable_esi_tags(false)
        .append_element_content_handler(depth_limiter());
    lol_html::rewrite_str(html, settings).map_or(Cow::Borrowed(html), Cow::Owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shallow_markup_is_untouched() {
        assert!(matches!(
            limit_depth("<div><p>a</p></div>"),
            Cow::Borrowed(_)
        ));
    }

    #[test]
    fn deep_nesting_is_capped() {
        let n = MAX_DEPTH + 50;
        let deep = "<div>".repeat(n) + "x" + &"</div>".repeat(n);
        let limited = limit_depth(&deep);
        assert_eq!(limited.matches("<div>").count(), MAX_DEPTH);
        assert_eq!(limited.matches("</div>").count(), MAX_DEPTH);
        assert!(limited.contains('x'));
    }

    #[test]
    fn unclosed_optional_end_tags_do_not_count() {
        let html = "<p>a".repeat(MAX_DEPTH * 2) + "<div><b>x</b></div>";
        assert!(limit_depth(&html).ends_with("<div><b>x</b></div>"));
    }
}
