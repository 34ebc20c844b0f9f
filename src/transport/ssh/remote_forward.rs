//! Remote port forwarding (`ssh -R`): the server listens, and every connection it accepts
//! arrives here as a `forwarded-tcpip` channel, handed to the [`RemoteForward`] that asked.
//! russh's default handler accepts such channels and drops them (the peer hangs), so the
//! handler routes them through this table and refuses what nobody asked for.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use russh::client;
use tokio::sync::mpsc;

use super::channel_io::{self, TunnelStream};

/// One connection the server accepted on a forwarded port.
#[derive(Debug)]
pub struct ForwardedConnection {
    pub stream: TunnelStream,
    /// Who connected, as the server reports it.
    pub originator: String,
    pub originator_port: u32,
}

type Key = (String, u32);

/// The forwards of one connection, shared by the connection and its handler.
#[derive(Debug, Default)]
pub(crate) struct ForwardTable {
    routes: Mutex<HashMap<Key, mpsc::UnboundedSender<ForwardedConnection>>>,
}

impl ForwardTable {
    pub fn insert(&self, address: &str, port: u32, tx: mpsc::UnboundedSender<ForwardedConnection>) {
        self.routes
            .lock()
            .expect("forwards")
            .insert((address.to_string(), port), tx);
    }

    pub fn remove(&self, address: &str, port: u32) {
        self.routes
            .lock()
            .expect("forwards")
            .remove(&(address.to_string(), port));
    }

    /// Drops every route: each [`RemoteForward::accept`] then returns `None`.
    pub fn clear(&self) {
        self.routes.lock().expect("forwards").clear();
    }

    /// Called by the handler for a `forwarded-tcpip` channel open.
    #[allow(clippy::too_many_arguments)]
    pub async fn route(
        &self,
        channel: russh::Channel<client::Msg>,
        connected_address: &str,
        connected_port: u32,
        originator: &str,
        originator_port: u32,
        reply: client::ChannelOpenHandle,
        host: &str,
    ) {
        let tx = {
            let routes = self.routes.lock().expect("forwards");
            routes
                .get(&(connected_address.to_string(), connected_port))
                // A port-0 request whose allocated port is not registered yet.
                .or_else(|| routes.get(&(connected_address.to_string(), 0)))
                .cloned()
        };
        let Some(tx) = tx else {
            tracing::debug!(
                "{host}: refusing a forwarded connection to {connected_address}:{connected_port} nobody asked for"
            );
            reply
                .reject(russh::ChannelOpenFailure::AdministrativelyProhibited)
                .await;
            return;
        };
        reply.accept().await;
        let connection = ForwardedConnection {
            stream: channel_io::tunnel_stream(channel, host.to_string()),
            originator: originator.to_string(),
            originator_port,
        };
        let _ = tx.send(connection); // a dropped RemoteForward: the stream closes
    }
}

/// A port the server listens on for us. Dropping it refuses further connections (the
/// server keeps listening until [`cancel`](Self::cancel) or the connection ends).
#[derive(Debug)]
pub struct RemoteForward {
    pub(crate) address: String,
    pub(crate) port: u32,
    pub(crate) incoming: mpsc::UnboundedReceiver<ForwardedConnection>,
    pub(crate) table: Arc<ForwardTable>,
    pub(crate) handle: super::connection::SshConnection,
}

impl RemoteForward {
    /// The port the server listens on (the allocated one when 0 was asked for).
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

    /// Asks the server to stop listening.
    pub async fn cancel(self) -> Result<(), super::SshError> {
        self.table.remove(&self.address, self.port);
        self.handle.cancel_forward(&self.address, self.port).await
    }
}

impl Drop for RemoteForward {
    fn drop(&mut self) {
        self.table.remove(&self.address, self.port);
    }
}
