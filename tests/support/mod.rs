//! Shared helpers for the integration tests (`mod support;` in each `tests/*.rs`).
//!
//! Everything here is synchronous (std processes, blocking waits with timeouts) so it works
//! from plain and `#[tokio::test]` tests alike. Every process a helper starts is killed with
//! its process group and reaped when the owning value is dropped. A missing peer program
//! panics with the `apt-get install` line: interop tests are never skipped silently.
//!
//! | module | job |
//! |---|---|
//! | [`programs`] | `require`, `distfarm_bin`, fixture paths |
//! | [`ports`] | `free_port`, `wait_for_port` |
//! | [`process`] | `Cmd` (run with timeout, full failure report), `ChildGuard` (kill on drop) |
//! | [`distccd`] | `RealDistccd`: the real distccd 3.4 on 127.0.0.1 |
//! | [`sshd`] | `Sshd`: a real OpenSSH sshd plus a client ssh_config (`farmhost`) |
//! | [`cproject`] | `CProject`: Lua, zstd and the C++ sample as compile units |
//! | [`compile`] | `local_object`, `preprocessed_then_compiled`: byte references |

// Each test binary uses a different part of this module.
#![allow(dead_code, unused_imports)]

pub mod compile;
pub mod cproject;
pub mod distccd;
pub mod ports;
pub mod process;
pub mod programs;
pub mod russh_server;
pub mod sshd;

pub use compile::{local_object, preprocessed_then_compiled};
pub use cproject::{CProject, Unit};
pub use distccd::{DistccdBuilder, RealDistccd};
pub use ports::{free_port, wait_for_port};
pub use process::{ChildGuard, Cmd, ProcessError};
pub use programs::{distfarm_bin, fixture, fixture_path, require};
pub use russh_server::{ClientKey, FreezableProxy, KeyKind, SshAgent, TestSshServer};
pub use sshd::Sshd;

/// A fresh temp dir named after the test, removed on drop.
pub fn temp_dir(label: &str) -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix(&format!("distfarm-{label}-"))
        .tempdir()
        .expect("temp dir")
}
