//! The client's side of `+zeroconf`: make sure a browser keeps `<DISTCC_DIR>/zeroconf/hosts`
//! (starting one and waiting for its first list when none runs — about a second, once per
//! build rather than per job), then read the file.

use std::ffi::OsString;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use super::cache;

/// The hidden subcommand that runs the browser (see `app/zeroconf_browser.rs`).
pub const BROWSER_SUBCOMMAND: &str = "zeroconf-browser";
/// Longer than the browser's own first-list limit: its start and `cc` runs come first.
const READY_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug, Clone)]
pub struct Discovery {
    pub distcc_dir: PathBuf,
    /// The distfarm binary, to start the browser with.
    pub program: PathBuf,
    /// `PATH`, where the browser finds `cc` (to know which servers fit).
    pub path: Option<OsString>,
}

/// What `+zeroconf` stands for now: the hosts file's text and its path (for messages).
pub fn hosts_text(discovery: &Discovery) -> Result<(String, PathBuf), String> {
    let dir = cache::dir(&discovery.distcc_dir)
        .map_err(|e| format!("{}/zeroconf: {e}", discovery.distcc_dir.display()))?;
    let running = cache::browser_running(&dir)
        .map_err(|e| format!("{}: {e}", cache::lock_path(&dir).display()))?;
    if !running {
        start_browser(discovery, &dir)?;
    }
    let text = cache::read_hosts(&dir)
        .map_err(|e| format!("{}: {e}", cache::hosts_path(&dir).display()))?;
    Ok((text, cache::hosts_path(&dir)))
}

/// Starts the browser on its own (it outlives this job) and waits for its first list.
fn start_browser(discovery: &Discovery, dir: &std::path::Path) -> Result<(), String> {
    use std::os::unix::process::CommandExt;
    let log_path = dir.join("browser.log");
    let log =
        std::fs::File::create(&log_path).map_err(|e| format!("{}: {e}", log_path.display()))?;
    let mut command = Command::new(&discovery.program);
    command
        .arg(BROWSER_SUBCOMMAND)
        .arg("--distcc-dir")
        .arg(&discovery.distcc_dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        // Not the build's stderr: the browser outlives the job and must not hold its pipes.
        .stderr(log)
        // Not in the build's process group: a Ctrl-C of this job leaves it to serve others.
        .process_group(0)
        .current_dir("/");
    if let Some(path) = &discovery.path {
        command.env("PATH", path);
    }
    let mut child = command.spawn().map_err(|e| {
        format!(
            "cannot start the zeroconf browser ({} {BROWSER_SUBCOMMAND}): {e}",
            discovery.program.display()
        )
    })?;
    let stdout = child.stdout.take().expect("piped stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = tx.send(line);
    });
    match rx.recv_timeout(READY_TIMEOUT) {
        Ok(line) if line.trim() == super::keeper::READY_LINE => Ok(()),
        // It ended without a list; its log says why. The file may still have one.
        Ok(_) => {
            tracing::warn!(
                "the zeroconf browser stopped at once; see {}",
                log_path.display()
            );
            Ok(())
        }
        Err(_) => {
            tracing::warn!(
                "the zeroconf browser did not report within {READY_TIMEOUT:?}; using the list as it is"
            );
            Ok(())
        }
    }
}
