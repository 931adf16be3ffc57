//! What a file below the source folder is called and what it is: its
//! [`Role`] in a Hexo tree and its relative name, which spells any file
//! name losslessly as text.

use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

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
    /// Reached through a symbolic link inside the folder: events name the
    /// file it leads to, never the link.
    pub linked: bool,
}

pub(super) fn source_file(root: &Path, path: &Path, hexo_source: bool) -> Option<SourceFile> {
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
        linked: false,
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
