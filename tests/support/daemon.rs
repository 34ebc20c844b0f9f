//! A server process on a free 127.0.0.1 port that logs to a file in a temp dir of its own:
//! started again on another port when the one it was given was taken meanwhile, killed with
//! its process group before its directory is removed, its log polled for summary lines.

use std::fs::File;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::files::read_text;
use super::ports::free_port;
use super::process::{ChildGuard, describe};

const START_TIMEOUT: Duration = Duration::from_secs(20);
const START_ATTEMPTS: usize = 5;
/// How long a server's log may trail the client it answered.
const LOG_TIMEOUT: Duration = Duration::from_secs(15);

pub struct Daemon {
    // Field order is drop order: the daemon dies before its directory is removed.
    child: ChildGuard,
    name: String,
    port: u16,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl Daemon {
    /// Spawns `command(port)` with stdout and stderr in `dir/daemon.log` until
    /// `ready(port, log)`. A start-up exit whose log contains `port_taken` tries another
    /// port; any other exit, or not ready within 20 s, panics with the log.
    #[track_caller]
    pub fn start(
        name: &str,
        dir: tempfile::TempDir,
        command: impl Fn(u16) -> Command,
        ready: impl Fn(u16, &str) -> bool,
        port_taken: &str,
    ) -> Daemon {
        let log = dir.path().join("daemon.log");
        let mut last_log = String::new();
        for _attempt in 0..START_ATTEMPTS {
            let port = free_port();
            let file = File::create(&log).expect("daemon log file");
            let mut cmd = command(port);
            cmd.stdout(Stdio::from(file.try_clone().expect("dup log")))
                .stderr(Stdio::from(file));
            let mut child = ChildGuard::spawn(cmd, format!("{name} on 127.0.0.1:{port}"));
            let deadline = Instant::now() + START_TIMEOUT;
            loop {
                let text = read_text(&log);
                if ready(port, &text) {
                    return Daemon {
                        child,
                        name: name.to_string(),
                        port,
                        log,
                        _dir: dir,
                    };
                }
                if let Some(status) = child.try_wait() {
                    if text.contains(port_taken) {
                        last_log = text;
                        break; // someone took the port: try another
                    }
                    panic!("{name} exited at start-up ({}):\n{text}", describe(status));
                }
                assert!(
                    Instant::now() < deadline,
                    "{name} was not ready on 127.0.0.1:{port} within {START_TIMEOUT:?}:\n{text}"
                );
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        panic!("{name} could not bind a free port in {START_ATTEMPTS} attempts:\n{last_log}");
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// `127.0.0.1:PORT`, a DISTCC_HOSTS entry for protocol 1 (append `,lzo` for 2).
    pub fn host_spec(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Everything it logged so far; put it in assertion messages.
    pub fn log(&self) -> String {
        read_text(&self.log)
    }

    /// The process, to signal it or wait for its exit.
    pub fn process(&mut self) -> &mut ChildGuard {
        &mut self.child
    }

    pub fn is_running(&mut self) -> bool {
        self.child.try_wait().is_none()
    }

    /// The jobs' log lines containing `needle` once there are `count` of them, or those
    /// there are after 15 s (for the caller's assertion to report). Panics if the daemon
    /// died. The wrappers' compiler identity probes are not jobs: their lines are left out.
    #[track_caller]
    pub fn log_lines(&mut self, needle: &str, count: usize) -> Vec<String> {
        let deadline = Instant::now() + LOG_TIMEOUT;
        loop {
            assert!(self.is_running(), "{} died:\n{}", self.name, self.log());
            let lines: Vec<String> = self
                .log()
                .lines()
                .filter(|l| l.contains(needle) && !is_identity_probe(l))
                .map(String::from)
                .collect();
            if lines.len() >= count || Instant::now() >= deadline {
                return lines;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// [`log_lines`](Self::log_lines), and a panic unless there are `count` of them.
    #[track_caller]
    pub fn wait_for_log_lines(&mut self, needle: &str, count: usize) -> Vec<String> {
        let lines = self.log_lines(needle, count);
        assert!(
            lines.len() >= count,
            "{} logged {} of {count} {needle:?} lines:\n{}",
            self.name,
            lines.len(),
            self.log()
        );
        lines
    }
}

/// Whether a server's log line is about a wrapper's compiler identity probe (see
/// `client/identity.rs`) rather than a job.
pub fn is_identity_probe(line: &str) -> bool {
    line.contains(IDENTITY_PROBE)
}

/// The probe's source name, as servers log it.
pub const IDENTITY_PROBE: &str = "distfarm-identity-probe";
