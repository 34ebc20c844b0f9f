//! A file as the cache recognises it: replaced, rewritten or touched, it is another file.

use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use super::key::KeyBytes;

/// Path, real path, device, inode, size, modification and change time of the file `path`
/// names (through links).
pub(super) fn file_identity(path: &Path) -> std::io::Result<Vec<u8>> {
    let meta = std::fs::metadata(path)?;
    let real = std::fs::canonicalize(path)?;
    let mut key = KeyBytes::default();
    key.field("path", path.as_os_str().as_bytes())
        .field("real", real.as_os_str().as_bytes());
    for (name, value) in [
        ("dev", meta.dev() as i64),
        ("ino", meta.ino() as i64),
        ("size", meta.size() as i64),
        ("mtime", meta.mtime()),
        ("mtime_ns", meta.mtime_nsec()),
        ("ctime", meta.ctime()),
        ("ctime_ns", meta.ctime_nsec()),
    ] {
        key.field(name, &value.to_le_bytes());
    }
    Ok(key.into_bytes())
}
