//! Port forwarding over an SSH connection, both ways, as OpenSSH's `-L` and `-R` do it, and
//! the splicing that moves a connection's bytes:
//!
//! | file | job |
//! |---|---|
//! | [`local`] | `ssh -L`: connections accepted here go to an address the remote reaches (`direct-tcpip`) or a remote Unix socket (`direct-streamlocal`) |
//! | [`remote`] | `ssh -R`: the remote listens on a port (`tcpip-forward`) or a Unix socket (`streamlocal-forward@openssh.com`) and hands each connection back to us |
//! | [`splice`] | both directions copied until each side has closed |
//!
//! The channels themselves are `transport::ssh`'s; this layer decides what to do with them.
//! The agent splices every job through [`splice`]; `distfarm offer` lends a build machine by a
//! [`remote`] forward.

pub mod local;
pub mod remote;
pub mod splice;

pub use local::{LocalTarget, serve_local};
pub use remote::{ListenAt, RemoteForward};
pub use splice::splice;
