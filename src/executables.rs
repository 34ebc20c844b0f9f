//! Finding programs the way every part of distfarm needs it: executable files, and never a
//! link back to distfarm or distcc — running ourselves again would recurse instead of
//! compiling.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};

/// An executable regular file (after following links).
pub fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// An executable that resolves neither to this binary nor to a distcc/distfarm wrapper.
pub fn is_real_program(path: &Path) -> bool {
    if !is_executable(path) {
        return false;
    }
    let target = path.canonicalize().ok();
    let target_name = target
        .as_deref()
        .and_then(Path::file_name)
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    target.as_deref() != this_program()
        && !target_name.contains("distcc")
        && !target_name.contains("distfarm")
}

/// This binary, links resolved. Found once per process: a job looks up several programs,
/// and each look was a `readlink` of `/proc/self/exe` and a `realpath`.
fn this_program() -> Option<&'static Path> {
    static ME: std::sync::OnceLock<Option<PathBuf>> = std::sync::OnceLock::new();
    ME.get_or_init(|| {
        std::env::current_exe()
            .ok()
            .and_then(|p| p.canonicalize().ok())
    })
    .as_deref()
}

/// The first real program called `name` in `dirs`.
pub fn find_in(
    dirs: impl IntoIterator<Item = PathBuf>,
    name: impl AsRef<OsStr>,
) -> Option<PathBuf> {
    dirs.into_iter()
        .map(|dir| dir.join(name.as_ref()))
        .find(|candidate| is_real_program(candidate))
}

/// The first real program called `name` on a `PATH`-style list.
pub fn find_on_path(name: impl AsRef<OsStr>, path: &OsStr) -> Option<PathBuf> {
    find_in(std::env::split_paths(path), name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrapper_links_are_skipped_for_the_real_program() {
        let dir = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink("/usr/bin/distcc", dir.path().join("gcc")).unwrap();
        let path = std::env::join_paths([dir.path(), Path::new("/usr/bin")]).unwrap();
        assert_eq!(
            find_on_path("gcc", &path).unwrap(),
            Path::new("/usr/bin/gcc")
        );
        assert!(!is_real_program(&dir.path().join("gcc")));
        assert!(find_on_path("no-such-program-here", &path).is_none());
    }
}
