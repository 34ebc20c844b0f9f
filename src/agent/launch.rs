//! Starting the agent: connect to its socket, or start `distfarm agent` and wait until it
//! listens. Used by wrappers (jobs, pump scans, reports) and by `+zeroconf`, whose browsing
//! the agent does.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use tokio::io::AsyncReadExt;
use tokio::net::UnixStream;

/// How long a wrapper waits for a freshly started agent to listen (a loaded machine may take
/// seconds to start a process; going around the agent is the worse choice, since its jobs
/// then take slots the agent cannot see coming), or for a neighbour that is starting it.
const START_TIMEOUT: Duration = Duration::from_secs(15);
/// How long a wrapper looks for the socket after the agent it started exited (another one
/// may have won the agent's own claim).
const EXITED_GRACE: Duration = Duration::from_secs(1);
/// How often a wrapper whose neighbour is starting the agent looks for its socket.
const START_POLL: Duration = Duration::from_millis(3);
/// How long a wrapper waits for a live agent whose listen queue is full.
const BUSY_TIMEOUT: Duration = Duration::from_secs(30);

pub async fn connect_or_start(
    socket: &Path,
    lock_dir: &Path,
    idle: Duration,
) -> Option<UnixStream> {
    match UnixStream::connect(socket).await {
        Ok(stream) => return Some(stream),
        // The agent lives but its listen queue is full (a burst of wrappers): wait for it
        // rather than start a second one or go around it.
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
            return wait_while_busy(socket).await;
        }
        Err(_) => {}
    }
    if let Some(dir) = socket.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    // The wrappers a build starts together all find no agent: one of them starts it while
    // the others wait for its socket (each started one before, and all but one exited).
    let deadline = tokio::time::Instant::now() + START_TIMEOUT;
    loop {
        if let StartClaim::Ours(_claim) = claim_start(socket) {
            // Whoever held the claim before us may have started it meanwhile.
            if let Ok(stream) = UnixStream::connect(socket).await {
                return Some(stream);
            }
            return start(socket, lock_dir, idle, deadline).await;
        }
        tokio::time::sleep(START_POLL).await;
        if let Ok(stream) = UnixStream::connect(socket).await {
            return Some(stream);
        }
        if tokio::time::Instant::now() >= deadline {
            tracing::debug!(
                "nobody started an agent on {} within {:?}",
                socket.display(),
                START_TIMEOUT
            );
            return None;
        }
    }
}

/// Who starts the agent.
enum StartClaim {
    /// We do, holding the lock (if there could be one) until the agent listens. Without a
    /// lock every wrapper may start one: the agent's own claim still lets only one stay.
    Ours(Option<nix::fcntl::Flock<std::fs::File>>),
    /// Another wrapper is starting it.
    Theirs,
}

fn claim_start(socket: &Path) -> StartClaim {
    match crate::flock_file::try_lock(&socket.with_file_name("start.lock")) {
        Ok(Some(lock)) => StartClaim::Ours(Some(lock)),
        Ok(None) => StartClaim::Theirs,
        Err(_) => StartClaim::Ours(None),
    }
}

/// Starts `distfarm agent` on `socket` and connects once it listens.
async fn start(
    socket: &Path,
    lock_dir: &Path,
    idle: Duration,
    deadline: tokio::time::Instant,
) -> Option<UnixStream> {
    let me = std::env::current_exe().ok()?;
    let log = socket.with_file_name("agent.log");
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
    // A line: it listens. End of file: it exited, maybe because an agent started without
    // the start claim won, which then listens soon; or it could not start at all, and the
    // wrapper must not wait long for nothing.
    let mut line = [0u8; 1];
    let said = match agent.stdout.take() {
        Some(mut ready) => tokio::time::timeout_at(deadline, ready.read(&mut line)).await,
        None => Ok(Ok(0)),
    };
    let deadline = match said {
        Ok(Ok(1)) => deadline,
        Ok(_) => deadline.min(tokio::time::Instant::now() + EXITED_GRACE),
        Err(_) => {
            tracing::debug!(
                "the agent did not start listening on {} within {:?}",
                socket.display(),
                START_TIMEOUT
            );
            return None;
        }
    };
    loop {
        if let Ok(stream) = UnixStream::connect(socket).await {
            return Some(stream);
        }
        if tokio::time::Instant::now() >= deadline {
            tracing::debug!("no agent listens on {}", socket.display());
            return None;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Connects to an agent whose listen queue is full, retrying until it takes us; `None`
/// (the wrapper then connects by itself) if it has not within [`BUSY_TIMEOUT`] or it died.
async fn wait_while_busy(socket: &Path) -> Option<UnixStream> {
    let deadline = tokio::time::Instant::now() + BUSY_TIMEOUT;
    while tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
        match UnixStream::connect(socket).await {
            Ok(stream) => return Some(stream),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) => {
                tracing::debug!("the busy agent on {} went away: {e}", socket.display());
                return None;
            }
        }
    }
    tracing::debug!(
        "the agent on {} was too busy to take a connection for {:?}",
        socket.display(),
        BUSY_TIMEOUT
    );
    None
}
