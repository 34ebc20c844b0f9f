//! Each file a pump-mode job ships, read, hashed and LZO-compressed once per version of the
//! file, then handed to every job that includes it: a build's common headers cost their
//! compression once instead of once per job (distcc's include server keeps compressed copies
//! for the same reason). A file is known by its device, inode, size, mtime and ctime, read
//! before and after reading it, so a file changed meanwhile is never kept.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use crate::include_scan::Stamp;
use crate::protocol::packed_tree::PackedFile;

/// Packed bytes kept at most; over that the cache starts afresh (a build's headers fit many
/// times over).
const LIMIT: usize = 512 << 20;

#[derive(Default)]
pub struct PackedFiles {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    files: HashMap<PathBuf, (Stamp, Arc<PackedFile>)>,
    bytes: usize,
}

impl PackedFiles {
    /// `path` packed, from the cache while the file is unchanged.
    pub fn get(&self, path: &Path) -> std::io::Result<Arc<PackedFile>> {
        let meta = std::fs::metadata(path)?;
        let before = Stamp::of(&meta);
        if let Some((stamp, packed)) = self.inner.lock().expect("packed files").files.get(path)
            && *stamp == before
        {
            return Ok(packed.clone());
        }
        let content = std::fs::read(path)?;
        let packed = Arc::new(PackedFile::of(&content));
        if Stamp::of(&std::fs::metadata(path)?) == before && content.len() as u64 == meta.len() {
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
        let first = files.get(&header).unwrap();
        assert!(Arc::ptr_eq(&first, &files.get(&header).unwrap()), "kept");
        assert_eq!(
            first.hash,
            crate::protocol::hashed_tree::content_hash(b"#define A 1\n")
        );
        std::fs::write(&header, "#define A 22\n").unwrap();
        let second = files.get(&header).unwrap();
        assert_eq!(
            second.hash,
            crate::protocol::hashed_tree::content_hash(b"#define A 22\n")
        );
    }
}
