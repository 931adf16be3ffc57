//! Hexo tag plugins (`{% name args %}`) and Nunjucks output (`{{ … }}`).
//!
//! Hexo renders these before Markdown; a feed reader must never see the raw
//! syntax. Rules (see <https://hexo.io/docs/tag-plugins>):
//!
//! * `codeblock`/`code` → `<pre><code class="language-x">` with the body
//!   escaped; a title/URL becomes a caption paragraph above it.
//! * `raw`/`verbatim` → the body verbatim (it is not scanned for tags).
//! * `blockquote`/`quote` → `<blockquote>` plus a footer for author/source;
//!   `pullquote` → `<blockquote>`.
//! * `img`, `asset_img` → `<img>`; `link`, `asset_link` → `<a>`;
//!   `asset_path`, `url_for`, `full_url_for` → the path (the cleaner resolves it).
//! * `youtube`, `vimeo`, `iframe`, `jsfiddle`, `gist` → a plain link: readers run
//!   no embedded players.
//! * `post_link slug [title]` → the title (or slug) as text: the other post's
//!   URL is not known here; `post_path` → nothing.
//! * Any other paired tag (`note`, `if`, `for`, theme tags, …) → its content;
//!   any other single tag (`include_code`, `else`, a stray `endx`) → nothing.
//! * `{{ … }}` → nothing (Hexo would evaluate it, usually to nothing).
//! * A `{%` without its `%}` (before a blank line or the next `{%`) is dropped
//!   up to the end of its line.
//!
//! In Markdown, code is left alone, as Hexo does (its backtick-fence filter
//! escapes braces first): fenced and indented code blocks, math and inline
//! code spans keep their text verbatim, except that an inline code span loses
//! the `{% raw %}`/`{% endraw %}` markers Hexo's own docs wrap around examples
//! (`` `{% raw %}{% post_link x %}{% endraw %}` `` shows `{% post_link x %}`).
//!
//! The scan is linear: each search for a closing delimiter is remembered, so
//! hostile input (thousands of unterminated `{%`) cannot make it quadratic,
//! and nesting is resolved with an explicit stack, never recursion.

use std::collections::HashMap;
use std::ops::Range;

use pulldown_cmark::{Event, Parser, Tag};

use super::markdown::markdown_options;
use crate::text::escape_html;

/// Expands tag plugins in a Markdown body, leaving code untouched.
pub fn expand_tag_plugins(src: &str) -> String {
    if !has_template_syntax(src) {
        return src.to_owned();
    }
    expand(src, code_ranges(src))
}

/// Expands tag plugins in an HTML body: nothing there is Markdown code.
pub fn expand_tag_plugins_html(src: &str) -> String {
    if !has_template_syntax(src) {
        return src.to_owned();
    }
    expand(src, Vec::new())
}

fn has_template_syntax(src: &str) -> bool {
    src.contains("{%") || src.contains("{{")
}

/// Source ranges Hexo leaves alone, in order; `true` marks inline code spans.
fn code_ranges(src: &str) -> Vec<(Range<usize>, bool)> {
    let mut ranges: Vec<(Range<usize>, bool)> = Parser::new_ext(src, markdown_options())
        .into_offset_iter()
        .filter_map(|(event, range)| match event {
            Event::Start(Tag::CodeBlock(_)) | Event::InlineMath(_) | Event::DisplayMath(_) => {
                Some((range, false))
            }
            Event::Code(_) => Some((range, true)),
            _ => None,
        })
        .collect();
    ranges.sort_by_key(|(r, _)| r.start);
    let mut last_end = 0;
    ranges.retain(|(r, _)| {
        let keep = r.start >= last_end && r.start < r.end;
        if keep {
            last_end = r.end;
        }
        keep
    });
    ranges
}

fn expand(src: &str, protected: Vec<(Range<usize>, bool)>) -> String {
    let tokens = Scanner::new(src, protected).run();
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

fn is_verbatim_tag(name: &str) -> bool {
    matches!(name, "raw" | "verbatim" | "codeblock" | "code")
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
    protected: Vec<(Range<usize>, bool)>,
    next_protected: usize,
    pos: usize,
    tokens: Vec<Token<'a>>,
    tag_close: NextFinder,
    tag_open: NextFinder,
    var_close: NextFinder,
    blank_line: BlankLineFinder,
    /// Per verbatim tag name: no end tag exists at or after this offset.
    end_tag_absent_from: HashMap<&'a str, usize>,
}

impl<'a> Scanner<'a> {
    fn new(src: &'a str, protected: Vec<(Range<usize>, bool)>) -> Self {
        Self {
            src,
            protected,
            next_protected: 0,
            pos: 0,
            tokens: Vec::new(),
            tag_close: NextFinder::new("%}"),
            tag_open: NextFinder::new("{%"),
            var_close: NextFinder::new("}}"),
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
        while let Some((range, _)) = self.protected.get(self.next_protected) {
            if range.end <= self.pos {
                self.next_protected += 1;
                continue;
            }
            if range.start > self.pos {
                return range.start;
            }
            let (range, inline) = (self.pos..range.end, self.protected[self.next_protected].1);
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
            self.pos = dangling_tag_end(self.src, at, self.tag_open.next(self.src, at + 2));
            return;
        };
        self.pos = close + 2;
        let Some((name, args)) = parse_tag(&self.src[at + 2..close]) else {
            return;
        };
        if is_verbatim_tag(name) {
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

/// Where the text of an unterminated tag at `at` ends: the end of its line,
/// or the next `{%` if that comes first.
fn dangling_tag_end(src: &str, at: usize, next_open: Option<usize>) -> usize {
    let line_end = src[at..].find('\n').map_or(src.len(), |i| at + i);
    next_open.map_or(line_end, |o| o.min(line_end))
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

/// Hexo's argument splitting: whitespace-separated, quotes group words and
/// are removed (the other kind of quote inside a group is kept).
fn split_args(args: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    let mut quote: Option<char> = None;
    let mut in_token = false;
    for c in args.chars() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => current.push(c),
            None if c == '"' || c == '\'' => {
                quote = Some(c);
                in_token = true;
            }
            None if c.is_whitespace() => {
                if in_token {
                    out.push(std::mem::take(&mut current));
                    in_token = false;
                }
            }
            None => {
                current.push(c);
                in_token = true;
            }
        }
    }
    if in_token {
        out.push(current);
    }
    out
}

fn render_verbatim(name: &str, args: &str, body: &str, at_line_start: bool) -> String {
    match name {
        "codeblock" | "code" => render_codeblock(args, body, at_line_start),
        _ => body.to_owned(),
    }
}

fn render_pair(name: &str, args: &str) -> (String, String) {
    // Blank lines let Markdown render the content between the HTML tags.
    match name {
        "blockquote" | "quote" => (
            "<blockquote>\n\n".to_owned(),
            format!("\n\n{}</blockquote>", blockquote_footer(args)),
        ),
        "pullquote" => (
            "<blockquote>\n\n".to_owned(),
            "\n\n</blockquote>".to_owned(),
        ),
        _ => (String::new(), String::new()),
    }
}

fn render_single(name: &str, args: &str) -> String {
    let args = split_args(args);
    let first = args.first().map(String::as_str).unwrap_or_default();
    match name {
        "img" | "asset_img" => render_img(&args),
        "link" => render_link(&args),
        "asset_link" => render_asset_link(&args),
        "asset_path" | "url_for" | "full_url_for" => escape_html(first),
        "post_link" => render_post_link(&args),
        "youtube" => render_youtube(&args),
        "vimeo" if !first.is_empty() => link_to(&format!("https://vimeo.com/{first}")),
        "jsfiddle" if !first.is_empty() => link_to(&format!("https://jsfiddle.net/{first}/")),
        "gist" if !first.is_empty() => link_to(&format!("https://gist.github.com/{first}")),
        "iframe" if !first.is_empty() => link_to(first),
        _ => String::new(),
    }
}

fn link_to(url: &str) -> String {
    let url = escape_html(url);
    format!("<a href=\"{url}\">{url}</a>")
}

fn is_url(arg: &str) -> bool {
    arg.contains("://") || arg.starts_with('/')
}

fn is_path_like(arg: &str) -> bool {
    arg.contains('/') || arg.contains('.')
}

/// `[class names] src [width] [height] ["title" ["alt"]]` (img and asset_img).
fn render_img(args: &[String]) -> String {
    let src_at = args.iter().position(|a| is_path_like(a)).unwrap_or(0);
    let Some(src) = args.get(src_at) else {
        return String::new();
    };
    let mut rest = args.get(src_at + 1..).unwrap_or_default().iter().peekable();
    let mut html = format!("<img src=\"{}\"", escape_html(src));
    for attr in ["width", "height"] {
        if let Some(v) = rest.next_if(|a| !a.is_empty() && a.bytes().all(|b| b.is_ascii_digit())) {
            html.push_str(&format!(" {attr}=\"{v}\""));
        }
    }
    let meta = rest.map(String::as_str).collect::<Vec<_>>().join(" ");
    let mut parts = meta
        .split(['"', '\''])
        .map(str::trim)
        .filter(|p| !p.is_empty());
    if let Some(title) = parts.next() {
        let alt = parts.next().unwrap_or(title);
        html.push_str(&format!(
            " title=\"{}\" alt=\"{}\"",
            escape_html(title),
            escape_html(alt)
        ));
    }
    html.push('>');
    html
}

/// `text… url [external] [title]`.
fn render_link(args: &[String]) -> String {
    let url_at = args
        .iter()
        .position(|a| is_url(a))
        .or_else(|| args.len().checked_sub(1));
    let Some(url_at) = url_at else {
        return String::new();
    };
    let url = &args[url_at];
    let text = if url_at == 0 {
        url.clone()
    } else {
        args[..url_at].join(" ")
    };
    let mut rest = &args[url_at + 1..];
    if rest.first().is_some_and(|a| a == "true" || a == "false") {
        rest = &rest[1..];
    }
    let title = rest.join(" ");
    let title_attr = if title.is_empty() {
        String::new()
    } else {
        format!(" title=\"{}\"", escape_html(&title))
    };
    format!(
        "<a href=\"{}\"{title_attr}>{}</a>",
        escape_html(url),
        escape_html(&text)
    )
}

/// Drops Hexo's trailing `escape` flag, returning whether escaping stays on.
fn strip_escape_flag(args: &[String]) -> (&[String], bool) {
    match args.split_last() {
        Some((last, rest)) if last == "true" || last == "false" => (rest, last == "true"),
        _ => (args, true),
    }
}

/// `filename [title] [escape]`.
fn render_asset_link(args: &[String]) -> String {
    let (args, escape) = strip_escape_flag(args);
    let Some((path, title)) = args.split_first() else {
        return String::new();
    };
    let text = if title.is_empty() {
        path.clone()
    } else {
        title.join(" ")
    };
    let text = if escape { escape_html(&text) } else { text };
    format!("<a href=\"{}\">{text}</a>", escape_html(path))
}

/// `slug [title] [escape]`: the post's URL is unknown here, so text only.
fn render_post_link(args: &[String]) -> String {
    let (args, escape) = strip_escape_flag(args);
    let Some((slug, title)) = args.split_first() else {
        return String::new();
    };
    let text = if title.is_empty() {
        slug.clone()
    } else {
        title.join(" ")
    };
    if escape { escape_html(&text) } else { text }
}

/// `id [type] [cookie]`.
fn render_youtube(args: &[String]) -> String {
    let Some(id) = args.first() else {
        return String::new();
    };
    let url = if args.get(1).is_some_and(|t| t == "playlist") {
        format!("https://www.youtube.com/playlist?list={id}")
    } else {
        format!("https://www.youtube.com/watch?v={id}")
    };
    link_to(&url)
}

/// `[author[, source]] [link] [source_link_title]`, as Hexo reads it.
fn blockquote_footer(args: &str) -> String {
    let words = split_args(args);
    let (author, source, title) = match words
        .iter()
        .position(|w| w.starts_with("http://") || w.starts_with("https://"))
    {
        Some(at) => (
            words[..at].join(" "),
            Some(words[at].as_str()),
            words[at + 1..].join(" "),
        ),
        None => {
            let all = words.join(" ");
            match all.split_once(',') {
                Some((author, title)) => (author.trim().to_owned(), None, title.trim().to_owned()),
                None => (all, None, String::new()),
            }
        }
    };
    let mut footer = String::new();
    if !author.is_empty() {
        footer.push_str(&format!("<strong>{}</strong>", escape_html(&author)));
    }
    match (source, title.is_empty()) {
        (Some(source), _) => {
            let text = if title.is_empty() { source } else { &title };
            footer.push_str(&format!(
                "<cite><a href=\"{}\">{}</a></cite>",
                escape_html(source),
                escape_html(text)
            ));
        }
        (None, false) => footer.push_str(&format!("<cite>{}</cite>", escape_html(&title))),
        (None, true) => {}
    }
    if footer.is_empty() {
        footer
    } else {
        format!("<footer>{footer}</footer>")
    }
}

/// `[title] [lang:language] [url] [link text] [option:value…]`.
fn render_codeblock(args: &str, body: &str, at_line_start: bool) -> String {
    const OPTIONS: &[&str] = &[
        "line_number",
        "line_threshold",
        "highlight",
        "first_line",
        "mark",
        "wrap",
    ];
    let mut lang = None;
    let mut title = Vec::new();
    let mut url = None;
    let mut link_text = Vec::new();
    for word in split_args(args) {
        if let Some(l) = word.strip_prefix("lang:") {
            lang = Some(l.to_owned());
        } else if word
            .split_once(':')
            .is_some_and(|(k, _)| OPTIONS.contains(&k))
        {
        } else if url.is_none() && (word.starts_with("http://") || word.starts_with("https://")) {
            url = Some(word);
        } else if url.is_some() {
            link_text.push(word);
        } else {
            title.push(word);
        }
    }
    // Markdown needs the `<pre>` at the start of a line to leave the code raw.
    let mut html = String::from(if at_line_start { "" } else { "\n\n" });
    html.push_str(&codeblock_caption(
        &title.join(" "),
        url.as_deref(),
        &link_text.join(" "),
    ));
    let class = lang
        .map(|l| {
            l.chars()
                .filter(|c| c.is_ascii_alphanumeric() || "+-_#.".contains(*c))
                .collect::<String>()
        })
        .filter(|l| !l.is_empty())
        .map(|l| format!(" class=\"language-{l}\""))
        .unwrap_or_default();
    html.push_str(&format!(
        "<pre><code{class}>{}</code></pre>",
        escape_html(trim_one_newline(body))
    ));
    html
}

fn codeblock_caption(title: &str, url: Option<&str>, link_text: &str) -> String {
    let mut caption = String::new();
    if !title.is_empty() {
        caption.push_str(&format!("<strong>{}</strong>", escape_html(title)));
    }
    if let Some(url) = url {
        let text = if link_text.is_empty() { url } else { link_text };
        if !caption.is_empty() {
            caption.push(' ');
        }
        caption.push_str(&format!(
            "<a href=\"{}\">{}</a>",
            escape_html(url),
            escape_html(text)
        ));
    }
    if caption.is_empty() {
        caption
    } else {
        format!("<p>{caption}</p>\n\n")
    }
}

/// The body without the line break after the opening tag and before the closing one.
fn trim_one_newline(body: &str) -> &str {
    let body = body
        .strip_prefix("\r\n")
        .or_else(|| body.strip_prefix('\n'))
        .unwrap_or(body);
    body.strip_suffix("\r\n")
        .or_else(|| body.strip_suffix('\n'))
        .unwrap_or(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn x(src: &str) -> String {
        expand_tag_plugins(src)
    }

    #[test]
    fn codeblock_with_language_is_escaped_code() {
        assert_eq!(
            x("{% codeblock lang:js mark:1 %}\nif (a < b && c) {{ x }}\n{% endcodeblock %}"),
            "<pre><code class=\"language-js\">if (a &lt; b &amp;&amp; c) {{ x }}</code></pre>"
        );
        assert_eq!(
            x("{% code %}\nplain\n{% endcode %}"),
            "<pre><code>plain</code></pre>"
        );
    }

    #[test]
    fn codeblock_caption_and_link() {
        assert_eq!(
            x(
                "{% codeblock _.compact http://underscorejs.org/#compact Underscore.js %}\n_.compact([0, 1]);\n{% endcodeblock %}"
            ),
            "<p><strong>_.compact</strong> <a href=\"http://underscorejs.org/#compact\">Underscore.js</a></p>\n\n<pre><code>_.compact([0, 1]);</code></pre>"
        );
    }

    #[test]
    fn codeblock_mid_line_starts_a_new_block() {
        assert_eq!(
            x("see {% code %}a{% endcode %}"),
            "see \n\n<pre><code>a</code></pre>"
        );
    }

    #[test]
    fn blockquote_variants() {
        assert_eq!(
            x("{% blockquote %}\nq\n{% endblockquote %}"),
            "<blockquote>\n\n\nq\n\n\n</blockquote>"
        );
        assert_eq!(
            x("{% blockquote David Levithan, Wide Awake %}q{% endblockquote %}"),
            "<blockquote>\n\nq\n\n<footer><strong>David Levithan</strong><cite>Wide Awake</cite></footer></blockquote>"
        );
        assert_eq!(
            x("{% quote Seth Godin http://s.example/x Welcome to Island %}q{% endquote %}"),
            "<blockquote>\n\nq\n\n<footer><strong>Seth Godin</strong><cite><a href=\"http://s.example/x\">Welcome to Island</a></cite></footer></blockquote>"
        );
        assert_eq!(
            x("{% pullquote left %}p{% endpullquote %}"),
            "<blockquote>\n\np\n\n</blockquote>"
        );
    }

    #[test]
    fn raw_is_verbatim() {
        assert_eq!(
            x("{% raw %}Hello {{ world }} {% youtube x %}{% endraw %}"),
            "Hello {{ world }} {% youtube x %}"
        );
        assert_eq!(x("{%- raw -%}a{%- endraw -%}"), "a");
    }

    #[test]
    fn img_tag() {
        assert_eq!(
            x("{% img left /images/a.jpg 200 100 '\"A title\" \"alt text\"' %}"),
            "<img src=\"/images/a.jpg\" width=\"200\" height=\"100\" title=\"A title\" alt=\"alt text\">"
        );
        assert_eq!(
            x("{% img https://x.example/a.png %}"),
            "<img src=\"https://x.example/a.png\">"
        );
        assert_eq!(x("{% img %}"), "");
    }

    #[test]
    fn asset_tags() {
        assert_eq!(
            x("{% asset_img post-image foo.jpg 500 \"lorem ipsum'dolor'\" %}"),
            "<img src=\"foo.jpg\" width=\"500\" title=\"lorem ipsum\" alt=\"dolor\">"
        );
        assert_eq!(
            x("{% asset_img foo.jpg A title %}"),
            "<img src=\"foo.jpg\" title=\"A title\" alt=\"A title\">"
        );
        assert_eq!(x("{% asset_path a.pdf %}"), "a.pdf");
        assert_eq!(
            x("{% asset_link a.pdf 'The <PDF>' %}"),
            "<a href=\"a.pdf\">The &lt;PDF&gt;</a>"
        );
        assert_eq!(x("{% asset_link a.pdf %}"), "<a href=\"a.pdf\">a.pdf</a>");
    }

    #[test]
    fn link_tags() {
        assert_eq!(
            x("{% link Hexo site https://hexo.io true Docs %}"),
            "<a href=\"https://hexo.io\" title=\"Docs\">Hexo site</a>"
        );
        assert_eq!(
            x("{% link https://hexo.io %}"),
            "<a href=\"https://hexo.io\">https://hexo.io</a>"
        );
        assert_eq!(
            x("{% post_link hexo-4-released 'How to use <b> tag' %}"),
            "How to use &lt;b&gt; tag"
        );
        assert_eq!(
            x("{% post_link hexo-4-released '<b>bold</b>' false %}"),
            "<b>bold</b>"
        );
        assert_eq!(x("{% post_link hello-world %}"), "hello-world");
        assert_eq!(x("[a]({% post_path lorem %})"), "[a]()");
    }

    #[test]
    fn embeds_become_links() {
        assert_eq!(
            x("{% youtube lJIrF4YjHfQ %}"),
            "<a href=\"https://www.youtube.com/watch?v=lJIrF4YjHfQ\">https://www.youtube.com/watch?v=lJIrF4YjHfQ</a>"
        );
        assert_eq!(
            x("{% youtube PL9hW 'playlist' false %}"),
            "<a href=\"https://www.youtube.com/playlist?list=PL9hW\">https://www.youtube.com/playlist?list=PL9hW</a>"
        );
        assert_eq!(
            x("{% vimeo 82090131 %}"),
            "<a href=\"https://vimeo.com/82090131\">https://vimeo.com/82090131</a>"
        );
        assert_eq!(
            x("{% iframe https://e.example/x 400 300 %}"),
            "<a href=\"https://e.example/x\">https://e.example/x</a>"
        );
        assert_eq!(
            x("{% jsfiddle ccWP7 %}"),
            "<a href=\"https://jsfiddle.net/ccWP7/\">https://jsfiddle.net/ccWP7/</a>"
        );
        assert_eq!(
            x("{% gist 996818 %}"),
            "<a href=\"https://gist.github.com/996818\">https://gist.github.com/996818</a>"
        );
    }

    #[test]
    fn unknown_tags() {
        assert_eq!(
            x("{% note warn \"Warning!\" %}\ncontent\n{% endnote %}"),
            "\ncontent\n"
        );
        assert_eq!(x("a{% include_code lang:js test.js %}b"), "ab");
        assert_eq!(x("a{% endfoo %}b{% else %}c"), "abc");
        assert_eq!(x("{% if x %}a{% else %}b{% endif %}"), "ab");
        assert_eq!(
            x("{% note %}{% blockquote %}q{% endblockquote %}{% endnote %}"),
            "<blockquote>\n\nq\n\n</blockquote>"
        );
    }

    #[test]
    fn crossing_pairs_resolve_without_leaking() {
        assert_eq!(x("{% a %}1{% b %}2{% enda %}3{% endb %}"), "123");
    }

    #[test]
    fn nunjucks_output_is_removed_outside_code() {
        assert_eq!(x("Hello {{ world }}!"), "Hello !");
        assert_eq!(x("a {{ unclosed\n\nb }}"), "a {{ unclosed\n\nb }}");
        assert_eq!(
            x("`{{ x }}` and\n\n```\n{{ y }}\n```\n"),
            "`{{ x }}` and\n\n```\n{{ y }}\n```\n"
        );
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
    fn code_is_left_alone() {
        let fenced = "```\n{% blockquote %}\nx\n{% endblockquote %}\n```\n";
        assert_eq!(x(fenced), fenced);
        let indented = "para\n\n    {% youtube x %}\n\nafter {% youtube y %}";
        assert!(x(indented).starts_with("para\n\n    {% youtube x %}\n\nafter <a"));
        assert_eq!(
            x("use `{% post_link slug %}` here"),
            "use `{% post_link slug %}` here"
        );
        assert_eq!(x("$\\frac{{a}}{b}$ ok"), "$\\frac{{a}}{b}$ ok");
    }

    #[test]
    fn inline_code_unwraps_raw_markers() {
        assert_eq!(
            x("`{% raw %}{% post_link slug %}{% endraw %}`."),
            "`{% post_link slug %}`."
        );
        // Fuzzing: in `{%}` the closing `%}` overlaps the opening `{%`.
        assert_eq!(x("`{%}`"), "`{%}`");
        assert_eq!(x("`{%} {% raw %}`"), "`{%} `");
        // A long run of openings without a close stays linear.
        let code = format!("`{}`", "{%".repeat(200_000));
        let started = std::time::Instant::now();
        assert_eq!(x(&code), code);
        assert!(started.elapsed().as_secs() < 5);
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
    fn args_split_like_hexo() {
        assert_eq!(
            split_args(r#"a "b c" 'd "e"' f"#),
            ["a", "b c", "d \"e\"", "f"]
        );
        assert_eq!(split_args("  "), Vec::<String>::new());
        assert_eq!(split_args("''"), [""]);
    }

    #[test]
    fn many_unterminated_tags_leave_nothing_behind() {
        // Linear time is the benchmarks' business; here only the outcome.
        let hostile = "{% raw %}{% x ".repeat(20_000) + &"{{".repeat(20_000);
        let out = x(&hostile);
        assert!(!out.contains("{%"));
    }
}
