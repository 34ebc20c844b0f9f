//! Plain TCP to a distccd, as distcc does it: every resolved address in turn, within a fixed
//! connect timeout, with Nagle off (a request is a few small writes then a wait).

use std::time::Duration;

use tokio::net::TcpStream;

use super::TransportError;

/// distcc's connect timeout (`clinet.c`), not configurable there either.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(4);

pub async fn connect(host: &str, port: u16) -> Result<TcpStream, TransportError> {
    let fail = |detail: String| TransportError::Connect {
        host: format!("{host}:{port}"),
        detail,
    };
    let attempt = async {
        let addrs = tokio::net::lookup_host((host, port))
            .await
            .map_err(|e| fail(format!("cannot resolve: {e}")))?;
        let mut last = fail("the name has no address".into());
        for addr in addrs {
            match TcpStream::connect(addr).await {
                Ok(stream) => {
                    let _ = stream.set_nodelay(true);
                    return Ok(stream);
                }
                Err(e) => last = fail(e.to_string()),
            }
        }
        Err(last)
    };
    tokio::time::timeout(CONNECT_TIMEOUT, attempt)
        .await
        .unwrap_or_else(|_| {
            Err(fail(format!(
                "no answer within {} s",
                CONNECT_TIMEOUT.as_secs()
            )))
        })
}
