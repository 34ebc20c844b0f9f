//! Slot locks and backoff marks in `$DISTCC_DIR/lock`, the same files distcc 3.4 uses, so
//! that distfarm and distcc clients sharing a `DISTCC_DIR` respect each other.
//!
//! A slot is a POSIX record lock (`fcntl F_SETLK`, whole file) on `cpu_<host>_<slot>`; a
//! backoff mark is the mtime of `backoff_<host>_0`.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// A held slot. Dropping it closes the file, which releases the lock.
#[derive(Debug)]
pub struct SlotLock {
    _file: File,
    pub name: String,
}

/// Tries to take `name` without waiting. `Ok(None)` means someone else holds it.
pub fn try_lock(lock_dir: &Path, name: &str) -> io::Result<Option<SlotLock>> {
    let file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .open(lock_dir.join(name))?;
    // SAFETY: an all-zero flock is a valid value; we fill the fields we need.
    let mut request: nix::libc::flock = unsafe { std::mem::zeroed() };
    request.l_type = nix::libc::F_WRLCK as i16;
    request.l_whence = nix::libc::SEEK_SET as i16;
    request.l_start = 0;
    request.l_len = 0; // the whole file, as distcc locks it
    match nix::fcntl::fcntl(file.as_raw_fd(), nix::fcntl::FcntlArg::F_SETLK(&request)) {
        Ok(_) => Ok(Some(SlotLock {
            _file: file,
            name: name.to_string(),
        })),
        Err(nix::errno::Errno::EAGAIN | nix::errno::Errno::EACCES) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// Creates `$DISTCC_DIR/lock` if needed and returns it.
pub fn lock_dir(distcc_dir: &Path) -> io::Result<PathBuf> {
    let dir = distcc_dir.join("lock");
    fs::create_dir_all(&dir)?;
    Ok(dir)
}

/// Whether `backoff_name` was marked within `period`. A period of zero disables backoff.
pub fn is_backed_off(lock_dir: &Path, backoff_name: &str, period: Duration) -> bool {
    backoff_left(lock_dir, backoff_name, period).is_some()
}

/// How much of `backoff_name`'s backoff is left, if it is backed off.
pub fn backoff_left(lock_dir: &Path, backoff_name: &str, period: Duration) -> Option<Duration> {
    if period.is_zero() {
        return None;
    }
    fs::metadata(lock_dir.join(backoff_name))
        .and_then(|m| m.modified())
        .ok()
        .and_then(|mtime| {
            SystemTime::now()
                .duration_since(mtime)
                .ok()
                .or(Some(Duration::ZERO))
        })
        .filter(|age| *age < period)
        .map(|age| period - age)
}

/// Marks a host as failing now (distcc writes one byte to bump the mtime).
pub fn dislike(lock_dir: &Path, backoff_name: &str, period: Duration) {
    if period.is_zero() {
        return;
    }
    let written = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(lock_dir.join(backoff_name))
        .and_then(|mut f| f.write_all(b"x"));
    if let Err(e) = written {
        tracing::warn!(
            "cannot record backoff in {}: {e}",
            lock_dir.join(backoff_name).display()
        );
    }
}

/// Clears a host's backoff mark after a successful round trip.
pub fn enjoy(lock_dir: &Path, backoff_name: &str, period: Duration) {
    if period.is_zero() {
        return;
    }
    let _ = fs::remove_file(lock_dir.join(backoff_name));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_marks_expire_after_the_period() {
        let dir = tempfile::tempdir().unwrap();
        let name = "backoff_tcp_box_3632_0";
        assert!(!is_backed_off(dir.path(), name, Duration::from_secs(60)));
        dislike(dir.path(), name, Duration::from_secs(60));
        assert!(is_backed_off(dir.path(), name, Duration::from_secs(60)));
        assert!(!is_backed_off(dir.path(), name, Duration::ZERO));
        enjoy(dir.path(), name, Duration::from_secs(60));
        assert!(!is_backed_off(dir.path(), name, Duration::from_secs(60)));
    }
}
