//! Each file a pump-mode job ships, read, hashed and LZO-compressed once per version of the
//! file, then handed to every job that includes it: a build's common headers cost their
//! compression once instead of once per job (distcc's include server keeps compressed copies
//! for the same reason). A file is known by its device, inode, size, mtime and ctime, read
//! before and after reading it, so a file changed meanwhile is never kept.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use crate::include_scan::{MissLocks, Stamp};
use crate::protocol::packed_tree::PackedFile;

/// Packed bytes kept at most; over that the cache starts afresh (a build's headers fit many
/// times over).
const LIMIT: usize = 512 << 20;

#[derive(Default)]
pub struct PackedFiles {
    inner: Mutex<Inner>,
    misses: MissLocks,
}

#[derive(Default)]
struct Inner {
    files: HashMap<PathBuf, (Stamp, Arc<PackedFile>)>,
    bytes: usize,
}

impl PackedFiles {
    /// `path` packed, from the cache while the file is unchanged. `seen`: its stamp as the
    /// caller just saw it (the scan), which spares looking again.
    pub fn get(&self, path: &Path, seen: Option<Stamp>) -> std::io::Result<Arc<PackedFile>> {
        let before = match seen {
            Some(stamp) => stamp,
            None => Stamp::of(&std::fs::metadata(path)?),
        };
        let cached = || {
            self.inner
                .lock()
                .expect("packed files")
                .files
                .get(path)
                .filter(|(stamp, _)| *stamp == before)
                .map(|(_, packed)| packed.clone())
        };
        let _packing = match self.misses.cached_or_lock(&path, cached) {
            Ok(packed) => return Ok(packed),
            Err(packing) => packing,
        };
        let content = std::fs::read(path)?;
        let packed = Arc::new(PackedFile::of(&content));
        if Stamp::of(&std::fs::metadata(path)?) == before && content.len() as u64 == before.size() {
            let mut inner = self.inner.lock().expect("packed files");
            if inner.bytes + packed.lzo.len() > LIMIT {
                inner.files.clear();
                inner.bytes = 0;
            }
            inner.bytes += packed.lzo.len();
            if let Some((_, old)) = inner
                .files
                .insert(path.to_path_buf(), (before, packed.clone()))
            {
                inner.bytes -= old.lzo.len();
            }
        }
        Ok(packed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_is_packed_once_and_again_when_it_changes() {
        let dir = tempfile::tempdir().unwrap();
        let header = dir.path().join("a.h");
        std::fs::write(&header, "#define A 1\n").unwrap();
        let files = PackedFiles::default();
        let first = files.get(&header, None).unwrap();
        assert!(
            Arc::ptr_eq(&first, &files.get(&header, None).unwrap()),
            "kept"
        );
        assert_eq!(
            first.hash,
            crate::protocol::hashed_tree::content_hash(b"#define A 1\n")
        );
        std::fs::write(&header, "#define A 22\n").unwrap();
        let second = files.get(&header, None).unwrap();
        assert_eq!(
            second.hash,
            crate::protocol::hashed_tree::content_hash(b"#define A 22\n")
        );
    }

    #[test]
    fn a_file_changed_since_the_scan_saw_it_is_shipped_as_it_is_now_and_not_kept() {
        let dir = tempfile::tempdir().unwrap();
        let header = dir.path().join("a.h");
        std::fs::write(&header, "#define A 1\n").unwrap();
        let seen = Stamp::of(&std::fs::metadata(&header).unwrap());
        std::fs::write(&header, "#define A 333\n").unwrap();
        let files = PackedFiles::default();
        let now = files.get(&header, Some(seen)).unwrap();
        assert_eq!(
            now.hash,
            crate::protocol::hashed_tree::content_hash(b"#define A 333\n")
        );
        assert!(
            !Arc::ptr_eq(&now, &files.get(&header, None).unwrap()),
            "packed under a stamp the file no longer has, so not kept"
        );
    }

    #[test]
    fn jobs_missing_the_same_file_at_once_share_one_packing() {
        let dir = tempfile::tempdir().unwrap();
        let header = dir.path().join("big.h");
        std::fs::write(&header, "#define X 1\n".repeat(50_000)).unwrap();
        let files = Arc::new(PackedFiles::default());
        let start = Arc::new(std::sync::Barrier::new(4));
        let packed: Vec<_> = (0..4)
            .map(|_| {
                let (files, start, header) = (files.clone(), start.clone(), header.clone());
                std::thread::spawn(move || {
                    start.wait();
                    files.get(&header, None).unwrap()
                })
            })
            .collect::<Vec<_>>()
            .into_iter()
            .map(|t| t.join().unwrap())
            .collect();
        assert!(
            packed.iter().all(|p| Arc::ptr_eq(p, &packed[0])),
            "one packing, handed to all four"
        );
    }
}
