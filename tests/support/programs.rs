//! Finding the programs a test runs. A missing peer fails the test with the command that
//! installs it: interop tests are never skipped silently.

use std::path::{Path, PathBuf};

/// Directories searched after `PATH`: sshd lives in /usr/sbin, often not on a user's PATH.
const EXTRA_DIRS: [&str; 2] = ["/usr/sbin", "/sbin"];

/// The absolute path of `program`, or `None`.
pub fn find_program(program: &str) -> Option<PathBuf> {
    if program.contains('/') {
        let path = PathBuf::from(program);
        return is_executable(&path).then_some(path);
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(EXTRA_DIRS.iter().map(PathBuf::from))
        .filter(|dir| dir.is_absolute())
        .map(|dir| dir.join(program))
        .find(|candidate| is_executable(candidate))
}

/// The absolute path of `program`; panics with `apt-get install -y <debian_package>` if it
/// is not installed.
#[track_caller]
pub fn require(program: &str, debian_package: &str) -> PathBuf {
    find_program(program).unwrap_or_else(|| {
        panic!(
            "this test needs `{program}`, which is not installed (searched PATH and {}).\n\
             Install it with:  apt-get install -y {debian_package}",
            EXTRA_DIRS.join(", ")
        )
    })
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

/// The `distfarm` binary cargo built for this test run.
pub fn distfarm_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_distfarm"))
}

/// The crate root (where Cargo.toml is).
pub fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `tests/fixtures/<name>`.
pub fn fixture_path(name: &str) -> PathBuf {
    manifest_dir().join("tests/fixtures").join(name)
}

/// The bytes of `tests/fixtures/<name>`.
#[track_caller]
pub fn fixture(name: &str) -> Vec<u8> {
    let path = fixture_path(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read fixture {}: {e}", path.display()))
}

/// The test's own `PATH` (so that every program runs the same gcc as the references), or a
/// default; for environments built from scratch.
pub fn test_path() -> std::ffi::OsString {
    std::env::var_os("PATH").unwrap_or_else(|| "/usr/local/bin:/usr/bin:/bin".into())
}
