//! Moving bytes between two streams until both directions are done: how a job's bytes cross
//! the agent (wrapper socket ↔ SSH channel) and how forwarded connections are served.

use tokio::io::{AsyncRead, AsyncWrite};

/// Copies both ways until each side has closed its write half; returns bytes moved
/// (a → b, b → a).
pub async fn splice<A, B>(a: &mut A, b: &mut B) -> std::io::Result<(u64, u64)>
where
    A: AsyncRead + AsyncWrite + Unpin + ?Sized,
    B: AsyncRead + AsyncWrite + Unpin + ?Sized,
{
    tokio::io::copy_bidirectional(a, b).await
}
