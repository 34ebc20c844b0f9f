//! distcc's zeroconf files in `<DISTCC_DIR>/zeroconf/` (`zeroconf.c`), used the same way so
//! that distcc and distfarm clients sharing a `DISTCC_DIR` share one browser:
//!
//! * `lock`: the running browser holds a whole-file `fcntl` write lock on it; a client that
//!   can take that lock knows none runs and starts one.
//! * `hosts`: the servers found, one `ADDR:PORT/JOBS` line each, rewritten in place under a
//!   write lock and read under a read lock. Its access time says when a client last read
//!   it: the browser exits after [`IDLE_LIMIT`] without readers. (We set that time
//!   ourselves after reading, because `relatime` mounts would not.)

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, Write};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// distcc's `MAX_IDLE_TIME`: the browser exits when the hosts file was not read for this
/// long. It is also how stale the list may be: at most one build's pause.
pub const IDLE_LIMIT: Duration = Duration::from_secs(20);
/// distcc's `MAX_FILE_SIZE`.
const MAX_HOSTS_BYTES: u64 = 100 * 1024;

/// `<DISTCC_DIR>/zeroconf`, created if needed (distcc's `dcc_get_subdir`).
pub fn dir(distcc_dir: &Path) -> io::Result<PathBuf> {
    let dir = distcc_dir.join("zeroconf");
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

pub fn lock_path(dir: &Path) -> PathBuf {
    dir.join("lock")
}

pub fn hosts_path(dir: &Path) -> PathBuf {
    dir.join("hosts")
}

/// Takes the browser's lock without waiting; `None` when a browser (ours or distcc's)
/// holds it. The lock lasts as long as the file stays open.
pub fn take_browser_lock(dir: &Path) -> io::Result<Option<File>> {
    let file = open_rw(&lock_path(dir))?;
    match set_lock(&file, nix::libc::F_WRLCK, false) {
        Ok(()) => Ok(Some(file)),
        Err(nix::errno::Errno::EAGAIN | nix::errno::Errno::EACCES) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// Whether a browser runs now (it holds the lock).
pub fn browser_running(dir: &Path) -> io::Result<bool> {
    // Taking and dropping the lock at once is what distcc's client does too.
    Ok(take_browser_lock(dir)?.is_none())
}

/// The discovered list as its file holds it, read under a read lock; marks it as read.
/// A missing file reads as empty.
pub fn read_hosts(dir: &Path) -> io::Result<String> {
    let path = hosts_path(dir);
    let mut file = match File::open(&path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(String::new()),
        Err(e) => return Err(e),
    };
    set_lock(&file, nix::libc::F_RDLCK, true)?;
    let mut text = String::new();
    let read = (&mut file).take(MAX_HOSTS_BYTES).read_to_string(&mut text);
    mark_read(&file);
    let _ = set_lock(&file, nix::libc::F_UNLCK, false);
    read?;
    Ok(text)
}

/// The browser's handle on the hosts file.
pub struct HostsFile {
    file: File,
}

impl HostsFile {
    pub fn open(dir: &Path) -> io::Result<HostsFile> {
        Ok(HostsFile {
            file: open_rw(&hosts_path(dir))?,
        })
    }

    /// Replaces the contents with `lines`, under the write lock (readers see the old list
    /// or the new one, never half).
    pub fn write(&mut self, lines: &[String]) -> io::Result<()> {
        let mut text = String::new();
        for line in lines {
            text.push_str(line);
            text.push('\n');
        }
        set_lock(&self.file, nix::libc::F_WRLCK, true)?;
        let written = (|| {
            self.file.rewind()?;
            self.file.set_len(0)?;
            self.file.write_all(text.as_bytes())
        })();
        let _ = set_lock(&self.file, nix::libc::F_UNLCK, false);
        written
    }

    /// How long ago a client last read it, counting from `since` at the latest (a file
    /// not yet read since the browser started counts from its start, as distcc's
    /// `fd_last_used` with its clip time).
    pub fn unread_for(&self, since: SystemTime) -> Duration {
        let read = self
            .file
            .metadata()
            .and_then(|m| m.accessed())
            .unwrap_or(since)
            .max(since);
        SystemTime::now()
            .duration_since(read)
            .unwrap_or(Duration::ZERO)
    }
}

fn open_rw(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
}

/// A whole-file `fcntl` lock as distcc's `generic_lock` takes it.
fn set_lock(file: &File, kind: i32, wait: bool) -> Result<(), nix::errno::Errno> {
    // SAFETY: an all-zero flock is a valid value; we fill the fields we need.
    let mut request: nix::libc::flock = unsafe { std::mem::zeroed() };
    request.l_type = kind as i16;
    request.l_whence = nix::libc::SEEK_SET as i16;
    request.l_start = 0;
    request.l_len = 0;
    let arg = if wait {
        nix::fcntl::FcntlArg::F_SETLKW(&request)
    } else {
        nix::fcntl::FcntlArg::F_SETLK(&request)
    };
    nix::fcntl::fcntl(file.as_raw_fd(), arg).map(drop)
}

/// Sets the access time to now, leaving the modification time: the browser's sign of life.
fn mark_read(file: &File) {
    use nix::sys::time::TimeSpec;
    let _ = nix::sys::stat::futimens(
        file.as_raw_fd(),
        &TimeSpec::UTIME_NOW,
        &TimeSpec::UTIME_OMIT,
    );
}
