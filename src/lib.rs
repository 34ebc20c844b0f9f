//! distfarm: an SSH-first, distcc-compatible compile farm in one binary — the compiler
//! wrapper, the distccd-compatible server, the per-user agent that keeps SSH connections, and
//! the operator tools.
//!
//! The layers, each using only those below it:
//!
//! | layer | modules |
//! |---|---|
//! | application: one module per command, the only readers of the command line | [`app`] (with `main.rs` and [`cli`]) |
//! | the parts | [`client`] (the wrapper), [`server`], [`agent`], [`offer`] (reverse mode, on [`forward`] and [`server`]), [`admin`], [`monitor`], [`zeroconf`] (mDNS announcing and browsing) |
//! | the far end of an SSH connection; port forwarding | [`remote_exec`], [`forward`] |
//! | reaching a host | [`transport`] (TCP, russh, the `ssh` program) |
//! | facts | [`protocol`] (distcc's wire), [`hosts`] (the host grammar), [`compiler_names`], [`source_names`] |
//!
//! The environment and host files are read in [`config`] only; everything else receives
//! plain values, so tests build settings directly and start servers on port-0 listeners.

pub mod admin;
pub mod agent;
pub mod app;
pub mod cli;
pub mod client;
pub mod compiler_names;
pub mod config;
pub mod executables;
pub mod exit_code;
pub mod forward;
pub mod hosts;
pub mod include_scan;
pub mod lock_files;
pub mod logging;
pub mod monitor;
pub mod offer;
pub mod proc_stat;
pub mod protocol;
pub mod remote_exec;
pub mod server;
pub mod source_names;
pub mod transport;
pub mod user_files;
pub mod zeroconf;
