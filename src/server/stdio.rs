//! Non-blocking async access to this process's stdin and stdout, for `--inetd`.
//!
//! tokio's own `stdin()` reads on a blocking thread that cannot be cancelled, so it cannot
//! watch for a client hanging up while the compiler runs. sshd and inetd hand us pipes or
//! sockets, which epoll can watch directly.

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use nix::fcntl::{FcntlArg, OFlag, fcntl};
use tokio::io::unix::AsyncFd;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

pub struct FdStream {
    fd: AsyncFd<OwnedFd>,
}

impl FdStream {
    /// Takes over a duplicate of `fd`, switched to non-blocking mode.
    pub fn from_fd(fd: BorrowedFd<'_>) -> io::Result<FdStream> {
        let owned = fd.try_clone_to_owned()?;
        let flags = OFlag::from_bits_truncate(fcntl(owned.as_raw_fd(), FcntlArg::F_GETFL)?);
        fcntl(
            owned.as_raw_fd(),
            FcntlArg::F_SETFL(flags | OFlag::O_NONBLOCK),
        )?;
        // SAFETY: `owned` is our own duplicate, moved into the AsyncFd and closed only when
        // it is dropped, so its raw fd stays valid and unchanged for the AsyncFd's lifetime.
        let fd = unsafe { AsyncFd::register(owned) }.map_err(|e| e.into_parts().1)?;
        Ok(FdStream { fd })
    }
}

/// Stdin and stdout as one duplex stream.
pub fn stdio() -> io::Result<tokio::io::Join<FdStream, FdStream>> {
    // SAFETY: fds 0 and 1 are open for the life of the process; they are only borrowed here
    // long enough to be duplicated.
    let (stdin, stdout) = unsafe { (BorrowedFd::borrow_raw(0), BorrowedFd::borrow_raw(1)) };
    Ok(tokio::io::join(
        FdStream::from_fd(stdin)?,
        FdStream::from_fd(stdout)?,
    ))
}

/// The peer address when stdin is a TCP socket (classic inetd), else `None` (sshd, a pipe).
pub fn stdin_peer() -> Option<std::net::SocketAddr> {
    use nix::sys::socket::{SockaddrStorage, getpeername};
    let addr: SockaddrStorage = getpeername(0).ok()?;
    if let Some(v4) = addr.as_sockaddr_in() {
        return Some(std::net::SocketAddr::V4((*v4).into()));
    }
    addr.as_sockaddr_in6()
        .map(|v6| std::net::SocketAddr::V6((*v6).into()))
}

impl AsyncRead for FdStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        loop {
            let mut guard = ready!(self.fd.poll_read_ready(cx))?;
            let unfilled = buf.initialize_unfilled();
            match guard.try_io(|inner| {
                nix::unistd::read(inner.get_ref().as_raw_fd(), unfilled).map_err(io::Error::from)
            }) {
                Ok(Ok(n)) => {
                    buf.advance(n);
                    return Poll::Ready(Ok(()));
                }
                Ok(Err(e)) => return Poll::Ready(Err(e)),
                Err(_would_block) => continue,
            }
        }
    }
}

impl AsyncWrite for FdStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        loop {
            let mut guard = ready!(self.fd.poll_write_ready(cx))?;
            match guard.try_io(|inner| {
                nix::unistd::write(inner.get_ref().as_fd(), data).map_err(io::Error::from)
            }) {
                Ok(result) => return Poll::Ready(result),
                Err(_would_block) => continue,
            }
        }
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}
