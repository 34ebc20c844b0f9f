//! One SSH connection per (user, host, ssh config, remote command), opened on first use,
//! shared by every job, and replaced when it dies.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use crate::remote_exec::{self, RemoteServer, SessionGuard};
use crate::transport::BoxStream;
use crate::transport::ssh::{self, SshConnection, SshError, SshSettings};

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ConnKey {
    pub user: Option<String>,
    pub host: String,
    pub command: String,
    pub ssh_config: Option<String>,
    pub auth_sock: Option<String>,
}

/// A live connection and what serves jobs behind it.
pub struct Live {
    pub conn: SshConnection,
    pub server: RemoteServer,
    _session: Option<SessionGuard>,
}

type Entry = Arc<tokio::sync::Mutex<Option<Arc<Live>>>>;

#[derive(Default)]
pub struct Pool {
    entries: Mutex<HashMap<ConnKey, Entry>>,
}

impl Pool {
    /// The live connection for `key`, connecting (once, even with many jobs asking at the
    /// same moment) if there is none or the old one has died.
    pub async fn get(&self, key: &ConnKey) -> Result<Arc<Live>, SshError> {
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
        let settings = SshSettings {
            config_file: key.ssh_config.as_ref().map(PathBuf::from),
            home: crate::config::account_home(),
            agent_socket: key.auth_sock.as_ref().map(PathBuf::from),
            user: crate::config::account_name(),
        };
        let resolved = ssh::resolve(&key.host, key.user.as_deref(), None, &settings)?;
        let conn = ssh::connect(&resolved, &settings).await?;
        let (server, session) = remote_exec::detect(&conn, &key.command).await;
        let live = Arc::new(Live {
            conn,
            server,
            _session: session,
        });
        *slot = Some(live.clone());
        Ok(live)
    }

    /// Forgets `dead` if it is still the connection for `key` (another job may already have
    /// replaced it with a live one, which must stay).
    pub async fn discard(&self, key: &ConnKey, dead: &Arc<Live>) {
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

    /// Opens one job's stream on `key`'s connection; a dead connection is replaced once.
    pub async fn open_job(&self, key: &ConnKey) -> Result<BoxStream, SshError> {
        let live = self.get(key).await?;
        match remote_exec::open_job(&live.conn, &live.server).await {
            Ok(stream) => Ok(stream),
            Err(first) => {
                tracing::info!("{}: {first}; reconnecting", live.conn.description());
                self.discard(key, &live).await;
                let live = self.get(key).await?;
                remote_exec::open_job(&live.conn, &live.server).await
            }
        }
    }

    pub fn connections(&self) -> usize {
        self.entries.lock().expect("pool lock").len()
    }
}
