//! `distfarm install-links DIR`: masquerade links for every compiler on this machine, what
//! `/usr/lib/distcc` is for distcc (put DIR first on PATH and `gcc` goes through the farm).

use std::io;
use std::path::{Path, PathBuf};

use crate::compiler_names::{DRIVERS, is_compiler_family_name};

/// Names on `path` that are compilers: the base names and any `<triple>-gcc[-N]`,
/// `gcc-N`, `clang-N` … forms.
pub fn compilers_on_path(path: &std::ffi::OsStr) -> Vec<String> {
    let mut names = std::collections::BTreeSet::new();
    for dir in std::env::split_paths(path) {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if is_compiler_name(&name) && crate::executables::is_real_program(&entry.path()) {
                names.insert(name);
            }
        }
    }
    names.into_iter().collect()
}

fn is_compiler_name(name: &str) -> bool {
    DRIVERS.contains(&name) || is_compiler_family_name(name) && !name.ends_with("-gcc-ar")
}

/// Creates `dir/NAME -> distfarm` for each name, replacing stale links. Returns the names.
pub fn install(dir: &Path, distfarm: &Path, names: &[String]) -> io::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir)?;
    let mut made = Vec::new();
    for name in names {
        let link = dir.join(name);
        if link.symlink_metadata().is_ok() {
            if std::fs::read_link(&link).is_ok_and(|t| t == distfarm) {
                made.push(link);
                continue;
            }
            if !link.symlink_metadata()?.file_type().is_symlink() {
                return Err(io::Error::new(
                    io::ErrorKind::AlreadyExists,
                    format!(
                        "{} exists and is not a link; not replacing it",
                        link.display()
                    ),
                ));
            }
            std::fs::remove_file(&link)?;
        }
        std::os::unix::fs::symlink(distfarm, &link)?;
        made.push(link);
    }
    Ok(made)
}

/// `--update-masquerade`: links for `names` as [`install`] makes them, and every other link
/// in `dir` that points at `distfarm` removed (a compiler that is gone). Anything else in
/// `dir` is left alone. Returns the links made and the ones removed.
pub fn refresh(
    dir: &Path,
    distfarm: &Path,
    names: &[String],
) -> io::Result<(Vec<PathBuf>, Vec<PathBuf>)> {
    let made = install(dir, distfarm, names)?;
    let mut removed = Vec::new();
    for entry in std::fs::read_dir(dir)?.flatten() {
        let link = entry.path();
        let ours = std::fs::read_link(&link).is_ok_and(|t| t == distfarm);
        if ours && !made.contains(&link) {
            std::fs::remove_file(&link)?;
            removed.push(link);
        }
    }
    Ok((made, removed))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compiler_names_include_triples_and_versions_but_not_tools() {
        for yes in [
            "gcc",
            "cc",
            "c++",
            "gcc-12",
            "x86_64-linux-gnu-gcc-12",
            "clang++-16",
        ] {
            assert!(is_compiler_name(yes), "{yes}");
        }
        for no in [
            "gcc-ar",
            "gcc-nm",
            "x86_64-linux-gnu-gcc-ar-12",
            "as",
            "ld",
            "cpp",
        ] {
            assert!(!is_compiler_name(no), "{no}");
        }
    }

    #[test]
    fn links_point_at_distfarm_and_are_idempotent() {
        let dir = tempfile::tempdir().unwrap();
        let me = Path::new("/usr/local/bin/distfarm");
        let names = vec!["gcc".to_string(), "cc".to_string()];
        install(dir.path(), me, &names).unwrap();
        install(dir.path(), me, &names).unwrap();
        assert_eq!(std::fs::read_link(dir.path().join("gcc")).unwrap(), me);
        std::fs::write(dir.path().join("g++"), b"real file").unwrap();
        assert!(install(dir.path(), me, &["g++".to_string()]).is_err());
    }
}
