//! Whether the program a long-lived server runs has been replaced on disk since it started
//! (a package upgrade, a `cargo install`, a new build copied into place): a lingering
//! session server then retires, so that the client's next connection starts the new
//! program instead of reaching old code for as long as the server would linger.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// The file a program was started from, and which file that was.
#[derive(Debug)]
pub struct ExeStamp {
    path: PathBuf,
    dev: u64,
    ino: u64,
}

impl ExeStamp {
    /// This process's program, as the kernel knows it (`/proc/self/exe`: the real file,
    /// whatever link name started it). `None` where that cannot be read.
    pub fn of_this_process() -> Option<ExeStamp> {
        let path = std::fs::read_link("/proc/self/exe").ok()?;
        // (Its metadata is the running file's even when the name now holds another.)
        let running = std::fs::metadata("/proc/self/exe").ok()?;
        Some(ExeStamp {
            path,
            dev: running.dev(),
            ino: running.ino(),
        })
    }

    /// The file at `path` now.
    pub fn of(path: &Path) -> std::io::Result<ExeStamp> {
        let now = std::fs::metadata(path)?;
        Ok(ExeStamp {
            path: path.to_path_buf(),
            dev: now.dev(),
            ino: now.ino(),
        })
    }

    /// Whether the name now holds another file, or none.
    pub fn replaced(&self) -> bool {
        match std::fs::metadata(&self.path) {
            Ok(now) => (now.dev(), now.ino()) != (self.dev, self.ino),
            Err(_) => true,
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_renamed_over_the_program_is_a_replacement() {
        let dir = tempfile::tempdir().unwrap();
        let program = dir.path().join("distccd");
        std::fs::write(&program, "old").unwrap();
        let stamp = ExeStamp::of(&program).unwrap();
        assert!(!stamp.replaced(), "nothing changed yet");
        // Writing in place keeps the file (and the running process's image) the same.
        std::fs::write(&program, "old, touched").unwrap();
        assert!(!stamp.replaced());
        let new = dir.path().join("distccd.new");
        std::fs::write(&new, "new").unwrap();
        std::fs::rename(&new, &program).unwrap();
        assert!(
            stamp.replaced(),
            "an upgrade renames a new file over the old name"
        );
    }

    #[test]
    fn a_removed_program_is_a_replacement() {
        let dir = tempfile::tempdir().unwrap();
        let program = dir.path().join("distccd");
        std::fs::write(&program, "old").unwrap();
        let stamp = ExeStamp::of(&program).unwrap();
        std::fs::remove_file(&program).unwrap();
        assert!(stamp.replaced());
    }

    #[test]
    fn this_process_is_its_own_running_program() {
        let stamp = ExeStamp::of_this_process().expect("/proc/self/exe");
        assert!(!stamp.replaced(), "{:?}", stamp.path());
    }
}
