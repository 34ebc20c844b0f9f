//! The agent's unix socket: in a 0700 directory, claimed by exactly one agent at a time, and
//! only peers with our own uid are served.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

use nix::fcntl::Flock;
use tokio::net::{UnixListener, UnixStream};

/// Takes the agent's lock beside the socket (creating the private directory first).
/// `Ok(None)`: another agent holds it. The claim lasts as long as the returned value.
pub fn claim(path: &Path) -> std::io::Result<Option<Flock<std::fs::File>>> {
    crate::flock_file::try_lock(&private_dir(path)?.join("agent.lock"))
}

/// Binds the socket, replacing a socket left there: under the claim, no other agent is
/// alive to own it. Anything else at that path is not ours to remove.
pub fn bind(path: &Path) -> std::io::Result<UnixListener> {
    private_dir(path)?;
    remove_stale_socket(path)?;
    UnixListener::bind(path)
}

/// Removes `path` if it is a socket; a missing path is fine, any other file is an error.
pub fn remove_stale_socket(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::FileTypeExt;
    match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_socket() => std::fs::remove_file(path),
        Ok(_) => Err(std::io::Error::new(
            std::io::ErrorKind::AlreadyExists,
            format!(
                "{} exists and is not a socket; not replacing it",
                path.display()
            ),
        )),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

/// The socket's directory: created if needed, refused if another user owns it, made 0700.
fn private_dir(path: &Path) -> std::io::Result<&Path> {
    let dir = path
        .parent()
        .ok_or_else(|| std::io::Error::other("socket path has no directory"))?;
    std::fs::create_dir_all(dir)?;
    if std::fs::metadata(dir)?.uid() != nix::unistd::Uid::effective().as_raw() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::PermissionDenied,
            format!(
                "{} belongs to another user; refusing to put the agent socket there",
                dir.display()
            ),
        ));
    }
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    Ok(dir)
}

/// Whether the peer runs as our own user.
pub fn peer_is_us(stream: &UnixStream) -> bool {
    stream
        .peer_cred()
        .is_ok_and(|cred| cred.uid() == nix::unistd::Uid::effective().as_raw())
}
