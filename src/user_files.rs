//! Writing a file a user named, as a compiler or an editor would: a regular file (or a name
//! not yet taken) is replaced atomically through a temporary name beside it and a rename, so
//! a failure never leaves half a file; anything else that exists — `/dev/null`, a FIFO, a
//! terminal — is opened and written in place, never replaced or unlinked; a symbolic link
//! stays a link and the file it names gets the bytes.

use std::fs::OpenOptions;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// Writes `bytes` to `target` (see the module comment), new files created 0666 & ~umask.
///
/// Run as root, a rename over `-o /dev/null` would replace the machine's null device with a
/// regular file; as anyone else it fails where gcc succeeds. So only a regular file (or a
/// name not yet taken) is replaced; an existing non-regular file is written through.
pub fn write(target: &Path, bytes: &[u8]) -> io::Result<()> {
    match std::fs::metadata(target) {
        Ok(meta) if meta.is_file() => write_atomically(&through_links(target)?, bytes),
        Ok(_) => write_in_place(target, bytes),
        // A link to a name not yet taken: the file the link names is created.
        Err(e) if e.kind() == io::ErrorKind::NotFound && target.is_symlink() => {
            write_in_place(target, bytes)
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => write_atomically(target, bytes),
        Err(e) => Err(e),
    }
}

/// The file a chain of symbolic links ends at, so that the rename replaces the file a
/// compiler would have written and leaves the user's link a link.
fn through_links(target: &Path) -> io::Result<PathBuf> {
    if target.is_symlink() {
        std::fs::canonicalize(target)
    } else {
        Ok(target.to_path_buf())
    }
}

/// Opens an existing device or FIFO (or creates through a dangling link) and writes to it,
/// as `as -o /dev/null` does.
fn write_in_place(target: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(target)?;
    file.write_all(bytes)?;
    file.flush()
}

/// A temp file in the same directory, then a rename over `target`.
fn write_atomically(target: &Path, bytes: &[u8]) -> io::Result<()> {
    let dir = match target.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut temp = tempfile::Builder::new()
        .prefix(&format!(".{name}."))
        .suffix(".tmp")
        .tempfile_in(dir)?;
    temp.write_all(bytes)?;
    set_mode_from_umask(temp.as_file())?;
    temp.persist(target).map_err(|e| e.error)?;
    Ok(())
}

fn set_mode_from_umask(file: &std::fs::File) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let mask = nix::sys::stat::umask(nix::sys::stat::Mode::empty());
    nix::sys::stat::umask(mask);
    file.set_permissions(std::fs::Permissions::from_mode(0o666 & !mask.bits()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regular_file_is_replaced_and_no_temp_file_is_left() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("foo.o");
        write(&target, b"one").unwrap();
        write(&target, b"two").unwrap();
        assert_eq!(std::fs::read(&target).unwrap(), b"two");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn fifo_is_written_through_and_stays_a_fifo() {
        use std::os::unix::fs::FileTypeExt;
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("pipe.o");
        nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
        let reader = {
            let fifo = fifo.clone();
            std::thread::spawn(move || std::fs::read(fifo).unwrap())
        };
        write(&fifo, b"object bytes").unwrap();
        assert_eq!(reader.join().unwrap(), b"object bytes");
        assert!(
            std::fs::symlink_metadata(&fifo)
                .unwrap()
                .file_type()
                .is_fifo()
        );
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn link_to_a_file_stays_a_link_and_its_file_gets_the_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("real.o");
        let link = dir.path().join("link.o");
        std::fs::write(&real, b"old").unwrap();
        std::os::unix::fs::symlink(&real, &link).unwrap();
        write(&link, b"new").unwrap();
        assert!(link.is_symlink());
        assert_eq!(std::fs::read(&real).unwrap(), b"new");
    }

    #[test]
    fn missing_directory_is_an_error_as_for_the_compiler() {
        let dir = tempfile::tempdir().unwrap();
        assert!(write(&dir.path().join("no/such/dir/foo.o"), b"x").is_err());
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }
}
