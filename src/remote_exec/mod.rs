//! The one place that decides what answers at the far end of an SSH host entry and opens a
//! job's stream there, whoever carries the job: the agent's pooled connection, the wrapper's
//! own russh connection, or a `DISTCC_SSH` process per job.
//!
//! Over russh, what serves jobs is found out once per connection ([`detect`]):
//!
//! - a distfarm server in `--ssh-session` mode: one remote process for the whole connection,
//!   each job a `direct-streamlocal` channel to its socket (no sshd session, no process per
//!   job, and no `MaxSessions` limit);
//! - otherwise (the real distccd): `COMMAND --inetd --enable-tcp-insecure` per job, exactly
//!   what distcc runs;
//! - or, for `@host:tcp:PORT`, a remote daemon reached through a `direct-tcpip` channel.
//!
//! Through `DISTCC_SSH` the same ends are reached with the `ssh` program ([`ssh_process`]).
//! The same ends answer their per-client counters to `distfarm mon --server @host`
//! ([`counters`]).
//!
//! Uses [`crate::transport`] to reach the host, and only facts besides (see the layer table in
//! `lib.rs`): the entry's [`RemoteEnd`] and the launch words both
//! ends speak ([`crate::protocol::ssh_launch`]).

pub mod counters;
mod detect;
mod session_memory;
pub mod ssh_process;

use crate::hosts::RemoteEnd;
use crate::protocol::ssh_launch;
use crate::transport::BoxStream;
use crate::transport::ssh::{self, SshConnection, SshError, SshSettings};

pub use detect::{Remembered, SessionGuard};
pub use session_memory::SessionMemory;

/// How jobs reach the far end of one connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RemoteServer {
    /// A distfarm session server listening on this remote unix socket.
    Session { socket: String },
    /// One `COMMAND --inetd --enable-tcp-insecure` per job.
    Inetd { command: String },
    /// A daemon on the remote side, reached like `ssh -L`.
    Daemon { host: String, port: u16 },
}

/// A live connection and what serves jobs behind it. Dropping it ends the session server's
/// exec channel and then the connection.
pub struct Remote {
    pub conn: SshConnection,
    pub server: RemoteServer,
    session: Option<SessionGuard>,
}

impl Remote {
    /// Connects to `alias` as `ssh` would (its config, known_hosts, keys or agent) and finds
    /// out what serves `end` there (first the session server `remembered` from an earlier
    /// connection, if any).
    pub async fn connect(
        alias: &str,
        user: Option<&str>,
        end: &RemoteEnd,
        settings: &SshSettings,
        remembered: Option<Remembered<'_>>,
    ) -> Result<Remote, SshError> {
        let resolved = ssh::resolve(alias, user, None, settings)?;
        let conn = ssh::connect(&resolved, settings).await?;
        let (server, session) = detect::detect(&conn, end, remembered).await;
        Ok(Remote {
            conn,
            server,
            session,
        })
    }

    /// Whether jobs go to a session server remembered from another connection rather than
    /// this connection's own: it may end with its own connection at any moment after the
    /// probe that found it.
    pub fn borrows_a_session(&self) -> bool {
        matches!(self.server, RemoteServer::Session { .. }) && self.session.is_none()
    }

    /// Gives up the borrowed session server (it no longer answers) and starts this
    /// connection's own, or finds the far end as if nothing had been remembered.
    pub async fn start_own_session(&mut self, end: &RemoteEnd, remembered: Option<Remembered<'_>>) {
        if let (RemoteServer::Session { socket }, Some(remembered)) = (&self.server, &remembered) {
            remembered.memory.forget(remembered.entry, socket);
        }
        let (server, session) = detect::detect(&self.conn, end, remembered).await;
        self.server = server;
        self.session = session;
    }

    /// Whether a distfarm session server answers: it keeps the headers it is sent, so a
    /// pump-mode tree goes to it by content hash.
    pub fn stores_headers(&self) -> bool {
        matches!(self.server, RemoteServer::Session { .. })
    }

    /// Opens the byte stream for one job.
    pub async fn open_job(&self) -> Result<BoxStream, SshError> {
        let conn = &self.conn;
        Ok(match &self.server {
            RemoteServer::Session { socket } => Box::new(conn.direct_streamlocal(socket).await?),
            RemoteServer::Inetd { command } => Box::new(conn.exec(&inetd_command(command)).await?),
            RemoteServer::Daemon { host, port } => Box::new(conn.direct_tcpip(host, *port).await?),
        })
    }
}

/// The per-job command distcc runs over SSH.
fn inetd_command(command: &str) -> String {
    std::iter::once(command)
        .chain(ssh_launch::INETD_FLAGS)
        .collect::<Vec<_>>()
        .join(" ")
}
