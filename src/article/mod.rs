//! One post file -> one typed, normalized [`Article`], or a precise report
//! of why not. Bodies are rendered separately ([`body`]) because only the
//! articles that some feed shows need their HTML.

pub mod body;
pub mod front_matter;
mod report;
pub mod spill;
mod yaml;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::SystemTime;

use chrono::{DateTime, Utc};
use rayon::prelude::*;

use crate::date::{self, DateContext};
use crate::site::{IdScheme, links};
use crate::source::{self, Fingerprint, Role, SourceFile};
use front_matter::{FieldError, FrontMatter, Located};

pub use body::{Content, Lost, Packed, SummaryOf};
pub use report::{FileReport, Message, Severity, Status};

/// A loaded post: every field typed and normalized (dates in UTC, URLs
/// absolute, categories as Hexo hierarchies).
#[derive(Debug, Clone, PartialEq)]
pub struct Article {
    /// Path relative to the source root, `/`-separated: the article's key.
    pub rel: Arc<str>,
    pub draft: bool,
    /// A non-post file of a Hexo `source/` folder: checked, never listed.
    pub page: bool,
    /// The front matter's own id (`id`, `guid`, `abbrlink`, `uuid`); the
    /// `tag:` URI feeds show is derived from it or from the path on demand
    /// ([`Article::id`]), so 100,000 loaded articles do not each carry one.
    pub explicit_id: Option<Arc<str>>,
    pub title: String,
    pub date: DateTime<Utc>,
    pub updated: Option<DateTime<Utc>>,
    /// Hierarchies, root first: `[["金融", "新浪财经", "新浪财经－国內"]]`.
    pub categories: Vec<Vec<String>>,
    pub tags: Vec<String>,
    pub author: Option<String>,
    /// Absolute URL of the lead image.
    pub image: Option<String>,
    /// Explicit summary from the front matter (`description`, `excerpt`).
    pub description: Option<String>,
    /// Front-matter `permalink`, overriding the site's pattern.
    pub permalink: Option<String>,
    /// Front-matter `link`: an external URL the post points to.
    pub link: Option<String>,
    pub comments: bool,
    /// Front-matter keys refeed does not interpret, kept as JSON values.
    pub extra: BTreeMap<String, serde_json::Value>,
}

impl Article {
    /// Atom's `updated`: the front matter's, else the publication date.
    pub fn last_updated(&self) -> DateTime<Utc> {
        self.updated.unwrap_or(self.date)
    }

    /// `_posts/a/b.md` -> `a/b.md`: the path that identifies the post, so
    /// that publishing a draft keeps its id.
    pub fn path_key(&self) -> &str {
        ["_posts/", "_drafts/"]
            .iter()
            .find_map(|p| self.rel.strip_prefix(p))
            .unwrap_or(&self.rel)
    }

    /// The stable `tag:` URI of the article on its own (see
    /// [`crate::catalog::Entry::id`] for the one feeds use).
    pub fn id(&self, ids: &IdScheme) -> String {
        ids.id_for(self.explicit_id.as_deref(), self.path_key())
    }

    /// Hexo's `:title` permalink part: the path key without its extension.
    pub fn slug(&self) -> &str {
        let key = self.path_key();
        match key.rfind('.') {
            Some(dot) if !key[dot..].contains('/') => &key[..dot],
            _ => key,
        }
    }
}

/// Everything that loading needs, as data: built once from the
/// configuration, by [`crate::setup::loader`].
#[derive(Debug, Clone)]
pub struct Loader {
    /// How dates without a zone, and `CST`, are read.
    pub dates: DateContext,
    /// What relative `image` and `link` URLs are resolved against.
    pub base: url::Url,
    /// Files over this many bytes are rejected unread.
    pub max_file_size: u64,
    pub links: source::Links,
    /// Where a body is cut (see [`body::cut`]).
    pub max_body_bytes: usize,
}

/// A file's report and, when it loaded, its body.
pub type WithBody = (FileReport, Option<Packed>);

/// Why a file is no post, and the file as it was when it was read (which
/// is what its report describes).
#[derive(Debug)]
pub struct Rejected {
    pub messages: Vec<Message>,
    pub fingerprint: Option<Fingerprint>,
}

/// How a file's text opens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Opening {
    FrontMatter,
    /// A fence line that is never closed: the body starts with a rule.
    UnclosedFence,
    #[default]
    Body,
}

/// A parsed file: the article, and where its body starts in the text.
#[derive(Debug)]
pub struct Parsed {
    pub article: Article,
    pub body_start: usize,
    /// How the text opens: a closed front matter, a fence never closed,
    /// or neither (what tells a cut file from the version before it).
    pub opening: Opening,
    pub messages: Vec<Message>,
    pub fingerprint: Option<Fingerprint>,
}

impl Loader {
    /// Loads every post below `root` in parallel, in path order. Files are
    /// read while the walk goes on rather than after it; paths the walk
    /// could not read become rejected reports, so nothing is skipped.
    pub fn load_folder(&self, root: &Path) -> Result<Vec<FileReport>, source::SourceError> {
        let loaded = self.load_folder_as(root, &|_| None)?;
        Ok(loaded.into_iter().map(|(report, _)| report).collect())
    }

    /// [`Loader::load_folder`], keeping the body of every loaded file as
    /// `keep` packs it: what a snapshot serves pages and queries from
    /// without the source folder.
    pub fn load_folder_with_bodies(
        &self,
        root: &Path,
        keep: &(dyn Fn(&str) -> Packed + Sync),
    ) -> Result<Vec<WithBody>, source::SourceError> {
        self.load_folder_as(root, &|body| Some(keep(body)))
    }

    fn load_folder_as(
        &self,
        root: &Path,
        keep: &(dyn Fn(&str) -> Option<Packed> + Sync),
    ) -> Result<Vec<WithBody>, source::SourceError> {
        let mut loaded = source::walk(root, self.links)?
            .par_bridge()
            .map(|walked| {
                walked.map(|w| match w {
                    source::Walked::File(f) => self.load_as(&f, keep),
                    source::Walked::Unreadable(e) => (FileReport::unreadable(root, e), None),
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        loaded.par_sort_unstable_by(|a, b| a.0.rel.cmp(&b.0.rel));
        Ok(loaded)
    }

    /// Reads and parses one file into a report, with its body as `keep`
    /// keeps it; never panics, never skips.
    fn load_as(
        &self,
        file: &SourceFile,
        keep: &(dyn Fn(&str) -> Option<Packed> + Sync),
    ) -> WithBody {
        match self.read(file, keep) {
            Ok((parsed, body)) => (FileReport::loaded(file, parsed), body),
            Err(r) => (FileReport::rejected(file, r.messages, r.fingerprint), None),
        }
    }

    /// Reads and parses one file: the one way a post is read, at start-up
    /// and at every reload. The bytes go into a buffer each thread reuses,
    /// so `keep` takes what the caller needs of the body (nothing, or a
    /// [`Packed`] copy) before the next file overwrites it.
    pub fn read<T>(
        &self,
        file: &SourceFile,
        keep: impl FnOnce(&str) -> T,
    ) -> Result<(Parsed, T), Rejected> {
        thread_local! {
            static BUF: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
        }
        let outcome = BUF.with_borrow_mut(|buf| {
            let fingerprint =
                source::read_bytes(&file.path, self.max_file_size, buf).map_err(unread)?;
            let rejected = |messages| Rejected {
                messages,
                fingerprint: Some(fingerprint),
            };
            let (text, warning) = source::decode_slice(buf)
                .map_err(read_error)
                .map_err(rejected)?;
            let mut parsed = self
                .parse(file, &text, fingerprint.modified)
                .map_err(rejected)?;
            if let Some(w) = warning {
                parsed.messages.insert(0, Message::warning(None, None, w));
            }
            parsed.fingerprint = Some(fingerprint);
            let body = keep(&text[parsed.body_start..]);
            Ok((parsed, body))
        });
        BUF.with_borrow_mut(|buf| {
            // One huge file must not pin its buffer for the whole load.
            if buf.capacity() > KEEP_BUFFER {
                *buf = Vec::new();
            }
        });
        outcome
    }

    /// Parses a file's decoded text. `modified` is the last resort for a
    /// post with no date anywhere.
    pub fn parse(
        &self,
        file: &SourceFile,
        text: &str,
        modified: Option<SystemTime>,
    ) -> Result<Parsed, Vec<Message>> {
        let split = front_matter::split(text);
        let fm = front_matter::parse(&split).map_err(|e| vec![Message::from_field(e)])?;
        let mut messages: Vec<Message> = fm
            .warnings
            .iter()
            .cloned()
            .map(Message::from_field)
            .collect();
        if !source::name_is_utf8(file) {
            messages.push(Message::warning(
                None,
                None,
                "file name is not UTF-8: its path, id and URL write each byte \
                 that is not UTF-8 as %XX"
                    .into(),
            ));
        }
        let date = self.publication_date(&fm, &file.path, modified, &mut messages)?;
        let updated = match &fm.updated {
            Some(u) => Some(self.date_field("updated", u)?),
            None => None,
        };
        let body_start = text.len() - split.body.len();
        if let Some(w) = self.body_cut(text, body_start) {
            messages.push(w);
        }
        // Pages (a Hexo `source/about/index.md`) often are front matter
        // alone, their layout making the page.
        if file.role != Role::Page && split.yaml.is_some() && split.body.trim().is_empty() {
            // What a file cut right after its front matter looks like: while
            // serving, the last good version is kept; at start-up there is
            // none, so it is published, and says so (found by the fourth
            // attack: `check` called it ok).
            messages.push(Message::warning(
                None,
                None,
                "empty body: nothing after the front matter (a file cut short looks like this)"
                    .into(),
            ));
        }
        let draft = file.role == Role::Draft || fm.published == Some(false);
        let article = Article {
            explicit_id: fm
                .id
                .as_deref()
                .map(str::trim)
                .filter(|i| !i.is_empty())
                .map(Arc::from),
            page: file.role == Role::Page,
            title: fm
                .title
                .clone()
                .unwrap_or_else(|| title_from_path(&file.path)),
            rel: file.rel.clone(),
            draft,
            date,
            updated,
            categories: fm.categories,
            tags: fm.tags,
            author: fm.author,
            image: fm.image.and_then(|i| self.absolute(&i)),
            description: fm.description,
            permalink: fm.permalink,
            link: fm.link.and_then(|l| self.absolute(&l)),
            comments: fm.comments.unwrap_or(true),
            extra: fm.extra,
        };
        let opening = match (split.yaml, split.opened) {
            (Some(_), _) => Opening::FrontMatter,
            (None, true) => Opening::UnclosedFence,
            (None, false) => Opening::Body,
        };
        Ok(Parsed {
            article,
            body_start,
            opening,
            messages,
            fingerprint: None,
        })
    }

    /// Front matter first, then a `YYYY-MM-DD-` file name, then (with a
    /// warning) the modification time.
    fn publication_date(
        &self,
        fm: &FrontMatter,
        path: &Path,
        modified: Option<SystemTime>,
        messages: &mut Vec<Message>,
    ) -> Result<DateTime<Utc>, Vec<Message>> {
        if let Some(d) = &fm.date {
            return self.date_field("date", d);
        }
        let stem = path
            .file_stem()
            .map(|s| s.to_string_lossy())
            .unwrap_or_default();
        if let Some(d) = date::date_from_file_stem(&stem, &self.dates) {
            return Ok(d);
        }
        let Some(mtime) = modified else {
            return Err(vec![Message::field_error(
                None,
                "date",
                "no date in the front matter or file name, and no modification time".into(),
            )]);
        };
        let (date, why) = match date::from_file_time(mtime) {
            Ok(d) => (d, "using the file's modification time".to_string()),
            // A clock or a `touch -d` can set any year; feeds cannot carry
            // it (nor HTTP dates), and "now" would change at every load.
            Err(e) => (
                DateTime::UNIX_EPOCH,
                format!("the file's modification time is unusable ({e}); using 1970-01-01"),
            ),
        };
        messages.push(Message::field_warning(
            None,
            "date",
            format!("no date in the front matter or file name; {why}"),
        ));
        Ok(date)
    }

    fn date_field(&self, field: &str, d: &Located) -> Result<DateTime<Utc>, Vec<Message>> {
        date::parse_date(&d.value, &self.dates).map_err(|e| {
            let reason = if e.is_impossible() {
                format!("impossible date: {e}")
            } else {
                e.to_string()
            };
            vec![Message::from_field(FieldError {
                line: d.line,
                column: None,
                field: Some(field.into()),
                reason,
            })]
        })
    }

    /// Where [`body::render`] stops reading a body over `load.max_body_bytes`.
    fn body_cut(&self, text: &str, body_start: usize) -> Option<Message> {
        let body = &text[body_start..];
        let kept = body::cut(body, self.max_body_bytes).len();
        (kept < body.len()).then(|| {
            let before = &text[..body_start + kept];
            let line = 1 + before.matches('\n').count();
            let column = 1 + before.len() - before.rfind('\n').map_or(0, |i| i + 1);
            let from = if column == 1 {
                "from this line on".to_string()
            } else {
                format!("from byte {column} of this line on")
            };
            Message::warning(
                Some(line),
                None,
                format!(
                    "the body is {} bytes, over load.max_body_bytes ({}): \
                     feeds and pages leave out the rest, {from}",
                    body.len(),
                    self.max_body_bytes
                ),
            )
        })
    }

    fn absolute(&self, url: &str) -> Option<String> {
        links::web(&self.base, url)
    }
}

/// Per-thread read buffers above this size are released after use.
const KEEP_BUFFER: usize = 1 << 20;

fn read_error(e: source::ReadError) -> Vec<Message> {
    vec![Message::error(None, None, e.to_string())]
}

/// Why a file that parses is taken for the first bytes of its last good
/// version rather than an edit of it, judged on what only that version
/// tells: a text cut anywhere before the end of a front matter has none
/// (closed), and one cut right after it has an empty body. So a file whose
/// last good version opened with a front matter and which now has none, or
/// whose last good body had text and which now has none, looks cut short.
/// An edit that means it keeps a front matter, or some body text (a
/// comment such as `<!-- empty -->` will do); a file removed and written
/// anew has no last good version.
pub fn cut_from(
    last_opening: Opening,
    last_body: &Packed,
    parsed: &Parsed,
    body: &Packed,
) -> Option<&'static str> {
    if last_opening == Opening::FrontMatter && parsed.opening != Opening::FrontMatter {
        return Some("no closed front matter, where the last good version had one");
    }
    if body.is_blank() && !last_body.is_blank() {
        return Some("an empty body, where the last good version had text");
    }
    None
}

/// The message of a file rejected by [`cut_from`].
pub fn cut_message(why: &str) -> Message {
    Message::error(
        None,
        None,
        format!("{}{why}; the last good version is kept", source::CUT_SHORT),
    )
}

fn unread(e: source::Unread) -> Rejected {
    Rejected {
        messages: read_error(e.error),
        fingerprint: e.fingerprint,
    }
}

/// A post without a title is named after its file, or its folder when the
/// file is a folder's `index.md`.
fn title_from_path(path: &Path) -> String {
    let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned());
    match stem.as_deref() {
        Some("index") | None => path
            .parent()
            .and_then(|p| p.file_name())
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        Some(s) => s.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn titles_from_paths() {
        assert_eq!(
            title_from_path(Path::new("blog/mysql游标/index.md")),
            "mysql游标"
        );
        assert_eq!(title_from_path(Path::new("posts/hello.md")), "hello");
    }
}
