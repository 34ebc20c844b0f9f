//! distfarm: an SSH-first, distcc-compatible compile farm in one binary — the compiler
//! wrapper, the distccd-compatible server, the per-user agent that keeps SSH connections, and
//! the operator tools.
//!
//! The layers, each using only those below it:
//!
//! | layer | modules |
//! |---|---|
//! | application: one module per command, the only readers of the command line | [`app`] (with `main.rs` and [`cli`]) |
//! | the parts | [`client`] (the wrapper), [`server`], [`agent`], [`offer`] (reverse mode, on [`forward`] and [`server`]), [`admin`], [`monitor`], [`zeroconf`] (mDNS announcing and browsing; its browser runs in the agent, which `+zeroconf` starts through [`agent::launch`]) |
//! | shared by the parts (none uses a part, except as said below) | [`config`], [`include_scan`], [`native_flags`], [`driver_report`] (gcc's `-###` report: the server's compile passes, the wrapper's preprocessor run) (the wrapper's and `doctor`'s), [`executables`], [`fd_passing`] (a socket handed to the agent, which writes a pump-mode tree into it), [`lock_files`], [`proc_stat`], [`user_files`], [`logging`] |
//! | the far end of an SSH connection; port forwarding | [`remote_exec`], [`forward`] |
//! | reaching a host | [`transport`] (TCP, russh, the `ssh` program); [`reapi`] (a Remote Execution API engine: a job as an Action, over gRPC) |
//! | facts | [`protocol`] (distcc's wire, and the words of a server started over SSH), [`hosts`] (the host grammar, with [`hosts::RemoteEnd`]), [`exit_code`] (distcc's exit codes), [`compiler_names`], [`source_names`], [`debug_info`], [`path_options`] |
//!
//! The facts use nothing else in the crate, and every layer above may use them: they are
//! what two ends must agree on (the wire, the host grammar, the exit codes), not code that
//! does anything. So [`remote_exec`] uses [`transport`] to reach a host, and reads what to
//! start there from [`hosts::RemoteEnd`] and the flags and greeting both ends speak from
//! [`protocol::ssh_launch`]; [`transport`] itself uses nothing else. What a failure means
//! to its user is decided where it is used, not in the facts: the wrapper maps a broken
//! exchange to an exit code in `client::remote`.
//!
//! The environment and host files are read in [`config`] only; everything else receives
//! plain values, so tests build settings directly and start servers on port-0 listeners.
//! Building the host list, [`config`] also lists live offers ([`offer`]'s entry files) and
//! zeroconf's cache ([`zeroconf`]).

pub mod admin;
pub mod agent;
pub mod app;
pub mod cli;
pub mod client;
pub mod compiler_names;
pub mod config;
pub mod debug_info;
pub mod driver_report;
pub mod executables;
pub mod exit_code;
pub mod fd_passing;
pub mod flock_file;
pub mod forward;
pub mod hosts;
pub mod include_scan;
pub mod lock_files;
pub mod logging;
pub mod monitor;
pub mod native_flags;
pub mod offer;
pub mod path_options;
pub mod proc_stat;
pub mod protocol;
pub mod reapi;
pub mod remote_exec;
pub mod server;
pub mod source_names;
pub mod transport;
pub mod user_files;
pub mod zeroconf;
