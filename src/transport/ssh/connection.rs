//! One authenticated connection, shared by every job: cheap to clone, every method `&self`,
//! one channel per job.

use std::sync::Arc;
use std::time::{Duration, Instant};

use russh::ChannelOpenFailure;

use super::SshError;
use super::channel_io::{self, ExecStream, RemoteExit, Stderr, TunnelStream};
use super::config::ResolvedHost;
use super::connect::Handle;
use super::forward_routes::{ForwardTable, Incoming};
use super::slots::SessionSlots;

#[derive(Clone)]
pub struct SshConnection {
    inner: Arc<Inner>,
}

struct Inner {
    handle: Handle,
    /// The ProxyJump hops, first hop first; they live as long as the connection.
    hops: Vec<Handle>,
    description: String,
    host: String,
    open_timeout: Duration,
    slots: Arc<SessionSlots>,
    forwards: Arc<ForwardTable>,
}

impl std::fmt::Debug for SshConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SshConnection")
            .field("host", &self.inner.description)
            .field("closed", &self.is_closed())
            .finish()
    }
}

impl SshConnection {
    pub(crate) fn new(
        handle: Handle,
        hops: Vec<Handle>,
        forwards: Arc<ForwardTable>,
        host: &ResolvedHost,
    ) -> SshConnection {
        let mut description = host.description();
        if !host.proxy_jump.is_empty() {
            let via: Vec<String> = host
                .proxy_jump
                .iter()
                .map(|h| h.host_name.clone())
                .collect();
            description.push_str(&format!(" (via {})", via.join(",")));
        }
        SshConnection {
            inner: Arc::new(Inner {
                handle,
                hops,
                description,
                host: host.host_name.clone(),
                open_timeout: host.connect_timeout,
                slots: Arc::default(),
                forwards,
            }),
        }
    }

    /// Runs `command` on the remote (like `ssh host command`): stdout is read from the
    /// stream, stdin written to it (`shutdown` sends EOF); stderr is collected into
    /// [`RemoteExit::stderr`]. Costs one round trip (the channel open); the `exec` request
    /// is pipelined, a refusal shows up as a read error.
    pub async fn exec(&self, command: &str) -> Result<ExecStream, SshError> {
        self.exec_with(command, Stderr::Collect).await
    }

    /// [`exec`](Self::exec) with stderr sent elsewhere.
    ///
    /// When the server refuses a session while others are open (sshd's `MaxSessions`, 10 by
    /// default), the limit is learned and this waits for one of them to close instead of
    /// failing: a slot is busy until its channel closes.
    pub async fn exec_with(&self, command: &str, stderr: Stderr) -> Result<ExecStream, SshError> {
        let (channel, slot) = loop {
            let slot = self.inner.slots.acquire().await;
            match self
                .open("session", self.inner.handle.channel_open_session())
                .await
            {
                Ok(channel) => break (channel, slot),
                Err(SshError::Channel { .. }) if self.inner.slots.refused(slot) => continue,
                Err(e) => return Err(e),
            }
        };
        channel
            .exec(true, command)
            .await
            .map_err(|e| self.channel_error("session", e))?;
        Ok(channel_io::exec_stream(
            channel,
            stderr,
            self.inner.host.clone(),
            slot,
        ))
    }

    /// The session limit learned from a refusal, if the server has refused one.
    pub fn session_limit(&self) -> Option<usize> {
        self.inner.slots.limit()
    }

    /// Runs `command` with `stdin`, returns its stdout and how it ended.
    pub async fn run(
        &self,
        command: &str,
        stdin: &[u8],
    ) -> Result<(Vec<u8>, RemoteExit), SshError> {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let stream = self.exec(command).await?;
        let mut exit = stream.exit();
        let (mut rd, mut wr) = tokio::io::split(stream);
        let stdin = stdin.to_vec();
        let writer = async move {
            if !stdin.is_empty() {
                let _ = wr.write_all(&stdin).await;
            }
            let _ = wr.shutdown().await;
        };
        let mut stdout = Vec::new();
        let (read, ()) = tokio::join!(rd.read_to_end(&mut stdout), writer);
        read.map_err(|e| SshError::Disconnected {
            host: self.inner.description.clone(),
            detail: e.to_string(),
        })?;
        drop(rd);
        Ok((stdout, exit.wait().await))
    }

    /// A TCP connection made by the remote side (like `ssh -L`).
    pub async fn direct_tcpip(&self, host: &str, port: u16) -> Result<TunnelStream, SshError> {
        let open = self
            .inner
            .handle
            .channel_open_direct_tcpip(host, port as u32, "127.0.0.1", 0);
        let channel = self.open("direct-tcpip", open).await?;
        Ok(channel_io::tunnel_stream(channel, self.inner.host.clone()))
    }

    /// A connection to a unix socket on the remote (OpenSSH's `direct-streamlocal@openssh.com`,
    /// allowed by default). Unlike exec channels, these do not count against `MaxSessions`.
    pub async fn direct_streamlocal(&self, socket_path: &str) -> Result<TunnelStream, SshError> {
        let open = self
            .inner
            .handle
            .channel_open_direct_streamlocal(socket_path);
        let channel = self.open("direct-streamlocal", open).await?;
        Ok(channel_io::tunnel_stream(channel, self.inner.host.clone()))
    }

    /// Asks the server to listen on `address:port` (0: any free port) and to send every
    /// connection it accepts there back to us (like `ssh -R`). sshd allows loopback
    /// addresses unless `GatewayPorts` says otherwise. Returns the port it listens on (the allocated one when 0 was asked for) and the
    /// connections as they arrive; [`forget_remote`](Self::forget_remote) stops routing them.
    pub async fn listen_remote(
        &self,
        address: &str,
        port: u16,
    ) -> Result<(u32, Incoming), SshError> {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let forwards = &self.inner.forwards;
        forwards.insert(address, port as u32, tx.clone());
        let request = self.inner.handle.tcpip_forward(address, port as u32);
        let bound = match tokio::time::timeout(self.inner.open_timeout, request).await {
            Ok(Ok(allocated)) => {
                // A fixed port is answered with 0: keep our own number.
                let bound = if port == 0 { allocated } else { port as u32 };
                if port == 0 {
                    forwards.insert(address, bound, tx);
                    forwards.remove(address, 0);
                }
                bound
            }
            Ok(Err(e)) => {
                forwards.remove(address, port as u32);
                if self.is_closed() {
                    return Err(self.closed(&e.to_string()));
                }
                return Err(SshError::Channel {
                    host: self.inner.description.clone(),
                    kind: "tcpip-forward",
                    detail: format!("the server refused to listen on {address}:{port} ({e})"),
                    hint: "is the port already in use there? sshd needs AllowTcpForwarding yes, \
                           and GatewayPorts for addresses other than loopback"
                        .into(),
                });
            }
            Err(_) => {
                forwards.remove(address, port as u32);
                return Err(SshError::Timeout {
                    host: self.inner.description.clone(),
                    what: "a remote port forward request",
                    after: self.inner.open_timeout,
                });
            }
        };
        Ok((bound, rx))
    }

    /// Stops routing connections of `address:port` to us; the server may go on listening
    /// until [`cancel_remote`](Self::cancel_remote) or the end of the connection.
    pub fn forget_remote(&self, address: &str, port: u32) {
        self.inner.forwards.remove(address, port);
    }

    /// Asks the server to stop listening on `address:port`.
    pub async fn cancel_remote(&self, address: &str, port: u32) -> Result<(), SshError> {
        self.forget_remote(address, port);
        let cancel = self.inner.handle.cancel_tcpip_forward(address, port);
        match tokio::time::timeout(self.inner.open_timeout, cancel).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) if self.is_closed() => Err(self.closed(&e.to_string())),
            Ok(Err(e)) => Err(SshError::Channel {
                host: self.inner.description.clone(),
                kind: "cancel-tcpip-forward",
                detail: format!("the server refused to stop listening on {address}:{port} ({e})"),
                hint: "it stops when this connection closes".into(),
            }),
            Err(_) => Err(SshError::Timeout {
                host: self.inner.description.clone(),
                what: "cancelling a remote port forward",
                after: self.inner.open_timeout,
            }),
        }
    }

    /// Asks the server to listen on the Unix socket `path` and to send every connection it
    /// accepts there back to us (like `ssh -R PATH:…`; OpenSSH's
    /// `streamlocal-forward@openssh.com`, allowed by `AllowStreamLocalForwarding`, the
    /// default). sshd creates the socket as the logged-in user, with its umask, and does not
    /// replace an existing file (`StreamLocalBindUnlink no`): ask for a fresh path.
    pub async fn listen_remote_socket(&self, path: &str) -> Result<Incoming, SshError> {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let forwards = &self.inner.forwards;
        forwards.insert_socket(path, tx);
        let request = self.inner.handle.streamlocal_forward(path);
        match tokio::time::timeout(self.inner.open_timeout, request).await {
            Ok(Ok(())) => Ok(rx),
            Ok(Err(e)) => {
                forwards.remove_socket(path);
                if self.is_closed() {
                    return Err(self.closed(&e.to_string()));
                }
                Err(SshError::Channel {
                    host: self.inner.description.clone(),
                    kind: "streamlocal-forward",
                    detail: format!("the server refused to listen on the socket {path} ({e})"),
                    hint: "does a file of that name exist there, and may this user write its                            directory? sshd needs AllowStreamLocalForwarding yes (the default)"
                        .into(),
                })
            }
            Err(_) => {
                forwards.remove_socket(path);
                Err(SshError::Timeout {
                    host: self.inner.description.clone(),
                    what: "a remote socket forward request",
                    after: self.inner.open_timeout,
                })
            }
        }
    }

    /// Stops routing connections of the socket `path` to us.
    pub fn forget_remote_socket(&self, path: &str) {
        self.inner.forwards.remove_socket(path);
    }

    /// Asks the server to stop listening on the socket `path` (sshd leaves the file).
    pub async fn cancel_remote_socket(&self, path: &str) -> Result<(), SshError> {
        self.forget_remote_socket(path);
        let cancel = self.inner.handle.cancel_streamlocal_forward(path);
        match tokio::time::timeout(self.inner.open_timeout, cancel).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) if self.is_closed() => Err(self.closed(&e.to_string())),
            Ok(Err(e)) => Err(SshError::Channel {
                host: self.inner.description.clone(),
                kind: "cancel-streamlocal-forward",
                detail: format!("the server refused to stop listening on {path} ({e})"),
                hint: "it stops when this connection closes".into(),
            }),
            Err(_) => Err(SshError::Timeout {
                host: self.inner.description.clone(),
                what: "cancelling a remote socket forward",
                after: self.inner.open_timeout,
            }),
        }
    }

    /// True once the connection (or a ProxyJump hop under it) is gone; open a new one.
    pub fn is_closed(&self) -> bool {
        self.inner.handle.is_closed() || self.inner.hops.iter().any(|h| h.is_closed())
    }

    /// `user@host:port` (and the jump hosts), for messages.
    pub fn description(&self) -> String {
        self.inner.description.clone()
    }

    /// A round trip to the server: proves the connection is alive, and measures it.
    pub async fn ping(&self, timeout: Duration) -> Result<Duration, SshError> {
        let started = Instant::now();
        match tokio::time::timeout(timeout, self.inner.handle.send_ping()).await {
            Ok(Ok(())) if !self.is_closed() => Ok(started.elapsed()),
            Ok(_) => Err(self.closed("no answer to a ping")),
            Err(_) => Err(SshError::Timeout {
                host: self.inner.description.clone(),
                what: "a ping",
                after: timeout,
            }),
        }
    }

    /// Says goodbye to the server (and the jump hosts). Channels still open end.
    pub async fn disconnect(&self) {
        let handles = std::iter::once(&self.inner.handle).chain(self.inner.hops.iter().rev());
        for handle in handles {
            let _ = handle
                .disconnect(russh::Disconnect::ByApplication, "distfarm is done", "en")
                .await;
        }
    }

    async fn open<F>(
        &self,
        kind: &'static str,
        open: F,
    ) -> Result<russh::Channel<russh::client::Msg>, SshError>
    where
        F: std::future::Future<Output = Result<russh::Channel<russh::client::Msg>, russh::Error>>,
    {
        if self.is_closed() {
            return Err(self.closed("it was closed earlier"));
        }
        match tokio::time::timeout(self.inner.open_timeout, open).await {
            Ok(Ok(channel)) => Ok(channel),
            Ok(Err(e)) => Err(self.channel_error(kind, e)),
            Err(_) => Err(SshError::Timeout {
                host: self.inner.description.clone(),
                what: "opening a channel",
                after: self.inner.open_timeout,
            }),
        }
    }

    fn channel_error(&self, kind: &'static str, e: russh::Error) -> SshError {
        if self.is_closed() {
            return self.closed(&e.to_string());
        }
        let hint = match (&e, kind) {
            (russh::Error::ChannelOpenFailure(_), "session") => {
                "sshd allows MaxSessions (default 10) sessions per connection: run fewer jobs \
                 at once on this host or raise MaxSessions in its sshd_config"
            }
            (
                russh::Error::ChannelOpenFailure(ChannelOpenFailure::AdministrativelyProhibited),
                _,
            ) => {
                "the server forbids forwarding: AllowTcpForwarding / AllowStreamLocalForwarding \
                 in its sshd_config"
            }
            (russh::Error::ChannelOpenFailure(_), "direct-tcpip") => {
                "is something listening on that address and port on the remote side?"
            }
            (russh::Error::ChannelOpenFailure(_), _) => {
                "does the socket exist on the remote side, and may this user connect to it?"
            }
            _ => "the connection may be broken; reconnect",
        };
        SshError::Channel {
            host: self.inner.description.clone(),
            kind,
            detail: e.to_string(),
            hint: hint.into(),
        }
    }

    fn closed(&self, detail: &str) -> SshError {
        SshError::Disconnected {
            host: self.inner.description.clone(),
            detail: detail.to_string(),
        }
    }
}
