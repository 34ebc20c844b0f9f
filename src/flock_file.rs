//! Lock files held with `flock` by whoever does something only one process should: the
//! agent claiming its socket, the wrapper that starts the agent, the wrapper that asks a host
//! which compiler it runs.

use nix::fcntl::{Flock, FlockArg};
use std::path::Path;

/// An exclusive `flock` on the file at `path` (created if missing), without waiting.
/// `Ok(None)`: someone else holds it.
pub fn try_lock(path: &Path) -> std::io::Result<Option<Flock<std::fs::File>>> {
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)?;
    match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
        Ok(lock) => Ok(Some(lock)),
        Err((_, nix::errno::Errno::EWOULDBLOCK)) => Ok(None),
        Err((_, e)) => Err(e.into()),
    }
}
