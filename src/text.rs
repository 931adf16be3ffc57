//! Plain-text rules shared by every module that emits text into a feed.
//!
//! This is the one place that knows which characters XML 1.0 forbids and how
//! whitespace in article text is tidied, so titles, summaries and HTML content
//! all agree.

use std::borrow::Cow;

/// Whether `c` is allowed by the XML 1.0 `Char` production:
/// `#x9 | #xA | #xD | [#x20-#xD7FF] | [#xE000-#xFFFD] | [#x10000-#x10FFFF]`.
///
/// Surrogates cannot occur in a Rust `char`; U+FFFE and U+FFFF fall outside
/// the ranges and are rejected, as strict parsers (xmllint, roxmltree) require.
pub fn is_xml_char(c: char) -> bool {
    matches!(c,
        '\u{9}' | '\u{A}' | '\u{D}'
        | '\u{20}'..='\u{D7FF}'
        | '\u{E000}'..='\u{FFFD}'
        | '\u{10000}'..='\u{10FFFF}')
}

/// Unicode noncharacters (U+FDD0..U+FDEF and the last two code points of
/// every plane) are "not for interchange"; XML 1.0 discourages them and the
/// RSS writer borrows two of them as placeholders, so they are dropped too.
fn is_noncharacter(c: char) -> bool {
    ('\u{FDD0}'..='\u{FDEF}').contains(&c) || (c as u32) & 0xFFFE == 0xFFFE
}

/// Byte offset of the first character [`is_feed_char`] refuses. Every
/// document goes through here, so it scans bytes: only control bytes and
/// the lead bytes of the ranges that hold noncharacters (0xEF: U+FDD0..,
/// U+FFFE..; 0xF0 and up: plane ends) need a closer look.
fn first_non_feed_char(s: &str) -> Option<usize> {
    let bytes = s.as_bytes();
    // Whole chunks are tested without branching, which the compiler turns
    // into vector code; only a chunk with a suspect byte is looked into.
    let mut base = 0;
    for chunk in bytes.chunks(32) {
        let any = chunk
            .iter()
            .fold(false, |acc, &b| acc | !(0x20..0xEF).contains(&b));
        if any {
            for (j, &b) in chunk.iter().enumerate() {
                let suspect = match b {
                    b'\t' | b'\n' | b'\r' => false,
                    0..0x20 | 0xEF | 0xF0.. => true,
                    _ => false,
                };
                // Lead bytes sit on character boundaries: `s[i..]` is valid.
                let i = base + j;
                if suspect && s[i..].chars().next().is_some_and(|c| !is_feed_char(c)) {
                    return Some(i);
                }
            }
        }
        base += chunk.len();
    }
    None
}

/// Characters that may appear in any document refeed writes.
pub fn is_feed_char(c: char) -> bool {
    is_xml_char(c) && !is_noncharacter(c)
}

/// `s` without the characters XML 1.0 forbids (C0 controls other than tab,
/// LF and CR; U+FFFE; U+FFFF) or discourages (noncharacters).
///
/// Borrows when there is nothing to drop, which is nearly always.
pub fn xml_safe(s: &str) -> Cow<'_, str> {
    match first_non_feed_char(s) {
        None => Cow::Borrowed(s),
        Some(first_bad) => {
            let mut out = String::with_capacity(s.len());
            out.push_str(&s[..first_bad]);
            out.extend(s[first_bad..].chars().filter(|&c| is_feed_char(c)));
            Cow::Owned(out)
        }
    }
}

/// Text made safe inside HTML or XML elements and quoted attributes; the
/// forbidden characters go too.
pub fn escape_html(s: &str) -> String {
    let s = xml_safe(s);
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Characters that take no room when rendered. Editors (Typora, WeChat) sprinkle
/// them into Chinese text, and they would defeat de-duplication and trimming.
pub fn is_zero_width(c: char) -> bool {
    matches!(c, '\u{200B}'..='\u{200D}' | '\u{2060}' | '\u{FEFF}')
}

/// Collapses every run of whitespace and zero-width characters.
///
/// A run that contains real whitespace (ASCII, NBSP, U+3000 ideographic space,
/// any Unicode `White_Space`) becomes one ASCII space; a run made only of
/// zero-width characters disappears, so `所有\u{200B}权` stays one word.
/// The result is trimmed.
pub fn collapse_whitespace(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut pending_space = false;
    for c in s.chars() {
        if c.is_whitespace() {
            pending_space = true;
        } else if !is_zero_width(c) {
            if pending_space && !out.is_empty() {
                out.push(' ');
            }
            pending_space = false;
            out.push(c);
        }
    }
    out
}

/// How far back from the cut we look for a space rather than split an ASCII word.
const WORD_BOUNDARY_WINDOW: usize = 20;

/// At most `max_chars` characters of `s`, counting the `…` added when it is cut.
///
/// Counts `char`s (a CJK ideograph is one). When the cut would fall inside an
/// ASCII word and a space occurs within the last ~20 characters kept, the cut
/// moves back to that space. Whitespace before the ellipsis is dropped.
pub fn truncate_chars(s: &str, max_chars: usize) -> String {
    let Some((cut, _)) = s.char_indices().nth(max_chars) else {
        return s.to_owned();
    };
    if max_chars == 0 {
        return String::new();
    }
    // Room for the ellipsis: keep max_chars - 1 characters.
    let keep_end = s.char_indices().nth(max_chars - 1).map_or(cut, |(i, _)| i);
    let kept = prefer_word_boundary(s, keep_end);
    let mut out = String::with_capacity(kept.len() + '…'.len_utf8());
    out.push_str(kept.trim_end());
    out.push('…');
    out
}

/// `s[..end]`, moved back to a nearby space if `end` splits an ASCII word.
fn prefer_word_boundary(s: &str, end: usize) -> &str {
    let kept = &s[..end];
    let splits_word = kept.chars().next_back().is_some_and(is_ascii_word_char)
        && s[end..].chars().next().is_some_and(is_ascii_word_char);
    if !splits_word {
        return kept;
    }
    let window_start = kept
        .char_indices()
        .rev()
        .nth(WORD_BOUNDARY_WINDOW - 1)
        .map_or(0, |(i, _)| i);
    match kept[window_start..].rfind(char::is_whitespace) {
        Some(rel) if window_start + rel > 0 => &kept[..window_start + rel],
        _ => kept,
    }
}

fn is_ascii_word_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '\'' || c == '-'
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xml_chars_follow_the_xml_1_0_production() {
        for c in [
            '\t',
            '\n',
            '\r',
            ' ',
            'a',
            '中',
            '\u{D7FF}',
            '\u{E000}',
            '\u{FFFD}',
            '\u{10000}',
            '\u{10FFFF}',
        ] {
            assert!(is_xml_char(c), "{c:?} should be allowed");
        }
        for c in [
            '\u{0}', '\u{1}', '\u{8}', '\u{B}', '\u{C}', '\u{1F}', '\u{FFFE}', '\u{FFFF}',
        ] {
            assert!(!is_xml_char(c), "{c:?} should be forbidden");
        }
    }

    #[test]
    fn escape_html_covers_text_and_attributes() {
        assert_eq!(
            escape_html("<a href=\"x\" title='y'>&\u{1}</a>"),
            "&lt;a href=&quot;x&quot; title=&#39;y&#39;&gt;&amp;&lt;/a&gt;"
        );
    }

    #[test]
    fn byte_scan_agrees_with_the_char_rule() {
        // A deterministic walk over interesting code points and their mixes.
        let points = [
            'a',
            '\t',
            '\n',
            '\r',
            '\u{0}',
            '\u{1f}',
            '\u{7f}',
            '\u{a0}',
            '內',
            '\u{fdcf}',
            '\u{fdd0}',
            '\u{fdef}',
            '\u{fdf0}',
            '\u{fffd}',
            '\u{fffe}',
            '\u{ffff}',
            '\u{e000}',
            '\u{1f600}',
            '\u{1fffe}',
            '\u{10ffff}',
            '\u{10fffd}',
            '\u{efbf}',
        ];
        let mut seed = 7u64;
        for _ in 0..2000 {
            let s: String = (0..8)
                .map(|_| {
                    seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1);
                    points[(seed >> 33) as usize % points.len()]
                })
                .collect();
            assert_eq!(
                first_non_feed_char(&s),
                s.find(|c: char| !is_feed_char(c)),
                "{s:?}"
            );
        }
    }

    #[test]
    fn xml_safe_borrows_clean_text() {
        assert!(matches!(xml_safe("上证报 ok\t\n"), Cow::Borrowed(_)));
    }

    #[test]
    fn xml_safe_drops_controls_and_nonchars() {
        assert_eq!(
            xml_safe("a\u{0}b\u{B}c\u{2}d\u{FFFE}e\u{FFFF}f\r\n"),
            "abcdef\r\n"
        );
        assert_eq!(
            xml_safe("x\u{FDD0}y\u{FDEF}z\u{1FFFF}\u{FDF0}"),
            "xyz\u{FDF0}"
        );
        assert_eq!(xml_safe("\u{1}\u{1}"), "");
    }

    #[test]
    fn collapse_handles_ideographic_space_nbsp_and_zero_width() {
        assert_eq!(
            collapse_whitespace("　　上证报\u{00A0}\u{00A0}讯 \n\t x "),
            "上证报 讯 x"
        );
        assert_eq!(
            collapse_whitespace("所有\u{200B}权\u{FEFF}规则"),
            "所有权规则"
        );
        assert_eq!(collapse_whitespace("a \u{200B} b"), "a b");
        assert_eq!(collapse_whitespace("\u{200B}\u{2060}"), "");
        assert_eq!(collapse_whitespace(""), "");
    }

    #[test]
    fn truncate_leaves_short_text_alone() {
        assert_eq!(truncate_chars("短文本", 3), "短文本");
        assert_eq!(truncate_chars("", 5), "");
        assert_eq!(truncate_chars("abc", 0), "");
    }

    #[test]
    fn truncate_counts_the_ellipsis_and_cuts_on_char_boundaries() {
        let s = "工".repeat(300);
        let t = truncate_chars(&s, 200);
        assert_eq!(t.chars().count(), 200);
        assert!(t.ends_with('…'));
        assert_eq!(t, format!("{}…", "工".repeat(199)));
        assert_eq!(truncate_chars("abcdef", 1), "…");
        assert_eq!(truncate_chars("abcdef", 0), "");
    }

    #[test]
    fn truncate_prefers_a_space_to_splitting_an_ascii_word() {
        assert_eq!(truncate_chars("hello wonderful world", 12), "hello…");
        // No space in reach: cut inside the word.
        assert_eq!(
            truncate_chars(&"x".repeat(50), 10),
            format!("{}…", "x".repeat(9))
        );
        // The cut already falls between words.
        assert_eq!(truncate_chars("ab cd ef", 4), "ab…");
    }
}
