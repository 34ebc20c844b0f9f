//! Connections to a server on a local Unix socket (`unix:PATH` entries, which is how a
//! `distfarm offer --socket` reaches its client): who may connect is the socket's
//! directory's business (0700: its owner only), so a refusal says so.

use std::path::Path;

use tokio::net::UnixStream;

use super::TransportError;
use super::tcp::CONNECT_TIMEOUT;

/// Connects to the socket at `path` within distcc's connect timeout.
pub async fn connect(path: &Path) -> Result<UnixStream, TransportError> {
    let failed = |detail: String| TransportError::Connect {
        host: format!("unix:{}", path.display()),
        detail,
    };
    match tokio::time::timeout(CONNECT_TIMEOUT, UnixStream::connect(path)).await {
        Ok(Ok(stream)) => Ok(stream),
        Ok(Err(e)) if e.kind() == std::io::ErrorKind::PermissionDenied => Err(failed(format!(
            "{e} (the socket's directory belongs to another user: only its owner may send \
             jobs through it)"
        ))),
        Ok(Err(e)) => Err(failed(e.to_string())),
        Err(_) => Err(failed(format!(
            "no answer within {} s",
            CONNECT_TIMEOUT.as_secs()
        ))),
    }
}
