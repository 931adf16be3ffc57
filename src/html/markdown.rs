//! Markdown bodies to HTML, the way a Hexo site would render them.

use pulldown_cmark::{Event, Options, Parser, Tag, html};

use super::tags::{self, CodeRange};

/// GitHub-flavoured extensions Hexo's renderers offer, plus `$…$` math, so
/// TeX keeps its underscores instead of turning into emphasis.
fn markdown_options() -> Options {
    Options::ENABLE_TABLES
        | Options::ENABLE_STRIKETHROUGH
        | Options::ENABLE_TASKLISTS
        | Options::ENABLE_FOOTNOTES
        | Options::ENABLE_MATH
}

/// Expands tag plugins in a Markdown body, leaving code untouched.
pub fn expand_tag_plugins(src: &str) -> String {
    if !tags::has_template_syntax(src) {
        return src.to_owned();
    }
    tags::expand(src, code_ranges(src))
}

/// Source ranges Hexo leaves alone, in order and without overlap: code
/// blocks, math and (marked `inline`) code spans.
fn code_ranges(src: &str) -> Vec<CodeRange> {
    let mut ranges: Vec<CodeRange> = Parser::new_ext(src, markdown_options())
        .into_offset_iter()
        .filter_map(|(event, range)| match event {
            Event::Start(Tag::CodeBlock(_)) | Event::InlineMath(_) | Event::DisplayMath(_) => {
                Some(CodeRange {
                    range,
                    inline: false,
                })
            }
            Event::Code(_) => Some(CodeRange {
                range,
                inline: true,
            }),
            _ => None,
        })
        .collect();
    ranges.sort_by_key(|c| c.range.start);
    let mut last_end = 0;
    ranges.retain(|CodeRange { range, .. }| {
        let keep = range.start >= last_end && range.start < range.end;
        if keep {
            last_end = range.end;
        }
        keep
    });
    ranges
}

/// Renders a Markdown body (CommonMark + tables, strikethrough, task lists,
/// footnotes, math) after expanding Hexo tag plugins.
///
/// Raw HTML passes through: the result is meant for [`super::Cleaner::clean`].
/// Task-list checkboxes become ☐/☑, since the cleaner allows no form controls.
pub fn markdown_to_html(md: &str) -> String {
    let expanded = expand_tag_plugins(md);
    let events = Parser::new_ext(&expanded, markdown_options()).map(|event| match event {
        Event::TaskListMarker(done) => Event::Text(if done { "☑ " } else { "☐ " }.into()),
        other => other,
    });
    let mut out = String::with_capacity(expanded.len() + expanded.len() / 4);
    html::push_html(&mut out, events);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gfm_features() {
        assert_eq!(
            markdown_to_html("| a | b |\n|---|---|\n| 1 | 2 |\n"),
            "<table><thead><tr><th>a</th><th>b</th></tr></thead><tbody>\n<tr><td>1</td><td>2</td></tr>\n</tbody></table>\n"
        );
        assert_eq!(markdown_to_html("~~old~~"), "<p><del>old</del></p>\n");
        assert_eq!(
            markdown_to_html("- [x] done\n- [ ] todo\n"),
            "<ul>\n<li>☑ done</li>\n<li>☐ todo</li>\n</ul>\n"
        );
        assert!(markdown_to_html("a[^1]\n\n[^1]: note\n").contains("footnote"));
    }

    #[test]
    fn fenced_code_keeps_its_language() {
        assert_eq!(
            markdown_to_html("```rust\nfn main() { println!(\"{{}}\"); }\n```\n"),
            "<pre><code class=\"language-rust\">fn main() { println!(\"{{}}\"); }\n</code></pre>\n"
        );
    }

    #[test]
    fn raw_html_passes_through() {
        assert_eq!(
            markdown_to_html("<center><img src=\"a.png\"></center>\n\n## T\n"),
            "<center><img src=\"a.png\"></center>\n<h2>T</h2>\n"
        );
    }

    #[test]
    fn tag_plugins_are_expanded_first() {
        assert_eq!(
            markdown_to_html("{% blockquote Author, Book %}\n*quoted*\n{% endblockquote %}\n"),
            "<blockquote>\n<p><em>quoted</em></p>\n<footer><strong>Author</strong><cite>Book</cite></footer></blockquote>\n"
        );
        assert_eq!(
            markdown_to_html(
                "{% codeblock lang:py %}\ndef f():\n\n    return '*x*'\n{% endcodeblock %}\n"
            ),
            "<pre><code class=\"language-py\">def f():\n\n    return &#39;*x*&#39;</code></pre>\n"
        );
    }

    #[test]
    fn math_is_not_emphasis() {
        assert_eq!(
            markdown_to_html("$a_1 + b_2$"),
            "<p><span class=\"math math-inline\">a_1 + b_2</span></p>\n"
        );
    }

    fn x(src: &str) -> String {
        expand_tag_plugins(src)
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
        // A long run of openings without a close stays linear: four times
        // the input costs about four times as much, not sixteen (the best
        // of three runs each, a ratio that load on the machine leaves be).
        let cost = |n: usize| {
            let code = format!("`{}`", "{%".repeat(n));
            (0..3)
                .map(|_| {
                    let started = std::time::Instant::now();
                    assert_eq!(x(&code), code);
                    started.elapsed()
                })
                .min()
                .unwrap_or_default()
        };
        let (small, large) = (cost(50_000), cost(200_000));
        assert!(
            large < small * 10,
            "{small:?} for 50,000 openings, {large:?} for 200,000"
        );
    }

    #[test]
    fn nunjucks_output_is_kept_in_code() {
        assert_eq!(
            x("`{{ x }}` and\n\n```\n{{ y }}\n```\n"),
            "`{{ x }}` and\n\n```\n{{ y }}\n```\n"
        );
    }
}
