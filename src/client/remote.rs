//! One job on a connected stream: the request header goes out at once, the source follows
//! when the local preprocessor is done, then the answer comes back.

use std::future::Future;
use std::os::fd::BorrowedFd;
use std::os::unix::ffi::OsStrExt;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite};

use super::attempt::JobStream;
use super::preprocess::{PreprocessFailure, Preprocessed};
use super::pump::PumpTree;
use crate::exit_code::ExitCode;
use crate::protocol::agent_scan::TreeRequest;
use crate::protocol::hashed_tree;
use crate::protocol::{
    Limits, ProtocolError, RequestHeader, Response, TokenReader, TokenWriter, Version, request,
};
use crate::transport::counted::ByteCounts;

/// Why a remote attempt produced no answer.
#[derive(Debug, thiserror::Error)]
pub enum RemoteError {
    /// The host could not be reached.
    #[error("{0}")]
    Transport(#[from] crate::transport::TransportError),
    /// The host was reached but the exchange failed (EOF, garbage, timeout).
    #[error("{0}")]
    Protocol(#[from] ProtocolError),
    /// The SSH connection could not be made or used.
    #[error("{0}")]
    Ssh(#[from] crate::transport::ssh::SshError),
    /// The agent reached for the host and failed (its message).
    #[error("{0}")]
    Agent(String),
    /// The local preprocessor failed; nothing is wrong with the host.
    #[error("{0}")]
    Preprocess(std::sync::Arc<PreprocessFailure>),
    /// A Remote Execution API endpoint (`grpc://`) failed the job.
    #[error("{0}")]
    Engine(#[from] crate::reapi::error::ReapiError),
    /// An output the host sent besides the object (a `.dwo`) could not be written here.
    #[error("cannot write {path}: {why}")]
    ExtraOutput { path: String, why: String },
}

impl RemoteError {
    /// Whether the host is to blame: it is backed off and another one is tried. A source
    /// that does not preprocess is the user's, wherever it would be compiled; an engine
    /// entry that names a missing file, or a job that cannot be an Action, is this side's:
    /// the job moves on, the engine is not backed off.
    pub fn blames_host(&self) -> bool {
        match self {
            RemoteError::Preprocess(_) | RemoteError::ExtraOutput { .. } => false,
            RemoteError::Engine(e) => e.blames_endpoint(),
            _ => true,
        }
    }

    /// A connection cut in the middle of a job may be the connection, not the host: one
    /// more try on a fresh channel before the host is blamed.
    pub fn worth_one_more_try_on_the_same_host(&self) -> bool {
        matches!(self, RemoteError::Protocol(_))
    }

    /// distcc's exit code for a job that ends with this failure (`DISTCC_FALLBACK=0`).
    pub fn exit_code(&self) -> ExitCode {
        match self {
            RemoteError::Protocol(p) => protocol_exit_code(p),
            RemoteError::Preprocess(_) => ExitCode::DistccFailed,
            RemoteError::Transport(_) | RemoteError::Ssh(_) | RemoteError::Agent(_) => {
                ExitCode::ConnectFailed
            }
            RemoteError::Engine(e) => engine_exit_code(e),
            RemoteError::ExtraOutput { .. } => ExitCode::IoError,
        }
    }
}

/// distcc's exit code for a broken exchange: the peer hung up mid-job, the link failed or
/// went quiet, or what came back was not the protocol. (Here rather than in `protocol`,
/// which knows the wire and nothing of what the wrapper makes of its failures.)
fn protocol_exit_code(failure: &ProtocolError) -> ExitCode {
    match failure {
        ProtocolError::Truncated { .. } => ExitCode::Truncated,
        ProtocolError::Io(_) | ProtocolError::Decompress { .. } => ExitCode::IoError,
        ProtocolError::Timeout { .. } => ExitCode::IoError,
        _ => ExitCode::ProtocolError,
    }
}

/// Sends the job and returns the server's answer. `source` is the local preprocessor run,
/// awaited only after the header is on its way (the two overlap, as in distcc).
pub async fn compile<S, F>(
    stream: S,
    version: Version,
    argv: Vec<Vec<u8>>,
    source: F,
    limits: Limits,
) -> Result<Response, RemoteError>
where
    S: AsyncRead + AsyncWrite + Unpin,
    F: Future<Output = Result<std::sync::Arc<Preprocessed>, std::sync::Arc<PreprocessFailure>>>,
{
    let (read_half, write_half) = tokio::io::split(stream);
    let mut writer = TokenWriter::new(write_half);
    let header = RequestHeader::new(version, argv);
    header.write(&mut writer)?;
    let io_timeout = limits.io_timeout;
    with_timeout(io_timeout, writer.flush()).await?;
    let source = source.await.map_err(RemoteError::Preprocess)?;
    request::write_source(&mut writer, version, &source.text)?;
    with_timeout(io_timeout, writer.flush()).await?;
    let mut reader = TokenReader::new(read_half, limits);
    Ok(Response::read(&mut reader, header.wire_version, version).await?)
}

/// Sends a pump-mode job (protocol 3: the command, the working directory and the files)
/// and returns the server's answer, with its `.d` file. When the far end keeps headers (a
/// distfarm session server), files go by content hash and only the contents it asks for
/// follow (`protocol::hashed_tree`). Contents the agent keeps it writes into the job's
/// socket itself; those bytes are added to `bytes`.
pub async fn compile_tree(
    job: JobStream,
    tree: &PumpTree,
    limits: Limits,
    bytes: &ByteCounts,
) -> Result<Response, RemoteError> {
    // Valid while `job.stream` lives, which is to the end of this function.
    let socket = job.socket.map(|fd| unsafe { BorrowedFd::borrow_raw(fd) });
    let (read_half, write_half) = tokio::io::split(job.stream);
    let mut writer = TokenWriter::new(write_half);
    let mut reader = TokenReader::new(read_half, limits);
    let header = RequestHeader::pump(
        tree.cwd.as_os_str().as_bytes().to_vec(),
        tree.argv.iter().map(|a| a.as_bytes().to_vec()).collect(),
    );
    header.write(&mut writer)?;
    let files = tree.listing.files as usize;
    let send = |request, writer| {
        with_timeout(
            limits.io_timeout,
            tree.contents.send(request, writer, socket, limits),
        )
    };
    let (contents_sent, by_agent) = if job.stores_headers {
        hashed_tree::write_opening(&mut writer, &tree.listing)?;
        with_timeout(limits.io_timeout, writer.flush()).await?;
        let mut reply = read_reply(&mut reader, files, limits).await?;
        if reply == hashed_tree::Reply::ListingWanted {
            hashed_tree::write_listing(&mut writer, &tree.listing)?;
            with_timeout(limits.io_timeout, writer.flush()).await?;
            reply = read_reply(&mut reader, files, limits).await?;
        }
        let hashed_tree::Reply::Missing(missing) = reply else {
            return Err(ProtocolError::WrongToken {
                expected: "MISS",
                got: "LIST again".into(),
            }
            .into());
        };
        let count = missing.len();
        let by_agent = if missing.is_empty() {
            0
        } else {
            send(TreeRequest::Contents(missing), &mut writer).await?
        };
        (count, by_agent)
    } else {
        (files, send(TreeRequest::Whole, &mut writer).await?)
    };
    with_timeout(limits.io_timeout, writer.flush()).await?;
    bytes.add_sent(by_agent);
    // What DISTCC_LOG shows: how much a build's headers cost on the wire.
    tracing::info!(
        "pump tree: {files} files, {contents_sent} contents sent, {} bytes",
        writer.sent() + by_agent
    );
    Ok(Response::read(&mut reader, header.wire_version, Version::V3).await?)
}

async fn read_reply<R: AsyncRead + Unpin>(
    reader: &mut TokenReader<R>,
    files: usize,
    limits: Limits,
) -> Result<hashed_tree::Reply, ProtocolError> {
    with_timeout(limits.io_timeout, hashed_tree::read_reply(reader, files)).await
}

async fn with_timeout<T>(
    limit: Duration,
    work: impl Future<Output = Result<T, ProtocolError>>,
) -> Result<T, ProtocolError> {
    tokio::time::timeout(limit, work)
        .await
        .unwrap_or(Err(ProtocolError::Timeout {
            secs: limit.as_secs(),
        }))
}

/// distcc's exit code for an engine's failure.
fn engine_exit_code(error: &crate::reapi::error::ReapiError) -> ExitCode {
    use crate::reapi::error::ReapiError;
    match error {
        ReapiError::Connect { .. } | ReapiError::Call { .. } => ExitCode::ConnectFailed,
        ReapiError::Timeout { .. } => ExitCode::Timeout,
        ReapiError::Untrusted { .. } => ExitCode::ProtocolError,
        ReapiError::EntryFile { .. } => ExitCode::BadHostSpec,
        ReapiError::Engine { .. } | ReapiError::Action(_) => ExitCode::DistccFailed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_engine_is_blamed_for_its_own_failures_only() {
        use crate::reapi::error::ReapiError;
        let untrusted = RemoteError::from(ReapiError::Untrusted {
            endpoint: "grpc://e:1".into(),
            why: "x".into(),
        });
        assert!(untrusted.blames_host());
        assert_eq!(untrusted.exit_code(), ExitCode::ProtocolError);
        let entry = RemoteError::from(ReapiError::EntryFile {
            endpoint: "grpc://e:1".into(),
            option: "key-file".into(),
            path: "/k".into(),
            message: "x".into(),
        });
        assert!(
            !entry.blames_host(),
            "a missing key file is the entry's, not the engine's"
        );
        assert_eq!(entry.exit_code(), ExitCode::BadHostSpec);
    }

    #[test]
    fn a_broken_exchange_maps_to_distccs_exit_codes() {
        let code = |e: ProtocolError| RemoteError::Protocol(e).exit_code();
        assert_eq!(
            code(ProtocolError::Truncated { context: "DOTO" }),
            ExitCode::Truncated
        );
        assert_eq!(code(ProtocolError::Timeout { secs: 1 }), ExitCode::IoError);
        assert_eq!(code(std::io::Error::other("x").into()), ExitCode::IoError);
        assert_eq!(
            code(ProtocolError::UnsupportedVersion(9)),
            ExitCode::ProtocolError
        );
    }
}
