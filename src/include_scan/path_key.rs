//! Paths as the scanner's map keys: hashed and compared by their bytes.
//!
//! `Path`'s own `Hash` and `Eq` go component by component (so `a//b` equals `a/b`), which made
//! hashing paths the largest cost of a warm scan. Every path the scanner stores as a real path
//! is built by [`super::resolve`] from `/` one normal component at a time (`push` a name, `pop`
//! for `..`), so it has no `.`, no `..`, no doubled or trailing `/`: for those, byte equality
//! is exactly component equality. Keys that are spellings from the source (include names) are
//! not normalised, and there byte equality is stricter than `Path`'s: two spellings of one
//! path get separate cache entries, each resolved on its own — a missed hit, never a wrong one.

use std::borrow::Borrow;
use std::hash::{Hash, Hasher};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::sync::Arc;

/// A shared path that hashes and compares as its bytes (see the module comment for when that
/// equals `Path`'s equality).
#[derive(Clone, Debug)]
pub struct PathKey(Arc<Path>);

impl PathKey {
    pub fn path(&self) -> &Arc<Path> {
        &self.0
    }

    pub fn bytes(&self) -> &[u8] {
        bytes_of(&self.0)
    }
}

impl From<Arc<Path>> for PathKey {
    fn from(path: Arc<Path>) -> PathKey {
        PathKey(path)
    }
}

impl From<&Path> for PathKey {
    fn from(path: &Path) -> PathKey {
        PathKey(path.into())
    }
}

impl Hash for PathKey {
    // The same as `[u8]`'s, which `Borrow<[u8]>` requires.
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.bytes().hash(state)
    }
}

impl PartialEq for PathKey {
    fn eq(&self, other: &PathKey) -> bool {
        self.bytes() == other.bytes()
    }
}

impl Eq for PathKey {}

impl Borrow<[u8]> for PathKey {
    fn borrow(&self) -> &[u8] {
        self.bytes()
    }
}

pub fn bytes_of(path: &Path) -> &[u8] {
    path.as_os_str().as_bytes()
}

/// Whether the normalised absolute `path` is `dir` or below it — `Path::starts_with` without
/// splitting either into components.
pub fn is_within(path: &Path, dir: &Path) -> bool {
    let (path, dir) = (bytes_of(path), bytes_of(dir));
    path.starts_with(dir)
        && (path.len() == dir.len() || dir.ends_with(b"/") || path[dir.len()] == b'/')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn is_within_agrees_with_starts_with_on_normalised_paths() {
        let cases = [
            ("/usr/include/stdio.h", "/usr/include"),
            ("/usr/include", "/usr/include"),
            ("/usr/includes/x.h", "/usr/include"),
            ("/usr/include/x.h", "/"),
            ("/", "/"),
            ("/usr", "/usr/include"),
            ("/a/b", "/a/bc"),
        ];
        for (path, dir) in cases {
            assert_eq!(
                is_within(Path::new(path), Path::new(dir)),
                Path::new(path).starts_with(dir),
                "{path} within {dir}"
            );
        }
    }

    #[test]
    fn keys_equal_exactly_when_their_bytes_do() {
        let a = PathKey::from(Path::new("/a/b"));
        assert_eq!(a, PathKey::from(Path::new("/a/b")));
        // Path equality would call these equal; as keys they are separate entries.
        assert_ne!(a, PathKey::from(Path::new("/a//b")));
        let mut set = std::collections::HashSet::new();
        set.insert(a);
        assert!(set.contains(&b"/a/b"[..]));
    }
}
