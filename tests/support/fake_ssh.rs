//! An `ssh` first on `PATH` that records its arguments, then runs the real one: the witness
//! of how many `ssh` processes a build started, and with what command lines.

use std::path::PathBuf;

use super::files::write_script;
use super::programs::require;

pub struct FakeSsh {
    dir: tempfile::TempDir,
}

impl FakeSsh {
    pub fn new() -> FakeSsh {
        let real = require("ssh", "openssh-client");
        let dir = super::temp_dir("fake-ssh");
        std::fs::create_dir(dir.path().join("bin")).unwrap();
        write_script(
            &dir.path().join("bin/ssh"),
            &format!(
                "echo \"$*\" >> '{}'\nexec '{}' \"$@\"",
                dir.path().join("runs").display(),
                real.display()
            ),
        );
        FakeSsh { dir }
    }

    /// The directory to put first on `PATH`.
    pub fn bin(&self) -> PathBuf {
        self.dir.path().join("bin")
    }

    /// The argument lines of every run so far, in order.
    pub fn runs(&self) -> Vec<String> {
        std::fs::read_to_string(self.dir.path().join("runs"))
            .map(|t| t.lines().map(String::from).collect())
            .unwrap_or_default()
    }
}
