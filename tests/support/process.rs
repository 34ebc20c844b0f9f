//! Running programs from tests: a command builder whose failures say what was run, how it
//! ended and what it printed (cargo-util's `ProcessError`), with a timeout on every wait; and
//! a guard that kills a background process (and its process group) when dropped.

use std::ffi::{OsStr, OsString};
use std::fmt;
use std::io::{Read, Write};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// Default limit for one foreground command in a test.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(120);

/// A program with arguments, environment changes, a working directory, optional stdin bytes
/// and a timeout. Build it like `std::process::Command`, then [`run`](Cmd::run) (panics with
/// a full report unless the exit status is 0), [`output`](Cmd::output) (the report as an
/// `Err`), or [`output_unchecked`](Cmd::output_unchecked) (any exit status is `Ok`).
#[derive(Clone, Debug)]
pub struct Cmd {
    program: OsString,
    args: Vec<OsString>,
    env: Vec<(OsString, Option<OsString>)>,
    env_clear: bool,
    cwd: Option<PathBuf>,
    stdin: Option<Vec<u8>>,
    timeout: Duration,
}

impl Cmd {
    pub fn new(program: impl AsRef<OsStr>) -> Cmd {
        Cmd {
            program: program.as_ref().to_owned(),
            args: Vec::new(),
            env: Vec::new(),
            env_clear: false,
            cwd: None,
            stdin: None,
            timeout: DEFAULT_TIMEOUT,
        }
    }

    pub fn arg(mut self, arg: impl AsRef<OsStr>) -> Cmd {
        self.args.push(arg.as_ref().to_owned());
        self
    }

    pub fn args<I, S>(mut self, args: I) -> Cmd
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.args
            .extend(args.into_iter().map(|a| a.as_ref().to_owned()));
        self
    }

    pub fn env(mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> Cmd {
        self.env
            .push((key.as_ref().to_owned(), Some(value.as_ref().to_owned())));
        self
    }

    pub fn envs<I, K, V>(mut self, vars: I) -> Cmd
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<OsStr>,
        V: AsRef<OsStr>,
    {
        for (k, v) in vars {
            self = self.env(k, v);
        }
        self
    }

    pub fn env_remove(mut self, key: impl AsRef<OsStr>) -> Cmd {
        self.env.push((key.as_ref().to_owned(), None));
        self
    }

    /// Start from an empty environment (then add what the program needs, e.g. `PATH`).
    pub fn env_clear(mut self) -> Cmd {
        self.env_clear = true;
        self.env.clear();
        self
    }

    pub fn current_dir(mut self, dir: impl AsRef<Path>) -> Cmd {
        self.cwd = Some(dir.as_ref().to_owned());
        self
    }

    /// Bytes fed to the program's stdin (otherwise stdin is `/dev/null`).
    pub fn stdin(mut self, bytes: impl Into<Vec<u8>>) -> Cmd {
        self.stdin = Some(bytes.into());
        self
    }

    pub fn timeout(mut self, timeout: Duration) -> Cmd {
        self.timeout = timeout;
        self
    }

    /// The same command run through another: `program prefix… <this program> <its args…>`
    /// (`ip netns exec NS …`), with this command's environment, directory and timeout.
    pub fn wrapped<I, S>(mut self, program: impl AsRef<OsStr>, prefix: I) -> Cmd
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let mut args: Vec<OsString> = prefix.into_iter().map(|a| a.as_ref().to_owned()).collect();
        args.push(std::mem::replace(
            &mut self.program,
            program.as_ref().to_owned(),
        ));
        args.append(&mut self.args);
        self.args = args;
        self
    }

    pub fn get_program(&self) -> &OsStr {
        &self.program
    }

    pub fn get_args(&self) -> &[OsString] {
        &self.args
    }

    /// The equivalent `std::process::Command` (for callers that manage the child themselves,
    /// e.g. through [`ChildGuard::spawn`]).
    pub fn to_command(&self) -> Command {
        let mut cmd = Command::new(&self.program);
        cmd.args(&self.args);
        if self.env_clear {
            cmd.env_clear();
        }
        for (k, v) in &self.env {
            match v {
                Some(v) => cmd.env(k, v),
                None => cmd.env_remove(k),
            };
        }
        if let Some(dir) = &self.cwd {
            cmd.current_dir(dir);
        }
        cmd
    }

    /// Runs to completion; any exit status is `Ok`. `Err` only when the program could not be
    /// started or did not finish within the timeout (it is then killed with its process
    /// group). Processes it leaves behind after a normal exit (a daemon it started) are not
    /// killed; if they keep its stdout/stderr open, reading stops 2 s after it exited.
    pub fn output_unchecked(&self) -> Result<Output, ProcessError> {
        let mut cmd = self.to_command();
        cmd.stdin(if self.stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // Its own process group, so that a timeout kills whatever it started too.
        .process_group(0);
        let mut child = cmd
            .spawn()
            .map_err(|e| self.error(format!("could not be started: {e}"), None))?;
        let feeder = self.stdin.clone().map(|bytes| {
            let mut pipe = child.stdin.take().expect("piped stdin");
            // A program that exits without reading everything closes the pipe: not an error.
            thread::spawn(move || drop(pipe.write_all(&bytes)))
        });
        let stdout = drain(child.stdout.take().expect("piped stdout"));
        let stderr = drain(child.stderr.take().expect("piped stderr"));
        let status = wait_timeout(&mut child, self.timeout);
        if status.is_none() {
            kill_group(&mut child);
        }
        let status_or_killed = status.unwrap_or_else(|| child.wait().expect("wait after kill"));
        // Normally the pipes close with the program; give a lingering grandchild 2 s.
        let deadline = Instant::now() + Duration::from_secs(2);
        let output = Output {
            status: status_or_killed,
            stdout: stdout.finish(deadline),
            stderr: stderr.finish(deadline),
        };
        if let Some(f) = feeder
            && f.is_finished()
        {
            let _ = f.join();
        }
        match status {
            Some(_) => Ok(output),
            None => Err(self.error(
                format!("did not finish within {:?} and was killed", self.timeout),
                Some(output),
            )),
        }
    }

    /// Runs to completion; `Err` unless it exited with status 0.
    pub fn output(&self) -> Result<Output, ProcessError> {
        let output = self.output_unchecked()?;
        if output.status.success() {
            Ok(output)
        } else {
            Err(self.error(
                format!("didn't exit successfully ({})", describe(output.status)),
                Some(output),
            ))
        }
    }

    /// Runs to completion and panics with the whole report unless it exited with status 0.
    #[track_caller]
    pub fn run(&self) -> Output {
        self.output().unwrap_or_else(|e| panic!("{e}"))
    }

    /// Runs to completion and panics with the whole report if it exited with status 0.
    #[track_caller]
    pub fn run_expect_failure(&self) -> Output {
        let output = self.output_unchecked().unwrap_or_else(|e| panic!("{e}"));
        if output.status.success() {
            panic!(
                "{}",
                self.error("succeeded but was expected to fail".into(), Some(output))
            );
        }
        output
    }

    fn error(&self, what: String, output: Option<Output>) -> ProcessError {
        ProcessError {
            command: self.to_string(),
            what,
            output,
        }
    }
}

/// `VAR=value program 'arg with space' …`, environment changes first, shell-quoted.
impl fmt::Display for Cmd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(dir) = &self.cwd {
            write!(f, "cd {} && ", quote(dir.as_os_str()))?;
        }
        if self.env_clear {
            f.write_str("env -i ")?;
        }
        for (k, v) in &self.env {
            match v {
                Some(v) => write!(f, "{}={} ", k.to_string_lossy(), quote(v))?,
                None => write!(f, "-u {} ", k.to_string_lossy())?,
            }
        }
        f.write_str(&quote(&self.program))?;
        for a in &self.args {
            write!(f, " {}", quote(a))?;
        }
        Ok(())
    }
}

fn quote(s: &OsStr) -> String {
    let s = s.to_string_lossy();
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:,@+%".contains(c))
    {
        s.into_owned()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

/// "exit status: 1" or "signal: 9 (SIGKILL)".
pub fn describe(status: ExitStatus) -> String {
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exit status: {code}"),
        (None, Some(sig)) => {
            let name = nix::sys::signal::Signal::try_from(sig)
                .map(|s| s.as_str())
                .unwrap_or("?");
            format!("signal: {sig} ({name})")
        }
        _ => format!("{status}"),
    }
}

/// A program's stdout or stderr as text.
pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A program that failed, with everything needed to understand why without rerunning it.
pub struct ProcessError {
    pub command: String,
    pub what: String,
    pub output: Option<Output>,
}

impl fmt::Display for ProcessError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "process {}: `{}`", self.what, self.command)?;
        if let Some(out) = &self.output {
            for (name, bytes) in [("stdout", &out.stdout), ("stderr", &out.stderr)] {
                if !bytes.is_empty() {
                    write!(
                        f,
                        "\n--- {name}\n{}",
                        String::from_utf8_lossy(bytes).trim_end()
                    )?;
                }
            }
        }
        Ok(())
    }
}

impl fmt::Debug for ProcessError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl std::error::Error for ProcessError {}

/// Reads a pipe to EOF in a thread. The bytes are shared so that a pipe held open by a
/// grandchild that outlives the program (an auto-started agent, say) cannot hang the test.
struct Drain {
    bytes: std::sync::Arc<std::sync::Mutex<Vec<u8>>>,
    done: std::sync::mpsc::Receiver<()>,
}

fn drain(mut pipe: impl Read + Send + 'static) -> Drain {
    let bytes = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let (tx, done) = std::sync::mpsc::channel();
    let shared = bytes.clone();
    thread::spawn(move || {
        let mut chunk = [0u8; 16384];
        loop {
            match pipe.read(&mut chunk) {
                Ok(0) | Err(_) => break,
                Ok(n) => shared.lock().unwrap().extend_from_slice(&chunk[..n]),
            }
        }
        let _ = tx.send(());
    });
    Drain { bytes, done }
}

impl Drain {
    /// Everything read once the pipe closed, or by `deadline`.
    fn finish(self, deadline: Instant) -> Vec<u8> {
        let _ = self
            .done
            .recv_timeout(deadline.saturating_duration_since(Instant::now()));
        std::mem::take(&mut *self.bytes.lock().unwrap())
    }
}

/// Polls for the child's exit until `timeout`; `None` if it is still running.
pub fn wait_timeout(child: &mut Child, timeout: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + timeout;
    let mut pause = Duration::from_millis(1);
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Some(status),
            Ok(None) if Instant::now() >= deadline => return None,
            Ok(None) => {
                thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_millis(50));
            }
            Err(e) => panic!("waiting for pid {}: {e}", child.id()),
        }
    }
}

/// SIGKILL to the child's process group (it was started as a group leader), then the child.
fn kill_group(child: &mut Child) {
    let pid = nix::unistd::Pid::from_raw(child.id() as i32);
    let _ = nix::sys::signal::killpg(pid, nix::sys::signal::Signal::SIGKILL);
    let _ = child.kill();
}

/// A background process that is killed (with its whole process group) and reaped on drop,
/// so a failing test never leaves daemons behind.
pub struct ChildGuard {
    child: Option<Child>,
    description: String,
}

impl ChildGuard {
    /// Starts `cmd` as the leader of a new process group (stdin `/dev/null`; stdout/stderr
    /// as configured on `cmd`, inherited by default).
    pub fn spawn(mut cmd: Command, description: impl Into<String>) -> ChildGuard {
        let description = description.into();
        cmd.stdin(Stdio::null()).process_group(0);
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("could not start {description}: {e} (command: {cmd:?})"));
        ChildGuard {
            child: Some(child),
            description,
        }
    }

    pub fn id(&self) -> u32 {
        self.child.as_ref().expect("running").id()
    }

    /// `Some(status)` if the process has already exited.
    pub fn try_wait(&mut self) -> Option<ExitStatus> {
        let child = self.child.as_mut().expect("running");
        child
            .try_wait()
            .unwrap_or_else(|e| panic!("waiting for {}: {e}", self.description))
    }

    /// Its stdout, for reading as it runs (spawned with `Stdio::piped()`).
    pub fn take_stdout(&mut self) -> std::process::ChildStdout {
        let child = self.child.as_mut().expect("running");
        child.stdout.take().expect("stdout was piped")
    }

    /// Sends `signal` to the process alone (not its group).
    pub fn signal(&self, signal: nix::sys::signal::Signal) {
        let pid = nix::unistd::Pid::from_raw(self.id() as i32);
        nix::sys::signal::kill(pid, signal)
            .unwrap_or_else(|e| panic!("signalling {}: {e}", self.description));
    }

    /// Waits up to `timeout` for the process to exit on its own.
    pub fn wait_timeout(&mut self, timeout: Duration) -> Option<ExitStatus> {
        wait_timeout(self.child.as_mut().expect("running"), timeout)
    }

    /// Kills the process group now and returns how the leader ended.
    pub fn kill(&mut self) -> ExitStatus {
        let mut child = self.child.take().expect("running");
        kill_group(&mut child);
        child
            .wait()
            .unwrap_or_else(|e| panic!("reaping {}: {e}", self.description))
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            kill_group(&mut child);
            let _ = child.wait();
        }
    }
}
