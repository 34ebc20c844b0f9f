//! Running the compiler here, exactly as the caller asked, with its output going straight to
//! the caller: for jobs that cannot be distributed and for fallbacks.

use std::ffi::OsString;
use std::os::unix::process::ExitStatusExt;
use std::path::Path;

/// Runs `compiler args…` with inherited stdio and returns its exit code (128 + signal when
/// it was killed). The child gets `_DISTCC_SAFEGUARD` so that a masquerade link found by
/// mistake cannot recurse into us.
pub fn run(
    compiler: &Path,
    args: &[String],
    path: Option<&OsString>,
    safeguard: u32,
) -> std::io::Result<i32> {
    let mut command = std::process::Command::new(compiler);
    command
        .args(args)
        .env("_DISTCC_SAFEGUARD", (safeguard + 1).to_string());
    if let Some(path) = path {
        command.env("PATH", path);
    }
    let status = command.status()?;
    Ok(status
        .code()
        .unwrap_or_else(|| 128 + status.signal().unwrap_or(0)))
}
