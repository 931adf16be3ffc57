//! Reading one file's bytes, bounded and consistent with the
//! [`Fingerprint`] that describes them.

use std::fs;
use std::io::Read;
use std::path::Path;
use std::time::{Duration, SystemTime};

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
    /// The latest time the file's bytes may have changed on this disk: its
    /// status-change time, which `touch`, `cp -p`, `rsync -a` and `tar`
    /// cannot set back as they do the modification time, or the
    /// modification time when that is later.
    pub fn changed_at(&self) -> Option<SystemTime> {
        let (secs, nanos) = self.changed;
        let ctime = u64::try_from(secs)
            .ok()
            .zip(u32::try_from(nanos).ok())
            .and_then(|(s, n)| SystemTime::UNIX_EPOCH.checked_add(Duration::new(s, n)));
        ctime.max(self.modified)
    }

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

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

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
