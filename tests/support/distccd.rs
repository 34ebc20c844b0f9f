//! The real distccd 3.4 as a TCP daemon on 127.0.0.1, for interop tests.

use std::ffi::{OsStr, OsString};
use std::path::Path;
use std::process::Command;

use super::daemon::Daemon;
// sshd.rs takes `set_mode` from here.
pub(crate) use super::files::set_mode;
use super::ports::port_accepts;
use super::programs::{require, test_path};

/// A running `distccd --daemon --no-detach` on 127.0.0.1, killed (with its preforked
/// children: they share its process group) when dropped.
pub struct RealDistccd {
    daemon: Daemon,
}

/// Options for [`RealDistccd`]; [`RealDistccd::start`] is `builder().start()`.
#[derive(Clone, Debug)]
pub struct DistccdBuilder {
    args: Vec<OsString>,
}

impl RealDistccd {
    /// 2 jobs, `--allow 127.0.0.1`, compiler whitelist enforced (the test's own: see
    /// [`own_compiler_list`]).
    #[track_caller]
    pub fn start() -> RealDistccd {
        Self::builder().start()
    }

    pub fn builder() -> DistccdBuilder {
        DistccdBuilder { args: Vec::new() }
    }

    pub fn port(&self) -> u16 {
        self.daemon.port()
    }

    /// `127.0.0.1:PORT`, a DISTCC_HOSTS entry for protocol 1 (append `,lzo` for 2).
    pub fn host_spec(&self) -> String {
        self.daemon.host_spec()
    }

    /// Everything distccd logged so far (`--log-stderr`); put it in assertion messages.
    pub fn log(&self) -> String {
        self.daemon.log()
    }

    /// Whether the daemon is still running.
    pub fn is_running(&mut self) -> bool {
        self.daemon.is_running()
    }

    /// See [`Daemon::log_lines`]: the lines with `needle`, once there are `count` of them or
    /// after 15 s.
    #[track_caller]
    pub fn log_lines(&mut self, needle: &str, count: usize) -> Vec<String> {
        self.daemon.log_lines(needle, count)
    }

    /// See [`Daemon::wait_for_log_lines`]: `count` lines with `needle`, or a panic.
    #[track_caller]
    pub fn wait_for_log_lines(&mut self, needle: &str, count: usize) -> Vec<String> {
        self.daemon.wait_for_log_lines(needle, count)
    }
}

impl DistccdBuilder {
    /// An extra argument, e.g. `--enable-tcp-insecure` (no compiler whitelist) or `--verbose`.
    pub fn arg(mut self, arg: impl AsRef<OsStr>) -> Self {
        self.args.push(arg.as_ref().to_owned());
        self
    }

    /// Starts the daemon and waits until its port accepts connections. Retries with another
    /// port if the one it was given was taken meanwhile.
    #[track_caller]
    pub fn start(self) -> RealDistccd {
        let distccd = require("distccd", "distcc");
        let dir = tempfile::Builder::new()
            .prefix("distfarm-distccd-")
            .tempdir()
            .expect("temp dir");
        // As root, distccd drops to the `distcc` user (or nobody) before it compiles: its
        // TMPDIR must be writable by that user.
        set_mode(dir.path(), 0o1777);
        let home = dir.path().to_path_buf();
        // An empty environment plus `PATH`, `HOME`, `TMPDIR` (its own 01777 directory),
        // `LC_ALL=C` and, with the whitelist on, the test's own compiler list.
        let mut env: Vec<(OsString, OsString)> = Vec::new();
        let whitelist_off = self.args.iter().any(|a| a == "--enable-tcp-insecure");
        if !whitelist_off {
            env.push(("DISTCC_CMDLIST".into(), own_compiler_list(&home).into()));
        }
        let command = |port: u16| {
            let mut cmd = Command::new(&distccd);
            cmd.args([
                "--daemon",
                "--no-detach",
                "--log-stderr",
                "--listen",
                "127.0.0.1",
            ])
            .arg("-p")
            .arg(port.to_string())
            .args(["--allow", "127.0.0.1", "--jobs", "2"])
            .args(&self.args)
            .env_clear()
            .env("PATH", test_path())
            .env("HOME", &home)
            .env("TMPDIR", &home)
            .env("LC_ALL", "C")
            .envs(env.iter().map(|(k, v)| (k, v)));
            cmd
        };
        let daemon = Daemon::start(
            "distccd",
            dir,
            command,
            |port, _| port_accepts(port),
            "Address already in use",
        );
        RealDistccd { daemon }
    }
}

/// Writes `DIR/cmdlist`, the compilers a test distccd may run: every gcc/clang-family program
/// on the test `PATH`, by full path (distccd matches the name a client sends against the
/// last path component). Debian builds distccd's usual whitelist, `/usr/lib/distcc`, when
/// distcc is installed or gcc changes, so a compiler installed later (clang after distcc)
/// is missing there until `update-distcc-symlinks` runs: with their own list the tests do
/// not depend on the order in which the machine got its packages.
fn own_compiler_list(dir: &Path) -> std::path::PathBuf {
    let mut list = String::new();
    for bin in std::env::split_paths(&test_path()) {
        let Ok(entries) = std::fs::read_dir(&bin) else {
            continue;
        };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let compiler = ["cc", "c++"].contains(&name.as_str())
                || distfarm::compiler_names::is_compiler_family_name(&name);
            if compiler && entry.path().is_file() {
                list.push_str(&format!("{}\n", entry.path().display()));
            }
        }
    }
    let path = dir.join("cmdlist");
    std::fs::write(&path, list).expect("writing the test distccd's command list");
    path
}
