//! `ssh -L`: every connection accepted on a local listener is carried over the SSH
//! connection to a target the remote side reaches, and spliced until both ends close.

use std::future::Future;

use tokio::net::TcpListener;

use super::splice;
use crate::transport::ssh::{SshConnection, SshError, TunnelStream};

/// Where the remote side connects for us.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LocalTarget {
    /// `host:port` as the remote resolves it (`direct-tcpip`).
    Tcp { host: String, port: u16 },
    /// A Unix socket on the remote (`direct-streamlocal@openssh.com`).
    UnixSocket(String),
}

impl LocalTarget {
    /// One channel to the target.
    pub async fn open(&self, conn: &SshConnection) -> Result<TunnelStream, SshError> {
        match self {
            LocalTarget::Tcp { host, port } => conn.direct_tcpip(host, *port).await,
            LocalTarget::UnixSocket(path) => conn.direct_streamlocal(path).await,
        }
    }
}

/// Serves `listener` until `shutdown` completes: each accepted connection gets its own
/// channel to `target` and its own task. A connection whose channel cannot be opened is
/// closed (and logged); the listener goes on.
pub async fn serve_local(
    listener: TcpListener,
    conn: SshConnection,
    target: LocalTarget,
    shutdown: impl Future<Output = ()>,
) {
    tokio::pin!(shutdown);
    let tasks = tokio_util::task::TaskTracker::new();
    loop {
        let (mut local, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    tracing::debug!("local forward: accept failed: {e}");
                    continue;
                }
            },
            _ = &mut shutdown => break,
        };
        let (conn, target) = (conn.clone(), target.clone());
        tasks.spawn(async move {
            match target.open(&conn).await {
                Ok(mut channel) => {
                    let _ = splice(&mut local, &mut channel).await;
                }
                Err(e) => tracing::info!("local forward from {peer} to {target:?}: {e}"),
            }
        });
    }
    tasks.close();
    tasks.wait().await;
}
