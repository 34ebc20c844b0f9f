//! Writing results where the caller expects them: the object through a temporary name and a
//! rename (a failed or interrupted job never leaves a half-written `.o`), and the compiler's
//! stdout and stderr replayed as a local compile would have printed them.

use std::io::{self, Write};
use std::path::Path;

/// Writes `bytes` to `target` atomically: a temp file in the same directory, then rename.
pub fn write_atomically(target: &Path, bytes: &[u8]) -> io::Result<()> {
    let dir = match target.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    std::fs::create_dir_all(dir)?;
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut temp = tempfile::Builder::new()
        .prefix(&format!(".{name}."))
        .suffix(".tmp")
        .tempfile_in(dir)?;
    temp.write_all(bytes)?;
    // Objects are created 0666 & ~umask, like the compiler would.
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

pub fn replay(stdout: &[u8], stderr: &[u8]) {
    let _ = io::stdout().write_all(stdout);
    let _ = io::stdout().flush();
    let _ = io::stderr().write_all(stderr);
}

/// A process exit code for a wait status, as a shell would report it: the exit code, or
/// 128 + signal.
pub fn exit_code_of_wait_status(status: u32) -> i32 {
    let signal = status & 0x7f;
    if signal != 0 {
        128 + signal as i32
    } else {
        ((status >> 8) & 0xff) as i32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_replaces_and_leaves_no_temp_files() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("sub/foo.o");
        write_atomically(&target, b"one").unwrap();
        write_atomically(&target, b"two").unwrap();
        assert_eq!(std::fs::read(&target).unwrap(), b"two");
        assert_eq!(
            std::fs::read_dir(dir.path().join("sub")).unwrap().count(),
            1
        );
    }

    #[test]
    fn wait_status_becomes_a_shell_exit_code() {
        assert_eq!(exit_code_of_wait_status(0), 0);
        assert_eq!(exit_code_of_wait_status(1 << 8), 1);
        assert_eq!(exit_code_of_wait_status(9), 137);
    }
}
