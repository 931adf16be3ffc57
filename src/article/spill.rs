//! The file a snapshot keeps the bodies read at start-up in.
//!
//! A snapshot must serve the last good version of every post without the
//! source folder (a rejected edit shows nothing of itself), so it keeps
//! every body. In memory, even zstd-packed, a whole archive doubled
//! `serve`'s memory at 100,000 posts, and packing it took as long as
//! reading it. Written once to an unlinked file instead, a body costs a
//! copy into the page cache, which the kernel may write out and evict;
//! the few read again (older items of a query, article pages) come back
//! from there. Unlinked, no other process can change or remove the file,
//! and it is gone with the process, crash or not.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

pub struct Spill {
    file: File,
    /// Bodies appended and not yet written. One loading thread appends to
    /// a spill, so the lock is never contended; it makes each write a
    /// whole batch, so that each page of the file is written once, not
    /// once per body that touches it. After a failed write it keeps the
    /// batch, which reads are then answered from.
    pending: Mutex<Pending>,
    /// Set by the first failed write, or when the disk runs low: the
    /// bodies after it stay in memory, and those before it are moved there
    /// once the load is done (see [`crate::article::Packed::settle`]), so
    /// that the file, closed, gives its space back.
    failed: AtomicBool,
}

struct Pending {
    /// Where `bytes` go in the file.
    at: u64,
    bytes: Vec<u8>,
}

/// Free space a spill leaves on its disk: the state file beside it (each
/// feed's `Last-Modified`, the subscriber counts) must stay writable.
const RESERVE: u64 = 64 << 20;

/// Bytes a spill gathers before it writes them.
const BATCH: usize = 1 << 20;

impl Spill {
    /// A new, empty, unlinked file in `dir`, if its disk has more than
    /// [`RESERVE`] free.
    pub fn create(dir: &Path) -> io::Result<Arc<Spill>> {
        std::fs::create_dir_all(dir)?;
        let file = tempfile::tempfile_in(dir)?;
        if free_bytes(&file)? < RESERVE {
            return Err(low_on_space());
        }
        Ok(Arc::new(Spill {
            file,
            pending: Mutex::new(Pending {
                at: 0,
                bytes: Vec::new(),
            }),
            failed: AtomicBool::new(false),
        }))
    }

    /// Appends `bytes` and says where they start; `None` once a write has
    /// failed or the disk runs low.
    pub fn append(&self, bytes: &[u8]) -> Option<u64> {
        if self.failed() {
            return None;
        }
        let mut pending = self.pending();
        let at = pending.at + pending.bytes.len() as u64;
        pending.bytes.extend_from_slice(bytes);
        if pending.bytes.len() >= BATCH {
            self.write_out(&mut pending);
        }
        Some(at)
    }

    /// Writes what is gathered: called once the load is done, before any
    /// body is read back.
    pub fn finish(&self) {
        let mut pending = self.pending();
        if !self.failed() && !pending.bytes.is_empty() {
            self.write_out(&mut pending);
        }
    }

    /// Writes the batch, if the disk keeps [`RESERVE`] free after it; a
    /// failure (logged the first time) keeps the batch for reading.
    fn write_out(&self, pending: &mut Pending) {
        let len = pending.bytes.len() as u64;
        let written = match free_bytes(&self.file) {
            Ok(free) if free < RESERVE + len => Err(low_on_space()),
            _ => self.file.write_all_at(&pending.bytes, pending.at),
        };
        match written {
            Ok(()) => {
                pending.at += len;
                pending.bytes.clear();
            }
            Err(e) => {
                if !self.failed.swap(true, Ordering::Relaxed) {
                    tracing::warn!(
                        error = %e,
                        "cannot write post bodies to the state folder; keeping them in memory"
                    );
                }
            }
        }
    }

    /// Whether a write failed or the disk ran low: what is in the file is
    /// to be moved to memory.
    pub fn failed(&self) -> bool {
        self.failed.load(Ordering::Relaxed)
    }

    /// The `len` bytes at `at`: from the batch not written, else the file.
    pub fn read(&self, at: u64, len: usize) -> io::Result<Vec<u8>> {
        {
            let pending = self.pending();
            if let Some(from) = at.checked_sub(pending.at) {
                let from = from as usize;
                return pending
                    .bytes
                    .get(from..from + len)
                    .map(<[u8]>::to_vec)
                    .ok_or_else(|| io::Error::from(io::ErrorKind::UnexpectedEof));
            }
        }
        let mut bytes = vec![0; len];
        self.file.read_exact_at(&mut bytes, at)?;
        Ok(bytes)
    }

    fn pending(&self) -> std::sync::MutexGuard<'_, Pending> {
        self.pending.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Bytes an unprivileged writer may still use on `file`'s disk.
fn free_bytes(file: &File) -> io::Result<u64> {
    let vfs = rustix::fs::fstatvfs(file)?;
    Ok(vfs.f_bavail.saturating_mul(vfs.f_frsize))
}

fn low_on_space() -> io::Error {
    io::Error::new(
        io::ErrorKind::StorageFull,
        format!("less than {} MiB would be left free", RESERVE >> 20),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::article::{Lost, Packed};

    #[test]
    fn spilled_bodies_read_back_and_a_changed_disk_is_caught() {
        let dir = tempfile::tempdir().unwrap();
        let spill = Spill::create(&dir.path().join("new")).unwrap();
        let long = "中文 body ".repeat(300);
        let bodies: Vec<_> = ["first", "", long.as_str()]
            .iter()
            .map(|t| (*t, Packed::spilled(&spill, t)))
            .collect();
        // Read back from the batch, then from the file once written.
        for finished in [false, true] {
            if finished {
                spill.finish();
            }
            for (text, packed) in &bodies {
                assert_eq!(packed.text().unwrap(), *text, "finished: {finished}");
                assert_eq!(packed.stored_bytes(), 0, "{packed:?} is in memory");
            }
        }
        // Unlinked: the folder shows nothing of it.
        assert_eq!(
            std::fs::read_dir(dir.path().join("new")).unwrap().count(),
            0
        );
        spill.file.write_all_at(b"FIRST", 0).unwrap();
        assert!(matches!(bodies[0].1.text(), Err(Lost::Changed)));
        spill.file.set_len(6).unwrap();
        assert!(matches!(bodies[2].1.text(), Err(Lost::Read(_))));
    }

    /// A spill that failed half-way (found by the fourth attack: a full
    /// state disk stayed full, so the state file could not be written) is
    /// given up whole: what it holds moves to memory, and the file, no
    /// longer referred to, is closed.
    #[test]
    fn bodies_of_a_failed_spill_move_to_memory_and_free_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let spill = Spill::create(dir.path()).unwrap();
        let before = Packed::spilled(&spill, "written before");
        spill.finish();
        let kept = Packed::spilled(&spill, "in a batch whose write failed");
        spill.failed.store(true, Ordering::Relaxed);
        let kept = kept.settle();
        assert_eq!(kept.text().unwrap(), "in a batch whose write failed");
        assert!(kept.stored_bytes() > 0);
        let after = Packed::spilled(&spill, "kept anyway");
        assert_eq!(after.text().unwrap(), "kept anyway");
        assert!(after.stored_bytes() > 0);
        assert_eq!(before.stored_bytes(), 0);
        let before = before.settle();
        assert_eq!(before.text().unwrap(), "written before");
        assert!(before.stored_bytes() > 0);
        assert_eq!(Arc::strong_count(&spill), 1, "a body still holds the file");
    }

    #[test]
    fn bodies_of_a_sound_spill_stay_there() {
        let dir = tempfile::tempdir().unwrap();
        let spill = Spill::create(dir.path()).unwrap();
        let body = Packed::spilled(&spill, "on the disk").settle();
        assert_eq!(body.stored_bytes(), 0);
        assert_eq!(body.text().unwrap(), "on the disk");
    }
}
