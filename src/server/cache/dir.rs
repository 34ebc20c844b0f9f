//! The cache directory: created 0700 for the server's user, and refused when someone else
//! could plant or read entries in it (a planted entry with a matching key would be served to
//! every client as its object).

use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::path::{Path, PathBuf};

/// Temporary files are written here and renamed into place.
pub(super) const TMP: &str = "tmp";

#[derive(Debug, thiserror::Error)]
pub enum CacheDirError {
    #[error(
        "cache directory {path}: it is a symbolic link; give the real directory (a link could be \
         turned to another place)"
    )]
    Symlink { path: PathBuf },
    #[error("cache directory {path}: it exists and is not a directory")]
    NotDirectory { path: PathBuf },
    #[error(
        "cache directory {path}: it belongs to uid {owner}, and this server runs as uid {us}; \
         give a directory of the server's user, or a path that does not exist yet"
    )]
    Owner { path: PathBuf, owner: u32, us: u32 },
    #[error(
        "cache directory {path}: its mode is {mode:04o}, open to other users, who could read \
         the cached objects or plant their own; run `chmod 700 {path}`"
    )]
    Mode { path: PathBuf, mode: u32 },
    #[error("cache directory {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Creates `path` (0700) when it does not exist, checks it, and makes its `tmp/`.
pub(super) fn open(path: &Path) -> Result<PathBuf, CacheDirError> {
    let io = |source| CacheDirError::Io {
        path: path.to_path_buf(),
        source,
    };
    match std::fs::symlink_metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(path)
            .map_err(io)?,
        Err(e) => return Err(io(e)),
        Ok(_) => {}
    }
    // Checked after creating too: someone may have put a link there in between.
    let meta = std::fs::symlink_metadata(path).map_err(io)?;
    let us = nix::unistd::geteuid().as_raw();
    if meta.file_type().is_symlink() {
        return Err(CacheDirError::Symlink {
            path: path.to_path_buf(),
        });
    }
    if !meta.is_dir() {
        return Err(CacheDirError::NotDirectory {
            path: path.to_path_buf(),
        });
    }
    if meta.uid() != us {
        return Err(CacheDirError::Owner {
            path: path.to_path_buf(),
            owner: meta.uid(),
            us,
        });
    }
    let mode = meta.mode() & 0o7777;
    if mode & 0o077 != 0 {
        return Err(CacheDirError::Mode {
            path: path.to_path_buf(),
            mode,
        });
    }
    make_private_dir(&path.join(TMP)).map_err(io)?;
    Ok(path.to_path_buf())
}

/// A 0700 directory, if it is not there yet.
pub(super) fn make_private_dir(path: &Path) -> std::io::Result<()> {
    match std::fs::DirBuilder::new().mode(0o700).create(path) {
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn a_missing_directory_is_created_private() {
        let top = tempfile::tempdir().unwrap();
        let path = top.path().join("a/cache");
        open(&path).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700);
        assert!(path.join(TMP).is_dir());
    }

    #[test]
    fn links_files_and_open_directories_are_refused_by_name() {
        let top = tempfile::tempdir().unwrap();
        let real = top.path().join("real");
        open(&real).unwrap();
        let link = top.path().join("link");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        let err = open(&link).unwrap_err();
        assert!(matches!(err, CacheDirError::Symlink { .. }), "{err}");
        assert!(err.to_string().contains(&link.display().to_string()));

        let file = top.path().join("file");
        std::fs::write(&file, b"").unwrap();
        assert!(matches!(
            open(&file).unwrap_err(),
            CacheDirError::NotDirectory { .. }
        ));

        let open_dir = top.path().join("open");
        std::fs::create_dir(&open_dir).unwrap();
        std::fs::set_permissions(&open_dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        let err = open(&open_dir).unwrap_err();
        assert!(err.to_string().contains("chmod 700"), "{err}");
    }
}
