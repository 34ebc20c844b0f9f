//! Public-key authentication, in OpenSSH's order: agent keys that match an `IdentityFile`,
//! the other agent keys (unless `IdentitiesOnly`), then the key files the agent does not
//! hold. We never prompt: an encrypted key file the agent does not hold is reported.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use russh::client::{self, AuthResult};
use russh::keys::agent::AgentIdentity;
use russh::keys::agent::client::AgentClient;
use russh::keys::{HashAlg, PrivateKeyWithHashAlg, PublicKey};

use super::SshError;
use super::config::ResolvedHost;
use super::handler::ClientHandler;

type Handle = client::Handle<ClientHandler>;

/// An `IdentityFile` and what we could learn of it without a passphrase.
struct IdentityFile {
    path: PathBuf,
    public: Option<PublicKey>,
}

/// Logs `host.user` in. Returns `Ok(())` once a key is accepted; never calls an
/// `authenticate_*` again after success (russh would hang).
pub(crate) async fn authenticate(handle: &mut Handle, host: &ResolvedHost) -> Result<(), SshError> {
    let user = host.user.as_str();
    let mut tried = Vec::new();
    let mut rsa_hash: Option<Option<HashAlg>> = None;

    let files: Vec<IdentityFile> = host
        .identity_files
        .iter()
        .filter_map(|path| {
            if !path.exists() {
                if !host.identity_files_default {
                    tracing::warn!(
                        "{}: IdentityFile {} does not exist",
                        host.alias,
                        path.display()
                    );
                    tried.push(format!("{} (missing)", path.display()));
                }
                return None;
            }
            Some(IdentityFile {
                path: path.clone(),
                public: public_key_of(path),
            })
        })
        .collect();

    // 1. The agent.
    let mut agent_keys: Vec<PublicKey> = Vec::new();
    let mut agent = match &host.agent_socket {
        Some(socket) => match AgentClient::connect_uds(socket).await {
            Ok(mut agent) => match agent.request_identities().await {
                Ok(ids) => {
                    agent_keys = ids
                        .into_iter()
                        .filter_map(|id| match id {
                            AgentIdentity::PublicKey { key, .. } => Some(key),
                            AgentIdentity::Certificate { .. } => None,
                        })
                        .collect();
                    Some(agent)
                }
                Err(e) => {
                    tracing::warn!("ssh-agent at {} does not answer: {e}", socket.display());
                    None
                }
            },
            Err(e) => {
                tracing::warn!("cannot reach ssh-agent at {}: {e}", socket.display());
                tried.push(format!("agent {} (unreachable: {e})", socket.display()));
                None
            }
        },
        None => None,
    };
    let matches_file = |key: &PublicKey| {
        files.iter().any(|f| {
            f.public
                .as_ref()
                .is_some_and(|p| p.key_data() == key.key_data())
        })
    };
    let (mut ordered, others): (Vec<PublicKey>, Vec<PublicKey>) =
        agent_keys.iter().cloned().partition(|k| matches_file(k));
    if host.identities_only {
        if !others.is_empty() {
            tracing::debug!(
                "{}: IdentitiesOnly: skipping {} agent key(s) not named by an IdentityFile",
                host.alias,
                others.len()
            );
        }
    } else {
        ordered.extend(others);
    }
    if let Some(agent) = agent.as_mut() {
        for key in ordered {
            let label = format!(
                "agent key {} {}",
                key.algorithm().as_str(),
                key.fingerprint(HashAlg::Sha256)
            );
            let hash = hash_for(handle, &key, &mut rsa_hash).await;
            let result = handle
                .authenticate_publickey_with(user, key, hash, agent)
                .await;
            match result {
                Ok(AuthResult::Success) => return Ok(()),
                Ok(_) => tried.push(label),
                Err(e) => tried.push(format!("{label} (agent error: {e})")),
            }
            if handle.is_closed() {
                return Err(closed_during_auth(host, tried));
            }
        }
    }

    // 2. Key files the agent did not hold.
    let mut encrypted: Option<PathBuf> = None;
    for file in &files {
        let held = file
            .public
            .as_ref()
            .is_some_and(|p| agent_keys.iter().any(|k| k.key_data() == p.key_data()));
        if held {
            continue; // already offered through the agent
        }
        let key = match russh::keys::load_secret_key(&file.path, None) {
            Ok(key) => key,
            Err(russh::keys::Error::KeyIsEncrypted) => {
                tried.push(format!(
                    "{} (encrypted, not in the agent)",
                    file.path.display()
                ));
                encrypted.get_or_insert_with(|| file.path.clone());
                continue;
            }
            Err(e) => {
                tried.push(format!("{} (unreadable: {e})", file.path.display()));
                continue;
            }
        };
        let public = key.public_key().clone();
        let hash = hash_for(handle, &public, &mut rsa_hash).await;
        let label = format!("{} ({})", file.path.display(), public.algorithm().as_str());
        match handle
            .authenticate_publickey(user, PrivateKeyWithHashAlg::new(Arc::new(key), hash))
            .await
        {
            Ok(AuthResult::Success) => return Ok(()),
            Ok(_) => tried.push(label),
            Err(e) => {
                tried.push(format!("{label}: {e}"));
                if handle.is_closed() {
                    return Err(closed_during_auth(host, tried));
                }
            }
        }
    }

    if let Some(path) = encrypted {
        return Err(SshError::EncryptedKey {
            path,
            user: user.to_string(),
            host: host.host_name.clone(),
        });
    }
    Err(SshError::Auth {
        user: user.to_string(),
        host: host.host_name.clone(),
        port: host.port,
        tried,
    })
}

/// The RSA signature hash the server accepts (SHA-2 when it says nothing: OpenSSH ≥ 8.8
/// refuses SHA-1). Asked once, and only for RSA keys: the question can wait up to 1 s.
async fn hash_for(
    handle: &Handle,
    key: &PublicKey,
    cache: &mut Option<Option<HashAlg>>,
) -> Option<HashAlg> {
    if !key.algorithm().is_rsa() {
        return None;
    }
    if cache.is_none() {
        let best = match handle.best_supported_rsa_hash().await {
            Ok(Some(best)) => best,
            Ok(None) | Err(_) => Some(HashAlg::Sha256),
        };
        *cache = Some(best);
    }
    cache.flatten()
}

/// The public half of a key file: `FILE.pub` beside it, else the file itself when it is
/// not encrypted (the public key of an OpenSSH private key is stored in clear).
fn public_key_of(path: &Path) -> Option<PublicKey> {
    let mut pub_path = path.as_os_str().to_owned();
    pub_path.push(".pub");
    if let Ok(key) = russh::keys::load_public_key(PathBuf::from(pub_path)) {
        return Some(key);
    }
    let text = std::fs::read_to_string(path).ok()?;
    if let Ok(private) = russh::keys::ssh_key::PrivateKey::from_openssh(&text) {
        return Some(private.public_key().clone());
    }
    russh::keys::decode_secret_key(&text, None)
        .ok()
        .map(|k| k.public_key().clone())
}

fn closed_during_auth(host: &ResolvedHost, tried: Vec<String>) -> SshError {
    SshError::Disconnected {
        host: host.description(),
        detail: format!(
            "the server closed the connection during authentication after {} (too many keys \
             offered? set IdentitiesOnly yes and name the key with IdentityFile)",
            tried.join("; ")
        ),
    }
}
