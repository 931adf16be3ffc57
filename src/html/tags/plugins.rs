//! The tag plugins themselves: one renderer per Hexo tag. To support a new
//! tag, add its arm to [`render_single`] (a `{% name %}`), [`render_pair`]
//! (`{% name %}…{% endname %}`, content still scanned) or, for a body that is
//! not scanned, [`is_verbatim`] and [`render_verbatim`].
//!
//! Rules (see <https://hexo.io/docs/tag-plugins>):
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

use crate::text::escape_html;

/// Tags whose body is not scanned for other tags.
pub(super) fn is_verbatim(name: &str) -> bool {
    matches!(name, "raw" | "verbatim" | "codeblock" | "code")
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

pub(super) fn render_verbatim(name: &str, args: &str, body: &str, at_line_start: bool) -> String {
    match name {
        "codeblock" | "code" => render_codeblock(args, body, at_line_start),
        _ => body.to_owned(),
    }
}

pub(super) fn render_pair(name: &str, args: &str) -> (String, String) {
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

pub(super) fn render_single(name: &str, args: &str) -> String {
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
    match link_text(args) {
        Some((path, text)) => format!("<a href=\"{}\">{text}</a>", escape_html(path)),
        None => String::new(),
    }
}

/// `slug [title] [escape]`: the post's URL is unknown here, so text only.
fn render_post_link(args: &[String]) -> String {
    link_text(args).map(|(_, text)| text).unwrap_or_default()
}

/// The target and the shown text of a link tag (`target [title] [escape]`):
/// the title, else the target, escaped unless the flag says `false`.
fn link_text(args: &[String]) -> Option<(&String, String)> {
    let (args, escape) = strip_escape_flag(args);
    let (target, title) = args.split_first()?;
    let text = if title.is_empty() {
        target.clone()
    } else {
        title.join(" ")
    };
    Some((target, if escape { escape_html(&text) } else { text }))
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
        super::super::expand_tag_plugins_html(src)
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
    fn args_split_like_hexo() {
        assert_eq!(
            split_args(r#"a "b c" 'd "e"' f"#),
            ["a", "b c", "d \"e\"", "f"]
        );
        assert_eq!(split_args("  "), Vec::<String>::new());
        assert_eq!(split_args("''"), [""]);
    }
}
