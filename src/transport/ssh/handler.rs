//! The russh client handler: host-key verification against known_hosts with OpenSSH's
//! `StrictHostKeyChecking` policies, and the reason a refusal carries back to `connect`.

use std::path::PathBuf;
use std::sync::Arc;

use russh::client;
use russh::keys::{HashAlg, PublicKey, PublicKeyOrCertificate};

use super::SshError;
use super::config::{ResolvedHost, StrictHostKeyChecking};
use super::forward_routes::ForwardTable;
use super::known_hosts::{self, Verdict};

/// Why the session ended early: russh's own error, or our host-key refusal.
#[derive(Debug)]
pub(crate) enum HandlerError {
    Russh(russh::Error),
    HostKey(Box<SshError>),
}

impl From<russh::Error> for HandlerError {
    fn from(e: russh::Error) -> Self {
        HandlerError::Russh(e)
    }
}

/// Everything needed to judge one host's key.
#[derive(Debug, Clone)]
pub(crate) struct HostKeyPolicy {
    /// Host name for messages and `ssh-keyscan` hints.
    pub host: String,
    pub port: u16,
    /// `host` or `[host]:port`, as looked up in known_hosts.
    pub lookup: String,
    pub user_files: Vec<PathBuf>,
    pub global_files: Vec<PathBuf>,
    pub strict: StrictHostKeyChecking,
    pub hash_new_lines: bool,
}

impl HostKeyPolicy {
    pub fn for_host(host: &ResolvedHost) -> HostKeyPolicy {
        HostKeyPolicy {
            host: host.host_name.clone(),
            port: host.port,
            lookup: known_hosts::lookup_name(&host.known_hosts_name(), host.port),
            user_files: host.known_hosts.clone(),
            global_files: host.global_known_hosts.clone(),
            strict: host.strict,
            hash_new_lines: host.hash_known_hosts,
        }
    }

    fn files(&self) -> Vec<PathBuf> {
        self.user_files
            .iter()
            .chain(&self.global_files)
            .cloned()
            .collect()
    }

    fn learn_file(&self) -> PathBuf {
        self.user_files
            .first()
            .cloned()
            .unwrap_or_else(|| PathBuf::from("~/.ssh/known_hosts"))
    }

    /// Host-key types already pinned for this host, so the key exchange asks for one of
    /// them first (as OpenSSH orders HostKeyAlgorithms).
    pub fn pinned_algorithms(&self) -> Vec<russh::keys::Algorithm> {
        known_hosts::entries_for(&self.lookup, &self.files())
            .into_iter()
            .filter(|k| !k.revoked)
            .map(|k| k.key.algorithm())
            .collect()
    }

    /// Accepts the key or says exactly why not.
    pub fn check(&self, offered: &PublicKey) -> Result<(), SshError> {
        let files = self.files();
        let entries = known_hosts::entries_for(&self.lookup, &files);
        let fingerprint = offered.fingerprint(HashAlg::Sha256).to_string();
        let algorithm = offered.algorithm().as_str().to_string();
        match known_hosts::verdict(&entries, offered) {
            Verdict::Trusted => Ok(()),
            Verdict::Revoked { file, line } => Err(SshError::RevokedHostKey {
                host: self.host.clone(),
                port: self.port,
                fingerprint,
                known_hosts: file,
                line,
            }),
            Verdict::Changed { file, line } => Err(SshError::ChangedHostKey {
                host: self.host.clone(),
                port: self.port,
                fingerprint,
                hint: format!(
                    "If the change is expected, remove the old key with `ssh-keygen -R '{}' -f {}` \
                     and pin the new one after checking its fingerprint with the host's administrator.",
                    self.lookup,
                    file.display()
                ),
                known_hosts: file,
                line,
            }),
            Verdict::OtherTypes(types) if self.strict != StrictHostKeyChecking::No => {
                Err(SshError::UnknownHostKey {
                    host: self.host.clone(),
                    port: self.port,
                    algorithm: algorithm.clone(),
                    fingerprint,
                    known_hosts: self.learn_file(),
                    hint: format!(
                        "The host is known only with {} key(s) and did not offer one, so this \
                         is not a new host and nothing was learned. Check the key with the \
                         host's administrator, then add it: `{}`",
                        types.join(", "),
                        self.keyscan(Some(&algorithm))
                    ),
                })
            }
            Verdict::Unknown if self.strict == StrictHostKeyChecking::AcceptNew => {
                self.learn(offered)?;
                tracing::info!(
                    "learned the host key of {} ({algorithm} {fingerprint}) into {}",
                    self.lookup,
                    self.learn_file().display()
                );
                Ok(())
            }
            Verdict::Unknown | Verdict::OtherTypes(_)
                if self.strict == StrictHostKeyChecking::No =>
            {
                tracing::warn!(
                    "WARNING: StrictHostKeyChecking=no: accepting the UNVERIFIED host key of {} \
                     ({algorithm} {fingerprint}) and adding it to {}. Anyone between you and \
                     the host could be impersonating it.",
                    self.lookup,
                    self.learn_file().display()
                );
                if let Err(e) = self.learn(offered) {
                    tracing::warn!("{e}");
                }
                Ok(())
            }
            Verdict::Unknown | Verdict::OtherTypes(_) => Err(SshError::UnknownHostKey {
                host: self.host.clone(),
                port: self.port,
                algorithm,
                fingerprint: fingerprint.clone(),
                known_hosts: self.learn_file(),
                hint: format!(
                    "Check that {fingerprint} is the host's key (`ssh-keygen -lf \
                     /etc/ssh/ssh_host_*_key.pub` on the host), then pin it with `{}`, or log \
                     in once with `ssh{} {}` and answer yes.",
                    self.keyscan(None),
                    if self.port == 22 {
                        String::new()
                    } else {
                        format!(" -p {}", self.port)
                    },
                    self.host
                ),
            }),
        }
    }

    fn keyscan(&self, key_type: Option<&str>) -> String {
        format!(
            "ssh-keyscan{}{} {} >> {}",
            if self.port == 22 {
                String::new()
            } else {
                format!(" -p {}", self.port)
            },
            key_type.map(|t| format!(" -t {t}")).unwrap_or_default(),
            self.host,
            self.learn_file().display()
        )
    }

    fn learn(&self, key: &PublicKey) -> Result<(), SshError> {
        let file = self.learn_file();
        known_hosts::append(&file, &self.lookup, key, self.hash_new_lines).map_err(|e| {
            SshError::KnownHosts {
                path: file.clone(),
                detail: format!("cannot add {}: {e}", self.lookup),
            }
        })
    }
}

pub(crate) struct ClientHandler {
    pub policy: HostKeyPolicy,
    pub forwards: Arc<ForwardTable>,
}

impl Drop for ClientHandler {
    fn drop(&mut self) {
        // The session is over: every RemoteForward::accept returns None.
        self.forwards.clear();
    }
}

impl client::Handler for ClientHandler {
    type Error = HandlerError;

    async fn check_server_key(
        &mut self,
        server_public_key: &PublicKeyOrCertificate,
    ) -> Result<bool, Self::Error> {
        let PublicKeyOrCertificate::PublicKey { key, .. } = server_public_key else {
            // Not advertised (Preferred::host_key_certificates is empty), so never offered.
            return Ok(false);
        };
        self.policy
            .check(key)
            .map(|()| true)
            .map_err(|e| HandlerError::HostKey(Box::new(e)))
    }

    async fn server_channel_open_forwarded_tcpip(
        &mut self,
        channel: russh::Channel<client::Msg>,
        connected_address: &str,
        connected_port: u32,
        originator_address: &str,
        originator_port: u32,
        reply: client::ChannelOpenHandle,
        _session: &mut client::Session,
    ) -> Result<(), Self::Error> {
        self.forwards
            .route(
                channel,
                connected_address,
                connected_port,
                originator_address,
                originator_port,
                reply,
                &self.policy.host,
            )
            .await;
        Ok(())
    }

    async fn server_channel_open_forwarded_streamlocal(
        &mut self,
        channel: russh::Channel<client::Msg>,
        socket_path: &str,
        reply: client::ChannelOpenHandle,
        _session: &mut client::Session,
    ) -> Result<(), Self::Error> {
        self.forwards
            .route_socket(channel, socket_path, reply, &self.policy.host)
            .await;
        Ok(())
    }

    async fn disconnected(
        &mut self,
        reason: client::DisconnectReason<Self::Error>,
    ) -> Result<(), Self::Error> {
        match reason {
            client::DisconnectReason::ReceivedDisconnect(info) => {
                tracing::debug!("{} disconnected: {}", self.policy.host, info.message);
                Ok(())
            }
            client::DisconnectReason::Error(e) => {
                tracing::debug!("{}: connection ended: {e:?}", self.policy.host);
                Err(e)
            }
        }
    }
}
