//! `ssh-keyscan` for one host: the key a server offers, learned from a handshake that is then
//! abandoned (nothing is authenticated, nothing is trusted). For showing a fingerprint to a
//! person who decides whether to pin it.

use std::sync::{Arc, Mutex};

use russh::client;
use russh::keys::{PublicKey, PublicKeyOrCertificate};

use super::SshError;
use super::config::ResolvedHost;

/// The host key `host` offers (one of the types russh prefers: ed25519 first). Connects
/// directly: a host behind `ProxyJump` is reported, since its hops would need to be trusted
/// first.
pub async fn fetch_host_key(host: &ResolvedHost) -> Result<PublicKey, SshError> {
    if !host.proxy_jump.is_empty() {
        return Err(SshError::Connect {
            host: host.host_name.clone(),
            port: host.port,
            detail: "its host key cannot be fetched through ProxyJump; pin it in your own \
                     known_hosts first (log in once with ssh and check the fingerprint)"
                .into(),
        });
    }
    let tcp =
        crate::transport::tcp::connect_within(&host.host_name, host.port, host.connect_timeout)
            .await
            .map_err(|e| SshError::Connect {
                host: host.host_name.clone(),
                port: host.port,
                detail: e.to_string(),
            })?;
    let seen = Arc::new(Mutex::new(None));
    let handler = Scan { seen: seen.clone() };
    let config = Arc::new(client::Config::default());
    let handshake = client::connect_stream(config, tcp, handler);
    // The handler refuses the key, so the handshake always ends in an error.
    let _ = tokio::time::timeout(host.connect_timeout, handshake).await;
    let key = seen.lock().expect("not poisoned").take();
    key.ok_or_else(|| SshError::Connect {
        host: host.host_name.clone(),
        port: host.port,
        detail: "the server offered no host key (is an SSH server listening there?)".into(),
    })
}

struct Scan {
    seen: Arc<Mutex<Option<PublicKey>>>,
}

impl client::Handler for Scan {
    type Error = russh::Error;

    async fn check_server_key(
        &mut self,
        server_public_key: &PublicKeyOrCertificate,
    ) -> Result<bool, Self::Error> {
        if let PublicKeyOrCertificate::PublicKey { key, .. } = server_public_key {
            *self.seen.lock().expect("not poisoned") = Some(key.clone());
        }
        Ok(false)
    }
}
