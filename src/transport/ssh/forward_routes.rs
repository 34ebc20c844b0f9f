//! Where connections from a remote listener go (`ssh -R`): the server listens, and every
//! connection it accepts arrives as a `forwarded-tcpip` channel (or, for a Unix socket, a
//! `forwarded-streamlocal@openssh.com` one), routed here to whoever asked for that address
//! and port (or socket path) ([`SshConnection::listen_remote`]; `forward::RemoteForward` is
//! the handle people use). russh's default handler accepts such channels and drops them (the
//! peer hangs), so the handler routes them through this table and refuses what nobody asked
//! for.
//!
//! [`SshConnection::listen_remote`]: super::SshConnection::listen_remote

use std::collections::HashMap;
use std::sync::Mutex;

use russh::client;
use tokio::sync::mpsc;

use super::channel_io::{self, TunnelStream};

/// One connection the server accepted on a forwarded port or socket.
#[derive(Debug)]
pub struct ForwardedConnection {
    pub stream: TunnelStream,
    /// Who connected, as the server reports it (for a socket: the socket's path).
    pub originator: String,
    pub originator_port: u32,
}

type Key = (String, u32);

/// Connections the server accepted on one forwarded port, in arrival order.
pub type Incoming = mpsc::UnboundedReceiver<ForwardedConnection>;

/// The forwards of one connection, shared by the connection and its handler.
#[derive(Debug, Default)]
pub(crate) struct ForwardTable {
    routes: Mutex<HashMap<Key, mpsc::UnboundedSender<ForwardedConnection>>>,
    /// Remote Unix sockets, by path.
    sockets: Mutex<HashMap<String, mpsc::UnboundedSender<ForwardedConnection>>>,
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

    pub fn insert_socket(&self, path: &str, tx: mpsc::UnboundedSender<ForwardedConnection>) {
        self.sockets
            .lock()
            .expect("forwards")
            .insert(path.to_string(), tx);
    }

    pub fn remove_socket(&self, path: &str) {
        self.sockets.lock().expect("forwards").remove(path);
    }

    /// Drops every route: every [`Incoming`] then ends.
    pub fn clear(&self) {
        self.routes.lock().expect("forwards").clear();
        self.sockets.lock().expect("forwards").clear();
    }

    /// Called by the handler for a `forwarded-streamlocal@openssh.com` channel open. The
    /// server names no originator for a socket peer.
    pub async fn route_socket(
        &self,
        channel: russh::Channel<client::Msg>,
        socket_path: &str,
        reply: client::ChannelOpenHandle,
        host: &str,
    ) {
        let tx = self
            .sockets
            .lock()
            .expect("forwards")
            .get(socket_path)
            .cloned();
        let what = format!("socket {socket_path}");
        deliver(tx, channel, reply, socket_path, 0, host, &what).await;
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
        let what = format!("{connected_address}:{connected_port}");
        deliver(tx, channel, reply, originator, originator_port, host, &what).await;
    }
}

/// Hands a forwarded channel to whoever asked for its forward (`tx`), or refuses it when
/// nobody did.
async fn deliver(
    tx: Option<mpsc::UnboundedSender<ForwardedConnection>>,
    channel: russh::Channel<client::Msg>,
    reply: client::ChannelOpenHandle,
    originator: &str,
    originator_port: u32,
    host: &str,
    what: &str,
) {
    let Some(tx) = tx else {
        tracing::debug!("{host}: refusing a forwarded connection to {what} nobody asked for");
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
    let _ = tx.send(connection); // nobody listens any more: the stream closes
}
