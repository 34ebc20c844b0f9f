//! Files and directories a test sets up or inspects. Run as root, a server drops to
//! `distcc`/`nobody`: what it must reach is world-readable, what it must write world-writable.

use std::path::{Path, PathBuf};

/// `chmod mode path`.
pub fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .unwrap_or_else(|e| panic!("chmod {mode:o} {}: {e}", path.display()));
}

/// The file's text, or `""` if it cannot be read (a log not written yet).
pub fn read_text(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

/// The file's bytes; panics with the path.
#[track_caller]
pub fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

/// The names in `dir`, sorted; none if it does not exist.
pub fn list(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

/// `#!/bin/sh`, `body`, mode 0755: a script everyone may run.
pub fn write_script(path: &Path, body: &str) {
    std::fs::write(path, format!("#!/bin/sh\n{body}\n"))
        .unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
    set_mode(path, 0o755);
}

/// A new temp dir (see [`temp_dir`](super::temp_dir)) of mode 0755, for scripts and links a
/// dropped user must reach.
pub fn readable_temp_dir(label: &str) -> tempfile::TempDir {
    let dir = super::temp_dir(label);
    set_mode(dir.path(), 0o755);
    dir
}

/// A new directory `parent/name` of mode 0777, where a dropped user may write.
pub fn open_dir(parent: &Path, name: &str) -> PathBuf {
    let dir = parent.join(name);
    std::fs::create_dir(&dir).unwrap_or_else(|e| panic!("mkdir {}: {e}", dir.display()));
    set_mode(&dir, 0o777);
    dir
}
