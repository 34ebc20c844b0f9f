//! Opening an authenticated connection: TCP (or a `direct-tcpip` channel through the previous
//! `ProxyJump` hop), key exchange with the host key checked, then authentication.

use std::borrow::Cow;
use std::sync::Arc;
use std::time::Duration;

use russh::client;
use russh::keys::Algorithm;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

use super::config::{ResolvedHost, SshSettings};
use super::connection::SshConnection;
use super::forward_routes::ForwardTable;
use super::handler::{ClientHandler, HandlerError, HostKeyPolicy};
use super::{SshError, auth};

pub(crate) type Handle = client::Handle<ClientHandler>;

/// Authentication may wait on an agent (a confirmation prompt on the desktop): give it more
/// than the TCP connect.
const MIN_AUTH_TIMEOUT: Duration = Duration::from_secs(30);

/// Connects to `host` through its `ProxyJump` hops, each verified against known_hosts under
/// its own name and authenticated with its own settings.
pub async fn connect(
    host: &ResolvedHost,
    settings: &SshSettings,
) -> Result<SshConnection, SshError> {
    let _ = settings; // everything is in `host` already; kept for symmetry with `resolve`
    let mut hops: Vec<Handle> = Vec::new();
    let result = connect_chain(host, &mut hops).await;
    match result {
        Ok((handle, forwards)) => Ok(SshConnection::new(handle, hops, forwards, host)),
        Err(e) => {
            for hop in hops.iter().rev() {
                let _ = hop
                    .disconnect(russh::Disconnect::ByApplication, "", "en")
                    .await;
            }
            Err(e)
        }
    }
}

/// Connects every hop (pushed onto `hops` as it comes up), then the host.
async fn connect_chain(
    host: &ResolvedHost,
    hops: &mut Vec<Handle>,
) -> Result<(Handle, Arc<ForwardTable>), SshError> {
    for (i, hop) in host.proxy_jump.iter().enumerate() {
        let unused = Arc::default();
        let handle = match hops.last() {
            None => connect_direct(hop, unused).await?,
            Some(prev) => connect_through(prev, &host.proxy_jump[i - 1], hop, unused).await?,
        };
        hops.push(handle);
    }
    let forwards = Arc::new(ForwardTable::default());
    let handle = match hops.last() {
        None => connect_direct(host, forwards.clone()).await?,
        Some(prev) => {
            let prev_host = host.proxy_jump.last().expect("a hop");
            connect_through(prev, prev_host, host, forwards.clone()).await?
        }
    };
    Ok((handle, forwards))
}

async fn connect_direct(
    host: &ResolvedHost,
    forwards: Arc<ForwardTable>,
) -> Result<Handle, SshError> {
    let tcp = tcp_connect(host).await?;
    session_over(crate::transport::quick_ack::QuickAck(tcp), host, forwards).await
}

/// `ssh -J`: a `direct-tcpip` channel from the previous hop carries this hop's connection.
async fn connect_through(
    prev: &Handle,
    prev_host: &ResolvedHost,
    host: &ResolvedHost,
    forwards: Arc<ForwardTable>,
) -> Result<Handle, SshError> {
    let open =
        prev.channel_open_direct_tcpip(host.host_name.clone(), host.port as u32, "127.0.0.1", 0);
    let channel = match tokio::time::timeout(host.connect_timeout, open).await {
        Err(_) => {
            return Err(SshError::Timeout {
                host: host.description(),
                what: "opening the tunnel through the ProxyJump host",
                after: host.connect_timeout,
            });
        }
        Ok(Err(e)) => {
            return Err(SshError::Connect {
                host: host.host_name.clone(),
                port: host.port,
                detail: format!(
                    "the ProxyJump host {} cannot reach it ({e}); check the HostName and Port as \
                     seen from {}, and that its sshd allows TCP forwarding",
                    prev_host.description(),
                    prev_host.host_name
                ),
            });
        }
        Ok(Ok(channel)) => channel,
    };
    session_over(channel.into_stream(), host, forwards).await
}

async fn tcp_connect(host: &ResolvedHost) -> Result<TcpStream, SshError> {
    use crate::transport::tcp::{self, TcpFailure};
    tcp::connect_within(&host.host_name, host.port, host.connect_timeout)
        .await
        .map_err(|failure| match failure {
            TcpFailure::TimedOut(after) => SshError::Timeout {
                host: host.description(),
                what: "the TCP connect",
                after,
            },
            other => SshError::Connect {
                host: host.host_name.clone(),
                port: host.port,
                detail: other.to_string(),
            },
        })
}

async fn session_over<S>(
    stream: S,
    host: &ResolvedHost,
    forwards: Arc<ForwardTable>,
) -> Result<Handle, SshError>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let policy = HostKeyPolicy::for_host(host);
    let config = Arc::new(client_config(host, &policy));
    let handler = ClientHandler { policy, forwards };
    let handshake = client::connect_stream(config, stream, handler);
    let mut handle = match tokio::time::timeout(host.connect_timeout, handshake).await {
        Err(_) => {
            return Err(SshError::Timeout {
                host: host.description(),
                what: "the SSH handshake",
                after: host.connect_timeout,
            });
        }
        Ok(Err(e)) => return Err(handshake_error(e, host)),
        Ok(Ok(handle)) => handle,
    };
    let auth_timeout = host.connect_timeout.max(MIN_AUTH_TIMEOUT);
    match tokio::time::timeout(auth_timeout, auth::authenticate(&mut handle, host)).await {
        Err(_) => Err(SshError::Timeout {
            host: host.description(),
            what: "authentication",
            after: auth_timeout,
        }),
        Ok(result) => result.map(|()| handle),
    }
}

fn client_config(host: &ResolvedHost, policy: &HostKeyPolicy) -> client::Config {
    let mut preferred = russh::Preferred::default();
    preferred.key = Cow::Owned(host_key_order(&preferred.key, &policy.pinned_algorithms()));
    if host.compression {
        preferred.compression = Cow::Borrowed(&[
            russh::compression::ZLIB_LEGACY,
            russh::compression::ZLIB,
            russh::compression::NONE,
        ]);
    }
    client::Config {
        nodelay: true,
        keepalive_interval: host.keepalive_interval,
        keepalive_max: host.keepalive_max,
        inactivity_timeout: None,
        preferred,
        ..Default::default()
    }
}

/// Host-key algorithms with the types already pinned for the host first, as OpenSSH does:
/// a host known by its ECDSA key is asked for that key, not refused for offering ed25519.
fn host_key_order(default: &[Algorithm], pinned: &[Algorithm]) -> Vec<Algorithm> {
    let is_pinned = |a: &Algorithm| {
        pinned.iter().any(|p| match (p, a) {
            (Algorithm::Rsa { .. }, Algorithm::Rsa { .. }) => true,
            (p, a) => p == a,
        })
    };
    let mut order: Vec<Algorithm> = default.iter().filter(|a| is_pinned(a)).cloned().collect();
    order.extend(default.iter().filter(|a| !is_pinned(a)).cloned());
    order
}

fn handshake_error(e: HandlerError, host: &ResolvedHost) -> SshError {
    match e {
        HandlerError::HostKey(e) => *e,
        HandlerError::Russh(e) => SshError::Connect {
            host: host.host_name.clone(),
            port: host.port,
            detail: match e {
                russh::Error::IO(io) => io.to_string(),
                russh::Error::Disconnect | russh::Error::HUP => {
                    "the server closed the connection during the handshake (is an SSH server \
                     listening on that port? sshd's MaxStartups?)"
                        .into()
                }
                russh::Error::NoCommonAlgo { kind, .. } => format!(
                    "no {kind:?} algorithm in common with the server; its sshd is too old or \
                     restricted"
                ),
                other => format!("SSH negotiation failed: {other}"),
            },
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use russh::keys::HashAlg;

    #[test]
    fn pinned_key_types_are_asked_for_first() {
        let default = russh::Preferred::default().key.to_vec();
        let order = host_key_order(&default, &[Algorithm::Rsa { hash: None }]);
        assert!(matches!(
            order[0],
            Algorithm::Rsa {
                hash: Some(HashAlg::Sha512)
            }
        ));
        assert_eq!(order.len(), default.len());
        assert_eq!(host_key_order(&default, &[]), default);
    }
}
