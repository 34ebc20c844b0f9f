//! Shared helpers for the integration tests (the `support` module of `tests/main.rs`).
//!
//! Everything here is synchronous (std processes, blocking waits with timeouts) so it works
//! from plain and `#[tokio::test]` tests alike. Every process a helper starts is killed with
//! its process group and reaped when the owning value is dropped. A missing peer program
//! panics with the `apt-get install` line: interop tests are never skipped silently.
//!
//! | module | job |
//! |---|---|
//! | [`programs`] | `require`, `distfarm_bin`, `test_path`, fixture paths |
//! | [`ports`] | `free_port`, `port_accepts` |
//! | [`process`] | `Cmd` (run with timeout, full failure report), `ChildGuard` (kill on drop) |
//! | [`files`] | `set_mode`, `read_text`, `list`, `write_script`, `open_dir`, `readable_temp_dir` |
//! | [`wait`] | `wait_for`: poll until something happened, or panic with context |
//! | [`lock_holder`] | `hold_lock`: a distcc slot lock held by another process |
//! | [`daemon`] | `Daemon`: a logging server on a free port (start with retry, wait for log lines; the wrappers' compiler identity probes left out) |
//! | [`known_compiler`] | `gcc_known_on`: a host's compiler already known, as after an earlier build |
//! | [`distcc_client`] | `DistccClient`: the real distcc 3.4 client, remote or fail |
//! | [`distccd`] | `RealDistccd`: the real distccd 3.4 on 127.0.0.1 |
//! | [`distfarm_server`] | `DistfarmServer`: `distfarm serve` on 127.0.0.1; job directories |
//! | [`wire`] | raw distcc requests to a server under test, answers parsed |
//! | [`namespace`] | `with_private_mounts`: one command in a mount namespace of its own (root) |
//! | [`netns`] | `NetPair`: two network namespaces on a veth pair; `AnnouncedServer` (`serve --zeroconf`) there |
//! | [`canary`] | `Traps`: canary directories an attack must leave empty; fake toolchains, plugins |
//! | [`hostile`] | `Case`: hostile requests sent to a server, refusals and canaries checked |
//! | [`inetd`] | `inetd_job`: one `distfarm serve --inetd` job on pipes |
//! | [`fake_server`] | `FakeServer`: a fake distcc host that answers garbage, half, or nothing |
//! | [`fake_engine`] | `FakeEngine`: a Remote Execution API engine (tonic, in process) that runs actions here, counts calls, and lies when told |
//! | [`buildgrid`] | `BuildGrid`: a real engine (BuildGrid 0.4.4 from `scripts/test`'s virtualenv) with its workers (`buildgrid_worker.py`) |
//! | [`postgres`] | `Postgres`: a private PostgreSQL cluster (fresh database, own socket dir and port) |
//! | [`wrapper`] | `Work`: a work area and the environment for running the wrapper |
//! | [`sshd`] | `Sshd`: a real OpenSSH sshd plus a client ssh_config (`farmhost`) |
//! | [`sshd_log`] | `LogMark`, `count`: sshd's log as the witness of logins and sessions |
//! | [`ssh_client`] | `SshClient`, `RemoteDistfarm`: `distfarm gcc` builds over SSH, agent killed on drop |
//! | [`fake_ssh`] | `FakeSsh`: an `ssh` on `PATH` that records its command lines |
//! | [`procs`] | `processes`, `agent_pids`, `kill`: the process table from /proc |
//! | [`system_account`] | `SystemAccount`: a throwaway local account, removed on drop (root) |
//! | [`cproject`] | `CProject`: Lua, zstd and the C++ sample as compile units |
//! | [`compile`] | `local_object`, `preprocessed_then_compiled`, `hello_reference`: byte references |
//! | [`scan_check`] | the include scanner's closure checked against `gcc -M` and a mirror replay |
//! | [`build`] | a `CProject` through a command under test, objects compared with references |

pub mod build;
pub mod buildgrid;
pub mod canary;
pub mod compile;
pub mod cproject;
pub mod daemon;
pub mod distcc_client;
pub mod distccd;
pub mod distfarm_server;
pub mod fake_engine;
pub mod fake_engine_cas;
pub mod fake_server;
pub mod fake_ssh;
pub mod files;
pub mod hostile;
pub mod inetd;
pub mod known_compiler;
pub mod lock_holder;
pub mod namespace;
pub mod netns;
pub mod ports;
pub mod postgres;
pub mod process;
pub mod procs;
pub mod programs;
pub mod real_pump;
pub mod russh_server;
pub mod scan_check;
pub mod ssh_client;
pub mod sshd;
pub mod sshd_log;
pub mod system_account;
pub mod wait;
pub mod wire;
pub mod wrapper;
pub mod wrapper_client;

pub use compile::local_object;
pub use cproject::CProject;
pub use daemon::{IDENTITY_PROBE, is_identity_probe};
pub use distccd::RealDistccd;
pub use distfarm_server::DistfarmServer;
pub use fake_server::FakeServer;
pub use files::{list, read_text, set_mode, write_script};
pub use ports::free_port;
pub use process::{ChildGuard, Cmd, text};
pub use programs::{distfarm_bin, fixture, fixture_path, require, test_path};
pub use russh_server::{SshAgent, TestSshServer};
pub use sshd::Sshd;
pub use wait::wait_for;
pub use wrapper::Work;

/// Sends `message` through `tunnel` to an echo service, closes the sending side, and checks
/// that the same bytes come back within `wait` (the one async helper here: tunnels are
/// tokio streams).
pub async fn assert_echoed<S>(tunnel: &mut S, message: &[u8], wait: std::time::Duration)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    tunnel.write_all(message).await.unwrap();
    tunnel.shutdown().await.unwrap();
    let mut back = Vec::new();
    tokio::time::timeout(wait, tunnel.read_to_end(&mut back))
        .await
        .expect("the echo came back in time")
        .unwrap();
    assert_eq!(back, message, "the echo differs");
}

/// Echoes every byte back until the peer closes, then closes: the service at the far end of
/// a tunnel under test.
pub async fn echo_service<S>(mut stream: S)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut buf = vec![0u8; 8192];
    loop {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                if stream.write_all(&buf[..n]).await.is_err() {
                    break;
                }
            }
        }
    }
    let _ = stream.shutdown().await;
}

/// A fresh temp dir named after the test, removed on drop.
pub fn temp_dir(label: &str) -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix(&format!("distfarm-{label}-"))
        .tempdir()
        .expect("temp dir")
}
