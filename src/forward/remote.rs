//! `ssh -R`: the remote side listens on a port (or a Unix socket) and every connection it
//! accepts comes back over the SSH connection, to be served here — spliced to a local address, or handed to a
//! service such as the in-process compile server (`distfarm offer`).

use std::future::Future;
use std::net::SocketAddr;

use super::splice;
use crate::transport::ssh::{ForwardedConnection, Incoming, SshConnection, SshError};
use crate::transport::tcp;

/// A port or socket the remote listens on for us. Dropping it stops routing connections
/// here (the remote keeps listening until [`cancel`](Self::cancel) or the connection ends).
#[derive(Debug)]
pub struct RemoteForward {
    conn: SshConnection,
    at: ListenAt,
    incoming: Incoming,
}

/// Where the remote listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListenAt {
    Port {
        address: String,
        port: u32,
    },
    /// A Unix socket's path on the remote.
    Socket(String),
}

impl RemoteForward {
    /// Asks the remote to listen on `address:port` (0: any free port). sshd allows loopback
    /// addresses unless its `GatewayPorts` says otherwise.
    pub async fn request(
        conn: &SshConnection,
        address: &str,
        port: u16,
    ) -> Result<RemoteForward, SshError> {
        let (port, incoming) = conn.listen_remote(address, port).await?;
        Ok(RemoteForward {
            conn: conn.clone(),
            at: ListenAt::Port {
                address: address.to_string(),
                port,
            },
            incoming,
        })
    }

    /// Asks the remote to listen on the Unix socket `path` (a file that must not exist yet;
    /// sshd makes it with the user's rights, so its directory decides who may connect).
    pub async fn request_socket(
        conn: &SshConnection,
        path: &str,
    ) -> Result<RemoteForward, SshError> {
        let incoming = conn.listen_remote_socket(path).await?;
        Ok(RemoteForward {
            conn: conn.clone(),
            at: ListenAt::Socket(path.to_string()),
            incoming,
        })
    }

    /// The port the remote listens on (the allocated one when 0 was asked for); 0 for a
    /// socket.
    pub fn port(&self) -> u16 {
        match &self.at {
            ListenAt::Port { port, .. } => *port as u16,
            ListenAt::Socket(_) => 0,
        }
    }

    /// The address listened on, or the socket's path.
    pub fn address(&self) -> &str {
        match &self.at {
            ListenAt::Port { address, .. } => address,
            ListenAt::Socket(path) => path,
        }
    }

    pub fn listens_at(&self) -> &ListenAt {
        &self.at
    }

    /// The next forwarded connection; `None` once the SSH connection is gone.
    pub async fn accept(&mut self) -> Option<ForwardedConnection> {
        self.incoming.recv().await
    }

    /// Serves every forwarded connection with `serve`, each in its own task, until the SSH
    /// connection is gone; then waits for the running ones.
    pub async fn serve<F, Fut>(mut self, serve: F)
    where
        F: Fn(ForwardedConnection) -> Fut,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let tasks = tokio_util::task::TaskTracker::new();
        while let Some(connection) = self.accept().await {
            tasks.spawn(serve(connection));
        }
        tasks.close();
        tasks.wait().await;
    }

    /// What `ssh -R PORT:TARGET` does: every forwarded connection is spliced to `target`
    /// (reached as every TCP connection is, within distcc's connect timeout).
    pub async fn to_local(self, target: SocketAddr) {
        self.serve(move |mut forwarded| async move {
            let host = target.ip().to_string();
            match tcp::connect_within(&host, target.port(), tcp::CONNECT_TIMEOUT).await {
                Ok(mut local) => {
                    let _ = splice(&mut forwarded.stream, &mut local).await;
                }
                Err(e) => tracing::info!(
                    "remote forward from {}:{}: cannot reach {target}: {e}",
                    forwarded.originator,
                    forwarded.originator_port
                ),
            }
        })
        .await
    }

    /// Asks the remote to stop listening.
    pub async fn cancel(self) -> Result<(), SshError> {
        match &self.at {
            ListenAt::Port { address, port } => self.conn.cancel_remote(address, *port).await,
            ListenAt::Socket(path) => self.conn.cancel_remote_socket(path).await,
        }
    }
}

impl Drop for RemoteForward {
    fn drop(&mut self) {
        match &self.at {
            ListenAt::Port { address, port } => self.conn.forget_remote(address, *port),
            ListenAt::Socket(path) => self.conn.forget_remote_socket(path),
        }
    }
}
