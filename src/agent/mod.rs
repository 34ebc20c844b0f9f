//! The per-user agent: keeps one SSH connection per host open, schedules every SSH job of
//! every wrapper with one view of all slots, and carries each job on its own channel; and
//! scans pump-mode jobs' includes with caches that outlive each job; runs `grpc://` jobs'
//! Actions on one kept channel per engine; and, for `+zeroconf`,
//! browses for the LAN's servers while builds read the list.
//! Started by the first wrapper that needs it; exits when idle.

pub mod browse;
pub mod builds;
pub mod driver_exit;
pub mod engines;
pub mod launch;
pub mod ledger;
pub mod packed_files;
pub mod pool;
pub mod scan;
pub mod scheduler;
pub mod server;
pub mod socket;
pub mod tree_writer;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// Serves wrappers on `socket_path` until idle for `idle`, connecting as `account`.
/// Returns the exit code.
pub async fn serve(
    socket_path: &Path,
    lock_dir: Option<std::path::PathBuf>,
    idle: Duration,
    account: crate::config::Account,
) -> i32 {
    // One agent per socket: whoever holds the lock next to it is the agent. A second one
    // started at the same moment by another wrapper leaves quietly; the wrappers find the
    // first one on the socket.
    let _only_agent = match socket::claim(socket_path) {
        Ok(Some(lock)) => lock,
        Ok(None) => {
            tracing::info!(
                "agent: another agent serves {}; leaving",
                socket_path.display()
            );
            return 0;
        }
        Err(e) => {
            tracing::error!("agent: cannot lock {}: {e}", socket_path.display());
            return crate::exit_code::ExitCode::BindFailed.code();
        }
    };
    raise_open_file_limit();
    let listener = match socket::bind(socket_path) {
        Ok(l) => l,
        Err(e) => {
            tracing::error!("agent: cannot listen on {}: {e}", socket_path.display());
            return crate::exit_code::ExitCode::BindFailed.code();
        }
    };
    tracing::info!("agent: listening on {}", socket_path.display());
    say_ready(socket_path);
    server::run(
        listener,
        Arc::new(server::Agent::new(
            lock_dir,
            account,
            session_memory(socket_path),
        )),
        idle,
    )
    .await;
    // Still holding the claim: the socket is ours to remove.
    let _ = socket::remove_stale_socket(socket_path);
    0
}

/// Session sockets are remembered beside the agent's socket, in its private directory.
fn session_memory(socket_path: &Path) -> Option<crate::remote_exec::SessionMemory> {
    let dir = socket_path.parent()?.join("sessions");
    Some(crate::remote_exec::SessionMemory::new(dir))
}

/// Tells whoever started us that the socket listens: one line on stdout, which is then
/// closed (the wrapper that reads it is gone long before the agent is).
fn say_ready(socket_path: &Path) {
    use std::io::Write;
    let _ = writeln!(std::io::stdout(), "listening on {}", socket_path.display());
    let _ = std::io::stdout().flush();
    if let Ok(null) = std::fs::OpenOptions::new().write(true).open("/dev/null") {
        let _ = nix::unistd::dup2(std::os::fd::AsRawFd::as_raw_fd(&null), 1);
    }
}

/// Every waiting wrapper holds one descriptor of the agent's (and a running job one more):
/// a `make -j` far wider than the usual soft limit of 1024 must queue, not be refused. The
/// soft limit is raised to the hard one, which the administrator set.
fn raise_open_file_limit() {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    if let Ok((soft, hard)) = getrlimit(Resource::RLIMIT_NOFILE)
        && soft < hard
        && let Err(e) = setrlimit(Resource::RLIMIT_NOFILE, hard, hard)
    {
        tracing::debug!("agent: cannot raise the open file limit from {soft} to {hard}: {e}");
    }
}
