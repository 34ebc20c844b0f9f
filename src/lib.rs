//! distfarm: an SSH-first, distcc-compatible compile farm.
//!
//! One binary plays every part (see `../shared/design.md`): the compiler wrapper, the
//! distccd-compatible server, and the operator tools. The library exposes the pieces so that
//! integration tests can start a server in-process on a port-0 listener.

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
pub mod lock_files;
pub mod logging;
pub mod monitor;
pub mod protocol;
pub mod remote_exec;
pub mod server;
pub mod source_names;
pub mod transport;
