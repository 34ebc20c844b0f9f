//! A channel as a byte stream that can never stall the connection.
//!
//! russh pushes every incoming message into a bounded per-channel queue from the one session
//! loop; a channel nobody reads therefore stops *every* channel of the connection. So each
//! channel gets a pump task that always reads it: stdout goes into an unbounded queue for
//! the stream, stderr to a sink, the exit status to a watch. When the stream is dropped the
//! pump sends CLOSE (unless someone still waits for the exit status, then it drains on).

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use russh::client;
use russh::{ChannelMsg, ChannelReadHalf, ChannelWriteHalf};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::{mpsc, oneshot, watch};

use super::slots::Slot;

/// stderr beyond this is counted but not kept.
const STDERR_LIMIT: usize = 16 << 20;

/// How a remote command ended.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RemoteExit {
    /// The exit status, when the server sent one (not when killed by a signal).
    pub status: Option<u32>,
    /// The signal that killed it (`TERM`, `KILL`, ...).
    pub signal: Option<String>,
    /// What it wrote to stderr (with [`Stderr::Collect`]; at most 16 MiB).
    pub stderr: Vec<u8>,
    /// The connection died before the channel closed: the status is unknown.
    pub connection_lost: bool,
}

impl RemoteExit {
    pub fn success(&self) -> bool {
        self.status == Some(0)
    }
}

/// Receives stderr chunks as they arrive, on the pump task: it must not block.
pub type StderrSink = Box<dyn FnMut(&[u8]) + Send>;

/// Where a remote command's stderr goes.
pub enum Stderr {
    /// Kept and returned in [`RemoteExit::stderr`].
    Collect,
    /// Handed over as it arrives.
    Forward(StderrSink),
    Discard,
}

/// Waits for a command's end; cheap to clone, usable after the stream is gone.
#[derive(Debug, Clone)]
pub struct ExitWatch {
    rx: watch::Receiver<Option<RemoteExit>>,
}

impl ExitWatch {
    /// Waits until the channel is closed. Wrap it in a timeout: a command that never exits
    /// never closes its channel.
    pub async fn wait(&mut self) -> RemoteExit {
        match self.rx.wait_for(Option::is_some).await {
            Ok(exit) => exit.clone().unwrap_or_default(),
            Err(_) => RemoteExit {
                connection_lost: true,
                ..RemoteExit::default()
            },
        }
    }

    /// The end, if it has come.
    pub fn get(&self) -> Option<RemoteExit> {
        self.rx.borrow().clone()
    }
}

enum Item {
    Data(Bytes),
    Error(io::Error),
}

/// The stream half shared by [`ExecStream`] and [`TunnelStream`].
struct ChannelIo {
    rx: mpsc::UnboundedReceiver<Item>,
    pending: Bytes,
    tx: Pin<Box<dyn AsyncWrite + Send + Sync>>,
    shut_down: bool,
    // Dropped last: tells the pump the stream is gone.
    _alive: oneshot::Sender<()>,
}

impl AsyncRead for ChannelIo {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        loop {
            if !self.pending.is_empty() {
                let n = self.pending.len().min(buf.remaining());
                let chunk = self.pending.split_to(n);
                buf.put_slice(&chunk);
                return Poll::Ready(Ok(()));
            }
            match self.rx.poll_recv(cx) {
                Poll::Ready(Some(Item::Data(data))) => self.pending = data,
                Poll::Ready(Some(Item::Error(e))) => return Poll::Ready(Err(e)),
                Poll::Ready(None) => return Poll::Ready(Ok(())),
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}

impl AsyncWrite for ChannelIo {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if buf.is_empty() {
            return Poll::Ready(Ok(0)); // russh's writer calls an empty write an error
        }
        self.tx.as_mut().poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.tx.as_mut().poll_flush(cx)
    }

    /// Sends EOF once (the remote's stdin ends); reading goes on.
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.shut_down {
            return Poll::Ready(Ok(()));
        }
        let r = std::task::ready!(self.tx.as_mut().poll_shutdown(cx));
        self.shut_down = true;
        Poll::Ready(r)
    }
}

/// A remote command: read its stdout, write its stdin (`shutdown` = EOF). Its stderr and
/// exit status come from [`ExecStream::exit`]. Dropping it closes the channel unless an
/// [`ExitWatch`] is still held.
pub struct ExecStream {
    exit: ExitWatch,
    io: ChannelIo,
}

impl ExecStream {
    /// A handle on the command's end (status, signal, stderr).
    pub fn exit(&self) -> ExitWatch {
        self.exit.clone()
    }

    /// Sends EOF and waits for the end; unread stdout is discarded.
    pub async fn finish(mut self) -> RemoteExit {
        use tokio::io::AsyncWriteExt;
        let _ = self.io.shutdown().await;
        let mut exit = self.exit.clone();
        drop(self);
        exit.wait().await
    }
}

/// A `direct-tcpip` or `direct-streamlocal` channel. A read error means the connection was
/// lost before the far end closed; dropping it closes the channel.
pub struct TunnelStream {
    io: ChannelIo,
}

macro_rules! delegate_io {
    ($t:ty) => {
        impl AsyncRead for $t {
            fn poll_read(
                mut self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: &mut ReadBuf<'_>,
            ) -> Poll<io::Result<()>> {
                Pin::new(&mut self.io).poll_read(cx, buf)
            }
        }
        impl AsyncWrite for $t {
            fn poll_write(
                mut self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: &[u8],
            ) -> Poll<io::Result<usize>> {
                Pin::new(&mut self.io).poll_write(cx, buf)
            }
            fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                Pin::new(&mut self.io).poll_flush(cx)
            }
            fn poll_shutdown(
                mut self: Pin<&mut Self>,
                cx: &mut Context<'_>,
            ) -> Poll<io::Result<()>> {
                Pin::new(&mut self.io).poll_shutdown(cx)
            }
        }
    };
}
delegate_io!(ExecStream);
delegate_io!(TunnelStream);

impl std::fmt::Debug for ExecStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExecStream")
            .field("exit", &self.exit.get())
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for TunnelStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TunnelStream").finish_non_exhaustive()
    }
}

/// Starts the pump for an exec channel whose `exec` request was just sent; `slot` is held
/// until the channel closes.
pub(crate) fn exec_stream(
    channel: russh::Channel<client::Msg>,
    stderr: Stderr,
    host: String,
    slot: Slot,
) -> ExecStream {
    let (exit_tx, exit_rx) = watch::channel(None);
    let io = spawn_pump(channel, host, Some(Exit::new(exit_tx, stderr)), Some(slot));
    ExecStream {
        exit: ExitWatch { rx: exit_rx },
        io,
    }
}

pub(crate) fn tunnel_stream(channel: russh::Channel<client::Msg>, host: String) -> TunnelStream {
    TunnelStream {
        io: spawn_pump(channel, host, None, None),
    }
}

/// Exit bookkeeping of an exec channel.
struct Exit {
    tx: watch::Sender<Option<RemoteExit>>,
    sink: Stderr,
    result: RemoteExit,
}

impl Exit {
    fn new(tx: watch::Sender<Option<RemoteExit>>, sink: Stderr) -> Exit {
        Exit {
            tx,
            sink,
            result: RemoteExit::default(),
        }
    }

    fn stderr(&mut self, data: &[u8]) {
        match &mut self.sink {
            Stderr::Collect => {
                let room = STDERR_LIMIT.saturating_sub(self.result.stderr.len());
                self.result
                    .stderr
                    .extend_from_slice(&data[..data.len().min(room)]);
            }
            Stderr::Forward(f) => f(data),
            Stderr::Discard => {}
        }
    }

    fn finish(&mut self, connection_lost: bool) {
        self.result.connection_lost = connection_lost;
        let _ = self.tx.send(Some(std::mem::take(&mut self.result)));
    }
}

fn spawn_pump(
    channel: russh::Channel<client::Msg>,
    host: String,
    exit: Option<Exit>,
    slot: Option<Slot>,
) -> ChannelIo {
    let (rd, wr) = channel.split();
    let (data_tx, data_rx) = mpsc::unbounded_channel();
    let (alive_tx, alive_rx) = oneshot::channel();
    let tx = Box::pin(wr.make_writer());
    tokio::spawn(async move {
        pump(rd, wr, data_tx, alive_rx, exit, host).await;
        drop(slot);
    });
    ChannelIo {
        rx: data_rx,
        pending: Bytes::new(),
        tx,
        shut_down: false,
        _alive: alive_tx,
    }
}

async fn pump(
    mut rd: ChannelReadHalf,
    wr: ChannelWriteHalf<client::Msg>,
    data_tx: mpsc::UnboundedSender<Item>,
    mut alive: oneshot::Receiver<()>,
    mut exit: Option<Exit>,
    host: String,
) {
    let mut data_tx = Some(data_tx);
    let mut stream_gone = false;
    loop {
        tokio::select! {
            msg = rd.wait() => match msg {
                Some(ChannelMsg::Data { data }) => {
                    if let Some(tx) = &data_tx {
                        let _ = tx.send(Item::Data(data));
                    }
                }
                Some(ChannelMsg::ExtendedData { data, ext: 1 }) => {
                    if let Some(exit) = exit.as_mut() {
                        exit.stderr(&data);
                    }
                }
                Some(ChannelMsg::Eof) => data_tx = None,
                Some(ChannelMsg::ExitStatus { exit_status }) => {
                    if let Some(exit) = exit.as_mut() {
                        exit.result.status = Some(exit_status);
                    }
                }
                Some(ChannelMsg::ExitSignal { signal_name, error_message, .. }) => {
                    tracing::debug!("{host}: remote command killed by {signal_name:?} {error_message}");
                    if let Some(exit) = exit.as_mut() {
                        exit.result.signal = Some(format!("{signal_name:?}"));
                    }
                }
                Some(ChannelMsg::Failure) => {
                    // The only request we send with want_reply is `exec`.
                    if let Some(tx) = data_tx.take() {
                        let _ = tx.send(Item::Error(io::Error::other(format!(
                            "{host} refused to run the command (exec request denied)"
                        ))));
                    }
                }
                Some(ChannelMsg::Close) => {
                    // russh answers the CLOSE itself.
                    if let Some(exit) = exit.as_mut() {
                        exit.finish(false);
                    }
                    return;
                }
                Some(_) => {}
                None => {
                    if let Some(tx) = data_tx.take() {
                        let _ = tx.send(Item::Error(io::Error::new(
                            io::ErrorKind::UnexpectedEof,
                            format!("the SSH connection to {host} was lost"),
                        )));
                    }
                    if let Some(exit) = exit.as_mut() {
                        exit.finish(true);
                    }
                    return;
                }
            },
            _ = &mut alive, if !stream_gone => {
                stream_gone = true;
                let watched = exit.as_ref().is_some_and(|e| e.tx.receiver_count() > 0);
                if !watched {
                    // Nobody reads or waits: close. After our own CLOSE russh drops the
                    // channel, so there is nothing left to drain.
                    let _ = wr.close().await;
                    return;
                }
            }
        }
    }
}
