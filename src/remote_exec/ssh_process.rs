//! The far end through `DISTCC_SSH`: the argv of one `ssh` process per job, as distcc runs
//! it, reaching the same ends as the russh carriers.

use crate::hosts::RemoteEnd;
use crate::protocol::ssh_launch;

/// The argv for one job: `SSH [words…] [-l USER] HOST COMMAND --inetd --enable-tcp-insecure`
/// (exactly distcc's), or for a daemon `SSH [words…] [-l USER] -W HOST:PORT HOST`, OpenSSH's
/// stdio forward — the `ssh` program's form of a `direct-tcpip` channel.
pub fn argv(words: &[String], user: Option<&str>, host: &str, end: &RemoteEnd) -> Vec<String> {
    let mut argv = words.to_vec();
    if let Some(user) = user {
        argv.extend(["-l".to_string(), user.to_string()]);
    }
    match end {
        RemoteEnd::Program(command) => {
            argv.extend([host.to_string(), command.clone()]);
            argv.extend(ssh_launch::INETD_FLAGS.map(String::from));
        }
        RemoteEnd::Daemon { host: daemon, port } => {
            argv.extend([
                "-W".to_string(),
                format!("{daemon}:{port}"),
                host.to_string(),
            ]);
        }
    }
    argv
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transport::ssh_command::ssh_words;

    #[test]
    fn a_program_runs_as_distcc_runs_it() {
        let words = ssh_words(Some("ssh -F cfg"));
        let program = RemoteEnd::Program("/opt/distccd".into());
        assert_eq!(
            argv(&words, Some("bob"), "box", &program),
            [
                "ssh",
                "-F",
                "cfg",
                "-l",
                "bob",
                "box",
                "/opt/distccd",
                "--inetd",
                "--enable-tcp-insecure"
            ]
        );
        assert_eq!(argv(&words, None, "box", &program)[3], "box");
    }

    #[test]
    fn a_daemon_is_reached_by_a_stdio_forward_not_run_as_a_command() {
        let words = ssh_words(None);
        let daemon = RemoteEnd::Daemon {
            host: "127.0.0.1".into(),
            port: 3632,
        };
        assert_eq!(
            argv(&words, Some("bob"), "box", &daemon),
            ["ssh", "-l", "bob", "-W", "127.0.0.1:3632", "box"]
        );
    }
}
