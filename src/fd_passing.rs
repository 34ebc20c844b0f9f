//! A socket handed from one process to another over a Unix socket (`SCM_RIGHTS`), and bytes
//! written into a socket handed over: a wrapper lets its agent write a pump-mode tree
//! straight into the job's connection, so ~400 KB of headers per job never pass through the
//! wrapper (which would read them from the agent and write them out again).

use std::io::{self, IoSlice, IoSliceMut};
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

use nix::sys::socket::{ControlMessage, ControlMessageOwned, MsgFlags, recvmsg, sendmsg};
use tokio::io::unix::AsyncFd;
use tokio::io::{AsyncWriteExt, Interest};
use tokio::net::UnixStream;

/// Sends `bytes` on `stream` with a copy of `fd` attached to their first byte.
pub async fn send_with_fd(
    stream: &mut UnixStream,
    bytes: &[u8],
    fd: BorrowedFd<'_>,
) -> io::Result<()> {
    let fds = [fd.as_raw_fd()];
    let sent = loop {
        stream.writable().await?;
        let attempt = stream.try_io(Interest::WRITABLE, || {
            sendmsg::<()>(
                stream.as_raw_fd(),
                &[IoSlice::new(bytes)],
                &[ControlMessage::ScmRights(&fds)],
                MsgFlags::MSG_NOSIGNAL,
                None,
            )
            .map_err(io::Error::from)
        });
        match attempt {
            Ok(n) => break n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
            Err(e) => return Err(e),
        }
    };
    // The descriptor went with the first byte; whatever did not fit follows plainly.
    stream.write_all(&bytes[sent..]).await
}

/// Fills `buf` from `stream`, with the descriptor attached to its bytes if any. `Ok(None)`:
/// the peer hung up before sending anything.
pub async fn recv_with_fd(
    stream: &mut UnixStream,
    buf: &mut [u8],
) -> io::Result<Option<Option<OwnedFd>>> {
    let mut got = 0;
    let mut passed = None;
    while got < buf.len() {
        stream.readable().await?;
        let attempt = stream.try_io(Interest::READABLE, || {
            let mut space = nix::cmsg_space!([RawFd; 4]);
            let mut iov = [IoSliceMut::new(&mut buf[got..])];
            let msg = recvmsg::<()>(
                stream.as_raw_fd(),
                &mut iov,
                Some(&mut space),
                MsgFlags::MSG_CMSG_CLOEXEC,
            )
            .map_err(io::Error::from)?;
            let mut fds = Vec::new();
            for cmsg in msg.cmsgs().map_err(io::Error::from)? {
                if let ControlMessageOwned::ScmRights(received) = cmsg {
                    fds.extend(received);
                }
            }
            Ok((msg.bytes, fds))
        });
        let (n, fds) = match attempt {
            Ok(read) => read,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
            Err(e) => return Err(e),
        };
        // Owned at once, so that none leaks whatever comes next; only the first is wanted.
        // SAFETY: each was just received, so this process owns it and nothing else does.
        let mut fds = fds
            .into_iter()
            .map(|fd| unsafe { OwnedFd::from_raw_fd(fd) });
        if passed.is_none() {
            passed = fds.next();
        }
        if n == 0 {
            return if got == 0 {
                Ok(None)
            } else {
                Err(io::ErrorKind::UnexpectedEof.into())
            };
        }
        got += n;
    }
    Ok(Some(passed))
}

/// Resolves when the peer of `stream` hangs up, or sends something (which a peer waiting
/// for an answer must not). Readiness alone would not tell: it stays set after reads that
/// did not drain the socket.
pub async fn peer_gone_or_talking(stream: &UnixStream) {
    let mut byte = [0u8; 1];
    loop {
        if stream.readable().await.is_err() {
            return;
        }
        let peeked = stream.try_io(Interest::READABLE, || {
            nix::sys::socket::recv(stream.as_raw_fd(), &mut byte, MsgFlags::MSG_PEEK)
                .map_err(io::Error::from)
        });
        match peeked {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
            _ => return,
        }
    }
}

/// Writes all of `bytes` into `fd` (a socket or pipe another process handed over, which its
/// owner is not writing to meanwhile), waiting whenever it is full.
pub async fn write_all_to(fd: OwnedFd, bytes: &[u8]) -> io::Result<()> {
    // The owner's runtime made it non-blocking already; a blocking one would stall a thread.
    let flags = nix::fcntl::fcntl(fd.as_raw_fd(), nix::fcntl::FcntlArg::F_GETFL)?;
    let flags = nix::fcntl::OFlag::from_bits_truncate(flags) | nix::fcntl::OFlag::O_NONBLOCK;
    nix::fcntl::fcntl(fd.as_raw_fd(), nix::fcntl::FcntlArg::F_SETFL(flags))?;
    // SAFETY: an OwnedFd is a valid descriptor that stays open, and the same one, until the
    // AsyncFd drops it.
    let fd = unsafe { AsyncFd::register_with_interest(fd, Interest::WRITABLE) }
        .map_err(|e| e.into_parts().1)?;
    let mut written = 0;
    while written < bytes.len() {
        let mut ready = fd.writable().await?;
        match ready.try_io(|fd| nix::unistd::write(fd, &bytes[written..]).map_err(io::Error::from))
        {
            Ok(Ok(0)) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(Ok(n)) => written += n,
            Ok(Err(e)) => return Err(e),
            Err(_would_block) => continue,
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsFd;
    use tokio::io::AsyncReadExt;

    #[tokio::test]
    async fn a_socket_handed_over_carries_what_the_receiver_writes_into_it() {
        let (mut wrapper, mut agent) = UnixStream::pair().unwrap();
        let (mut job, mut server) = UnixStream::pair().unwrap();
        send_with_fd(&mut wrapper, b"TALL00000000", job.as_fd())
            .await
            .unwrap();
        let mut header = [0u8; 12];
        let fd = recv_with_fd(&mut agent, &mut header)
            .await
            .unwrap()
            .expect("bytes came")
            .expect("a descriptor came with them");
        assert_eq!(&header, b"TALL00000000");
        let tree = vec![7u8; 300_000]; // more than a socket buffer holds
        let reading = tokio::spawn(async move {
            let mut got = vec![0u8; 300_000];
            server.read_exact(&mut got).await.unwrap();
            (got, server)
        });
        write_all_to(fd, &tree).await.unwrap();
        let (got, mut server) = reading.await.unwrap();
        assert_eq!(got, tree);
        // The handing side's own descriptor still works, after what the other wrote.
        job.write_all(b"x").await.unwrap();
        let mut after = [0u8; 1];
        server.read_exact(&mut after).await.unwrap();
        assert_eq!(&after, b"x");
    }

    #[tokio::test]
    async fn a_peer_waiting_quietly_is_told_from_one_that_hung_up() {
        let (mut wrapper, mut agent) = UnixStream::pair().unwrap();
        wrapper.write_all(b"TALL00000000").await.unwrap();
        let mut header = [0u8; 12];
        recv_with_fd(&mut agent, &mut header).await.unwrap();
        // Everything sent was read: waiting must not end on stale readiness.
        let waiting = tokio::time::timeout(
            std::time::Duration::from_millis(200),
            peer_gone_or_talking(&agent),
        );
        assert!(waiting.await.is_err(), "a quiet peer is still there");
        drop(wrapper);
        peer_gone_or_talking(&agent).await;
    }

    #[tokio::test]
    async fn bytes_without_a_descriptor_come_with_none_and_a_hang_up_is_told_apart() {
        let (mut wrapper, mut agent) = UnixStream::pair().unwrap();
        wrapper.write_all(b"THSH00000000").await.unwrap();
        let mut header = [0u8; 12];
        let got = recv_with_fd(&mut agent, &mut header).await.unwrap();
        assert!(matches!(got, Some(None)), "{got:?}");
        drop(wrapper);
        assert!(
            recv_with_fd(&mut agent, &mut header)
                .await
                .unwrap()
                .is_none()
        );
    }
}
