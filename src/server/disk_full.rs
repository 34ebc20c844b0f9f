//! A job that failed because the server's `TMPDIR` is full is told so: the client then
//! compiles elsewhere instead of reporting a compile error that is not the source's.

use std::path::Path;

/// The line for the client when the file system of `job_dir` has no space (or no inodes)
/// left for an unprivileged writer.
pub fn explain(job_dir: &Path) -> Option<String> {
    let stat = nix::sys::statvfs::statvfs(job_dir).ok()?;
    let full = stat.blocks_available() == 0 || stat.files_available() == 0;
    full.then(|| message(job_dir))
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
