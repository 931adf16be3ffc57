//! Hexo's excerpt marker.

/// Splits `body` at the first `<!-- more -->` marker: `(excerpt, Some(rest))`,
/// or `(body, None)` without one. The marker itself belongs to neither part.
///
/// Accepts what people actually write: any case, any whitespace inside
/// (`<!--more-->`, `<!-- MORE -->`) and extra dashes (`<!---more-->`).
pub fn split_more(body: &str) -> (&str, Option<&str>) {
    let mut from = 0;
    while let Some(rel) = body[from..].find("<!--") {
        let start = from + rel;
        if let Some(len) = more_marker_len(&body[start..]) {
            return (&body[..start], Some(&body[start + len..]));
        }
        from = start + "<!--".len();
    }
    (body, None)
}

/// Length of the marker at the start of `s`, if `s` starts with one.
fn more_marker_len(s: &str) -> Option<usize> {
    let inner = s.strip_prefix("<!--")?;
    let after_open = inner.trim_start_matches('-').trim_start();
    let after_word = strip_prefix_ignore_ascii_case(after_open, "more")?;
    let before_close = after_word.trim_start();
    let close = before_close.trim_start_matches('-');
    let dashes = before_close.len() - close.len();
    let rest = close.strip_prefix('>').filter(|_| dashes >= 2)?;
    Some(s.len() - rest.len())
}

fn strip_prefix_ignore_ascii_case<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &s[prefix.len()..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_at_common_spellings() {
        for marker in [
            "<!-- more -->",
            "<!--more-->",
            "<!-- MORE -->",
            "<!---more-->",
            "<!--  More\t-->",
            "<!-- more --->",
        ] {
            let body = format!("intro\n{marker}\nrest");
            assert_eq!(split_more(&body), ("intro\n", Some("\nrest")), "{marker}");
        }
    }

    #[test]
    fn only_the_first_marker_splits() {
        assert_eq!(
            split_more("a<!--more-->b<!--more-->c"),
            ("a", Some("b<!--more-->c"))
        );
    }

    #[test]
    fn other_comments_and_lookalikes_do_not_split() {
        for body in [
            "a<!-- moreover -->b",
            "a<!-- more",
            "a<!-- no more -->b",
            "<!--",
            "more -->",
            "a<!-- more ->b",
            "<!--更多-->",
        ] {
            assert_eq!(split_more(body), (body, None), "{body}");
        }
        assert_eq!(
            split_more("<!-- x --><!-- more -->y"),
            ("<!-- x -->", Some("y"))
        );
    }
}
