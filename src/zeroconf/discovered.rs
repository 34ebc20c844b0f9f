//! The client's side of `+zeroconf`: make sure a browser keeps `<DISTCC_DIR>/zeroconf/hosts`
//! (when none runs, asking the agent to browse — starting it if need be — and waiting for
//! its first list: about a second, once per build rather than per job), then read the file.
//! With the agent disabled, a browser process of its own does the same (distcc's way).

use std::ffi::OsString;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use super::cache;
use crate::protocol::agent::{BrowseRequest, browse};

/// The hidden subcommand that runs the browser (see `app/zeroconf_browser.rs`).
pub const BROWSER_SUBCOMMAND: &str = "zeroconf-browser";
/// The line that tells the starting client the browser's first list is in the file.
pub const READY_LINE: &str = "ready";
/// Longer than the browser's own first-list limit: its start and `cc` runs come first.
const READY_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug, Clone)]
pub struct Discovery {
    pub distcc_dir: PathBuf,
    /// The distfarm binary, to start the browser with.
    pub program: PathBuf,
    /// `PATH`, where the browser finds `cc` (to know which servers fit).
    pub path: Option<OsString>,
    /// The agent that browses; `None` when the agent is disabled.
    pub agent: Option<AgentPlace>,
}

/// Where this user's agent listens, and how it is started (see `agent/launch.rs`).
#[derive(Debug, Clone)]
pub struct AgentPlace {
    pub socket: PathBuf,
    pub lock_dir: PathBuf,
    pub idle: Duration,
}

/// What `+zeroconf` stands for now: the hosts file's text and its path (for messages).
pub fn hosts_text(discovery: &Discovery) -> Result<(String, PathBuf), String> {
    let dir = cache::dir(&discovery.distcc_dir)
        .map_err(|e| format!("{}/zeroconf: {e}", discovery.distcc_dir.display()))?;
    let running = cache::browser_running(&dir)
        .map_err(|e| format!("{}: {e}", cache::lock_path(&dir).display()))?;
    if !running {
        let through_agent = match &discovery.agent {
            Some(agent) => browse_through_agent(discovery, agent)
                .inspect_err(|e| tracing::warn!("+zeroconf: the agent does not browse: {e}"))
                .is_ok(),
            None => false,
        };
        if !through_agent {
            start_browser(discovery, &dir)?;
        }
    }
    let text = cache::read_hosts(&dir)
        .map_err(|e| format!("{}: {e}", cache::hosts_path(&dir).display()))?;
    Ok((text, cache::hosts_path(&dir)))
}

/// Asks the agent to browse and waits for its first list. This runs where the host list is
/// read, outside any async runtime or inside one, so it talks to the agent from a thread of
/// its own.
fn browse_through_agent(discovery: &Discovery, agent: &AgentPlace) -> Result<(), String> {
    let request = BrowseRequest {
        distcc_dir: discovery.distcc_dir.clone().into_os_string(),
        path: discovery.path.clone(),
    };
    let ask = || -> Result<(), String> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?;
        runtime.block_on(async {
            let mut stream =
                crate::agent::launch::connect_or_start(&agent.socket, &agent.lock_dir, agent.idle)
                    .await
                    .ok_or_else(|| format!("no agent listens on {}", agent.socket.display()))?;
            tokio::time::timeout(READY_TIMEOUT, browse(&mut stream, &request))
                .await
                .map_err(|_| format!("no answer within {READY_TIMEOUT:?}"))?
                .map_err(|e| e.to_string())?
        })
    };
    std::thread::scope(|scope| scope.spawn(ask).join())
        .unwrap_or_else(|_| Err("the thread asking the agent failed".into()))
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
        Ok(line) if line.trim() == READY_LINE => Ok(()),
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
