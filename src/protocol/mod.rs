//! The distcc wire protocol (versions 1, 2 and 3) over any `AsyncRead`/`AsyncWrite`. No
//! sockets, no environment: callers pass streams and limits.
//!
//! Layers: [`token`] frames one 12-byte header and its body; [`lzo`] is the protocol-2 body
//! compression; [`request`] and [`response`] are the fixed token sequences of one job, and
//! [`file_tree`] the source and headers a pump-mode request carries instead of `DOTI`
//! ([`hashed_tree`]: the same by content hash, between distfarm ends);
//! [`agent`], [`agent_scan`] and [`agent_engine`] are what a wrapper and its agent say to
//! each other;
//! [`deps_file`] makes a `.d` written elsewhere the one a local `gcc -MD` writes;
//! [`client_counters`] is a server's per-client counters asked for and answered;
//! [`ssh_launch`] holds the words both ends use when a server is started over SSH.

pub mod agent;
pub mod agent_engine;
pub mod agent_scan;
pub mod client_counters;
pub mod closure_tree;
pub mod deps_file;
pub mod error;
pub mod farm_view;
pub mod file_tree;
pub mod hashed_tree;
pub mod lzo;
pub mod packed_tree;
pub mod request;
pub mod response;
pub mod ssh_launch;
pub mod token;

pub use error::ProtocolError;
pub use request::{Request, RequestHeader};
pub use response::Response;
pub use token::{Limits, TokenReader, TokenWriter};

/// A protocol version as stated in `DIST` and echoed in `DONE`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Version {
    /// Plain bodies.
    V1,
    /// LZO1X-1 compressed bodies.
    V2,
    /// Pump mode: LZO bodies, and the client sends its source and headers for the server
    /// to preprocess.
    V3,
}

impl Version {
    pub fn from_wire(n: u32) -> Option<Version> {
        match n {
            // distccd 3.4 treats 0 like 1 (and echoes 0); we accept it as 1.
            0 | 1 => Some(Version::V1),
            2 => Some(Version::V2),
            3 => Some(Version::V3),
            _ => None,
        }
    }

    pub fn number(self) -> u32 {
        match self {
            Version::V1 => 1,
            Version::V2 => 2,
            Version::V3 => 3,
        }
    }

    /// Whether bulk bodies (`DOTI`, `SERR`, `SOUT`, `DOTO`) are LZO-compressed.
    pub fn compressed(self) -> bool {
        self != Version::V1
    }
}
