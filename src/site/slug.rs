//! Hexo's `slugize`, so that feed URLs sit beside a Hexo site's own
//! category and tag pages: CJK and other letters are kept, control
//! characters dropped, whitespace and ASCII punctuation become `-`.

use std::borrow::Cow;
use std::collections::BTreeMap;

use unicode_normalization::UnicodeNormalization;

/// Category and tag names as URL path segments (Hexo: `category_map` or
/// `tag_map`, then [`slugize`], then [`capped`]); a name that slugizes to
/// nothing keeps its own text.
#[derive(Debug)]
pub struct Slugs {
    category_map: BTreeMap<String, String>,
    tag_map: BTreeMap<String, String>,
    categories: SlugCache,
    tags: SlugCache,
}

impl Slugs {
    pub fn new(category_map: BTreeMap<String, String>, tag_map: BTreeMap<String, String>) -> Self {
        Slugs {
            category_map,
            tag_map,
            categories: SlugCache::new(),
            tags: SlugCache::new(),
        }
    }

    /// The segments of a category node, root first.
    pub fn categories(&self, names: &[String]) -> Vec<String> {
        names.iter().map(|n| self.category(n)).collect()
    }

    pub fn category(&self, name: &str) -> String {
        cached(&self.categories, &self.category_map, name)
    }

    pub fn tag(&self, name: &str) -> String {
        cached(&self.tags, &self.tag_map, name)
    }

    /// The length in bytes of a category name's slug when it was too long
    /// for a URL segment and was cut.
    pub fn cut_category(&self, name: &str) -> Option<usize> {
        cut(&self.category_map, name)
    }

    pub fn cut_tag(&self, name: &str) -> Option<usize> {
        cut(&self.tag_map, name)
    }
}

/// Bound on each slug cache, against archives with unbounded tag sets.
const MAX_CACHED_SLUGS: usize = 100_000;

type SlugCache = papaya::HashMap<String, String>;

/// Archives repeat a few hundred names across every article, so each name
/// is slugized once.
fn cached(cache: &SlugCache, map: &BTreeMap<String, String>, name: &str) -> String {
    let pinned = cache.pin();
    if let Some(slug) = pinned.get(name) {
        return slug.clone();
    }
    let slug = mapped_slug(map, name);
    if pinned.len() < MAX_CACHED_SLUGS {
        pinned.insert(name.to_string(), slug.clone());
    }
    slug
}

fn mapped_slug(map: &BTreeMap<String, String>, name: &str) -> String {
    let slug = whole_slug(map, name);
    match capped(&slug) {
        Cow::Borrowed(_) => slug,
        Cow::Owned(cut) => cut,
    }
}

fn cut(map: &BTreeMap<String, String>, name: &str) -> Option<usize> {
    let len = whole_slug(map, name).len();
    (len > MAX_SEGMENT_BYTES).then_some(len)
}

fn whole_slug(map: &BTreeMap<String, String>, name: &str) -> String {
    let source = map.get(name).map(String::as_str).unwrap_or(name);
    let slug = slugize(source);
    if slug.is_empty() {
        // Keep the URL non-empty and free of `/`, `.` and `..`.
        format!("_{}", source.replace(['/', '.'], "_"))
    } else {
        slug
    }
}

/// Longest URL path segment a slug may take, in bytes of UTF-8: half the
/// 255-byte file-name limit of common file systems (`refeed build` writes
/// each segment as a folder), so the suffixes added below and by the
/// route table still fit.
pub const MAX_SEGMENT_BYTES: usize = 128;

/// `slug` cut to [`MAX_SEGMENT_BYTES`] on a character boundary, plus
/// `-<hash of the whole slug>` so that names sharing a long prefix stay
/// apart. Short slugs are returned as they are.
pub fn capped(slug: &str) -> Cow<'_, str> {
    if slug.len() <= MAX_SEGMENT_BYTES {
        return Cow::Borrowed(slug);
    }
    let suffix = format!("-{}", short_hash(slug));
    let mut end = MAX_SEGMENT_BYTES - suffix.len();
    while !slug.is_char_boundary(end) {
        end -= 1;
    }
    Cow::Owned(format!("{}{suffix}", &slug[..end]))
}

/// Eight hex digits of XXH3 of `s`: published in URLs, so the algorithm
/// (a fixed, specified one) must never change.
pub fn short_hash(s: &str) -> String {
    format!("{:08x}", xxhash_rust::xxh3::xxh3_64(s.as_bytes()) as u32)
}

/// The characters of hexo-util's `rSpecial` class besides whitespace.
const SPECIAL: &str = "~`!@#$%^&*()-_+=[]{}|\\;:\"'<>,.?/";

pub fn slugize(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut pending_dash = false;
    for c in name.chars().flat_map(strip_diacritic) {
        // Hexo drops C0 controls; refeed also drops what XML forbids or
        // discourages, since slugs end up in feed ids and URLs.
        if c <= '\u{1f}' || !crate::text::is_feed_char(c) {
            continue;
        }
        if is_js_whitespace(c) || SPECIAL.contains(c) {
            pending_dash = true;
            continue;
        }
        if pending_dash && !out.is_empty() {
            out.push('-');
        }
        pending_dash = false;
        out.push(c);
    }
    out
}

/// JavaScript's `\s`, which is what Hexo's regex matches.
fn is_js_whitespace(c: char) -> bool {
    matches!(
        c,
        '\t' | '\n' | '\u{b}' | '\u{c}' | '\r' | ' ' | '\u{a0}' | '\u{1680}' | '\u{2000}'
            ..='\u{200a}'
                | '\u{2028}'
                | '\u{2029}'
                | '\u{202f}'
                | '\u{205f}'
                | '\u{3000}'
                | '\u{feff}'
    )
}

/// hexo-util's `escapeDiacritic` for Latin letters only: decomposing
/// other scripts (Hangul) would change them.
fn strip_diacritic(c: char) -> Vec<char> {
    match c {
        'ß' => vec!['s', 's'],
        'æ' => vec!['a', 'e'],
        'Æ' => vec!['A', 'E'],
        'œ' => vec!['o', 'e'],
        'Œ' => vec!['O', 'E'],
        'ø' => vec!['o'],
        'Ø' => vec!['O'],
        'đ' | 'ð' => vec!['d'],
        'Đ' | 'Ð' => vec!['D'],
        'ł' => vec!['l'],
        'Ł' => vec!['L'],
        'þ' => vec!['t', 'h'],
        'Þ' => vec!['T', 'h'],
        '\u{c0}'..='\u{24f}' | '\u{1e00}'..='\u{1eff}' => std::iter::once(c)
            .nfd()
            .filter(|d| !('\u{300}'..='\u{36f}').contains(d))
            .collect(),
        _ => vec![c],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_slugs_are_cut_on_a_char_boundary_with_a_stable_hash() {
        let cjk = "中".repeat(88);
        let cut = capped(&cjk);
        assert!(cut.len() <= MAX_SEGMENT_BYTES, "{}", cut.len());
        assert!(cut.starts_with("中中"));
        assert_eq!(cut, capped(&cjk), "stable");
        assert_ne!(cut, capped(&"中".repeat(89)), "same prefix, other name");
        assert_eq!(capped("C"), "C");
        // The published value: changing the hash moves every cut URL.
        assert_eq!(short_hash("C#"), "56f4917b");
    }

    #[test]
    fn matches_hexo_slugize() {
        for (name, slug) in [
            ("新浪财经－国內", "新浪财经－国內"),
            ("Hello World", "Hello-World"),
            ("C++", "C"),
            ("Node.js", "Node-js"),
            ("  a -- b  ", "a-b"),
            ("foo_bar", "foo-bar"),
            ("Crème brûlée", "Creme-brulee"),
            ("Straße", "Strasse"),
            ("한국어", "한국어"),
            ("日本語 テスト", "日本語-テスト"),
            ("a\u{3000}b", "a-b"),
            ("x\u{1}y", "xy"),
            ("a\u{fffe}b\u{fdd0}c", "abc"),
            ("...", ""),
        ] {
            assert_eq!(slugize(name), slug, "{name:?}");
        }
    }
}
