//! Finding out, once per connection, whether the remote program is a distfarm that can run
//! one session server for the whole connection, or a distccd to be run once per job.

use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWrite, BufReader};

use super::RemoteServer;
use super::session_memory::SessionMemory;
use crate::hosts::RemoteEnd;
use crate::protocol::ssh_launch;
use crate::transport::ssh::SshConnection;

/// How long a remote may take to start and greet before we decide it is not distfarm.
const DETECT_TIMEOUT: Duration = Duration::from_secs(15);

/// The session keeps its exec channel open for as long as the connection is used: closing
/// its stdin is what tells the remote session server to finish.
pub struct SessionGuard {
    _task: tokio::task::JoinHandle<()>,
}

/// Where session servers were found before, and this host entry's name there.
pub struct Remembered<'a> {
    pub memory: &'a SessionMemory,
    pub entry: &'a str,
}

/// Finds out what serves jobs behind `end` on this connection: first the session server
/// `remembered` from an earlier connection, if it still answers (it lingers after its
/// connection closed); then a new one; else a distccd per job.
pub async fn detect(
    conn: &SshConnection,
    end: &RemoteEnd,
    remembered: Option<Remembered<'_>>,
) -> (RemoteServer, Option<SessionGuard>) {
    let command = match end {
        RemoteEnd::Daemon { host, port } => {
            let daemon = RemoteServer::Daemon {
                host: host.clone(),
                port: *port,
            };
            return (daemon, None);
        }
        RemoteEnd::Program(command) => command,
    };
    if let Some(remembered) = &remembered
        && let Some(socket) = still_serving(conn, remembered).await
    {
        return (RemoteServer::Session { socket }, None);
    }
    let inetd = RemoteServer::Inetd {
        command: command.clone(),
    };
    let exec = match conn
        .exec(&format!("{command} {}", ssh_launch::SESSION_FLAG))
        .await
    {
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
    match (greeted, ssh_launch::socket_from_greeting(&first)) {
        (Ok(Ok(_)), Some(socket)) => {
            let socket = socket.to_string();
            if let Some(remembered) = &remembered {
                remembered.memory.remember(remembered.entry, &socket);
            }
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

/// The remembered session socket, if its server still answers on this connection. Its
/// counters socket is asked, not its job socket: reaching it proves the server alive
/// without it counting a job that never came.
async fn still_serving(conn: &SshConnection, remembered: &Remembered<'_>) -> Option<String> {
    let socket = remembered.memory.recall(remembered.entry)?;
    let counters = ssh_launch::counters_socket_beside(&socket);
    match tokio::time::timeout(DETECT_TIMEOUT, conn.direct_streamlocal(&counters)).await {
        Ok(Ok(_probe)) => {
            tracing::info!(
                "{}: the distfarm session server on {socket} still serves",
                conn.description()
            );
            Some(socket)
        }
        Ok(Err(e)) => {
            tracing::debug!(
                "{}: no session server on {socket} any more ({e})",
                conn.description()
            );
            remembered.memory.forget(remembered.entry, &socket);
            None
        }
        Err(_) => None,
    }
}
