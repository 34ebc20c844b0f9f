//! Reaching this user's agent: connect to its socket, starting it first if nobody listens.
//! Any failure here means "no agent", and the wrapper connects by itself.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use tokio::io::AsyncReadExt;
use tokio::net::UnixStream;

use crate::config::{ClientEnv, SshEnv};
use crate::protocol::agent::{Channel, JobRequest, Pick};
use crate::protocol::agent_scan::{ScanAnswer, ScanRequest};
use crate::protocol::{Limits, ProtocolError, TokenReader, TokenWriter};

/// How long a wrapper waits for a freshly started agent to listen.
const START_TIMEOUT: Duration = Duration::from_secs(3);

/// The agent of `env`'s `DISTCC_DIR`, started if nobody listens (`None`: no agent).
pub async fn reach(env: &ClientEnv, ssh: &SshEnv) -> Option<UnixStream> {
    let socket = crate::config::agent_socket_path(&env.distcc_dir);
    connect_or_start(&socket, &env.distcc_dir.join("lock"), ssh.agent_idle).await
}

pub async fn connect_or_start(
    socket: &Path,
    lock_dir: &Path,
    idle: Duration,
) -> Option<UnixStream> {
    if let Ok(stream) = UnixStream::connect(socket).await {
        return Some(stream);
    }
    let me = std::env::current_exe().ok()?;
    let log = socket.with_file_name("agent.log");
    if let Some(dir) = socket.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    let log_file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log)
        .ok();
    let spawned = tokio::process::Command::new(me)
        .arg("agent")
        .arg("--socket")
        .arg(socket)
        .arg("--idle")
        .arg(idle.as_secs().to_string())
        .arg("--lock-dir")
        .arg(lock_dir)
        .stdin(Stdio::null())
        // The agent says one line here once it listens, so nobody polls for the socket.
        .stdout(Stdio::piped())
        .stderr(log_file.map(Stdio::from).unwrap_or_else(Stdio::null))
        // Its own process group: a Ctrl-C meant for the build must not kill the agent.
        .process_group(0)
        // It outlives this build: don't hold the build directory open.
        .current_dir("/")
        .spawn();
    let mut agent = match spawned {
        Ok(agent) => agent,
        Err(e) => {
            tracing::debug!("cannot start the agent: {e}");
            return None;
        }
    };
    let deadline = tokio::time::Instant::now() + START_TIMEOUT;
    if let Some(mut ready) = agent.stdout.take() {
        // A line: it listens. End of file: it exited, maybe because another wrapper's agent
        // won the race, which then listens soon.
        let mut byte = [0u8; 1];
        let _ = tokio::time::timeout_at(deadline, ready.read(&mut byte)).await;
    }
    while tokio::time::Instant::now() < deadline {
        if let Ok(stream) = UnixStream::connect(socket).await {
            return Some(stream);
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    tracing::debug!(
        "the agent did not start listening on {} within {:?}",
        socket.display(),
        START_TIMEOUT
    );
    None
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

/// Asks the agent for a pump-mode job's include closure.
pub async fn scan(
    mut stream: UnixStream,
    request: &ScanRequest,
) -> Result<ScanAnswer, ProtocolError> {
    request.write(&mut TokenWriter::new(&mut stream)).await?;
    ScanAnswer::read(&mut TokenReader::new(stream, Limits::default())).await
}
