//! URL policy for cleaned HTML: every URL that leaves the cleaner is absolute
//! (by the site's one resolve policy, [`links::resolve`]) and uses a scheme
//! a feed reader can follow safely, chosen per attribute.

use url::Url;

use crate::site::links;

/// Largest inline `data:` image kept; bigger ones would bloat every feed that
/// carries the article.
pub(crate) const MAX_DATA_IMAGE_BYTES: usize = 64 * 1024;

/// What a URL attribute points at, which decides the schemes allowed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum UrlKind {
    /// `a href`: something a person clicks.
    Link,
    /// `src`, `poster`, `srcset`: fetched automatically by the reader.
    Media,
    /// `img src`: media, plus small inline raster images.
    Image,
    /// `cite`: a reference, never fetched.
    Citation,
}

impl UrlKind {
    pub(crate) fn of(element: &str, attribute: &str) -> Option<Self> {
        match (element, attribute) {
            (_, "href") => Some(Self::Link),
            ("img", "src") => Some(Self::Image),
            (_, "src" | "poster" | "srcset") => Some(Self::Media),
            (_, "cite") => Some(Self::Citation),
            _ => None,
        }
    }

    fn allows(self, url: &Url) -> bool {
        match url.scheme() {
            "http" | "https" => true,
            "mailto" | "tel" | "ftp" => self == Self::Link,
            "data" => self == Self::Image && is_safe_data_image(url),
            _ => false,
        }
    }
}

/// `raw` resolved against `base`, or `None` when it is empty, unparsable or
/// uses a scheme `kind` does not allow (`javascript:`, `vbscript:`, most `data:`).
pub(crate) fn resolve(base: &Url, raw: &str, kind: UrlKind) -> Option<Url> {
    links::resolve(base, raw).filter(|url| kind.allows(url))
}

/// SVG is left out on purpose: it can carry script.
fn is_safe_data_image(url: &Url) -> bool {
    const ALLOWED: [&str; 5] = [
        "image/png",
        "image/gif",
        "image/jpeg",
        "image/jpg",
        "image/webp",
    ];
    let path = url.path();
    if path.len() > MAX_DATA_IMAGE_BYTES {
        return false;
    }
    let media_type = path.split([';', ',']).next().unwrap_or_default();
    ALLOWED.iter().any(|m| media_type.eq_ignore_ascii_case(m))
}

/// A `srcset` with every candidate URL resolved against `base`; candidates
/// with a disallowed URL are dropped, and `None` means none survived.
pub(crate) fn resolve_srcset(base: &Url, raw: &str) -> Option<String> {
    let mut out = String::with_capacity(raw.len() + 32);
    for candidate in SrcsetCandidates::new(raw) {
        let Some(url) = resolve(base, candidate.url, UrlKind::Media) else {
            continue;
        };
        if !out.is_empty() {
            out.push_str(", ");
        }
        out.push_str(url.as_str());
        if !candidate.descriptor.is_empty() {
            out.push(' ');
            out.push_str(candidate.descriptor);
        }
    }
    (!out.is_empty()).then_some(out)
}

#[derive(Debug, PartialEq, Eq)]
struct SrcsetCandidate<'a> {
    url: &'a str,
    descriptor: &'a str,
}

/// The candidates of a `srcset`, split as the HTML standard does: a URL may
/// itself contain commas (image CDNs use them), so only a comma that ends the
/// URL token or follows the descriptors separates candidates.
struct SrcsetCandidates<'a> {
    rest: &'a str,
}

impl<'a> SrcsetCandidates<'a> {
    fn new(raw: &'a str) -> Self {
        Self { rest: raw }
    }
}

impl<'a> Iterator for SrcsetCandidates<'a> {
    type Item = SrcsetCandidate<'a>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let s = self
                .rest
                .trim_start_matches(|c: char| c.is_ascii_whitespace() || c == ',');
            if s.is_empty() {
                self.rest = s;
                return None;
            }
            let url_end = s.find(|c: char| c.is_ascii_whitespace()).unwrap_or(s.len());
            let token = &s[..url_end];
            let url = token.trim_end_matches(',');
            if url.len() != token.len() {
                // A trailing comma closes the candidate: no descriptors.
                self.rest = &s[url_end..];
                return Some(SrcsetCandidate {
                    url,
                    descriptor: "",
                });
            }
            let after = &s[url_end..];
            let desc_end = descriptor_end(after);
            let descriptor = after[..desc_end].trim();
            self.rest = after.get(desc_end + 1..).unwrap_or_default();
            if url.is_empty() {
                continue;
            }
            return Some(SrcsetCandidate { url, descriptor });
        }
    }
}

/// Index of the comma ending the descriptors (outside parentheses), or the length.
fn descriptor_end(s: &str) -> usize {
    let mut depth = 0usize;
    for (i, c) in s.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth = depth.saturating_sub(1),
            ',' if depth == 0 => return i,
            _ => {}
        }
    }
    s.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> Url {
        Url::parse("https://example.com/blog/").expect("static url")
    }

    fn r(raw: &str, kind: UrlKind) -> Option<String> {
        resolve(&base(), raw, kind).map(String::from)
    }

    #[test]
    fn relative_and_protocol_relative_become_absolute() {
        assert_eq!(
            r("img/a.png", UrlKind::Media).as_deref(),
            Some("https://example.com/blog/img/a.png")
        );
        assert_eq!(
            r("/img/a.png", UrlKind::Media).as_deref(),
            Some("https://example.com/img/a.png")
        );
        assert_eq!(
            r("//cdn.example.org/x.jpg", UrlKind::Media).as_deref(),
            Some("https://cdn.example.org/x.jpg")
        );
        assert_eq!(
            r("  http://a.example/ ", UrlKind::Link).as_deref(),
            Some("http://a.example/")
        );
    }

    #[test]
    fn dangerous_schemes_are_refused() {
        for raw in [
            "javascript:alert(1)",
            " JaVaScRiPt:alert(1)",
            "vbscript:x",
            "data:text/html,<script>",
            "jav\tascript:alert(1)",
        ] {
            assert_eq!(r(raw, UrlKind::Link), None, "{raw}");
        }
        assert_eq!(r("", UrlKind::Link), None);
        assert_eq!(
            r("mailto:a@example.com", UrlKind::Link).as_deref(),
            Some("mailto:a@example.com")
        );
        assert_eq!(r("mailto:a@example.com", UrlKind::Media), None);
    }

    #[test]
    fn only_small_raster_data_images_pass() {
        assert!(r("data:image/png;base64,iVBORw0KGgo=", UrlKind::Image).is_some());
        assert!(r("data:image/png;base64,iVBORw0KGgo=", UrlKind::Media).is_none());
        assert!(r("data:image/svg+xml;base64,PHN2Zz4=", UrlKind::Image).is_none());
        let big = format!(
            "data:image/png;base64,{}",
            "A".repeat(MAX_DATA_IMAGE_BYTES + 1)
        );
        assert!(r(&big, UrlKind::Image).is_none());
    }

    #[test]
    fn srcset_candidates_are_each_resolved() {
        assert_eq!(
            resolve_srcset(&base(), "a.jpg 1x, //cdn.example.org/b.jpg 2x,/c.jpg 640w").as_deref(),
            Some(
                "https://example.com/blog/a.jpg 1x, https://cdn.example.org/b.jpg 2x, https://example.com/c.jpg 640w"
            )
        );
        assert_eq!(
            resolve_srcset(&base(), "javascript:alert(1) 1x, ok.png 2x").as_deref(),
            Some("https://example.com/blog/ok.png 2x")
        );
        assert_eq!(resolve_srcset(&base(), "javascript:x"), None);
        assert_eq!(resolve_srcset(&base(), " , ,"), None);
    }

    #[test]
    fn srcset_urls_may_contain_commas() {
        assert_eq!(
            resolve_srcset(
                &base(),
                "https://img.example/w_100,q_80/a.jpg 100w, b.jpg,c.jpg 2x"
            )
            .as_deref(),
            Some(
                "https://img.example/w_100,q_80/a.jpg 100w, https://example.com/blog/b.jpg,c.jpg 2x"
            )
        );
    }
}
