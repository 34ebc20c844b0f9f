//! `ssh -R`: the remote side listens on a port and every connection it accepts comes back
//! over the SSH connection, to be served here — spliced to a local address, or handed to a
//! service such as the in-process compile server (`distfarm offer`).

use std::future::Future;
use std::net::SocketAddr;

use super::splice;
use crate::transport::ssh::{ForwardedConnection, Incoming, SshConnection, SshError};
use crate::transport::tcp;

/// A port the remote listens on for us. Dropping it stops routing connections here (the
/// remote keeps listening until [`cancel`](Self::cancel) or the connection ends).
#[derive(Debug)]
pub struct RemoteForward {
    conn: SshConnection,
    address: String,
    port: u32,
    incoming: Incoming,
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
            address: address.to_string(),
            port,
            incoming,
        })
    }

    /// The port the remote listens on (the allocated one when 0 was asked for).
    pub fn port(&self) -> u16 {
        self.port as u16
    }

    pub fn address(&self) -> &str {
        &self.address
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
        self.conn.cancel_remote(&self.address, self.port).await
    }
}

impl Drop for RemoteForward {
    fn drop(&mut self) {
        self.conn.forget_remote(&self.address, self.port);
    }
}
