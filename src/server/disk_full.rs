//! A job that failed because the server's `TMPDIR` is full is told so: the client then
//! compiles elsewhere instead of reporting a compile error that is not the source's.

use std::path::Path;

/// The line for the client when a failed compiler said it had no space, or the file system
/// of `job_dir` has no space (or no inodes) left.
pub fn explain(job_dir: &Path, stderr: &[u8]) -> Option<String> {
    // A driver removes its partial files before it exits, so the space may be back by now.
    let said = memchr::memmem::find(stderr, b"No space left on device").is_some();
    let full = nix::sys::statvfs::statvfs(job_dir)
        .is_ok_and(|s| s.blocks_available() == 0 || s.files_available() == 0);
    (said || full).then(|| message(job_dir))
}

/// Whether `error` says the disk is full.
pub fn is_disk_full(error: &std::io::Error) -> bool {
    error.kind() == std::io::ErrorKind::StorageFull
        || error.raw_os_error() == Some(nix::libc::EDQUOT)
}

/// What the client is shown: the server's TMPDIR (the job directory's parent) is full.
pub fn message(job_dir: &Path) -> String {
    let tmpdir = job_dir.parent().unwrap_or(job_dir);
    format!(
        "distfarm server: no space left in the server's TMPDIR {}: the job could not be \
         compiled there (free some space or point TMPDIR elsewhere)\n",
        tmpdir.display()
    )
}
