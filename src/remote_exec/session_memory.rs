//! Where a session server was last found for one host entry, so that the next connection
//! to that host (a restarted agent's, after `DISTFARM_AGENT_IDLE` or a crash) reaches it
//! again instead of starting another: a session server outlives its connection for a while
//! (server/session.rs), and starting one is most of a cold first job's cost (the remote
//! shell's start-up, the server's own).
//!
//! One small file per host entry, named by a hash of what decides the far end (user, host,
//! remote command, ssh config), holding the socket path; kept in the agent's private
//! directory. A remembered socket is only a hint: it is tried once per connection and
//! forgotten when nothing answers there.

use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::PathBuf;

use sha2::{Digest, Sha256};

/// The longest socket path a remembered file may hold (a unix socket path is at most 108).
const LONGEST_PATH: usize = 4096;

#[derive(Debug, Clone)]
pub struct SessionMemory {
    dir: PathBuf,
}

impl SessionMemory {
    /// Remembers in `dir` (created 0700 when first needed).
    pub fn new(dir: PathBuf) -> SessionMemory {
        SessionMemory { dir }
    }

    /// The memory kept for `distcc_dir`'s agent, beside its socket; wrappers that connect
    /// by themselves (`DISTFARM_AGENT=0`) share it.
    pub fn for_distcc_dir(distcc_dir: &std::path::Path) -> Option<SessionMemory> {
        let socket = crate::config::agent_socket_path(distcc_dir);
        Some(SessionMemory::new(socket.parent()?.join("sessions")))
    }

    /// The name under which a host entry's session server is remembered: what decides
    /// which server answers (not the ssh-agent socket, which changes with every login).
    pub fn entry(
        user: Option<&str>,
        host: &str,
        end: &crate::hosts::RemoteEnd,
        ssh_config: Option<&str>,
    ) -> String {
        format!("{user:?}\0{host}\0{end:?}\0{ssh_config:?}")
    }

    /// The session socket last found for `entry`, if one was.
    pub fn recall(&self, entry: &str) -> Option<String> {
        let text = std::fs::read_to_string(self.file(entry)).ok()?;
        let socket = text.trim_end();
        (!socket.is_empty() && socket.len() <= LONGEST_PATH && socket.starts_with('/'))
            .then(|| socket.to_string())
    }

    /// `socket` serves `entry`'s jobs. A failure to write only costs the next connection a
    /// session start.
    pub fn remember(&self, entry: &str, socket: &str) {
        if let Err(e) = self.write(entry, socket) {
            tracing::debug!(
                "cannot remember the session socket in {}: {e}",
                self.dir.display()
            );
        }
    }

    /// Nothing answers at `socket` any more: forgotten, unless another process has
    /// meanwhile remembered a newer one for the entry.
    pub fn forget(&self, entry: &str, socket: &str) {
        if self.recall(entry).as_deref() == Some(socket) {
            let _ = std::fs::remove_file(self.file(entry));
        }
    }

    fn write(&self, entry: &str, socket: &str) -> std::io::Result<()> {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&self.dir)?;
        let file = self.file(entry);
        let temp = file.with_extension(format!("tmp{}", std::process::id()));
        let mut out = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&temp)?;
        out.write_all(format!("{socket}\n").as_bytes())?;
        drop(out);
        // Whole or not at all: another agent may be reading it.
        std::fs::rename(&temp, &file)
    }

    fn file(&self, entry: &str) -> PathBuf {
        let hash = Sha256::digest(entry.as_bytes());
        let name: String = hash[..16].iter().map(|b| format!("{b:02x}")).collect();
        self.dir.join(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_remembered_socket_is_recalled_per_entry_and_forgotten() {
        let dir = tempfile::tempdir().unwrap();
        let memory = SessionMemory::new(dir.path().join("sessions"));
        assert_eq!(memory.recall("me@a distccd"), None);
        memory.remember("me@a distccd", "/tmp/distfarm-session-x/sock");
        memory.remember("me@b distccd", "/tmp/distfarm-session-y/sock");
        assert_eq!(
            memory.recall("me@a distccd").as_deref(),
            Some("/tmp/distfarm-session-x/sock")
        );
        assert_eq!(
            memory.recall("me@b distccd").as_deref(),
            Some("/tmp/distfarm-session-y/sock")
        );
        memory.forget("me@a distccd", "/elsewhere/s.sock");
        assert!(
            memory.recall("me@a distccd").is_some(),
            "a socket other than the remembered one does not make it forgotten"
        );
        memory.forget("me@a distccd", &memory.recall("me@a distccd").unwrap());
        assert_eq!(memory.recall("me@a distccd"), None);
        assert!(memory.recall("me@b distccd").is_some());
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join("sessions"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o700);
    }

    #[test]
    fn a_file_that_is_not_a_socket_path_is_not_recalled() {
        let dir = tempfile::tempdir().unwrap();
        let memory = SessionMemory::new(dir.path().to_path_buf());
        memory.remember("e", "relative/sock");
        assert_eq!(memory.recall("e"), None);
        memory.remember("e", "");
        assert_eq!(memory.recall("e"), None);
    }
}
