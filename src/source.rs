//! Finding article files and reading them as text.
//!
//! Everything that touches the file system on the way in lives here, so
//! the parsing modules are pure functions of strings.

use std::borrow::Cow;
use std::fs;
use std::io::Read;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

/// File name endings that hold posts (compared case-insensitively).
const EXTENSIONS: &[&str] = &["md", "markdown", "html", "htm"];

/// Where a file sits in a Hexo source tree, which decides whether it may
/// appear in feeds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Post,
    /// Under `_drafts`: loaded and checked, never published.
    Draft,
    /// Outside `_posts`/`_drafts` of a whole `source/` folder: Hexo renders
    /// these as pages, and its feeds list posts only.
    Page,
}

/// One candidate file, named relative to the source root with `/`; the
/// name is shared by every structure that refers to the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceFile {
    pub path: PathBuf,
    pub rel: Arc<str>,
    pub role: Role,
}

/// A path the walk could not enter or read (permission, symlink loop, ...)
/// or would not follow (a link out of the source folder).
#[derive(Debug, Clone)]
pub struct WalkError {
    pub path: PathBuf,
    pub reason: String,
    /// Whether what lies below is unknown rather than absent: files loaded
    /// from below a folder that cannot be read now are not deleted, while
    /// nothing is ever loaded through a link the walk will not follow.
    pub hides: bool,
}

/// Which symbolic links the walk follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Links {
    /// Only links whose target lies inside the source folder: a link to
    /// `/usr/share` must not publish the system's files.
    InsideRoot,
    /// Any link (`load.follow_external_links: true`).
    Anywhere,
}

#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("source folder {path}: {reason}")]
    Root { path: PathBuf, reason: String },
}

/// What the walk meets: a post file, or an entry it cannot enter or follow.
#[derive(Debug)]
pub enum Walked {
    File(SourceFile),
    Unreadable(WalkError),
}

/// Every post file below `root`, in walk order, skipping hidden files and
/// folders. Unreadable entries, and links the walk will not follow, are
/// yielded, not dropped, so that the report can name them. A lazy iterator,
/// so that loading can start on the first files while the walk goes on
/// (rayon's `par_bridge`).
pub fn walk(
    root: &Path,
    links: Links,
) -> Result<impl Iterator<Item = Result<Walked, SourceError>> + Send, SourceError> {
    let root_error = |e: std::io::Error| SourceError::Root {
        path: root.to_path_buf(),
        reason: e.to_string(),
    };
    let meta = fs::metadata(root).map_err(root_error)?;
    if !meta.is_dir() {
        return Err(SourceError::Root {
            path: root.to_path_buf(),
            reason: "not a folder".into(),
        });
    }
    // Resolved on every walk, not once: the configured folder may be a
    // link that a deploy points elsewhere.
    let fence = LinkFence::new(root, links).map_err(root_error)?;
    let hexo_source = root.join("_posts").is_dir();
    let root = root.to_path_buf();
    // `filter_entry` cannot yield; the links it refuses to follow are
    // queued here and handed out with the next entry (or at the end).
    let refused = Arc::new(std::sync::Mutex::new(Vec::new()));
    let queue = refused.clone();
    let walker = walkdir::WalkDir::new(&root)
        .follow_links(true)
        .into_iter()
        .filter_entry(move |e| {
            if e.depth() > 0 && is_hidden(e.file_name()) {
                return false;
            }
            match fence.refuses(e) {
                Some(refusal) => {
                    if let Ok(mut q) = queue.lock() {
                        q.push(refusal);
                    }
                    false
                }
                None => true,
            }
        });
    let drain = move || {
        refused
            .lock()
            .map(|mut q| std::mem::take(&mut *q))
            .unwrap_or_default()
            .into_iter()
            .map(|e| Ok(Walked::Unreadable(e)))
    };
    let at_end = drain.clone();
    let entries = walker.flat_map(move |entry| {
        let walked = match entry {
            Ok(e) if e.file_type().is_file() && has_post_extension(e.path()) => {
                source_file(&root, e.path(), hexo_source).map(|f| Ok(Walked::File(f)))
            }
            Ok(_) => None,
            // The folder itself cannot be listed (permissions, no file
            // descriptors left): that is no empty archive, and must not read
            // as one.
            Err(e) if e.depth() == 0 => Some(Err(SourceError::Root {
                path: root.clone(),
                reason: walk_reason(&e),
            })),
            Err(e) => {
                let path = e.path().unwrap_or(&root).to_path_buf();
                // Errors bypass `filter_entry`: a hidden entry that cannot be
                // followed (Emacs's `.#post.md` lock, a symbolic link to
                // nowhere) is skipped like any hidden entry.
                (!path.file_name().is_some_and(is_hidden)).then(|| {
                    Ok(Walked::Unreadable(WalkError {
                        path,
                        reason: walk_reason(&e),
                        hides: true,
                    }))
                })
            }
        };
        drain().chain(walked)
    });
    let tail = std::iter::once(()).flat_map(move |()| at_end());
    Ok(entries.chain(tail))
}

/// Decides which symbolic links below the source folder the walk (and the
/// watch) may follow.
#[derive(Debug, Clone)]
pub struct LinkFence {
    /// The source folder with every link resolved; `None` when any link
    /// may be followed.
    inside: Option<PathBuf>,
}

impl LinkFence {
    pub fn new(root: &Path, links: Links) -> std::io::Result<Self> {
        let inside = match links {
            Links::InsideRoot => Some(fs::canonicalize(root)?),
            Links::Anywhere => None,
        };
        Ok(LinkFence { inside })
    }

    /// Why `entry` (a link below the root) is not followed, if it is not.
    /// A dangling link or a loop is left to the walk, which reports it; a
    /// link to a file that is no post is passed by as such files are.
    pub fn refuses(&self, entry: &walkdir::DirEntry) -> Option<WalkError> {
        if entry.depth() == 0
            || !entry.path_is_symlink()
            || (entry.file_type().is_file() && !has_post_extension(entry.path()))
        {
            return None;
        }
        let target = self.outside(entry.path())?;
        Some(WalkError {
            path: entry.path().to_path_buf(),
            reason: format!(
                "symbolic link to {}, outside the source folder: not followed \
                 (load.follow_external_links)",
                target.display()
            ),
            hides: false,
        })
    }

    /// Where `path` really is, when that is outside the source folder and
    /// links out of it are not followed.
    pub fn outside(&self, path: &Path) -> Option<PathBuf> {
        let inside = self.inside.as_ref()?;
        fs::canonicalize(path)
            .ok()
            .filter(|target| !target.starts_with(inside))
    }
}

/// [`walk`], collected: post files sorted by relative path, and the
/// entries that could not be read.
pub fn discover(
    root: &Path,
    links: Links,
) -> Result<(Vec<SourceFile>, Vec<WalkError>), SourceError> {
    let mut files = Vec::new();
    let mut errors = Vec::new();
    for walked in walk(root, links)? {
        match walked? {
            Walked::File(f) => files.push(f),
            Walked::Unreadable(e) => errors.push(e),
        }
    }
    files.sort_by(|a, b| a.rel.cmp(&b.rel));
    Ok((files, errors))
}

/// Classifies one path below `root`; `None` for paths outside it, hidden
/// ones and ones without a post extension. The watcher uses this for
/// single changed paths so that its rules cannot drift from the walk's.
pub fn classify(root: &Path, path: &Path) -> Option<SourceFile> {
    if hidden(root, path) || !has_post_extension(path) {
        return None;
    }
    source_file(root, path, root.join("_posts").is_dir())
}

/// Whether `path` is hidden, or below a hidden folder, of `root` (a path
/// outside `root` counts as hidden: it is never a post either).
pub fn hidden(root: &Path, path: &Path) -> bool {
    path.strip_prefix(root).map_or(true, |rel| {
        rel.components().any(|c| is_hidden(c.as_os_str()))
    })
}

/// The [`SourceFile`] a path that the walk could not enter or follow stands
/// for, so that a rescan can report it as the first load does.
pub fn unreadable(root: &Path, e: &WalkError) -> Option<SourceFile> {
    source_file(root, &e.path, root.join("_posts").is_dir()).filter(|f| !f.rel.is_empty())
}

fn source_file(root: &Path, path: &Path, hexo_source: bool) -> Option<SourceFile> {
    let rel_path = path.strip_prefix(root).ok()?;
    let parts: Vec<String> = rel_path
        .components()
        .filter_map(|c| match c {
            Component::Normal(s) => Some(encode_name(s)),
            _ => None,
        })
        .collect();
    let role = if parts.iter().any(|p| p == "_drafts") {
        Role::Draft
    } else if hexo_source && parts.first().map(String::as_str) != Some("_posts") {
        Role::Page
    } else {
        Role::Post
    };
    Some(SourceFile {
        path: path.to_path_buf(),
        rel: parts.join("/").into(),
        role,
    })
}

/// The relative name of `path` below `root` as [`SourceFile::rel`] spells
/// it; `None` for paths outside `root`.
pub fn rel_of(root: &Path, path: &Path) -> Option<String> {
    let parts: Vec<String> = path
        .strip_prefix(root)
        .ok()?
        .components()
        .filter_map(|c| match c {
            Component::Normal(s) => Some(encode_name(s)),
            _ => None,
        })
        .collect();
    Some(parts.join("/"))
}

/// One file or folder name as text, losslessly: every byte that is not
/// part of valid UTF-8 becomes `%XX`, and so does a `%` followed by two hex
/// digits (`%25`), so that two distinct names never share a spelling (and
/// [`path_of`] finds the file again). Names that are UTF-8 without such a
/// `%` are kept as they are, with the ids and URLs derived from them.
fn encode_name(name: &std::ffi::OsStr) -> String {
    use std::os::unix::ffi::OsStrExt;
    if let Some(plain) = name.to_str().filter(|n| !n.contains('%')) {
        return plain.to_owned();
    }
    let mut out = String::with_capacity(name.len());
    for chunk in name.as_bytes().utf8_chunks() {
        let valid = chunk.valid();
        for (i, c) in valid.char_indices() {
            if c == '%' && escape_like(&valid.as_bytes()[i + 1..]) {
                out.push_str("%25");
            } else {
                out.push(c);
            }
        }
        for b in chunk.invalid() {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Whether `rest` starts with two hex digits, as a `%XX` escape does.
fn escape_like(rest: &[u8]) -> bool {
    rest.len() >= 2 && rest[0].is_ascii_hexdigit() && rest[1].is_ascii_hexdigit()
}

/// The file a relative name stands for: the inverse of the encoding of
/// [`SourceFile::rel`].
pub fn path_of(root: &Path, rel: &str) -> PathBuf {
    use std::os::unix::ffi::OsStringExt;
    let bytes = rel.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && escape_like(&bytes[i + 1..]) {
            let hex = |b: u8| (b as char).to_digit(16).unwrap_or(0) as u8;
            out.push((hex(bytes[i + 1]) << 4) | hex(bytes[i + 2]));
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    root.join(std::ffi::OsString::from_vec(out))
}

/// Whether the file's name (below the source folder) had to be encoded
/// because it is not UTF-8.
pub fn name_is_utf8(file: &SourceFile) -> bool {
    let depth = file.rel.split('/').count();
    file.path
        .components()
        .rev()
        .take(depth)
        .all(|c| c.as_os_str().to_str().is_some())
}

fn is_hidden(name: &std::ffi::OsStr) -> bool {
    name.to_string_lossy().starts_with('.')
}

fn has_post_extension(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| EXTENSIONS.iter().any(|x| e.eq_ignore_ascii_case(x)))
}

fn walk_reason(e: &walkdir::Error) -> String {
    if let Some(ancestor) = e.loop_ancestor() {
        return format!("symbolic link loop back to {}", ancestor.display());
    }
    match e.io_error() {
        Some(io) => io.to_string(),
        None => e.to_string(),
    }
}

/// What a rescan compares to notice a change where no event arrived. The
/// inode change time moves on changes that keep the size and the
/// modification time, such as a file made readable again by `chmod`.
/// Device and inode tell another file at the same path (a release swapped
/// in by `ln -sfn`) even when it was written in the same clock tick with
/// the same size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fingerprint {
    pub modified: Option<SystemTime>,
    pub len: u64,
    pub changed: (i64, i64),
    pub file: (u64, u64),
}

impl Fingerprint {
    pub fn of(path: &Path) -> Option<Self> {
        fs::metadata(path).ok().map(|m| Self::from_metadata(&m))
    }

    fn from_metadata(m: &fs::Metadata) -> Self {
        use std::os::unix::fs::MetadataExt;
        Fingerprint {
            modified: m.modified().ok(),
            len: m.len(),
            changed: (m.ctime(), m.ctime_nsec()),
            file: (m.dev(), m.ino()),
        }
    }
}

/// How every report of a file that looks cut short begins: such a file is
/// read again once its writer is done (see the watch).
pub const CUT_SHORT: &str = "looks cut short: ";

#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum ReadError {
    #[error("cannot read: {0}")]
    Io(String),
    #[error("file is {size} bytes, over the {limit}-byte limit (load.max_file_size)")]
    TooLarge { size: u64, limit: u64 },
    #[error("binary file (contains NUL bytes), not text")]
    Binary,
    #[error("not text: neither UTF-8 nor GB18030")]
    Encoding,
    /// What a file cut short looks like; never a post, so that a truncated
    /// file keeps its last good version.
    #[error("{CUT_SHORT}{0}")]
    Truncated(&'static str),
    /// A folder, a FIFO, a device: whatever it is named, no post.
    #[error("{0}")]
    NotAFile(String),
}

/// A read that failed, with the file as it was when it was read: a report
/// made of it must describe the bytes judged, not a later state of the
/// file, or a rescan would take the later state for the one reported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unread {
    pub error: ReadError,
    pub fingerprint: Option<Fingerprint>,
}

/// How often a file that changes while it is read is read again before
/// it is reported as cut short.
const TORN_RETRIES: usize = 3;

/// Reads a file's bytes into `buf` (cleared first), so that a loader can
/// reuse one buffer per thread instead of allocating, faulting in and
/// zeroing fresh memory for every file. The size check happens before
/// reading, and the read is bounded too, so a file that grows meanwhile
/// cannot blow up memory. The fingerprint is the open file's, taken before
/// and checked after reading: a file written meanwhile is read again, and
/// one that never holds still is reported as cut short.
pub fn read_bytes(path: &Path, max_size: u64, buf: &mut Vec<u8>) -> Result<Fingerprint, Unread> {
    let io = |e: std::io::Error| Unread {
        error: ReadError::Io(e.to_string()),
        // Not opened: nothing was read that a later stat could misdescribe.
        fingerprint: Fingerprint::of(path),
    };
    let mut file = open(path).map_err(io)?;
    let mut torn = None;
    for _ in 0..TORN_RETRIES {
        let before = read_once(path, &mut file, max_size, buf)?;
        let after = file.metadata().map(|m| Fingerprint::from_metadata(&m));
        if after.as_ref().is_ok_and(|a| *a == before) {
            return Ok(before);
        }
        torn = Some(before);
    }
    Err(Unread {
        error: ReadError::Truncated("changed while it was read (still being written?)"),
        fingerprint: torn,
    })
}

/// One read of the whole file from its start, returning the open file's
/// fingerprint as it was before the read.
fn read_once(
    path: &Path,
    file: &mut fs::File,
    max_size: u64,
    buf: &mut Vec<u8>,
) -> Result<Fingerprint, Unread> {
    use std::io::{Seek, SeekFrom};
    let meta = file.metadata().map_err(|e| Unread {
        error: ReadError::Io(e.to_string()),
        fingerprint: Fingerprint::of(path),
    })?;
    let fingerprint = Fingerprint::from_metadata(&meta);
    let fail = |error| Unread {
        error,
        fingerprint: Some(fingerprint),
    };
    if !meta.is_file() {
        return Err(fail(ReadError::NotAFile(not_a_file(path, &meta))));
    }
    if meta.len() > max_size {
        return Err(fail(ReadError::TooLarge {
            size: meta.len(),
            limit: max_size,
        }));
    }
    let io = |e: std::io::Error| fail(ReadError::Io(e.to_string()));
    file.seek(SeekFrom::Start(0)).map_err(io)?;
    buf.clear();
    buf.reserve(meta.len() as usize);
    file.take(max_size.saturating_add(1))
        .read_to_end(buf)
        .map_err(io)?;
    if buf.len() as u64 > max_size {
        return Err(fail(ReadError::TooLarge {
            size: buf.len() as u64,
            limit: max_size,
        }));
    }
    Ok(fingerprint)
}

/// Opens for reading without blocking: a FIFO put where a post was would
/// otherwise block the reload thread, or a request, until a writer came.
fn open(path: &Path) -> std::io::Result<fs::File> {
    let mut options = fs::OpenOptions::new();
    options.read(true);
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::fs::OpenOptionsExt;
        /// `O_NONBLOCK` on Linux; it changes nothing for regular files.
        const O_NONBLOCK: i32 = 0o4000;
        options.custom_flags(O_NONBLOCK);
    }
    options.open(path)
}

/// Why `path`, which is not a regular file, is no post.
fn not_a_file(path: &Path, meta: &fs::Metadata) -> String {
    if meta.is_dir() {
        let is_link = fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink());
        let target = fs::canonicalize(path).ok();
        let parent = path.parent().and_then(|p| fs::canonicalize(p).ok());
        if let (true, Some(target), Some(parent)) = (is_link, target, parent)
            && parent.starts_with(&target)
        {
            return format!("symbolic link loop back to {}", target.display());
        }
        return "a folder, not a file".into();
    }
    "not a regular file (a FIFO, socket or device)".into()
}

/// [`decode_slice`] into an owned string.
pub fn decode(bytes: Vec<u8>) -> Result<(String, Option<String>), ReadError> {
    match decode_slice(&bytes)? {
        (Cow::Borrowed(text), None) if text.len() == bytes.len() => {
            // Plain UTF-8 without BOM: reuse the allocation.
            Ok((
                String::from_utf8(bytes).map_err(|_| ReadError::Encoding)?,
                None,
            ))
        }
        (text, warning) => Ok((text.into_owned(), warning)),
    }
}

/// UTF-8 (with or without BOM) as is, borrowed; UTF-16 with a BOM and
/// GB18030 with a warning, since Chinese pipelines still produce the
/// latter. A file that looks cut short (see [`cut_short`]) is no text.
pub fn decode_slice(bytes: &[u8]) -> Result<(Cow<'_, str>, Option<String>), ReadError> {
    let decoded = decode_any(bytes)?;
    if decoded.0.trim().is_empty() {
        return Err(ReadError::Truncated("empty (nothing but white space)"));
    }
    Ok(decoded)
}

fn decode_any(bytes: &[u8]) -> Result<(Cow<'_, str>, Option<String>), ReadError> {
    if let Some((encoding, bom_len)) = encoding_rs::Encoding::for_bom(bytes) {
        let rest = &bytes[bom_len..];
        if encoding == encoding_rs::UTF_8 {
            return utf8(rest).map(|t| (Cow::Borrowed(t), None));
        }
        let (text, had_errors) = encoding.decode_without_bom_handling(rest);
        if had_errors || text.contains('\0') {
            return Err(ReadError::Encoding);
        }
        let warning = format!("decoded as {} (byte-order mark)", encoding.name());
        return Ok((Cow::Owned(text.into_owned()), Some(warning)));
    }
    if bytes.contains(&0) {
        return Err(ReadError::Binary);
    }
    match utf8_str(bytes) {
        Some(text) => Ok((Cow::Borrowed(text), None)),
        None if cut_short(bytes) => Err(ReadError::Truncated(CUT_UTF8)),
        None => gb18030(bytes),
    }
}

const CUT_UTF8: &str = "UTF-8 up to a character that its last bytes leave unfinished";

/// UTF-8 that is valid up to an unfinished sequence in its last bytes: a
/// UTF-8 file cut inside a character (truncated, or still being written),
/// which GB18030 would otherwise read as mojibake. Real GB18030 text is
/// almost never valid UTF-8 up to its last character.
fn cut_short(bytes: &[u8]) -> bool {
    matches!(simdutf8::compat::from_utf8(bytes), Err(e) if e.error_len().is_none())
}

fn utf8(bytes: &[u8]) -> Result<&str, ReadError> {
    if bytes.contains(&0) {
        return Err(ReadError::Binary);
    }
    match utf8_str(bytes) {
        Some(text) => Ok(text),
        None if cut_short(bytes) => Err(ReadError::Truncated(CUT_UTF8)),
        None => Err(ReadError::Encoding),
    }
}

/// UTF-8 validation with SIMD: Chinese text is all multi-byte sequences,
/// which the standard library checks several times slower, and every byte
/// of the archive passes through here.
fn utf8_str(bytes: &[u8]) -> Option<&str> {
    simdutf8::basic::from_utf8(bytes).ok()
}

fn gb18030(bytes: &[u8]) -> Result<(Cow<'_, str>, Option<String>), ReadError> {
    encoding_rs::GB18030
        .decode_without_bom_handling_and_without_replacement(bytes)
        .map(|text| {
            let warning = "not UTF-8; decoded as GB18030".to_string();
            (Cow::Owned(text.into_owned()), Some(warning))
        })
        .ok_or(ReadError::Encoding)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utf8_with_and_without_bom() {
        assert_eq!(decode(b"abc".to_vec()).unwrap(), ("abc".into(), None));
        let with_bom = [&[0xEF, 0xBB, 0xBF][..], "标题".as_bytes()].concat();
        assert_eq!(decode(with_bom).unwrap().0, "标题");
    }

    #[test]
    fn gb18030_is_decoded_with_a_warning() {
        let (bytes, _, _) = encoding_rs::GB18030.encode("title: 新浪财经");
        let (text, warning) = decode(bytes.into_owned()).unwrap();
        assert_eq!(text, "title: 新浪财经");
        assert!(warning.unwrap().contains("GB18030"));
    }

    #[test]
    fn binary_and_garbage_are_rejected() {
        assert_eq!(decode(b"a\0b".to_vec()), Err(ReadError::Binary));
        assert_eq!(decode(vec![0x80, 0xFF, 0x80]), Err(ReadError::Encoding));
    }

    #[test]
    fn files_cut_short_are_no_text() {
        assert_eq!(
            decode(Vec::new()),
            Err(ReadError::Truncated("empty (nothing but white space)"))
        );
        assert!(matches!(
            decode(b" \n\t".to_vec()),
            Err(ReadError::Truncated(_))
        ));
        let whole = "---\ntitle: 中文測試\n---\n中文測試".as_bytes();
        for cut in 1..whole.len() {
            match decode(whole[..cut].to_vec()) {
                Ok((text, warning)) => {
                    assert!(whole.starts_with(text.as_bytes()), "cut at {cut}: {text}");
                    assert_eq!(warning, None, "cut at {cut}");
                }
                Err(e) => {
                    assert_eq!(e, ReadError::Truncated(CUT_UTF8), "cut at {cut}");
                    assert!(std::str::from_utf8(&whole[..cut]).is_err());
                }
            }
        }
    }

    /// Whatever a writer does meanwhile, a read's fingerprint describes
    /// the bytes it returned (a rescan compares it with the file's).
    #[test]
    fn a_read_describes_the_bytes_it_read() {
        use std::io::Write;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("growing.md");
        std::fs::write(&path, "").unwrap();
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let writer = {
            let (path, stop) = (path.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut f = fs::OpenOptions::new().append(true).open(&path).unwrap();
                for _ in 0..200_000 {
                    if stop.load(std::sync::atomic::Ordering::Relaxed) {
                        break;
                    }
                    f.write_all(b"0123456789abcdef").unwrap();
                }
            })
        };
        let mut buf = Vec::new();
        for _ in 0..2_000 {
            match read_bytes(&path, u64::MAX, &mut buf) {
                Ok(fp) => assert_eq!(fp.len, buf.len() as u64),
                Err(e) => assert!(matches!(e.error, ReadError::Truncated(_)), "{e:?}"),
            }
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        writer.join().unwrap();
    }

    #[test]
    fn file_names_are_encoded_losslessly() {
        use std::os::unix::ffi::OsStrExt;
        let root = Path::new("/site");
        let names: [&[u8]; 6] = [
            b"caf\xe9.md",
            b"caf\xe8.md",
            b"caf%E9.md",
            b"caf%25E9.md",
            b"100%.md",
            b"%\xe9%A\xff",
        ];
        let mut rels = std::collections::HashSet::new();
        for name in names {
            let path = root.join(std::ffi::OsStr::from_bytes(name));
            let file = source_file(root, &path, false).unwrap();
            assert_eq!(path_of(root, &file.rel), path, "{}", file.rel);
            assert!(rels.insert(file.rel.clone()), "{} twice", file.rel);
            assert_eq!(name_is_utf8(&file), std::str::from_utf8(name).is_ok());
        }
        assert!(rels.contains("caf%E9.md") && rels.contains("caf%25E9.md"));
        assert!(rels.contains("100%.md"), "plain names keep their spelling");
    }

    #[test]
    fn roles_follow_hexo_folders() {
        let root = Path::new("/site/source");
        let f = |p: &str, hexo| source_file(root, &root.join(p), hexo).unwrap();
        assert_eq!(f("_posts/a/b.md", true).role, Role::Post);
        assert_eq!(&*f("_posts/a/b.md", true).rel, "_posts/a/b.md");
        assert_eq!(f("_drafts/b.md", true).role, Role::Draft);
        assert_eq!(f("about/index.md", true).role, Role::Page);
        assert_eq!(f("about/index.md", false).role, Role::Post);
    }

    /// Two releases' `a/p.md`, same size, same times: still two files.
    #[test]
    fn a_swapped_tree_with_identical_times_is_reloaded() {
        let dir = tempfile::tempdir().unwrap();
        let (one, two) = (dir.path().join("one.md"), dir.path().join("two.md"));
        std::fs::write(&one, "release 1").unwrap();
        std::fs::write(&two, "release 2").unwrap();
        let t = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_600_000_000);
        for p in [&one, &two] {
            fs::File::options()
                .write(true)
                .open(p)
                .unwrap()
                .set_modified(t)
                .unwrap();
        }
        let a = Fingerprint::of(&one).unwrap();
        // The change time cannot be set; written in the same clock tick,
        // the two would share it.
        let b = Fingerprint {
            changed: a.changed,
            ..Fingerprint::of(&two).unwrap()
        };
        assert_eq!((a.modified, a.len), (b.modified, b.len));
        assert_ne!(a, b, "another file at the same path is a change");
    }
}
