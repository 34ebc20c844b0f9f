//! Everything that can go wrong reaching a host over SSH. Every message names the host and
//! what to do next; none of them is a compile problem, so every one allows a local fallback.

use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum SshError {
    /// The ssh configuration cannot be used as written.
    #[error("ssh configuration {}: {detail}", path.display())]
    Config { path: PathBuf, detail: String },

    /// The server's key is in no known_hosts file (or only keys of other types are).
    #[error(
        "host key of {host} (port {port}) is not known: the server offered {algorithm} {fingerprint}, \
         and {} has no entry for it. {hint}",
        known_hosts.display()
    )]
    UnknownHostKey {
        host: String,
        port: u16,
        algorithm: String,
        fingerprint: String,
        known_hosts: PathBuf,
        hint: String,
    },

    /// A known_hosts entry for this host has the same key type and a different key.
    #[error(
        "HOST KEY OF {host} (port {port}) HAS CHANGED: the server offered {fingerprint}, \
         which does not match {}:{line}. Someone may be intercepting the connection \
         (man-in-the-middle), or the host was reinstalled. Refused, whatever \
         StrictHostKeyChecking says. {hint}",
        known_hosts.display()
    )]
    ChangedHostKey {
        host: String,
        port: u16,
        fingerprint: String,
        known_hosts: PathBuf,
        line: usize,
        hint: String,
    },

    /// The server's key is marked `@revoked`.
    #[error(
        "host key of {host} (port {port}) is REVOKED ({fingerprint}, {}:{line}): refused. \
         Ask the host's administrator for its new key.",
        known_hosts.display()
    )]
    RevokedHostKey {
        host: String,
        port: u16,
        fingerprint: String,
        known_hosts: PathBuf,
        line: usize,
    },

    /// The server accepted none of our keys.
    #[error(
        "{user}@{host} (port {port}) refused every key: tried {}. Install a public key in \
         ~{user}/.ssh/authorized_keys on {host}, add the key to the agent (ssh-add), or name it \
         with IdentityFile in the ssh configuration.",
        if tried.is_empty() { "nothing (no agent key, no identity file)".to_string() } else { tried.join("; ") }
    )]
    Auth {
        user: String,
        host: String,
        port: u16,
        tried: Vec<String>,
    },

    /// The only usable key file is passphrase-protected and no agent holds it. We never prompt.
    #[error(
        "{} is encrypted with a passphrase and no ssh-agent holds it, so {user}@{host} cannot be \
         logged in without a prompt (distfarm never prompts). Run `ssh-add {}` in a session whose \
         SSH_AUTH_SOCK distfarm sees, or use a key without a passphrase.",
        path.display(),
        path.display()
    )]
    EncryptedKey {
        path: PathBuf,
        user: String,
        host: String,
    },

    /// TCP or SSH negotiation failed before authentication.
    #[error("cannot connect to {host} (port {port}): {detail}")]
    Connect {
        host: String,
        port: u16,
        detail: String,
    },

    /// A step did not finish in time.
    #[error(
        "{host}: {what} took longer than {} s; check that the host is up and reachable, or \
         raise ConnectTimeout in the ssh configuration",
        after.as_secs_f32()
    )]
    Timeout {
        /// `user@host:port`.
        host: String,
        what: &'static str,
        after: Duration,
    },

    /// The server refused or failed a channel (session, direct-tcpip, direct-streamlocal).
    #[error("{host}: cannot open a {kind} channel: {detail}. {hint}")]
    Channel {
        host: String,
        kind: &'static str,
        detail: String,
        hint: String,
    },

    /// The connection is gone (keepalive timeout, remote disconnect, network error).
    #[error("connection to {host} is closed: {detail}; a new connection is needed")]
    Disconnected { host: String, detail: String },

    /// A known_hosts file could not be read or written.
    #[error("known_hosts file {}: {detail}", path.display())]
    KnownHosts { path: PathBuf, detail: String },
}

impl SshError {
    /// True for host-key refusals: a reconnect will not help, a person must look.
    pub fn is_host_key_problem(&self) -> bool {
        matches!(
            self,
            SshError::UnknownHostKey { .. }
                | SshError::ChangedHostKey { .. }
                | SshError::RevokedHostKey { .. }
        )
    }

    /// True when retrying later may succeed (network, timeouts, a lost connection, a busy
    /// server), false for configuration, host-key and authentication problems.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            SshError::Connect { .. }
                | SshError::Timeout { .. }
                | SshError::Channel { .. }
                | SshError::Disconnected { .. }
        )
    }
}
