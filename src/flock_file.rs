//! Lock files held with `flock` by whoever does something only one process should: the
//! agent claiming its socket, the wrapper that starts the agent, the wrapper that asks a host
//! which compiler it runs, the wrapper that asks the local compiler who it is (the others
//! wait for its answer).

use nix::fcntl::{Flock, FlockArg};
use std::path::Path;

/// An exclusive `flock` on the file at `path` (created if missing), without waiting.
/// `Ok(None)`: someone else holds it.
pub fn try_lock(path: &Path) -> std::io::Result<Option<Flock<std::fs::File>>> {
    match Flock::lock(open(path)?, FlockArg::LockExclusiveNonblock) {
        Ok(lock) => Ok(Some(lock)),
        Err((_, nix::errno::Errno::EWOULDBLOCK)) => Ok(None),
        Err((_, e)) => Err(e.into()),
    }
}

/// An exclusive `flock` on the file at `path` (created if missing), waiting for whoever
/// holds it.
pub fn lock(path: &Path) -> std::io::Result<Flock<std::fs::File>> {
    Flock::lock(open(path)?, FlockArg::LockExclusive).map_err(|(_, e)| e.into())
}

fn open(path: &Path) -> std::io::Result<std::fs::File> {
    std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
}
