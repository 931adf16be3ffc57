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
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

pub struct Spill {
    file: File,
    end: AtomicU64,
    /// Set by the first failed write: the bodies after it stay in memory
    /// rather than each meeting the same full disk.
    failed: AtomicBool,
}

impl Spill {
    /// A new, empty, unlinked file in `dir`.
    pub fn create(dir: &Path) -> io::Result<Arc<Spill>> {
        std::fs::create_dir_all(dir)?;
        Ok(Arc::new(Spill {
            file: tempfile::tempfile_in(dir)?,
            end: AtomicU64::new(0),
            failed: AtomicBool::new(false),
        }))
    }

    /// Appends `bytes` and says where they start; `None` once a write has
    /// failed, the first failure logged.
    pub fn append(&self, bytes: &[u8]) -> Option<u64> {
        if self.failed.load(Ordering::Relaxed) {
            return None;
        }
        let at = self.end.fetch_add(bytes.len() as u64, Ordering::Relaxed);
        match self.file.write_all_at(bytes, at) {
            Ok(()) => Some(at),
            Err(e) => {
                if !self.failed.swap(true, Ordering::Relaxed) {
                    tracing::warn!(
                        error = %e,
                        "cannot write post bodies to the state folder; keeping them in memory"
                    );
                }
                None
            }
        }
    }

    /// The `len` bytes at `at`.
    pub fn read(&self, at: u64, len: usize) -> io::Result<Vec<u8>> {
        let mut bytes = vec![0; len];
        self.file.read_exact_at(&mut bytes, at)?;
        Ok(bytes)
    }
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
        for (text, packed) in &bodies {
            assert_eq!(packed.text().unwrap(), *text);
            assert_eq!(packed.stored_bytes(), 0, "{packed:?} is in memory");
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

    #[test]
    fn bodies_stay_in_memory_after_a_failed_write() {
        let dir = tempfile::tempdir().unwrap();
        let spill = Spill::create(dir.path()).unwrap();
        spill.failed.store(true, Ordering::Relaxed);
        let packed = Packed::spilled(&spill, "kept anyway");
        assert_eq!(packed.text().unwrap(), "kept anyway");
        assert!(packed.stored_bytes() > 0);
    }
}
