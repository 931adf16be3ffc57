//! Hexo tag plugins (`{% name args %}`) and Nunjucks output (`{{ … }}`): the
//! scanner that finds them and pairs them up. What each tag becomes is in
//! [`plugins`], the file to open to add a tag.
//!
//! Hexo renders these before Markdown; a feed reader must never see the raw
//! syntax. Besides the plugins' own rules:
//!
//! * `{{ … }}` → nothing (Hexo would evaluate it, usually to nothing).
//! * A `{%` without its `%}` (before a blank line or the next `{%`) is dropped
//!   up to the end of its line.
//!
//! Code is left alone, as Hexo does (its backtick-fence filter escapes braces
//! first): the caller passes the [`CodeRange`]s of its format (the Markdown
//! renderer finds fenced and indented code blocks, math and inline code
//! spans), whose text stays verbatim, except that an inline code span loses
//! the `{% raw %}`/`{% endraw %}` markers Hexo's own docs wrap around examples
//! (`` `{% raw %}{% post_link x %}{% endraw %}` `` shows `{% post_link x %}`).
//!
//! The scan is linear: each search for a closing delimiter is remembered, so
//! hostile input (thousands of unterminated `{%`) cannot make it quadratic,
//! and nesting is resolved with an explicit stack, never recursion.

mod plugins;

use std::collections::HashMap;
use std::ops::Range;

use plugins::{is_verbatim, render_pair, render_single, render_verbatim};

/// A stretch of source the scanner leaves alone; `inline` marks an inline
/// code span, which still loses its `raw` markers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CodeRange {
    pub range: Range<usize>,
    pub inline: bool,
}

/// Expands tag plugins in an HTML body: nothing there is Markdown code.
pub fn expand_tag_plugins_html(src: &str) -> String {
    if !has_template_syntax(src) {
        return src.to_owned();
    }
    expand(src, Vec::new())
}

/// Whether `src` has anything to expand at all.
pub(crate) fn has_template_syntax(src: &str) -> bool {
    src.contains("{%") || src.contains("{{")
}

/// Expands tag plugins outside `code`, which is in source order and does not overlap.
pub(crate) fn expand(src: &str, code: Vec<CodeRange>) -> String {
    let tokens = Scanner::new(src, code).run();
    render(src, &tokens)
}

#[derive(Debug)]
enum Token<'a> {
    Text(&'a str),
    /// An inline code span: verbatim but for `raw` markers.
    InlineCode(&'a str),
    Tag {
        name: &'a str,
        args: &'a str,
    },
    /// A tag whose body is not scanned: `raw`, `codeblock`, …
    Verbatim {
        name: &'a str,
        args: &'a str,
        body: &'a str,
        at_line_start: bool,
    },
}

/// Memoized "next occurrence at or after `from`" for one needle, so repeated
/// searches over the same text cost O(n) in total.
struct NextFinder {
    needle: &'static str,
    from: usize,
    found: Option<usize>,
}

impl NextFinder {
    fn new(needle: &'static str) -> Self {
        Self {
            needle,
            from: usize::MAX,
            found: None,
        }
    }

    fn next(&mut self, hay: &str, at: usize) -> Option<usize> {
        let cached = self.from <= at && self.found.is_none_or(|f| f >= at);
        if !cached {
            self.from = at;
            self.found = hay
                .get(at..)
                .and_then(|s| s.find(self.needle))
                .map(|i| at + i);
        }
        self.found
    }
}

/// Memoized search for the next blank line (`\n`, spaces/tabs/CR, `\n`).
struct BlankLineFinder {
    from: usize,
    found: Option<usize>,
}

impl BlankLineFinder {
    fn next(&mut self, hay: &str, at: usize) -> Option<usize> {
        let cached = self.from <= at && self.found.is_none_or(|f| f >= at);
        if !cached {
            self.from = at;
            self.found = find_blank_line(hay, at);
        }
        self.found
    }
}

fn find_blank_line(hay: &str, at: usize) -> Option<usize> {
    let bytes = hay.as_bytes();
    let mut i = at;
    while let Some(rel) = hay.get(i..).and_then(|s| s.find('\n')) {
        let nl = i + rel;
        let mut j = nl + 1;
        while j < bytes.len() && matches!(bytes[j], b' ' | b'\t' | b'\r') {
            j += 1;
        }
        if bytes.get(j) == Some(&b'\n') {
            return Some(nl);
        }
        i = nl + 1;
    }
    None
}

struct Scanner<'a> {
    src: &'a str,
    protected: Vec<CodeRange>,
    next_protected: usize,
    pos: usize,
    tokens: Vec<Token<'a>>,
    tag_close: NextFinder,
    tag_open: NextFinder,
    var_close: NextFinder,
    line_end: NextFinder,
    blank_line: BlankLineFinder,
    /// Per verbatim tag name: no end tag exists at or after this offset.
    end_tag_absent_from: HashMap<&'a str, usize>,
}

impl<'a> Scanner<'a> {
    fn new(src: &'a str, protected: Vec<CodeRange>) -> Self {
        Self {
            src,
            protected,
            next_protected: 0,
            pos: 0,
            tokens: Vec::new(),
            tag_close: NextFinder::new("%}"),
            tag_open: NextFinder::new("{%"),
            var_close: NextFinder::new("}}"),
            line_end: NextFinder::new("\n"),
            blank_line: BlankLineFinder {
                from: usize::MAX,
                found: None,
            },
            end_tag_absent_from: HashMap::new(),
        }
    }

    fn run(mut self) -> Vec<Token<'a>> {
        while self.pos < self.src.len() {
            let limit = self.enter_protected_range();
            if self.pos >= limit {
                continue;
            }
            match find_template_open(self.src, self.pos, limit) {
                None => {
                    self.push_text(self.pos..limit);
                    self.pos = limit;
                }
                Some(at) => {
                    self.push_text(self.pos..at);
                    self.pos = at;
                    if self.src[at..].starts_with("{%") {
                        self.tag_at(at);
                    } else {
                        self.variable_at(at);
                    }
                }
            }
        }
        self.tokens
    }

    /// Emits the protected range at `pos`, if any, and returns where the
    /// unprotected text ends.
    fn enter_protected_range(&mut self) -> usize {
        while let Some(CodeRange { range, inline }) = self.protected.get(self.next_protected) {
            if range.end <= self.pos {
                self.next_protected += 1;
                continue;
            }
            if range.start > self.pos {
                return range.start;
            }
            let (range, inline) = (self.pos..range.end, *inline);
            let text = &self.src[range.clone()];
            self.tokens.push(if inline {
                Token::InlineCode(text)
            } else {
                Token::Text(text)
            });
            self.pos = range.end;
            self.next_protected += 1;
            return self.pos;
        }
        self.src.len()
    }

    fn push_text(&mut self, range: Range<usize>) {
        if !range.is_empty() {
            self.tokens.push(Token::Text(&self.src[range]));
        }
    }

    /// `{{ … }}` closed before a blank line is dropped; otherwise the braces are text.
    fn variable_at(&mut self, at: usize) {
        let close = self.var_close.next(self.src, at + 2);
        let blank = self.blank_line.next(self.src, at);
        match close {
            Some(close) if blank.is_none_or(|b| b > close) => self.pos = close + 2,
            _ => {
                self.tokens.push(Token::Text("{{"));
                self.pos = at + 2;
            }
        }
    }

    fn tag_at(&mut self, at: usize) {
        let Some(close) = self.closing_of_tag_at(at) else {
            let line_end = self.line_end.next(self.src, at).unwrap_or(self.src.len());
            let next_open = self.tag_open.next(self.src, at + 2);
            self.pos = next_open.map_or(line_end, |o| o.min(line_end));
            return;
        };
        self.pos = close + 2;
        let Some((name, args)) = parse_tag(&self.src[at + 2..close]) else {
            return;
        };
        if is_verbatim(name) {
            self.verbatim(at, name, args);
        } else {
            self.tokens.push(Token::Tag { name, args });
        }
    }

    /// The `%}` closing the tag opened at `at`, unless another `{%` or a blank
    /// line comes first.
    fn closing_of_tag_at(&mut self, at: usize) -> Option<usize> {
        let close = self.tag_close.next(self.src, at + 2)?;
        let reopened = self
            .tag_open
            .next(self.src, at + 2)
            .is_some_and(|o| o < close);
        let blank = self
            .blank_line
            .next(self.src, at)
            .is_some_and(|b| b < close);
        (!reopened && !blank).then_some(close)
    }

    /// Reads the body of a verbatim tag up to its end tag; an opener without
    /// one is dropped.
    fn verbatim(&mut self, at: usize, name: &'a str, args: &'a str) {
        let body_start = self.pos;
        if self
            .end_tag_absent_from
            .get(name)
            .is_some_and(|&from| from <= body_start)
        {
            return;
        }
        match find_end_tag(self.src, body_start, name) {
            Some((end_start, end_end)) => {
                self.tokens.push(Token::Verbatim {
                    name,
                    args,
                    body: &self.src[body_start..end_start],
                    at_line_start: starts_line(self.src, at),
                });
                self.pos = end_end;
            }
            None => {
                self.end_tag_absent_from.insert(name, body_start);
            }
        }
    }
}

/// First `{%` or `{{` in `src[from..limit]`.
fn find_template_open(src: &str, from: usize, limit: usize) -> Option<usize> {
    let window = &src[from..limit];
    let bytes = window.as_bytes();
    let mut i = 0;
    while let Some(rel) = window.get(i..).and_then(|s| s.find('{')) {
        let at = i + rel;
        if matches!(bytes.get(at + 1), Some(b'%' | b'{')) {
            return Some(from + at);
        }
        i = at + 1;
    }
    None
}

/// `(name, args)` from the inside of `{% … %}`, whitespace control dashes removed.
fn parse_tag(inner: &str) -> Option<(&str, &str)> {
    let inner = inner.strip_prefix('-').unwrap_or(inner);
    let inner = inner.strip_suffix('-').unwrap_or(inner).trim();
    let name_end = inner
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(inner.len());
    let name = &inner[..name_end];
    (!name.is_empty()).then(|| (name, inner[name_end..].trim()))
}

/// Start and end of the first `{% endNAME %}` at or after `from`.
fn find_end_tag(src: &str, from: usize, name: &str) -> Option<(usize, usize)> {
    let mut i = from;
    while let Some(rel) = src.get(i..).and_then(|s| s.find("{%")) {
        let at = i + rel;
        if let Some(close) = short_tag_close(src, at, name.len())
            && parse_tag(&src[at + 2..close])
                .is_some_and(|(n, args)| args.is_empty() && n.strip_prefix("end") == Some(name))
        {
            return Some((at, close + 2));
        }
        i = at + 2;
    }
    None
}

/// The `%}` of an end tag opened at `at`. An end tag is short, so the search
/// is bounded, which keeps a long run of `{%` without `%}` linear.
fn short_tag_close(src: &str, at: usize, name_len: usize) -> Option<usize> {
    const SLACK: usize = 32;
    let bytes = src.as_bytes();
    let window_end = bytes.len().min(at + 2 + "end".len() + name_len + SLACK);
    let window = bytes.get(at + 2..window_end)?;
    window
        .windows(2)
        .position(|w| w == b"%}")
        .map(|p| at + 2 + p)
}

fn starts_line(src: &str, at: usize) -> bool {
    src[..at]
        .rsplit('\n')
        .next()
        .is_none_or(|before| before.trim().is_empty())
}

fn render(src: &str, tokens: &[Token<'_>]) -> String {
    let ends = match_pairs(tokens);
    let mut suffixes: HashMap<usize, String> = HashMap::new();
    let mut out = String::with_capacity(src.len() + 64);
    for (i, token) in tokens.iter().enumerate() {
        match token {
            Token::Text(t) => out.push_str(t),
            Token::InlineCode(code) => out.push_str(&unwrap_raw_markers(code)),
            Token::Verbatim {
                name,
                args,
                body,
                at_line_start,
            } => out.push_str(&render_verbatim(name, args, body, *at_line_start)),
            Token::Tag { name, args } => match ends[i] {
                Some(end) => {
                    let (prefix, suffix) = render_pair(name, args);
                    out.push_str(&prefix);
                    suffixes.insert(end, suffix);
                }
                None => match suffixes.remove(&i) {
                    Some(suffix) => out.push_str(&suffix),
                    None => out.push_str(&render_single(name, args)),
                },
            },
        }
    }
    out
}

/// For each opening tag, the index of its `{% endNAME %}`. Tags left open
/// inside a closed pair become single tags; stray end tags stay unmatched.
fn match_pairs(tokens: &[Token<'_>]) -> Vec<Option<usize>> {
    let mut ends = vec![None; tokens.len()];
    let mut stack: Vec<(usize, &str)> = Vec::new();
    let mut open_count: HashMap<&str, usize> = HashMap::new();
    for (i, token) in tokens.iter().enumerate() {
        let Token::Tag { name, .. } = token else {
            continue;
        };
        let target = name.strip_prefix("end").filter(|t| !t.is_empty());
        match target {
            Some(target) if open_count.get(target).is_some_and(|&n| n > 0) => {
                while let Some((j, open)) = stack.pop() {
                    if let Some(n) = open_count.get_mut(open) {
                        *n = n.saturating_sub(1);
                    }
                    if open == target {
                        ends[j] = Some(i);
                        break;
                    }
                }
            }
            Some(_) => {}
            None => {
                stack.push((i, name));
                *open_count.entry(name).or_default() += 1;
            }
        }
    }
    ends
}

/// Longest `{% raw %}` / `{% endraw %}` inner text looked at, spaces included.
const RAW_MARKER_MAX: usize = 64;

fn unwrap_raw_markers(code: &str) -> String {
    if !code.contains("{%") {
        return code.to_owned();
    }
    let mut out = String::with_capacity(code.len());
    let mut rest = code;
    while let Some(at) = rest.find("{%") {
        out.push_str(&rest[..at]);
        let after = &rest[at..];
        // The closing `%}` starts after the opening `{%` (in `{%}` the two
        // overlap, and slicing between them panicked: found by fuzzing).
        // A marker is short, so the search is bounded, which also keeps a
        // long run of `{%` without `%}` linear.
        let window = &after.as_bytes()[2..after.len().min(2 + RAW_MARKER_MAX)];
        let marker_len = window
            .windows(2)
            .position(|w| w == b"%}")
            .map(|p| p + 2)
            .and_then(|close| {
                parse_tag(&after[2..close])
                    .filter(|(name, _)| matches!(*name, "raw" | "endraw"))
                    .map(|_| close + 2)
            });
        match marker_len {
            Some(len) => rest = &after[len..],
            None => {
                out.push_str("{%");
                rest = &after[2..];
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn x(src: &str) -> String {
        expand_tag_plugins_html(src)
    }

    #[test]
    fn crossing_pairs_resolve_without_leaking() {
        assert_eq!(x("{% a %}1{% b %}2{% enda %}3{% endb %}"), "123");
    }

    #[test]
    fn nunjucks_output_is_removed() {
        assert_eq!(x("Hello {{ world }}!"), "Hello !");
        assert_eq!(x("a {{ unclosed\n\nb }}"), "a {{ unclosed\n\nb }}");
    }

    #[test]
    fn unterminated_tags_are_dropped_to_end_of_line() {
        assert_eq!(x("a {% youtube x\nnext"), "a \nnext");
        assert_eq!(
            x("a {% b {% youtube y %} c"),
            "a <a href=\"https://www.youtube.com/watch?v=y\">https://www.youtube.com/watch?v=y</a> c"
        );
        assert_eq!(x("a {% tag\n\n %} b"), "a \n\n %} b");
        assert_eq!(x("{%"), "");
        assert_eq!(x("x{% raw %}never closed"), "xnever closed");
        assert_eq!(x("{% %}{%-%}{% \"q\" %}z"), "z");
    }

    #[test]
    fn html_mode_expands_everywhere() {
        assert_eq!(
            expand_tag_plugins_html("<p>    {% youtube x %}</p>"),
            "<p>    <a href=\"https://www.youtube.com/watch?v=x\">https://www.youtube.com/watch?v=x</a></p>"
        );
        assert_eq!(expand_tag_plugins_html("<p>plain</p>"), "<p>plain</p>");
    }

    #[test]
    fn many_unterminated_tags_leave_nothing_behind() {
        // Linear time is the benchmarks' business; here only the outcome.
        let hostile = "{% raw %}{% x ".repeat(20_000) + &"{{".repeat(20_000);
        let out = x(&hostile);
        assert!(!out.contains("{%"));
    }
}
