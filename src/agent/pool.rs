//! One SSH connection per (user, host, ssh config, remote end), opened on first use, shared
//! by every job, and replaced when it dies.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::config::Account;
use crate::hosts::RemoteEnd;
use crate::remote_exec::{Remembered, Remote, RemoteServer, SessionMemory};
use crate::transport::BoxStream;
use crate::transport::ssh::SshError;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ConnKey {
    pub user: Option<String>,
    pub host: String,
    pub remote: RemoteEnd,
    pub ssh_config: Option<String>,
    pub auth_sock: Option<String>,
}

type Entry = Arc<tokio::sync::Mutex<Option<Arc<Remote>>>>;

pub struct Pool {
    /// The agent's own account: its `~/.ssh` and login name.
    account: Account,
    /// Where each host's session server was last found, for the next agent.
    sessions: Option<SessionMemory>,
    entries: Mutex<HashMap<ConnKey, Entry>>,
}

impl Pool {
    pub fn new(account: Account, sessions: Option<SessionMemory>) -> Pool {
        Pool {
            account,
            sessions,
            entries: Mutex::default(),
        }
    }

    /// The live connection for `key`, connecting (once, even with many jobs asking at the
    /// same moment) if there is none or the old one has died.
    pub async fn get(&self, key: &ConnKey) -> Result<Arc<Remote>, SshError> {
        let entry = self
            .entries
            .lock()
            .expect("pool lock")
            .entry(key.clone())
            .or_default()
            .clone();
        let mut slot = entry.lock().await;
        if let Some(live) = slot.as_ref().filter(|l| !l.conn.is_closed()) {
            return Ok(live.clone());
        }
        let settings = self
            .account
            .ssh_settings(key.ssh_config.as_deref(), key.auth_sock.as_deref());
        let entry = SessionMemory::entry(
            key.user.as_deref(),
            &key.host,
            &key.remote,
            key.ssh_config.as_deref(),
        );
        let remembered = self.sessions.as_ref().map(|memory| Remembered {
            memory,
            entry: &entry,
        });
        let remote = Remote::connect(
            &key.host,
            key.user.as_deref(),
            &key.remote,
            &settings,
            remembered,
        )
        .await?;
        let live = Arc::new(remote);
        *slot = Some(live.clone());
        Ok(live)
    }

    /// Forgets `dead` if it is still the connection for `key` (another job may already have
    /// replaced it with a live one, which must stay).
    pub async fn discard(&self, key: &ConnKey, dead: &Arc<Remote>) {
        let entry = self.entries.lock().expect("pool lock").get(key).cloned();
        if let Some(entry) = entry {
            let mut slot = entry.lock().await;
            if slot
                .as_ref()
                .is_some_and(|current| Arc::ptr_eq(current, dead))
            {
                *slot = None;
            }
        }
    }

    /// Opens one job's stream on `key`'s connection, and says whether the far end keeps
    /// headers ([`Remote::stores_headers`]) and what serves it (for the monitor); a dead connection is replaced once.
    pub async fn open_job(
        &self,
        key: &ConnKey,
    ) -> Result<(BoxStream, bool, &'static str), SshError> {
        let live = self.get(key).await?;
        match live.open_job().await {
            Ok(stream) => Ok((stream, live.stores_headers(), remote_end_name(&live.server))),
            Err(first) => {
                tracing::info!("{}: {first}; reconnecting", live.conn.description());
                self.discard(key, &live).await;
                let fresh = self.get(key).await?;
                Ok((
                    fresh.open_job().await?,
                    fresh.stores_headers(),
                    remote_end_name(&fresh.server),
                ))
            }
        }
    }

    pub fn connections(&self) -> usize {
        self.entries.lock().expect("pool lock").len()
    }
}

/// The monitor's name for what answers at the far end.
fn remote_end_name(server: &RemoteServer) -> &'static str {
    match server {
        RemoteServer::Session { .. } => "session server",
        RemoteServer::Inetd { .. } => "inetd",
        RemoteServer::Daemon { .. } => "daemon tunnel",
    }
}
