//! `--ssh-session`: one long-lived server per SSH connection, so that jobs over SSH start no
//! process on the remote. The client's agent runs `distccd --ssh-session` once per
//! connection; we serve on a private unix socket, say where it is on stdout, and serve every
//! job the agent sends through `direct-streamlocal` channels. When our stdin closes (the
//! connection or the agent went away) we linger (`DISTFARM_SESSION_LINGER`, default ten
//! minutes, like the agent's idle time): the client's next agent remembers our socket and
//! reaches it over its new connection, so a cold start pays no remote shell and no server
//! start. We exit once no job has run for that long, or as soon as our program has been
//! replaced on disk (an upgrade): the next connection then starts the new one.
//!
//! A real distccd does not know the option and exits, which is how the agent tells a
//! distfarm remote from a distcc one.
//!
//! Beside the job socket, a second one answers this server's per-client counters
//! (`GET /clients`), for `distccd --client-counters` run over SSH by `distfarm mon --server
//! @host` (client_counters_here.rs). Both live in the same private directory, so only the
//! SSH user reaches them.

use std::os::unix::fs::PermissionsExt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UnixListener;
use tokio_util::task::TaskTracker;

use super::connection::{self, Peer, ServerContext};
use super::exe_stamp::ExeStamp;
use super::stats_http;
use crate::protocol::{client_counters, ssh_launch};

/// A session server's private directory in TMPDIR starts with this.
pub const DIR_PREFIX: &str = "distfarm-session-";

/// How often a lingering server looks whether it has been idle long enough.
const LINGER_TICK: Duration = Duration::from_secs(1);

/// Serves until stdin closes and then no job has run for `linger`.
pub async fn serve(ctx: Arc<ServerContext>, linger: Duration) -> std::io::Result<()> {
    let dir = tempfile::Builder::new()
        .prefix(DIR_PREFIX)
        .tempdir_in(&ctx.settings.tmpdir)?;
    // Only this account (the SSH user) may reach the socket.
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700))?;
    let socket = dir.path().join("sock");
    let listener = UnixListener::bind(&socket)?;
    let counters = UnixListener::bind(dir.path().join(ssh_launch::COUNTERS_SOCKET))?;
    let mut stdout = tokio::io::stdout();
    stdout
        .write_all(ssh_launch::session_greeting(&socket.display().to_string()).as_bytes())
        .await?;
    stdout.flush().await?;
    tracing::info!("ssh session: serving jobs on {}", socket.display());

    let stdin_closed = async {
        let mut stdin = tokio::io::stdin();
        let mut buf = [0u8; 256];
        while matches!(stdin.read(&mut buf).await, Ok(n) if n > 0) {}
    };
    tokio::pin!(stdin_closed);
    let program = ExeStamp::of_this_process();
    let replaced = || program.as_ref().is_some_and(ExeStamp::replaced);
    let tracker = TaskTracker::new();
    let last_job_end = Arc::new(Mutex::new(Instant::now()));
    let serve_job = |stream: tokio::net::UnixStream| {
        let ctx = ctx.clone();
        let last_job_end = last_job_end.clone();
        tracker.spawn(async move {
            connection::serve(stream, Peer::NotSocket, &ctx).await;
            *last_job_end.lock().expect("linger clock") = Instant::now();
        });
    };
    let mut connected = true;
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                serve_job(stream);
            }
            accepted = counters.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                // A new agent asks here whether we still serve: not with old code.
                if !connected && replaced() {
                    retire_replaced(program.as_ref());
                    break;
                }
                let clients = ctx.clients.clone();
                tokio::spawn(async move {
                    let page = |_: &[u8]| client_counters::answer(&clients.snapshot());
                    if let Err(e) = stats_http::answer(stream, page).await {
                        tracing::debug!("ssh session: counters: {e}");
                    }
                });
            }
            _ = &mut stdin_closed, if connected => {
                if linger.is_zero() {
                    break;
                }
                connected = false;
                tracing::info!(
                    "ssh session: the connection closed; serving the next one for {} s",
                    linger.as_secs()
                );
            }
            _ = tokio::time::sleep(LINGER_TICK), if !connected => {
                let idle = last_job_end.lock().expect("linger clock").elapsed();
                if tracker.is_empty() && idle >= linger {
                    tracing::info!("ssh session: no job for {} s; exiting", linger.as_secs());
                    break;
                }
                if replaced() {
                    retire_replaced(program.as_ref());
                    break;
                }
            }
        }
    }
    // Nobody is accepted any more: a client that remembered the socket must find it gone
    // at once, not reach a listener that will never answer.
    let _ = std::fs::remove_file(&socket);
    let _ = std::fs::remove_file(dir.path().join(ssh_launch::COUNTERS_SOCKET));
    // But a client that connected before the socket went is waiting in the backlog: served,
    // not reset (it would count that against the host).
    for stream in still_queued(listener) {
        serve_job(stream);
    }
    drop(counters);
    tracing::info!("ssh session: finishing running jobs");
    tracker.close();
    tracker.wait().await;
    Ok(())
}

/// The connections already queued on `listener`, taken without waiting for more.
fn still_queued(listener: UnixListener) -> Vec<tokio::net::UnixStream> {
    let Ok(listener) = listener.into_std() else {
        return Vec::new();
    };
    // Non-blocking (tokio's listeners are): accept stops at the first "would block".
    std::iter::from_fn(|| listener.accept().ok())
        .filter_map(|(stream, _)| {
            stream.set_nonblocking(true).ok()?;
            tokio::net::UnixStream::from_std(stream).ok()
        })
        .collect()
}

fn retire_replaced(program: Option<&ExeStamp>) {
    tracing::info!(
        "ssh session: {} was replaced on disk; exiting, so that the next connection starts \
         the new program",
        program.map_or("the program".into(), |p| p.path().display().to_string())
    );
}
