//! What serves jobs at the far end of an SSH connection, found out once per connection:
//!
//! - a distfarm server in `--ssh-session` mode: one remote process for the whole connection,
//!   each job a `direct-streamlocal` channel to its socket (no sshd session, no process per
//!   job, and no `MaxSessions` limit);
//! - otherwise (the real distccd): `COMMAND --inetd --enable-tcp-insecure` per job, exactly
//!   what distcc runs;
//! - or a remote distccd daemon reached through a `direct-tcpip` channel (`@host:tcp:PORT`).

use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWrite, BufReader};

use crate::transport::BoxStream;
use crate::transport::ssh::{SshConnection, SshError};

/// The greeting a `--ssh-session` server prints (kept in sync with `server::session`).
const SESSION_GREETING: &str = "DISTFARM-SESSION 1 ";
/// How long a remote may take to start and greet before we decide it is not distfarm.
const DETECT_TIMEOUT: Duration = Duration::from_secs(15);

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RemoteServer {
    /// A distfarm session server listening on this remote unix socket.
    Session { socket: String },
    /// One `COMMAND --inetd --enable-tcp-insecure` per job.
    Inetd { command: String },
    /// A daemon on the remote side, reached like `ssh -L`.
    Daemon { host: String, port: u16 },
}

/// A `:COMMAND` of the form `tcp:PORT` or `tcp:HOST:PORT` names a remote daemon.
pub fn daemon_target(command: &str) -> Option<(String, u16)> {
    let rest = command.strip_prefix("tcp:")?;
    match rest.rsplit_once(':') {
        Some((host, port)) => Some((host.to_string(), port.parse().ok()?)),
        None => Some(("127.0.0.1".to_string(), rest.parse().ok()?)),
    }
}

/// The per-job command distcc runs over SSH.
pub fn inetd_command(command: &str) -> String {
    format!("{command} --inetd --enable-tcp-insecure")
}

/// The session keeps its exec channel open for as long as the connection is used: closing
/// its stdin is what tells the remote session server to finish.
pub struct SessionGuard {
    _task: tokio::task::JoinHandle<()>,
}

/// Finds out what serves jobs behind `command` on this connection.
pub async fn detect(conn: &SshConnection, command: &str) -> (RemoteServer, Option<SessionGuard>) {
    if let Some((host, port)) = daemon_target(command) {
        return (RemoteServer::Daemon { host, port }, None);
    }
    let inetd = RemoteServer::Inetd {
        command: command.to_string(),
    };
    let exec = match conn.exec(&format!("{command} --ssh-session")).await {
        Ok(exec) => exec,
        Err(e) => {
            tracing::debug!(
                "{}: cannot start a session server ({e}); one process per job",
                conn.description()
            );
            return (inetd, None);
        }
    };
    let (read_half, write_half) = tokio::io::split(exec);
    let mut lines = BufReader::new(read_half);
    let mut first = String::new();
    let greeted = tokio::time::timeout(DETECT_TIMEOUT, lines.read_line(&mut first)).await;
    match (greeted, first.strip_prefix(SESSION_GREETING)) {
        (Ok(Ok(_)), Some(socket)) => {
            let socket = socket.trim_end().to_string();
            tracing::info!(
                "{}: distfarm session server on {socket}",
                conn.description()
            );
            // Drain its stdout (an unread channel stalls the whole connection) and hold the
            // write half open until the guard is dropped.
            let task = tokio::spawn(async move {
                let _keep_open: Box<dyn AsyncWrite + Send + Unpin> = Box::new(write_half);
                let mut sink = [0u8; 1024];
                while matches!(lines.read(&mut sink).await, Ok(n) if n > 0) {}
            });
            (
                RemoteServer::Session { socket },
                Some(SessionGuard { _task: task }),
            )
        }
        _ => {
            tracing::info!(
                "{}: {command:?} is not distfarm (no session greeting); running it once per job",
                conn.description()
            );
            (inetd, None)
        }
    }
}

/// Opens the byte stream for one job.
pub async fn open_job(conn: &SshConnection, server: &RemoteServer) -> Result<BoxStream, SshError> {
    Ok(match server {
        RemoteServer::Session { socket } => Box::new(conn.direct_streamlocal(socket).await?),
        RemoteServer::Inetd { command } => Box::new(conn.exec(&inetd_command(command)).await?),
        RemoteServer::Daemon { host, port } => Box::new(conn.direct_tcpip(host, *port).await?),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tcp_commands_name_a_remote_daemon() {
        assert_eq!(daemon_target("tcp:3632"), Some(("127.0.0.1".into(), 3632)));
        assert_eq!(
            daemon_target("tcp:[::1]:4000"),
            Some(("[::1]".into(), 4000))
        );
        assert_eq!(
            daemon_target("tcp:localhost:4000"),
            Some(("localhost".into(), 4000))
        );
        assert_eq!(daemon_target("/usr/bin/distccd"), None);
        assert_eq!(daemon_target("tcp:x"), None);
    }
}
