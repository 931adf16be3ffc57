//! Cutting a post into front matter and body, the way Hexo does, with the
//! line numbers reports need. Text only: no YAML is read here.

/// A post cut into its parts; line numbers are 1-based in the file.
#[derive(Debug, PartialEq, Eq)]
pub struct Split<'a> {
    pub yaml: Option<&'a str>,
    pub yaml_line: usize,
    pub body: &'a str,
    /// An opening fence followed by `key:` lines and never closed: a file
    /// cut short. Hexo would publish it as a body of YAML text dated by
    /// its modification time, at the top of every feed; refeed rejects it.
    pub unclosed: bool,
    /// An opening fence that is never closed, whatever follows it: with no
    /// front matter, the first line is a `<hr>` of the body.
    pub opened: bool,
}

/// Cuts the text the way Hexo does: an optional run of blank lines, then a
/// `---` (or `;;;` for JSON) fence, the front matter, and a closing fence.
/// Hexo also accepts front matter with no opening fence; that form is taken
/// only when the first line looks like a `key:` so that a plain Markdown
/// file with a `---` rule is not mistaken for one.
pub fn split(text: &str) -> Split<'_> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let lines = Lines::new(text);
    let first = lines.clone().find(|l| !l.text.trim().is_empty());
    let Some(first) = first else {
        return no_front_matter(text);
    };
    let fence = first.text.trim_end();
    // A file that is nothing but the start of a fence (`-`, `--`, `---`
    // and blank lines) is a post cut within its first bytes, not a post
    // whose body is a rule: Hexo files all begin so.
    if text.trim().len() == fence.trim().len() && is_fence_start(fence.trim()) {
        return Split {
            unclosed: true,
            opened: true,
            yaml_line: first.number,
            ..no_front_matter(text)
        };
    }
    if is_fence(fence) {
        let closing = lines
            .clone()
            .skip_while(|l| l.start <= first.start)
            .find(|l| l.text.trim_end() == fence);
        return match closing {
            Some(close) => Split {
                yaml: Some(&text[first.end..close.start]),
                yaml_line: first.number + 1,
                body: &text[close.end..],
                unclosed: false,
                opened: false,
            },
            None => {
                let next = lines
                    .skip_while(|l| l.start <= first.start)
                    .find(|l| !l.text.trim().is_empty());
                Split {
                    unclosed: next.is_some_and(|l| looks_like_key(l.text)),
                    opened: true,
                    yaml_line: first.number,
                    ..no_front_matter(text)
                }
            }
        };
    }
    if !looks_like_key(first.text) {
        return no_front_matter(text);
    }
    match lines.clone().find(|l| is_fence(l.text.trim_end())) {
        Some(close) => Split {
            yaml: Some(&text[..close.start]),
            yaml_line: 1,
            body: &text[close.end..],
            unclosed: false,
            opened: false,
        },
        None => no_front_matter(text),
    }
}

fn no_front_matter(text: &str) -> Split<'_> {
    Split {
        yaml: None,
        yaml_line: 1,
        body: text,
        unclosed: false,
        opened: false,
    }
}

/// A fence, or its first one or two characters.
fn is_fence_start(line: &str) -> bool {
    !line.is_empty() && (line.bytes().all(|b| b == b'-') || line.bytes().all(|b| b == b';'))
}

fn is_fence(line: &str) -> bool {
    line.len() >= 3 && (line.bytes().all(|b| b == b'-') || line.bytes().all(|b| b == b';'))
}

/// `title: x`, `"date": y`: a plain or quoted key followed by a colon.
fn looks_like_key(line: &str) -> bool {
    let line = line.trim_end();
    let Some((key, _)) = line.split_once(':') else {
        return false;
    };
    let key = key.trim_matches(|c| c == '"' || c == '\'');
    !key.is_empty()
        && !key.starts_with(char::is_whitespace)
        && key
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | ' '))
}

/// Lines with their byte spans (end includes the newline) and numbers.
#[derive(Clone)]
struct Lines<'a> {
    text: &'a str,
    pos: usize,
    number: usize,
}

struct Line<'a> {
    text: &'a str,
    start: usize,
    end: usize,
    number: usize,
}

impl<'a> Lines<'a> {
    fn new(text: &'a str) -> Self {
        Lines {
            text,
            pos: 0,
            number: 0,
        }
    }
}

impl<'a> Iterator for Lines<'a> {
    type Item = Line<'a>;
    fn next(&mut self) -> Option<Line<'a>> {
        if self.pos >= self.text.len() {
            return None;
        }
        let start = self.pos;
        let rest = &self.text[start..];
        let (len, end) = match rest.find('\n') {
            Some(i) => (i, start + i + 1),
            None => (rest.len(), self.text.len()),
        };
        self.pos = end;
        self.number += 1;
        let text = rest[..len].strip_suffix('\r').unwrap_or(&rest[..len]);
        Some(Line {
            text,
            start,
            end,
            number: self.number,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_plain_fenced() {
        let s = split("---\ntitle: a\n---\nbody\n---\nmore");
        assert_eq!(s.yaml, Some("title: a\n"));
        assert_eq!(s.yaml_line, 2);
        assert_eq!(s.body, "body\n---\nmore");
    }

    #[test]
    fn split_leading_blank_lines_bom_and_crlf() {
        let s = split("\u{feff}\n\n---\r\ntitle: a\r\n---\r\nbody");
        assert_eq!(s.yaml, Some("title: a\r\n"));
        assert_eq!(s.yaml_line, 4);
        assert_eq!(s.body, "body");
    }

    #[test]
    fn split_without_opening_fence() {
        let s = split("title: a\ndate: 2013-12-24 23:31:06\n---\nbody");
        assert_eq!(s.yaml, Some("title: a\ndate: 2013-12-24 23:31:06\n"));
        assert_eq!(s.body, "body");
    }

    #[test]
    fn markdown_with_a_rule_has_no_front_matter() {
        let s = split("# Heading\n\ntext\n\n---\n\nafter");
        assert_eq!(s.yaml, None);
        let s = split("no front matter at all");
        assert_eq!(s.body, "no front matter at all");
    }
}
