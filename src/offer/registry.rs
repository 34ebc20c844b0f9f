//! The client's side of offers on disk: `$DISTCC_DIR/offers/ID.entry` files, the sockets of
//! `--socket` offers beside them (`ID.sock`, made by sshd), and the marked blocks in
//! `$DISTCC_DIR/hosts`. The holder writes and removes them; every job reads the live ones and
//! removes the dead ([`live_entries`]).

use std::io;
use std::os::unix::fs::{DirBuilderExt, FileTypeExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use nix::fcntl::{Flock, FlockArg};

use super::entry::{self, EXTENSION, Entry, OFFERS_DIR};

/// `$DISTCC_DIR/offers`, made (0700) if needed.
pub fn offers_dir(distcc_dir: &Path) -> io::Result<PathBuf> {
    let dir = distcc_dir.join(OFFERS_DIR);
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&dir)?;
    Ok(dir)
}

/// Where a `--socket` offer's socket goes, made ready: `$DISTCC_DIR/offers` exists, belongs
/// to this user and is 0700 (tightened if it was looser: it is distfarm's own directory),
/// so only this user may connect; a stale socket of that name is removed (sshd would not
/// replace it); anything else of that name is left alone and refused.
pub fn prepare_socket(distcc_dir: &Path, id: &str) -> io::Result<PathBuf> {
    let dir = offers_dir(distcc_dir)?;
    let meta = std::fs::metadata(&dir)?;
    if meta.uid() != nix::unistd::Uid::effective().as_raw() {
        return Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            format!(
                "{} belongs to another user (uid {}): a socket there would not be private",
                dir.display(),
                meta.uid()
            ),
        ));
    }
    if meta.permissions().mode() & 0o077 != 0 {
        tracing::info!("{} was open to others: making it 0700", dir.display());
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700))?;
    }
    let path = entry::socket_path(distcc_dir, id);
    if path.as_os_str().len() > entry::SOCKET_PATH_MAX {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "the socket path {} is longer than the {} bytes a Unix socket may have:                  set DISTCC_DIR to a shorter directory",
                path.display(),
                entry::SOCKET_PATH_MAX
            ),
        ));
    }
    match std::fs::symlink_metadata(&path) {
        Ok(m) if m.file_type().is_socket() => remove_socket(&path)?,
        Ok(_) => {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                format!("{} exists and is not a socket: left alone", path.display()),
            ));
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    Ok(path)
}

/// Removes `path` if it is a socket; anything else (or nothing) there is left as it is.
pub fn remove_socket(path: &Path) -> io::Result<()> {
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_socket() => match std::fs::remove_file(path) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        },
        _ => Ok(()),
    }
}

/// Writes the entry file (whole or not at all).
pub fn write_entry(distcc_dir: &Path, entry: &Entry) -> io::Result<PathBuf> {
    let dir = offers_dir(distcc_dir)?;
    let path = entry::path(distcc_dir, &entry.id);
    let mut temp = tempfile::NamedTempFile::new_in(&dir)?;
    io::Write::write_all(&mut temp, entry.to_text().as_bytes())?;
    temp.persist(&path).map_err(|e| e.error)?;
    Ok(path)
}

/// Removes the entry file of `id`, its socket and its hosts-file block, if any.
pub fn remove(distcc_dir: &Path, id: &str) -> io::Result<()> {
    match std::fs::remove_file(entry::path(distcc_dir, id)) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
        _ => {}
    }
    remove_socket(&entry::socket_path(distcc_dir, id))?;
    edit_hosts_file(distcc_dir, |text| entry::without_block(text, id))
}

/// Adds (or replaces) the block of `entry` in `$DISTCC_DIR/hosts`. A socket entry is
/// refused: plain distcc, which reads that file, cannot use it (it rejects the whole list).
pub fn add_block(distcc_dir: &Path, entry: &Entry) -> io::Result<()> {
    if entry.host.starts_with(crate::hosts::UNIX_PREFIX) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "{} is a socket entry, which plain distcc cannot use: it is not written                  into the distcc hosts file",
                entry.host
            ),
        ));
    }
    edit_hosts_file(distcc_dir, |text| {
        entry::with_block(text, &entry.id, &entry.host)
    })
}

/// Rewrites `$DISTCC_DIR/hosts` through `edit`, under a lock shared by every holder, by
/// renaming a new file over it (a reader sees the old text or the new, never half). A file
/// that ends up empty is removed, so that distcc falls back to `/etc/distcc/hosts` as before
/// the offer; a file that does not exist and gains nothing is not created.
fn edit_hosts_file(distcc_dir: &Path, edit: impl FnOnce(&str) -> String) -> io::Result<()> {
    let _lock = lock(distcc_dir)?;
    let path = distcc_dir.join("hosts");
    let (old, mode) = match std::fs::read_to_string(&path) {
        Ok(text) => {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path)?.permissions().mode();
            (Some(text), mode)
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => (None, 0o644),
        Err(e) => return Err(e),
    };
    let new = edit(old.as_deref().unwrap_or(""));
    if old.as_deref() == Some(new.as_str()) || (old.is_none() && new.is_empty()) {
        return Ok(());
    }
    if new.trim().is_empty() {
        return std::fs::remove_file(&path);
    }
    let mut temp = tempfile::NamedTempFile::new_in(distcc_dir)?;
    io::Write::write_all(&mut temp, new.as_bytes())?;
    use std::os::unix::fs::PermissionsExt;
    temp.as_file()
        .set_permissions(std::fs::Permissions::from_mode(mode))?;
    temp.persist(&path).map_err(|e| e.error)?;
    Ok(())
}

/// An exclusive lock on `$DISTCC_DIR/offers/.lock`, held until dropped.
fn lock(distcc_dir: &Path) -> io::Result<Flock<std::fs::File>> {
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(offers_dir(distcc_dir)?.join(".lock"))?;
    Flock::lock(file, FlockArg::LockExclusive).map_err(|(_, e)| io::Error::from(e))
}

/// The entries of live offers, oldest first; the files (and hosts-file blocks) of dead
/// ones are removed on the way. Hosts-file blocks without an entry file are removed too.
/// Costs one directory read and, per entry, one `/proc` read and one local connect.
pub fn live_entries(distcc_dir: &Path) -> Vec<Entry> {
    let dir = distcc_dir.join(OFFERS_DIR);
    let Ok(listing) = std::fs::read_dir(&dir) else {
        return Vec::new();
    };
    let mut found: Vec<(std::time::SystemTime, Entry)> = Vec::new();
    for file in listing.filter_map(Result::ok) {
        let path = file.path();
        if path.extension().is_none_or(|e| e != EXTENSION) {
            continue;
        }
        let parsed = std::fs::read_to_string(&path)
            .ok()
            .as_deref()
            .and_then(Entry::parse);
        match parsed {
            Some(entry) if entry::is_live(&entry) => {
                let made = file
                    .metadata()
                    .and_then(|m| m.modified())
                    .unwrap_or(std::time::UNIX_EPOCH);
                found.push((made, entry));
            }
            Some(entry) => {
                tracing::info!(
                    "offer {} ({}) is gone: its entry is removed",
                    entry.host,
                    entry.id
                );
                if let Err(e) = remove(distcc_dir, &entry.id) {
                    tracing::debug!("cannot remove the dead offer {}: {e}", path.display());
                }
            }
            None => {} // being written, or not ours
        }
    }
    found.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.id.cmp(&b.1.id)));
    let live: Vec<Entry> = found.into_iter().map(|(_, e)| e).collect();
    remove_orphan_blocks(distcc_dir, &live);
    remove_dead_sockets(&dir);
    live
}

/// Sockets without an entry, left by offers that died before recording it: a socket nobody
/// listens on refuses connections. One being set up does not exist
/// yet or already listens, so it is kept; only sockets are ever removed.
fn remove_dead_sockets(dir: &Path) {
    let Ok(listing) = std::fs::read_dir(dir) else {
        return;
    };
    for file in listing.filter_map(Result::ok) {
        let path = file.path();
        let is_socket = file.file_type().is_ok_and(|t| t.is_socket());
        if !is_socket
            || path
                .extension()
                .is_none_or(|e| e != entry::SOCKET_EXTENSION)
        {
            continue;
        }
        if path.with_extension(EXTENSION).exists() {
            continue; // a live offer's (the dead ones' went with their entries)
        }
        let refused = matches!(
            std::os::unix::net::UnixStream::connect(&path),
            Err(e) if e.kind() == io::ErrorKind::ConnectionRefused
        );
        if refused {
            tracing::info!("{} is a dead offer's socket: removed", path.display());
            let _ = remove_socket(&path);
        }
    }
}

/// Blocks whose offer left no entry file (its holder was killed between the two).
fn remove_orphan_blocks(distcc_dir: &Path, live: &[Entry]) {
    let Ok(text) = std::fs::read_to_string(distcc_dir.join("hosts")) else {
        return;
    };
    let orphans: Vec<String> = entry::block_ids(&text)
        .into_iter()
        .filter(|id| !live.iter().any(|e| &e.id == id) && !entry::path(distcc_dir, id).exists())
        .collect();
    if orphans.is_empty() {
        return;
    }
    let _ = edit_hosts_file(distcc_dir, |text| {
        orphans
            .iter()
            .fold(text.to_string(), |t, id| entry::without_block(&t, id))
    });
}
