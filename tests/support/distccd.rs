//! The real distccd 3.4 as a TCP daemon on 127.0.0.1, for interop tests.

use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::ports::{free_port, port_accepts};
use super::process::{ChildGuard, describe};
use super::programs::require;

const START_TIMEOUT: Duration = Duration::from_secs(20);

/// A running `distccd --daemon --no-detach` on 127.0.0.1, killed (with its preforked
/// children: they share its process group) when dropped.
pub struct RealDistccd {
    // Field order is drop order: the daemon dies before its directory is removed.
    child: ChildGuard,
    port: u16,
    log_path: PathBuf,
    dir: tempfile::TempDir,
}

/// Options for [`RealDistccd`]; [`RealDistccd::start`] is `builder().start()`.
#[derive(Clone, Debug)]
pub struct DistccdBuilder {
    jobs: u32,
    allow: String,
    args: Vec<OsString>,
    env: Vec<(OsString, OsString)>,
}

impl RealDistccd {
    /// 2 jobs, `--allow 127.0.0.1`, compiler whitelist (`/usr/lib/distcc`) enforced.
    #[track_caller]
    pub fn start() -> RealDistccd {
        Self::builder().start()
    }

    pub fn builder() -> DistccdBuilder {
        DistccdBuilder {
            jobs: 2,
            allow: "127.0.0.1".into(),
            args: Vec::new(),
            env: Vec::new(),
        }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// `127.0.0.1:PORT`, a DISTCC_HOSTS entry for protocol 1 (append `,lzo` for 2).
    pub fn host_spec(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// The daemon's TMPDIR (world-writable: distccd as root runs jobs as `distcc`/nobody).
    pub fn tmp_dir(&self) -> &Path {
        self.dir.path()
    }

    /// Everything distccd logged so far (`--log-stderr`); put it in assertion messages.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    /// Whether the daemon is still running.
    pub fn is_running(&mut self) -> bool {
        self.child.try_wait().is_none()
    }
}

impl DistccdBuilder {
    /// `--jobs N` (also the number of preforked children).
    pub fn jobs(mut self, jobs: u32) -> Self {
        self.jobs = jobs;
        self
    }

    /// `--allow` value (default `127.0.0.1`).
    pub fn allow(mut self, allow: impl Into<String>) -> Self {
        self.allow = allow.into();
        self
    }

    /// An extra argument, e.g. `--enable-tcp-insecure` (no compiler whitelist) or `--verbose`.
    pub fn arg(mut self, arg: impl AsRef<OsStr>) -> Self {
        self.args.push(arg.as_ref().to_owned());
        self
    }

    /// An environment variable for the daemon. It starts from an empty environment plus
    /// `PATH`, `HOME`, `TMPDIR` (its own 01777 directory) and `LC_ALL=C`.
    pub fn env(mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> Self {
        self.env
            .push((key.as_ref().to_owned(), value.as_ref().to_owned()));
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
        let log_path = dir.path().join("distccd.log");
        let mut last_log = String::new();
        for _attempt in 0..5 {
            let port = free_port();
            let log = File::create(&log_path).expect("distccd log file");
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
            .arg("--allow")
            .arg(&self.allow)
            .arg("--jobs")
            .arg(self.jobs.to_string())
            .args(&self.args)
            .env_clear()
            .env(
                "PATH",
                std::env::var_os("PATH").unwrap_or_else(|| "/usr/bin:/bin".into()),
            )
            .env("HOME", dir.path())
            .env("TMPDIR", dir.path())
            .env("LC_ALL", "C")
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdout(Stdio::from(log.try_clone().expect("dup log")))
            .stderr(Stdio::from(log));
            let description = format!("distccd on 127.0.0.1:{port}");
            let mut child = ChildGuard::spawn(cmd, description);
            let deadline = Instant::now() + START_TIMEOUT;
            loop {
                if port_accepts(port) {
                    return RealDistccd {
                        child,
                        port,
                        log_path,
                        dir,
                    };
                }
                if let Some(status) = child.try_wait() {
                    last_log = std::fs::read_to_string(&log_path).unwrap_or_default();
                    if last_log.contains("Address already in use") {
                        break; // someone took the port: try another
                    }
                    panic!(
                        "distccd exited at start-up ({}):\n{last_log}",
                        describe(status)
                    );
                }
                if Instant::now() >= deadline {
                    let log = std::fs::read_to_string(&log_path).unwrap_or_default();
                    panic!(
                        "distccd did not accept connections on port {port} within {START_TIMEOUT:?}:\n{log}"
                    );
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        panic!("distccd could not bind a free port in 5 attempts:\n{last_log}");
    }
}

pub(crate) fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .unwrap_or_else(|e| panic!("chmod {mode:o} {}: {e}", path.display()));
}
