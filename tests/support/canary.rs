//! Canaries for hostile requests: each attack aims at a world-writable directory that must
//! stay empty, and at a control copy that a local run of the same command must write into
//! (proof that the attack is real). Material an attack needs — a fake toolchain, a plugin —
//! is built beside its canary.

use std::path::{Path, PathBuf};

use super::files::{open_dir, readable_temp_dir, set_mode, write_script};
use super::process::Cmd;

/// A 0755 directory for attack material, with one 0777 canary directory per case.
pub struct Traps {
    dir: tempfile::TempDir,
}

impl Traps {
    pub fn new() -> Traps {
        Traps {
            dir: readable_temp_dir("hostile-traps"),
        }
    }

    /// An empty 0777 directory; a successful attack writes into it.
    pub fn canary(&self, name: &str) -> PathBuf {
        open_dir(self.dir.path(), &format!("canary-{name}"))
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}

/// A directory (beside `canary`) of fake `as`, `cc1`, `cc1plus` and `collect2` that each touch
/// `canary/NAME`; returned with a trailing slash, as `-B` wants it.
pub fn fake_toolchain(canary: &Path) -> String {
    let dir = canary.with_extension("bin");
    std::fs::create_dir_all(&dir).unwrap();
    set_mode(&dir, 0o755);
    for tool in ["as", "cc1", "cc1plus", "collect2"] {
        write_script(
            &dir.join(tool),
            &format!("touch {}/{tool}\nexit 1", canary.display()),
        );
    }
    format!("{}/", dir.display())
}

#[track_caller]
pub fn canary_files(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect()
}

/// A shared object (beside `canary`) whose constructor creates `canary/plugin`. Any shared
/// object will do as a "plugin": gcc dlopen()s it, and constructors run before gcc checks
/// that it is a plugin at all.
pub fn build_plugin(canary: &Path) -> String {
    let source = canary.with_extension("plugin.c");
    let so = canary.with_extension("so");
    std::fs::write(
        &source,
        format!(
            "#include <fcntl.h>\n#include <unistd.h>\n\
             __attribute__((constructor)) static void mark(void) {{\n\
             close(open(\"{}/plugin\", O_CREAT | O_WRONLY, 0644)); }}\n",
            canary.display()
        ),
    )
    .unwrap();
    Cmd::new("gcc")
        .args(["-shared", "-fPIC", "-o"])
        .arg(&so)
        .arg(&source)
        .run();
    set_mode(&so, 0o755);
    so.display().to_string()
}
