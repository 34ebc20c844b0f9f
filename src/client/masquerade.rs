//! Finding the real compiler when we were invoked as `gcc` through a symlink (distcc's
//! masquerade mode): drop every `PATH` entry up to and including our own directory, so the
//! compiler we run is the next one along, never ourselves.

use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};

/// `PATH` with our directory and everything before it removed (`climasq.c`). If `argv0` has
/// a slash its directory is matched; otherwise the first entry holding a program of that name.
pub fn trim_path(argv0: &str, path: &OsStr) -> Option<OsString> {
    let dirs: Vec<PathBuf> = std::env::split_paths(path).collect();
    let name = Path::new(argv0).file_name()?;
    let ours = if argv0.contains('/') {
        let dir = Path::new(argv0).parent()?;
        let dir = std::path::absolute(dir).ok()?;
        let dir = normalize(&dir);
        dirs.iter().position(|d| normalize(d) == dir)?
    } else {
        dirs.iter()
            .position(|d| crate::executables::is_executable(&d.join(name)))?
    };
    std::env::join_paths(&dirs[ours + 1..]).ok()
}

/// The first executable called `name` on `path` that is not a link back to distfarm or distcc.
pub fn find_compiler(name: &str, path: &OsStr) -> Option<PathBuf> {
    crate::executables::find_on_path(name, path)
}

/// `./` and `dir/..` folded, as distcc does before comparing.
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for part in path.components() {
        match part {
            std::path::Component::CurDir => {}
            std::path::Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_after_our_own_directory_is_kept() {
        let path = OsStr::new("/usr/lib/distcc:/usr/local/bin:/usr/bin");
        assert_eq!(
            trim_path("/usr/lib/distcc/gcc", path).unwrap(),
            "/usr/local/bin:/usr/bin"
        );
        assert_eq!(
            trim_path("/usr/lib/distcc/./gcc", path).unwrap(),
            "/usr/local/bin:/usr/bin"
        );
        assert!(trim_path("/elsewhere/gcc", path).is_none());
    }

    #[test]
    fn real_gcc_is_found_and_masquerade_links_are_skipped() {
        let dir = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink("/usr/bin/distcc", dir.path().join("gcc")).unwrap();
        let path = std::env::join_paths([dir.path(), Path::new("/usr/bin")]).unwrap();
        assert_eq!(
            find_compiler("gcc", &path).unwrap(),
            Path::new("/usr/bin/gcc")
        );
    }
}
