//! TCP connections, made one way for every caller (a distccd, an SSH server, a statistics
//! port, a forwarded port's target, a local offer): every resolved address in turn, within a
//! connect timeout, with Nagle off (a request is a few small writes then a wait; Nagle and
//! delayed ACK would add ~40 ms to each round trip).

use std::net::SocketAddr;
use std::time::Duration;

use tokio::net::TcpStream;

use super::TransportError;

/// distcc's connect timeout (`clinet.c`), not configurable there either.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(4);

/// Why no TCP connection could be made.
#[derive(Debug, thiserror::Error)]
pub enum TcpFailure {
    #[error("cannot resolve the name: {0}")]
    Resolve(std::io::Error),
    #[error("the name has no address")]
    NoAddress,
    /// The last address tried, and what it said.
    #[error("{addr}: {error}")]
    Refused {
        addr: SocketAddr,
        error: std::io::Error,
    },
    #[error("no answer within {} s", .0.as_secs_f32())]
    TimedOut(Duration),
}

/// Connects to `host:port` within `timeout`.
pub async fn connect_within(
    host: &str,
    port: u16,
    timeout: Duration,
) -> Result<TcpStream, TcpFailure> {
    let attempt = async {
        let addrs = tokio::net::lookup_host((host, port))
            .await
            .map_err(TcpFailure::Resolve)?;
        let mut last = TcpFailure::NoAddress;
        for addr in addrs {
            match TcpStream::connect(addr).await {
                Ok(stream) => {
                    let _ = stream.set_nodelay(true);
                    return Ok(stream);
                }
                Err(error) => last = TcpFailure::Refused { addr, error },
            }
        }
        Err(last)
    };
    tokio::time::timeout(timeout, attempt)
        .await
        .unwrap_or(Err(TcpFailure::TimedOut(timeout)))
}

/// [`connect_within`] for a caller without a runtime (reading the host list, which asks
/// whether each local offer still listens): the same addresses in the same order, Nagle off,
/// every attempt within what is left of `timeout`. The name lookup itself is not bounded
/// (std has no timeout for it); such callers pass addresses.
pub fn connect_within_blocking(
    host: &str,
    port: u16,
    timeout: Duration,
) -> Result<std::net::TcpStream, TcpFailure> {
    use std::net::ToSocketAddrs;
    let deadline = std::time::Instant::now() + timeout;
    let addrs = (host, port)
        .to_socket_addrs()
        .map_err(TcpFailure::Resolve)?;
    let mut last = TcpFailure::NoAddress;
    for addr in addrs {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        if left.is_zero() {
            return Err(TcpFailure::TimedOut(timeout));
        }
        match std::net::TcpStream::connect_timeout(&addr, left) {
            Ok(stream) => {
                let _ = stream.set_nodelay(true);
                return Ok(stream);
            }
            Err(error) if error.kind() == std::io::ErrorKind::TimedOut => {
                return Err(TcpFailure::TimedOut(timeout));
            }
            Err(error) => last = TcpFailure::Refused { addr, error },
        }
    }
    Err(last)
}

/// A distccd's port, as distcc connects to it.
pub async fn connect(host: &str, port: u16) -> Result<TcpStream, TransportError> {
    connect_within(host, port, CONNECT_TIMEOUT)
        .await
        .map_err(|failure| TransportError::Connect {
            host: format!("{host}:{port}"),
            detail: failure.to_string(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_blocking_connect_reaches_a_listener_and_names_a_closed_port() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let stream = connect_within_blocking("127.0.0.1", port, Duration::from_secs(2)).unwrap();
        assert!(
            stream.nodelay().unwrap(),
            "Nagle is off, as for every connection"
        );
        drop(listener);
        match connect_within_blocking("127.0.0.1", port, Duration::from_secs(2)) {
            Err(TcpFailure::Refused { addr, .. }) => assert_eq!(addr.port(), port),
            other => panic!("a closed port is refused: {other:?}"),
        }
    }
}
