//! `distfarm serve` (the real binary) as a TCP daemon on 127.0.0.1, and what a test checks
//! in its TMPDIR. Run as root it drops to `distcc`/`nobody` before it serves: its own
//! directory is 01777.

use std::ffi::{OsStr, OsString};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use distfarm::protocol::{Response, Version};

use super::daemon::Daemon;
use super::files::{readable_temp_dir, set_mode};
use super::process::ChildGuard;
use super::programs::{distfarm_bin, test_path};
use super::wait::wait_for;
use super::wire;

/// `distfarm serve --no-detach --listen 127.0.0.1 -p PORT --log-stderr ARGS…`, its log in a
/// file, killed with its process group on drop.
pub struct DistfarmServer {
    daemon: Daemon,
    tmpdir: PathBuf,
}

/// Options for [`DistfarmServer`]; [`DistfarmServer::start`] is `builder().args(…).start()`.
#[derive(Clone, Debug, Default)]
pub struct ServeBuilder {
    args: Vec<OsString>,
    env: Vec<(OsString, OsString)>,
    tmpdir: Option<PathBuf>,
}

impl DistfarmServer {
    /// With these extra arguments (e.g. `["--jobs", "2"]`), TMPDIR its own 01777 directory.
    #[track_caller]
    pub fn start(args: &[&str]) -> DistfarmServer {
        Self::builder().args(args).start()
    }

    pub fn builder() -> ServeBuilder {
        ServeBuilder::default()
    }

    pub fn port(&self) -> u16 {
        self.daemon.port()
    }

    /// `127.0.0.1:PORT` (protocol 1); append `,lzo` for protocol 2.
    pub fn host_spec(&self) -> String {
        self.daemon.host_spec()
    }

    /// Where it makes its job directories.
    pub fn tmpdir(&self) -> &Path {
        &self.tmpdir
    }

    pub fn log(&self) -> String {
        self.daemon.log()
    }

    /// The process, to signal it or wait for its exit.
    pub fn process(&mut self) -> &mut ChildGuard {
        self.daemon.process()
    }

    pub fn is_running(&mut self) -> bool {
        self.daemon.is_running()
    }

    /// Its `COMPILE_OK` summary lines, once there are `expected` of them (the line is written
    /// after the answer, so it may trail the client by a moment) or after 15 s.
    #[track_caller]
    pub fn compile_ok_lines(&mut self, expected: usize) -> Vec<String> {
        self.daemon.log_lines(" COMPILE_OK ", expected)
    }

    /// Waits up to 10 s for the log to say `needle`.
    #[track_caller]
    pub fn expect_log(&self, needle: &str) {
        wait_for(
            &format!("the server log to say {needle:?}"),
            Duration::from_secs(10),
            || self.log().contains(needle).then_some(()),
            || self.log(),
        );
    }

    /// One protocol 1 job.
    #[track_caller]
    pub fn compile<S: AsRef<str>>(&self, argv: &[S], source: &[u8]) -> (Response, SocketAddr) {
        wire::compile(self.port(), Version::V1, argv, source)
    }
}

impl ServeBuilder {
    pub fn args<S: AsRef<OsStr>>(mut self, args: &[S]) -> Self {
        self.args.extend(args.iter().map(|a| a.as_ref().to_owned()));
        self
    }

    /// An environment variable. It starts from an empty environment plus `PATH`, `TMPDIR`
    /// and `LC_ALL=C`.
    pub fn env(mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> Self {
        self.env
            .push((key.as_ref().to_owned(), value.as_ref().to_owned()));
        self
    }

    /// TMPDIR (it must be writable by the dropped user); by default its own directory.
    pub fn tmpdir(mut self, dir: &Path) -> Self {
        self.tmpdir = Some(dir.to_path_buf());
        self
    }

    /// Starts the server and waits until it logs `listening on 127.0.0.1:PORT`.
    #[track_caller]
    pub fn start(self) -> DistfarmServer {
        let own = super::temp_dir("serve");
        set_mode(own.path(), 0o1777);
        let tmpdir = self.tmpdir.unwrap_or_else(|| own.path().to_path_buf());
        let command = |port: u16| {
            let mut cmd = Command::new(distfarm_bin());
            cmd.args([
                "serve",
                "--no-detach",
                "--listen",
                "127.0.0.1",
                "--log-stderr",
            ])
            .args(["-p", &port.to_string()])
            .args(&self.args)
            .env_clear()
            .env("PATH", test_path())
            .env("TMPDIR", &tmpdir)
            .env("LC_ALL", "C")
            .envs(self.env.iter().map(|(k, v)| (k, v)));
            cmd
        };
        let ready = |port: u16, log: &str| log.contains(&format!("listening on 127.0.0.1:{port}"));
        let daemon = Daemon::start("distfarm serve", own, command, ready, "cannot listen");
        DistfarmServer { daemon, tmpdir }
    }
}

/// The `distfarm_*` job directories in `dir`.
pub fn job_directories(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("listing {}: {e}", dir.display()))
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with("distfarm_"))
        .map(|e| e.path())
        .collect()
}

/// No job directory is left in `dir` (a server's TMPDIR) within 10 s.
#[track_caller]
pub fn assert_no_job_directories(dir: &Path) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !job_directories(dir).is_empty() {
        assert!(
            Instant::now() < deadline,
            "job directories left in the server's TMPDIR {}: {:?}",
            dir.display(),
            job_directories(dir)
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// `distccd` → the distfarm binary, in a 0755 directory of its own.
pub fn distccd_link() -> (tempfile::TempDir, PathBuf) {
    let dir = readable_temp_dir("distccd-link");
    let link = dir.path().join("distccd");
    std::os::unix::fs::symlink(distfarm_bin(), &link).expect("symlink distccd");
    (dir, link)
}
