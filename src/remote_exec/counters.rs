//! The per-client counters of the distfarm servers behind an SSH host entry, for
//! `distfarm mon --server @host`: reached the way a job reaches that host (ssh config,
//! strict known_hosts, agent or key files), so that the SSH login is the authorisation.
//!
//! For `@host[:COMMAND]` the remote program (the jobs' server, `distccd` by default) is run
//! with [`ssh_launch::COUNTERS_FLAG`]: a distfarm there answers for this user's session
//! servers and the daemon on its statistics port. For `@host:tcp:[HOST:]PORT` the daemon's
//! statistics port (3633 unless told) is asked through a `direct-tcpip` channel, like its
//! jobs.

use std::time::Duration;

use crate::hosts::RemoteEnd;
use crate::protocol::client_counters::{self, AskError};
use crate::protocol::farm_view::ServerClients;
use crate::protocol::ssh_launch;
use crate::transport::ssh::{self, SshError, SshSettings};

/// distccd's `--stats-port` default, where a daemon behind `:tcp:` entries is asked unless
/// told otherwise.
const DEFAULT_STATS_PORT: u16 = 3633;
/// The remote program starts, looks and answers within this.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(30);
/// At most this much of a remote's stderr goes into a message.
const STDERR_SHOWN: usize = 600;

/// Why a host's counters could not be had. Each message names the host and what to do.
#[derive(Debug, thiserror::Error)]
pub enum CountersError {
    #[error(transparent)]
    Ssh(#[from] SshError),
    #[error(
        "{host}: no program {command:?} there ({stderr}); install distfarm on it, or name it \
         in the entry (@host:/path/to/distccd)"
    )]
    NoProgram {
        host: String,
        command: String,
        stderr: String,
    },
    #[error(
        "{host}: {command:?} is not distfarm, it has no counters to give (exit {status}: \
         {stderr})"
    )]
    NotDistfarm {
        host: String,
        command: String,
        status: String,
        stderr: String,
    },
    /// A distfarm there found no server with counters; its message says where it looked.
    #[error("{host}: {message}")]
    NoServer { host: String, message: String },
    #[error("{host}: {what} answered something else than the counters: {detail}")]
    Unreadable {
        host: String,
        what: String,
        detail: String,
    },
    #[error("{host}: no answer within {} s from {what}", ANSWER_TIMEOUT.as_secs())]
    Timeout { host: String, what: String },
}

/// Connects to `alias` as a job would and asks what serves `end` there for its counters;
/// `stats_port` is the daemon's there (default 3633).
pub async fn fetch(
    alias: &str,
    user: Option<&str>,
    end: &RemoteEnd,
    stats_port: Option<u16>,
    settings: &SshSettings,
) -> Result<ServerClients, CountersError> {
    let resolved = ssh::resolve(alias, user, None, settings)?;
    let conn = ssh::connect(&resolved, settings).await?;
    // Named as the user wrote it, and where that led.
    let host = format!("{alias} ({})", conn.description());
    let answer = match end {
        RemoteEnd::Program(command) => from_program(&conn, &host, command, stats_port).await,
        RemoteEnd::Daemon { host: daemon, .. } => {
            let port = stats_port.unwrap_or(DEFAULT_STATS_PORT);
            from_daemon(&conn, &host, daemon, port).await
        }
    };
    conn.disconnect().await;
    answer
}

async fn from_program(
    conn: &ssh::SshConnection,
    host: &str,
    command: &str,
    stats_port: Option<u16>,
) -> Result<ServerClients, CountersError> {
    let mut line = format!("{command} {}", ssh_launch::COUNTERS_FLAG);
    if let Some(port) = stats_port {
        line.push_str(&format!(" --stats-port {port}"));
    }
    let (stdout, exit) = tokio::time::timeout(ANSWER_TIMEOUT, conn.run(&line, b""))
        .await
        .map_err(|_| CountersError::Timeout {
            host: host.to_string(),
            what: line.clone(),
        })??;
    let stderr = shown(&exit.stderr);
    match exit.status {
        Some(0) => serde_json::from_slice(&stdout).map_err(|e| CountersError::Unreadable {
            host: host.to_string(),
            what: line,
            detail: e.to_string(),
        }),
        Some(ssh_launch::NO_COUNTERS_STATUS) => Err(CountersError::NoServer {
            host: host.to_string(),
            message: stderr
                .strip_prefix("distfarm: ")
                .unwrap_or(&stderr)
                .to_string(),
        }),
        Some(127) => Err(CountersError::NoProgram {
            host: host.to_string(),
            command: command.to_string(),
            stderr,
        }),
        status => Err(CountersError::NotDistfarm {
            host: host.to_string(),
            command: command.to_string(),
            status: match (status, &exit.signal) {
                (Some(status), _) => status.to_string(),
                (None, Some(signal)) => format!("signal {signal}"),
                (None, None) => "unknown".to_string(),
            },
            stderr,
        }),
    }
}

async fn from_daemon(
    conn: &ssh::SshConnection,
    host: &str,
    daemon: &str,
    port: u16,
) -> Result<ServerClients, CountersError> {
    let what = format!("the statistics port {daemon}:{port}");
    let asked = async {
        let stream =
            conn.direct_tcpip(daemon, port)
                .await
                .map_err(|e| CountersError::NoServer {
                    host: host.to_string(),
                    message: format!(
                        "nothing answers on {what} (start the daemon there with --stats): {e}"
                    ),
                })?;
        Ok::<_, CountersError>(client_counters::ask(stream).await)
    };
    let answer = tokio::time::timeout(ANSWER_TIMEOUT, asked)
        .await
        .map_err(|_| CountersError::Timeout {
            host: host.to_string(),
            what: what.clone(),
        })??;
    answer.map_err(|e| match e {
        AskError::NoAnswer => CountersError::NoServer {
            host: host.to_string(),
            message: format!(
                "{what} sent no counters (is the daemon there started with --stats, and does \
                 its --allow list admit {daemon}'s own loopback connections?)"
            ),
        },
        AskError::Unreadable(detail) => CountersError::Unreadable {
            host: host.to_string(),
            what,
            detail,
        },
    })
}

/// A remote's stderr for a message: one line, trimmed, cut at [`STDERR_SHOWN`] bytes.
fn shown(stderr: &[u8]) -> String {
    let text = String::from_utf8_lossy(stderr);
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    match text.char_indices().nth(STDERR_SHOWN) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None if text.is_empty() => "nothing on stderr".to_string(),
        None => text,
    }
}
