/// Everything that can go wrong while reading or writing the distcc protocol. None of these
/// is a compile failure: they all mean the peer or the link misbehaved.
#[derive(Debug, thiserror::Error)]
pub enum ProtocolError {
    #[error("connection closed in the middle of {context}")]
    Truncated { context: &'static str },
    #[error("expected token {expected} but got {got:?}")]
    WrongToken { expected: &'static str, got: String },
    #[error("bad hexadecimal value {text:?} after token {token}")]
    BadHex { token: String, text: String },
    #[error("{token} length {len} is over the limit of {limit} bytes")]
    TooLong {
        token: &'static str,
        len: u64,
        limit: u64,
    },
    #[error("unsupported protocol version {0}")]
    UnsupportedVersion(u32),
    #[error("{what} is not allowed in a file tree: {why}")]
    BadTreeEntry { what: String, why: &'static str },
    #[error("peer answered version {got} to a version {sent} request")]
    VersionMismatch { sent: u32, got: u32 },
    #[error("cannot decompress {token} body: {detail}")]
    Decompress { token: &'static str, detail: String },
    #[error("unreadable {token} body: {why}")]
    BadBody { token: &'static str, why: String },
    #[error("timed out after {secs} s waiting for the peer")]
    Timeout { secs: u64 },
    #[error("{0}")]
    Io(#[from] std::io::Error),
}
