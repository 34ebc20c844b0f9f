//! The holder: `distfarm offers hold`, which an offer runs on the client over its SSH
//! connection. It records the offer for the client's user (entry file, and with
//! `--hosts-file` a block in the distcc hosts file), says so on stdout, and keeps the record
//! while the offer's heartbeats arrive on stdin. End of stdin (the offer withdrew, or its
//! SSH session ended), no heartbeat for too long (the link died without sshd noticing), or
//! SIGTERM/SIGHUP/SIGINT remove the record.
//!
//! For `--socket` the holder first makes the socket's place (`$DISTCC_DIR/offers/ID.sock`,
//! in that 0700 directory) and says `socket PATH`; the offer asks sshd to listen there and
//! answers with a line; only then is the entry `unix:PATH/N` recorded. The socket goes with
//! the record.

use std::future::Future;
use std::path::PathBuf;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt};

use super::entry::Entry;
use super::registry;

/// What the holder says on its first line when the record is in place.
pub const REGISTERED: &str = "registered";
/// `--socket`: what the holder says first, with the path the offer is to forward.
pub const SOCKET: &str = "socket";

#[derive(Debug, Clone)]
pub struct HoldSettings {
    /// The client user's `$DISTCC_DIR`.
    pub distcc_dir: PathBuf,
    /// The host-list entry offered; with `socket`, what follows the socket's path
    /// (`/N[,lzo]`).
    pub host: String,
    /// `--socket`: the entry is a Unix socket this holder places.
    pub socket: bool,
    pub id: String,
    /// Also keep a block in `$DISTCC_DIR/hosts`.
    pub hosts_file: bool,
    /// Withdraw when no heartbeat came for this long.
    pub heartbeat_timeout: Duration,
}

#[derive(Debug, thiserror::Error)]
pub enum HoldError {
    #[error("offer id {0:?} is not letters and digits")]
    BadId(String),
    #[error("cannot place the offer's socket in {dir}: {source}")]
    Socket {
        dir: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot record the offer in {dir}: {source}")]
    Record {
        dir: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Records the offer, holds it until stdin ends, heartbeats stop or `shutdown` completes,
/// then removes it.
pub async fn hold(
    settings: &HoldSettings,
    stdin: impl AsyncRead + Unpin,
    mut stdout: impl AsyncWrite + Unpin,
    shutdown: impl Future<Output = ()>,
) -> Result<(), HoldError> {
    if !super::entry::valid_id(&settings.id) {
        return Err(HoldError::BadId(settings.id.clone()));
    }
    let dir = &settings.distcc_dir;
    let mut lines = tokio::io::BufReader::new(stdin).lines();
    tokio::pin!(shutdown);
    let host = if settings.socket {
        let path =
            registry::prepare_socket(dir, &settings.id).map_err(|source| HoldError::Socket {
                dir: dir.join(super::entry::OFFERS_DIR),
                source,
            })?;
        let _ = stdout
            .write_all(format!("{SOCKET} {}\n", path.display()).as_bytes())
            .await;
        let _ = stdout.flush().await;
        // The offer answers once sshd listens there; anything else is the end.
        let answered = tokio::select! {
            answer = tokio::time::timeout(settings.heartbeat_timeout, lines.next_line()) => {
                matches!(answer, Ok(Ok(Some(_))))
            }
            _ = &mut shutdown => false,
        };
        if !answered {
            let _ = registry::remove_socket(&path);
            return Ok(());
        }
        format!(
            "{}{}{}",
            crate::hosts::UNIX_PREFIX,
            path.display(),
            settings.host
        )
    } else {
        settings.host.clone()
    };
    let entry = Entry {
        host,
        pid: std::process::id() as i32,
        id: settings.id.clone(),
    };
    let recorded = registry::write_entry(dir, &entry).and_then(|_| {
        if settings.hosts_file && !settings.socket {
            registry::add_block(dir, &entry)
        } else {
            Ok(())
        }
    });
    if let Err(source) = recorded {
        let _ = registry::remove(dir, &entry.id);
        return Err(HoldError::Record {
            dir: dir.clone(),
            source,
        });
    }
    let _ = stdout
        .write_all(format!("{REGISTERED} {}\n", entry.host).as_bytes())
        .await;
    let _ = stdout.flush().await;

    loop {
        tokio::select! {
            line = tokio::time::timeout(settings.heartbeat_timeout, lines.next_line()) => match line {
                Ok(Ok(Some(_))) => continue,
                Ok(_) => break,
                Err(_) => {
                    tracing::info!("no heartbeat from the offer for {:?}: withdrawing it", settings.heartbeat_timeout);
                    break;
                }
            },
            _ = &mut shutdown => break,
        }
    }
    if let Err(e) = registry::remove(dir, &entry.id) {
        tracing::warn!(
            "cannot remove the offer {} from {}: {e}",
            entry.host,
            dir.display()
        );
    }
    Ok(())
}
