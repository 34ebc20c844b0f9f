//! distcc's SSH transport, kept for compatibility: one `ssh` process per job, its stdin and
//! stdout being the connection (what it runs there is `remote_exec::ssh_process`'s choice).
//!
//! `$DISTCC_SSH` is split into words with shell quoting rules on every connection (distcc
//! 3.4 splits it in place with strtok and loses all but the first word on a retry).

use std::process::Stdio;

use tokio::io::Join;
use tokio::process::{Child, ChildStdin, ChildStdout};

use super::{Guarded, TransportError};

/// `$DISTCC_SSH` as words; `ssh` when unset or blank. A value shlex cannot split (an open
/// quote) is split on whitespace, as distcc would.
pub fn ssh_words(distcc_ssh: Option<&str>) -> Vec<String> {
    let text = distcc_ssh
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .unwrap_or("ssh");
    shlex::split(text)
        .filter(|w| !w.is_empty())
        .unwrap_or_else(|| text.split_whitespace().map(String::from).collect())
}

/// A running `ssh` whose stdout and stdin are the stream. Killed when dropped.
pub type SshProcess = Guarded<Join<ChildStdout, ChildStdin>, Child>;

pub fn spawn(argv: &[String], host: &str) -> Result<SshProcess, TransportError> {
    let spawn_error = |error| TransportError::Spawn {
        program: argv[0].clone(),
        host: host.to_string(),
        error,
    };
    let mut child = tokio::process::Command::new(&argv[0])
        .args(&argv[1..])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .map_err(spawn_error)?;
    let stdin = child.stdin.take().expect("piped");
    let stdout = child.stdout.take().expect("piped");
    Ok(Guarded::new(tokio::io::join(stdout, stdin), child))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distcc_ssh_words_survive_quoting_and_repeat_use() {
        let value = Some("ssh -F '/tmp/my config' -p 2222");
        let expected = vec!["ssh", "-F", "/tmp/my config", "-p", "2222"];
        assert_eq!(ssh_words(value), expected);
        assert_eq!(
            ssh_words(value),
            expected,
            "a second connection sees the same words"
        );
        assert_eq!(ssh_words(None), vec!["ssh"]);
        assert_eq!(ssh_words(Some("  ")), vec!["ssh"]);
    }
}
