//! How a reference becomes a URL: site paths percent-encoded and joined to
//! the site URL, and written references (front matter, article HTML)
//! resolved against it by one policy.

use percent_encoding::{AsciiSet, CONTROLS, utf8_percent_encode};
use url::Url;

/// Characters that must be escaped inside a URL path (besides non-ASCII).
/// What it leaves is also exactly what RFC 4151 lets a `tag:` URI's
/// specific part hold unescaped, so ids escape the same way (`ids`).
const PATH: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'[')
    .add(b'\\')
    .add(b']')
    .add(b'^')
    .add(b'`')
    .add(b'{')
    .add(b'|')
    .add(b'}');

/// Percent-encodes a site-relative path and joins it to the site URL.
pub fn absolute(base: &Url, path: &str) -> String {
    format!("{}{}", base, encode_path(path))
}

pub fn encode_path(path: &str) -> String {
    utf8_percent_encode(path, PATH).to_string()
}

/// The length of [`encode_path`]'s result, without building it.
pub fn encoded_len(path: &str) -> usize {
    utf8_percent_encode(path, PATH).map(str::len).sum()
}

/// `raw` as an absolute URL: an absolute reference as it is, a relative
/// one joined to `base`, a protocol-relative `//host/x` with the base's
/// scheme; `None` when it is empty or unparsable. Surrounding whitespace
/// and control characters are not part of a reference. Which schemes a
/// use accepts is that use's choice ([`web`], the sanitizer's per attribute).
pub fn resolve(base: &Url, raw: &str) -> Option<Url> {
    let trimmed = raw.trim_matches(|c: char| c.is_whitespace() || c.is_control());
    if trimmed.is_empty() {
        return None;
    }
    match Url::parse(trimmed) {
        Ok(url) => Some(url),
        Err(url::ParseError::RelativeUrlWithoutBase) => base.join(trimmed).ok(),
        Err(_) => None,
    }
}

/// A reference a feed reader can follow, for the front matter's `link`
/// and `image`: [`resolve`]d, and only `http` or `https`.
pub fn web(base: &Url, raw: &str) -> Option<String> {
    resolve(base, raw)
        .filter(|u| matches!(u.scheme(), "http" | "https"))
        .map(String::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> Url {
        Url::parse("https://e.com/blog/").expect("static url")
    }

    #[test]
    fn site_paths_are_encoded() {
        assert_eq!(
            absolute(&base(), "金融/a b?/"),
            "https://e.com/blog/%E9%87%91%E8%9E%8D/a%20b%3F/"
        );
        assert_eq!(encoded_len("金融/a b?/"), encode_path("金融/a b?/").len());
    }

    #[test]
    fn references_resolve_against_the_site() {
        let web = |raw| web(&base(), raw);
        assert_eq!(
            web("img/a.png").as_deref(),
            Some("https://e.com/blog/img/a.png")
        );
        assert_eq!(
            web(" /a.png\u{3000}").as_deref(),
            Some("https://e.com/a.png")
        );
        assert_eq!(web("//cdn.e.org/x").as_deref(), Some("https://cdn.e.org/x"));
        assert_eq!(web("http://o.org/").as_deref(), Some("http://o.org/"));
        assert_eq!(web("mailto:a@e.com"), None);
        assert_eq!(web("javascript:alert(1)"), None);
        assert_eq!(web(" \t"), None);
    }
}
