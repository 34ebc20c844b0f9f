//! `distccd --client-counters`: what `distfarm mon --server @host` runs over SSH. It gathers
//! the per-client counters of the distfarm servers on this machine that the SSH user may
//! see — each live session server of theirs (the counters socket in its private directory
//! under TMPDIR, which only they can enter) and the daemon on this machine's statistics
//! port, when it answers loopback (its `--stats` and `--allow` decide) — into one document.
//!
//! The SSH login is the authorisation: nothing here is reachable without it.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::session::DIR_PREFIX;
use crate::protocol::client_counters::{self, AskError};
use crate::protocol::farm_view::ServerClients;
use crate::protocol::ssh_launch::COUNTERS_SOCKET;

/// How long one server may take to answer (a session server answers from memory).
const ASK_TIMEOUT: Duration = Duration::from_secs(5);

/// Nothing here had counters to give: what was looked at, for the message.
#[derive(Debug, thiserror::Error)]
#[error(
    "no distfarm server with counters runs here for this user: no session server of theirs \
     in {tmpdir} (one runs while a client's agent is connected), and no daemon answered on \
     the statistics port 127.0.0.1:{stats_port} (distfarm serve --stats, with loopback in \
     its --allow list){problems}"
)]
pub struct NoCounters {
    pub tmpdir: String,
    pub stats_port: u16,
    /// Servers that were found but did not answer, each with why.
    pub problems: String,
}

/// The counters of every server found, merged.
pub async fn collect(tmpdir: &Path, stats_port: u16) -> Result<ServerClients, NoCounters> {
    let mut documents = Vec::new();
    let mut problems = Vec::new();
    for dir in session_dirs(tmpdir) {
        let socket = dir.join(COUNTERS_SOCKET);
        let asked = async {
            let stream = tokio::net::UnixStream::connect(&socket)
                .await
                .map_err(|e| e.to_string())?;
            client_counters::ask(stream)
                .await
                .map_err(|e| e.to_string())
        };
        match tokio::time::timeout(ASK_TIMEOUT, asked).await {
            Ok(Ok(mut doc)) => {
                doc.servers = vec![format!("session server {}", dir.display())];
                documents.push(doc);
            }
            // A directory left by a session server that was killed: nothing listens.
            Ok(Err(e)) => tracing::debug!("{}: {e}", socket.display()),
            Err(_) => problems.push(format!("{}: no answer", socket.display())),
        }
    }
    match daemon(stats_port).await {
        Ok(mut doc) => {
            doc.servers = vec![format!("daemon 127.0.0.1:{stats_port}")];
            documents.push(doc);
        }
        Err(Some(problem)) => problems.push(format!("127.0.0.1:{stats_port}: {problem}")),
        Err(None) => {}
    }
    if documents.is_empty() {
        return Err(NoCounters {
            tmpdir: tmpdir.display().to_string(),
            stats_port,
            problems: problems.iter().map(|p| format!("; {p}")).collect(),
        });
    }
    Ok(client_counters::merge(documents))
}

/// The daemon's counters; `Err(None)` when nothing listens there (no daemon with --stats),
/// `Err(Some(why))` when something does but gave no counters.
async fn daemon(port: u16) -> Result<ServerClients, Option<String>> {
    let asked = async {
        let stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .map_err(|_| None)?;
        client_counters::ask(stream).await.map_err(|e| match e {
            AskError::NoAnswer => {
                Some("closed without counters (does its --allow list admit 127.0.0.1?)".to_string())
            }
            e => Some(e.to_string()),
        })
    };
    tokio::time::timeout(ASK_TIMEOUT, asked)
        .await
        .unwrap_or_else(|_| Err(Some("no answer".to_string())))
}

/// The session servers' private directories in `tmpdir` that belong to this user.
fn session_dirs(tmpdir: &Path) -> Vec<PathBuf> {
    let me = nix::unistd::Uid::effective().as_raw();
    let Ok(entries) = std::fs::read_dir(tmpdir) else {
        return Vec::new();
    };
    let mut dirs: Vec<PathBuf> = entries
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with(DIR_PREFIX))
        .filter(|e| e.metadata().is_ok_and(|m| m.is_dir() && m.uid() == me))
        .map(|e| e.path())
        .filter(|dir| dir.join(COUNTERS_SOCKET).exists())
        .collect();
    dirs.sort();
    dirs
}
