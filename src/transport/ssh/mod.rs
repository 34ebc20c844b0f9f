//! SSH with russh: one authenticated connection per host, one channel per job.
//!
//! | file | job |
//! |---|---|
//! | `config` | `~/.ssh/config` (or an explicit file) → [`ResolvedHost`] |
//! | `known_hosts` | plain, hashed, `[host]:port`, `@revoked` entries; learning new hosts |
//! | `keyscan` | the key a server offers, for a person to check before it is pinned |
//! | `handler` | host-key policy (`StrictHostKeyChecking`) inside the russh handler |
//! | `auth` | ssh-agent and key files, `IdentitiesOnly`, no prompts |
//! | `connect` | TCP or `ProxyJump` hop, handshake, authentication, timeouts, keepalive |
//! | `connection` | [`SshConnection`]: exec, direct-tcpip, direct-streamlocal, remote listeners |
//! | `channel_io` | channels as streams that never stall the connection |
//! | `forward_routes` | `ssh -R`: forwarded connections routed to whoever asked |
//! | `slots` | sshd's `MaxSessions`, learned from the first refusal, waited for |
//!
//! Nothing here reads the environment: the caller passes [`SshSettings`].

mod auth;
mod channel_io;
mod config;
mod connect;
mod connection;
mod error;
mod forward_routes;
mod handler;
mod keyscan;
pub mod known_hosts;
mod slots;

pub use channel_io::{ExecStream, ExitWatch, RemoteExit, Stderr, StderrSink, TunnelStream};
pub use config::{
    DEFAULT_CONNECT_TIMEOUT, DEFAULT_KEEPALIVE_INTERVAL, DEFAULT_KEEPALIVE_MAX, ResolvedHost,
    SshSettings, StrictHostKeyChecking, resolve, resolve_text,
};
pub use connect::connect;
pub use connection::SshConnection;
pub use error::SshError;
pub use forward_routes::{ForwardedConnection, Incoming};
pub use keyscan::fetch_host_key;
