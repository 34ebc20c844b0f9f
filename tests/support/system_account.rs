//! A throwaway local account (`useradd --system`), as a service account such as portage is,
//! with its home in a temp dir. Removed with `userdel` when dropped, whatever the test did.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::process::Cmd;
use super::programs::require;

pub struct SystemAccount {
    name: String,
    uid: u32,
    home: PathBuf,
    // Dropped after the account is deleted (see Drop).
    _parent: tempfile::TempDir,
}

impl SystemAccount {
    /// `useradd --system --create-home --home-dir <tmp>/home --shell /bin/sh
    /// distfarm-t<random>`. The password field is set to `*` (no password, not locked): sshd
    /// without PAM refuses a locked (`!`) account even with a valid key.
    #[track_caller]
    pub fn create() -> SystemAccount {
        assert!(
            nix::unistd::Uid::effective().is_root(),
            "creating a system account needs root"
        );
        let useradd = require("useradd", "passwd");
        let usermod = require("usermod", "passwd");
        let parent = super::files::readable_temp_dir("account");
        let home = parent.path().join("home");
        let name = format!("distfarm-t{:06}", random() % 1_000_000);
        Cmd::new(&useradd)
            .args([
                "--system",
                "--create-home",
                "--shell",
                "/bin/sh",
                "--home-dir",
            ])
            .arg(&home)
            .arg(&name)
            .timeout(Duration::from_secs(30))
            .run();
        let account = {
            let user = nix::unistd::User::from_name(&name)
                .ok()
                .flatten()
                .unwrap_or_else(|| panic!("useradd made no {name}"));
            SystemAccount {
                name: name.clone(),
                uid: user.uid.as_raw(),
                home,
                _parent: parent,
            }
        };
        Cmd::new(&usermod)
            .args(["-p", "*", &name])
            .timeout(Duration::from_secs(30))
            .run();
        account
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn uid(&self) -> u32 {
        self.uid
    }

    pub fn home(&self) -> &Path {
        &self.home
    }

    /// `runuser -u NAME -- PROGRAM`: a command run as the account, with its own HOME.
    pub fn run_as(&self, program: impl AsRef<std::ffi::OsStr>) -> Cmd {
        Cmd::new(require("runuser", "util-linux"))
            .args(["-u", &self.name, "--"])
            .arg(program)
            .env("HOME", &self.home)
            .env_remove("SSH_AUTH_SOCK")
            .current_dir(&self.home)
    }
}

impl Drop for SystemAccount {
    fn drop(&mut self) {
        // What the test ran as this user and left running (an agent its wrapper started)
        // goes with the account.
        for pid in super::procs::pids_of_user(self.uid()) {
            super::procs::kill(pid);
        }
        let status = std::process::Command::new("userdel")
            .arg(&self.name)
            .status();
        if !matches!(status, Ok(s) if s.success()) {
            eprintln!("warning: `userdel {}` failed: {status:?}", self.name);
        }
    }
}

fn random() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u32(std::process::id());
    hasher.finish()
}
