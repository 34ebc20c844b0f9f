//! How to reach a host: a byte stream to a distcc server, whatever carries it. Uses nothing
//! else in the crate.

pub mod counted;
pub mod guarded;
pub mod quick_ack;
pub mod ssh;
pub mod ssh_command;
pub mod tcp;
pub mod unix_socket;

use tokio::io::{AsyncRead, AsyncWrite};

/// A duplex byte stream to a server.
pub trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Stream for T {}

pub type BoxStream = Box<dyn Stream>;

pub use guarded::Guarded;

/// A failure to reach a host. Always a host problem, never a compile problem.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    #[error("cannot connect to {host}: {detail}")]
    Connect { host: String, detail: String },
    #[error("cannot start {program:?} to reach {host}: {error}")]
    Spawn {
        program: String,
        host: String,
        error: std::io::Error,
    },
}
