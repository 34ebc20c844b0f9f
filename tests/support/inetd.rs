//! One job of `distfarm serve --inetd` on pipes, as ssh runs it: the request on stdin, the
//! answer read from stdout, the process killed with its group if a test fails first.

use std::fs::File;
use std::io::{Read, Write};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use super::files::read_text;
use super::programs::{distfarm_bin, test_path};
use super::wire::ANSWER_TIMEOUT;

/// `distfarm serve --inetd` with stdin/stdout piped, killed with its group on drop.
struct Inetd {
    child: Option<Child>,
}

impl Drop for Inetd {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let pid = nix::unistd::Pid::from_raw(child.id() as i32);
            let _ = nix::sys::signal::killpg(pid, nix::sys::signal::Signal::SIGKILL);
            let _ = child.wait();
        }
    }
}

/// Runs one `--inetd` job: writes `bytes` to its stdin (kept open until the answer is in,
/// as ssh does, unless `close_stdin`), reads stdout to the end, and returns the answer, the
/// exit code and the log.
pub fn inetd_job(tmp: &Path, bytes: &[u8], close_stdin: bool) -> (Vec<u8>, Option<i32>, String) {
    inetd_job_with(tmp, bytes, close_stdin, &[])
}

/// `inetd_job` with extra server options.
pub fn inetd_job_with(
    tmp: &Path,
    bytes: &[u8],
    close_stdin: bool,
    extra: &[&str],
) -> (Vec<u8>, Option<i32>, String) {
    let log_path = tmp.join(format!("inetd-{}.log", rand_suffix()));
    let log = File::create(&log_path).unwrap();
    let mut cmd = Command::new(distfarm_bin());
    cmd.args(["serve", "--inetd", "--log-stderr"])
        .args(extra)
        .env_clear()
        .env("PATH", test_path())
        .env("TMPDIR", tmp)
        .env("LC_ALL", "C")
        .env("DISTFARM_CONFINE", "0")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::from(log))
        .process_group(0);
    let mut guard = Inetd {
        child: Some(cmd.spawn().expect("start distfarm serve --inetd")),
    };
    let child = guard.child.as_mut().unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let _ = stdin.write_all(bytes);
    let keep_open = if close_stdin {
        drop(stdin);
        None
    } else {
        Some(stdin)
    };
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut out = Vec::new();
        let _ = stdout.read_to_end(&mut out);
        let _ = tx.send(out);
    });
    let answer = rx
        .recv_timeout(ANSWER_TIMEOUT)
        .expect("distfarm serve --inetd neither answered nor closed stdout");
    drop(keep_open);
    let status = crate::support::process::wait_timeout(child, Duration::from_secs(30))
        .expect("distfarm serve --inetd exits after one job");
    guard.child.take();
    (answer, status.code(), read_text(&log_path))
}

fn rand_suffix() -> String {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static N: AtomicUsize = AtomicUsize::new(0);
    format!(
        "{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    )
}
