//! Reaching this user's agent: connect to its socket, starting it first if nobody listens.
//! Any failure here means "no agent", and the wrapper connects by itself.

use tokio::net::UnixStream;

use crate::config::{ClientEnv, SshEnv};
use crate::protocol::agent::{Channel, JobRequest, Pick};
use crate::protocol::agent_scan::{ScanAnswer, ScanRequest};
use crate::protocol::{Limits, ProtocolError, TokenReader, TokenWriter};

/// The agent of `env`'s `DISTCC_DIR`, started if nobody listens (`None`: no agent).
pub async fn reach(env: &ClientEnv, ssh: &SshEnv) -> Option<UnixStream> {
    let socket = crate::config::agent_socket_path(&env.distcc_dir);
    crate::agent::launch::connect_or_start(&socket, &env.distcc_dir.join("lock"), ssh.agent_idle)
        .await
}

/// Sends the request and reads which host the agent picked; on `Pick::Host` the channel
/// answer follows on the returned reader (see [`channel`]).
pub async fn ask(
    mut stream: UnixStream,
    request: &JobRequest,
) -> Result<(Pick, TokenReader<UnixStream>), ProtocolError> {
    request.write(&mut TokenWriter::new(&mut stream)).await?;
    let mut reader = TokenReader::new(stream, Limits::default());
    let pick = Pick::read(&mut reader).await?;
    Ok((pick, reader))
}

/// Waits for the picked host's channel; on `Channel::Open` the stream then carries the job.
pub async fn channel(
    mut reader: TokenReader<UnixStream>,
) -> Result<(Channel, UnixStream), ProtocolError> {
    let channel = Channel::read(&mut reader).await?;
    Ok((channel, reader.into_inner()))
}

/// Asks the agent for a pump-mode job's tree. On `Found` the agent keeps the contents for
/// as long as the returned connection stays open (`client::tree_contents`).
pub async fn scan(
    mut stream: UnixStream,
    request: &ScanRequest,
) -> Result<(ScanAnswer, UnixStream), ProtocolError> {
    request.write(&mut TokenWriter::new(&mut stream)).await?;
    let answer = ScanAnswer::read(&mut TokenReader::new(&mut stream, Limits::default())).await?;
    Ok((answer, stream))
}
