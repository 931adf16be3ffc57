//! URLs and e-mail addresses written as text are addresses, not words: a
//! conversion leaves them as written (found by the sixth attack:
//! `https://zh.wikipedia.org/wiki/软件` became `…/wiki/軟體`, and
//! `张三@例子.中国` another address).
//!
//! Found by hand, not by `linkify`: it finds no address whose top-level
//! domain is not ASCII (`例子.中国`). Only where an address meets Chinese
//! text matters, since conversions change no ASCII, so the rules are
//! those of prose: an address runs to whitespace or to punctuation that
//! is not ASCII (`，`, `。`, `」`), and when in doubt text is kept.

use std::ops::Range;

use super::chain::Chain;

/// `text` converted by `chain` outside the URLs and e-mail addresses in
/// it, each kept byte for byte. Text between them converts separately, so
/// a phrase never spans an address.
pub(super) fn convert_outside_addresses(chain: &Chain, text: &str) -> String {
    let spans = addresses(text);
    if spans.is_empty() {
        return chain.convert(text);
    }
    let mut out = String::with_capacity(text.len() + text.len() / 8);
    let mut converted_to = 0;
    for span in spans {
        out.push_str(&chain.convert(&text[converted_to..span.start]));
        out.push_str(&text[span.clone()]);
        converted_to = span.end;
    }
    out.push_str(&chain.convert(&text[converted_to..]));
    out
}

/// The byte ranges of the addresses in `text`, in order, apart. A URL has
/// a scheme's `://`, an address an `@`: a text with neither, nearly every
/// one, costs one `memchr` pass.
fn addresses(text: &str) -> Vec<Range<usize>> {
    let mut out: Vec<Range<usize>> = Vec::new();
    for at in memchr::memchr2_iter(b':', b'@', text.as_bytes()) {
        let after_last = out.last().map_or(0, |r| r.end);
        if at < after_last {
            continue;
        }
        let found = if text[at..].starts_with(':') {
            url_at(text, at)
        } else {
            email_at(text, at)
        };
        if let Some(span) = found {
            out.push(span.start.max(after_last)..span.end);
        }
    }
    out
}

/// The URL whose scheme ends at the `:` at `colon`: `scheme://` and what
/// follows up to the end of the address.
fn url_at(text: &str, colon: usize) -> Option<Range<usize>> {
    let rest = text[colon..].strip_prefix("://")?;
    let scheme = text[..colon]
        .bytes()
        .rev()
        .take_while(|b| b.is_ascii_alphanumeric() || b"+-.".contains(b))
        .count();
    // Checked before the scan ahead, which `://` repeated without a
    // scheme would otherwise make quadratic.
    if scheme == 0 {
        return None;
    }
    let length = address_length(rest);
    (length > 0).then(|| colon - scheme..colon + "://".len() + length)
}

/// The e-mail address around the `@` at `at`: an ASCII local part before
/// it and an ASCII domain of at least two labels after it (an
/// internationalized one in its `xn--` form). Chinese prose runs into an
/// address with no space (`邮箱abc@qq.com。`), so both end where ASCII
/// does. Not in any script: prose next to an `@` (`感谢@张三对软件v2.0`,
/// `请发到张三@例子.中国`) cannot be told from an address, and was kept
/// unconverted whole (found by the re-attack); a Chinese address written
/// as text is converted as the prose around it is.
fn email_at(text: &str, at: usize) -> Option<Range<usize>> {
    let before = &text[..at];
    let start = before
        .char_indices()
        .rev()
        .take_while(|&(_, c)| local_char(c))
        .last()?
        .0;
    let domain = domain(&text[at + 1..]);
    (domain.contains('.') && domain.split('.').all(|l| !l.is_empty()))
        .then(|| start..at + 1 + domain.len())
}

/// RFC 5322's `atext`, and `.`.
fn local_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~.".contains(c)
}

/// The domain at the start of `after`, without a final `.`: ASCII labels
/// of letters, digits and `-`, ending where other text begins
/// (`qq.com软件`).
fn domain(after: &str) -> &str {
    let end = after
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '.'))
        .unwrap_or(after.len());
    after[..end].trim_end_matches('.')
}

/// How far the address at the start of `rest` runs. In an HTML text node
/// the delimiters it ends at can be written as references
/// (`https://&lt;user&gt;.gitlab.io`).
fn address_length(rest: &str) -> usize {
    const ENDING: [&str; 4] = ["&lt;", "&gt;", "&quot;", "&nbsp;"];
    rest.char_indices()
        .find(|&(at, c)| {
            ends_address(c) || (c == '&' && ENDING.iter().any(|r| rest[at..].starts_with(r)))
        })
        .map_or(rest.len(), |(at, _)| at)
}

/// Whitespace, a control, markup's delimiters, or punctuation that is not
/// ASCII (which no URL written in Chinese prose holds).
fn ends_address(c: char) -> bool {
    c.is_whitespace()
        || c.is_control()
        || matches!(c, '<' | '>' | '"' | '`')
        || (!c.is_ascii() && !c.is_alphanumeric())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::opencc::Conversion;

    fn found(text: &str) -> Vec<&str> {
        addresses(text).into_iter().map(|r| &text[r]).collect()
    }

    #[test]
    fn urls_and_addresses_in_text_are_kept_as_written() {
        let tw = Conversion::S2twp.converter().unwrap();
        for (text, want) in [
            (
                "见 https://zh.wikipedia.org/wiki/软件 软件",
                "見 https://zh.wikipedia.org/wiki/软件 軟體",
            ),
            (
                "软件：https://例子.中国/软件发展，软件",
                "軟體：https://例子.中国/软件发展，軟體",
            ),
            ("写信给 abc@qq.com 软件", "寫信給 abc@qq.com 軟體"),
            ("软件: 发展 @软件 a@软件", "軟體: 發展 @軟體 a@軟體"),
        ] {
            assert_eq!(tw.text(text), want, "{text}");
        }
    }

    /// Found by the re-attack: Chinese text touching an `@` was taken for
    /// an address and kept unconverted, prose and all.
    #[test]
    fn prose_beside_an_at_sign_is_converted() {
        let tw = Conversion::S2twp.converter().unwrap();
        for (text, want) in [
            ("感谢@张三对软件v2.0的贡献", "感謝@張三對軟體v2.0的貢獻"),
            (
                "请发邮件到张三@例子.中国，我们会回复。",
                "請發郵件到張三@例子.中國，我們會回覆。",
            ),
            ("邮箱abc@qq.com了解更多软件", "郵箱abc@qq.com瞭解更多軟體"),
            ("软件发展@2024.01会议", "軟體發展@2024.01會議"),
        ] {
            assert_eq!(tw.text(text), want, "{text}");
        }
    }

    #[test]
    fn addresses_end_where_prose_ends_them() {
        assert_eq!(
            found("见https://例子.中国/软件_(消歧义)。软件"),
            ["https://例子.中国/软件_(消歧义)"]
        );
        assert_eq!(found("「ftp://a.b/软件」"), ["ftp://a.b/软件"]);
        assert_eq!(
            found("https://&lt;用户名&gt;.io &quot;https://a.b/x&amp;y=软件&quot;软件"),
            ["https://a.b/x&amp;y=软件"]
        );
        assert_eq!(found("https://a@b.c/d x@y.z"), ["https://a@b.c/d", "x@y.z"]);
        assert_eq!(
            found("邮箱abc@qq.com软件，或 x@xn--fsqu00a.xn--fiqs8s。"),
            ["abc@qq.com", "x@xn--fsqu00a.xn--fiqs8s"]
        );
        for none in [
            "://软件",
            "时间 10:30",
            "回复@张三:好的",
            "@a.b",
            "a@b.",
            "a@.b",
            "张三@例子.中国",
            "a@例子.com",
        ] {
            assert!(found(none).is_empty(), "{none}");
        }
    }
}
