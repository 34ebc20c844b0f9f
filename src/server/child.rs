//! How each program of a job runs: its stdout and stderr captured in the job directory,
//! confined (see `confinement`), in its own process group, and killed with that group when the
//! client hangs up or the job's lifetime runs out.

use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;

use super::arg_rules::PreparedArgs;
use super::confinement::JobConfinement;
use super::job::Outcome;
use super::settings::ServerSettings;
use crate::exit_code::ExitCode;
use crate::protocol::Response;

/// The confinement of a job's programs: the compiler, and distfarm itself when it guards
/// the assembler (`-wrapper`).
pub(super) fn confinement(
    dir: &Path,
    compiler: &Path,
    settings: &ServerSettings,
) -> Option<JobConfinement> {
    let guard = settings.assembler_guard.as_ref().map(|g| g.exe.as_path());
    let programs: Vec<&Path> = guard.into_iter().collect();
    JobConfinement::for_job(
        settings.confinement,
        dir,
        compiler,
        &programs,
        &settings.ccache,
    )
}

/// A command for `program` run in `cwd` as every program of a job in `job_dir` runs: the
/// job's `PATH`, temporary files in the job directory, `confinement` entered, stdin empty,
/// killed when dropped.
pub(super) fn job_command(
    program: &Path,
    cwd: &Path,
    job_dir: &Path,
    confinement: Option<&JobConfinement>,
    settings: &ServerSettings,
) -> std::io::Result<tokio::process::Command> {
    let mut command = tokio::process::Command::new(program);
    command
        .current_dir(cwd)
        .stdin(Stdio::null())
        .kill_on_drop(true);
    if let Some(path) = &settings.child_path {
        command.env("PATH", path);
    }
    // The driver's temporary files (its `.s`) go where they are removed with the job,
    // also when the compiler is killed and cannot remove them itself.
    command.env("TMPDIR", job_dir);
    // SAFETY: the hook only calls setrlimit: no allocation, no lock (see job_limits.rs).
    unsafe {
        command.pre_exec(settings.job_limits.in_child());
    }
    if let Some(confinement) = confinement {
        confinement.apply(command.as_std_mut())?;
    }
    Ok(command)
}

/// The compiler's stdout and stderr, in files of the job directory shared by its passes,
/// and the confinement every program of the job runs in.
pub(super) struct Captured {
    stdout: std::fs::File,
    stderr: std::fs::File,
    dir: std::path::PathBuf,
    confinement: Option<JobConfinement>,
}

impl Captured {
    pub(super) fn create(
        dir: &Path,
        compiler: &Path,
        settings: &ServerSettings,
    ) -> std::io::Result<Captured> {
        Ok(Captured {
            stdout: std::fs::File::create(dir.join("stdout"))?,
            stderr: std::fs::File::create(dir.join("stderr"))?,
            dir: dir.to_path_buf(),
            confinement: confinement(dir, compiler, settings),
        })
    }

    /// A command for `program` writing to these files, in its own process group so that
    /// the programs it starts die with it when it is killed.
    pub(super) fn command(
        &self,
        program: &Path,
        dir: &Path,
        settings: &ServerSettings,
    ) -> std::io::Result<tokio::process::Command> {
        let mut command = job_command(program, dir, dir, self.confinement.as_ref(), settings)?;
        command
            .stdout(self.stdout.try_clone()?)
            .stderr(self.stderr.try_clone()?)
            .process_group(0);
        Ok(command)
    }

    /// The answer for a compiler that exited with `status`.
    /// A compiler killed by a signal, or one that ran out of memory, is told so in its
    /// stderr, with the server's limit it ran into.
    pub(super) async fn answer(
        &self,
        program: &Path,
        status: std::process::ExitStatus,
        prepared: &PreparedArgs,
        settings: &ServerSettings,
    ) -> std::io::Result<Outcome> {
        let mut response = Response {
            status: status.into_raw() as u32,
            stderr: tokio::fs::read(self.dir.join("stderr")).await?,
            stdout: tokio::fs::read(self.dir.join("stdout")).await?,
            object: Vec::new(),
            deps: None,
        };
        let limits = &settings.job_limits;
        let program = program.file_name().unwrap_or(program.as_os_str());
        if let Some(signal) = status.signal() {
            let said = limits.explain(&program.to_string_lossy(), signal);
            response.stderr.extend_from_slice(said.as_bytes());
        } else if !status.success()
            && let Some(said) = limits.explain_memory(&response.stderr)
        {
            response.stderr.extend_from_slice(said.as_bytes());
        }
        if !status.success()
            && let Some(said) = super::disk_full::explain(&self.dir, &response.stderr)
        {
            response.status = crate::exit_code::ExitCode::IoError.as_wait_status();
            response.stderr.extend_from_slice(said.as_bytes());
            return Ok(Outcome::Failed(response));
        }
        if status.success() {
            if let Some(pump) = &prepared.pump {
                // A missing .d costs the client only its dependency file, as with distccd.
                response.deps = tokio::fs::read(&pump.deps).await.ok().map(|deps| {
                    super::pump_args::client_deps(
                        &deps,
                        &prepared.output,
                        pump.target(),
                        &pump.root,
                    )
                });
            }
            match tokio::fs::read(&prepared.output).await {
                Ok(object) => response.object = object,
                // distccd creates its temporary `.o` before the compiler runs, so a program
                // that succeeds without writing one (`true`) answers an empty object.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => {
                    response.status = ExitCode::IoError.as_wait_status();
                    response.stderr.extend_from_slice(
                        format!("distfarm server: the compiler succeeded but its output is unreadable: {e}\n")
                            .as_bytes(),
                    );
                    return Ok(Outcome::Failed(response));
                }
            }
        }
        Ok(Outcome::Compiled(response))
    }
}

/// What a job's programs wait on besides themselves: the client hanging up and the job's
/// lifetime, both shared by all of its passes.
pub(super) struct Clock<'a, F> {
    pub(super) client_gone: std::pin::Pin<&'a mut F>,
    pub(super) lifetime: Option<Duration>,
    pub(super) deadline: Option<tokio::time::Instant>,
}

/// How one program of a job ended.
pub(super) enum Ended {
    Exited(std::process::ExitStatus),
    ClientGone,
    TimedOut,
}

impl Ended {
    pub(super) fn outcome(self, lifetime: Option<Duration>) -> Outcome {
        match self {
            Ended::Exited(_) => unreachable!("an exit is answered from its status"),
            Ended::ClientGone => Outcome::ClientGone,
            Ended::TimedOut => {
                let message = format!(
                    "distfarm server: compiler killed after the job lifetime of {} s\n",
                    lifetime.unwrap_or_default().as_secs()
                );
                Outcome::TimedOut(Response::failure(
                    ExitCode::Timeout.as_wait_status(),
                    message.into_bytes(),
                ))
            }
        }
    }
}

impl<F: Future<Output = ()>> Clock<'_, F> {
    /// Runs `command` to its end, or kills its process group when the client goes or the
    /// lifetime runs out.
    pub(super) async fn wait(
        &mut self,
        mut command: tokio::process::Command,
    ) -> std::io::Result<Ended> {
        let mut child = command.spawn()?;
        let pid = child.id().map(|id| Pid::from_raw(id as i32));
        let kill_group = || {
            if let Some(pid) = pid {
                let _ = killpg(pid, Signal::SIGKILL);
            }
        };
        // If this wait is dropped (the server stops before the job ends), the programs the
        // compiler started go with it, not only the compiler (`kill_on_drop`).
        let mut group = GroupGuard(pid);
        let deadline = self.deadline;
        let expired = async {
            match deadline {
                Some(at) => tokio::time::sleep_until(at).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            status = child.wait() => {
                group.0 = None; // reaped: its group id may be reused
                Ok(Ended::Exited(status?))
            }
            _ = self.client_gone.as_mut() => {
                kill_group();
                // Its job slot is given back only once it is gone: a killed compiler still
                // running beside the next job would make one more than --jobs.
                let _ = child.wait().await;
                Ok(Ended::ClientGone)
            }
            _ = expired => {
                kill_group();
                let _ = child.wait().await;
                Ok(Ended::TimedOut)
            }
        }
    }
}

/// Kills a job's process group when dropped, unless disarmed.
struct GroupGuard(Option<Pid>);

impl Drop for GroupGuard {
    fn drop(&mut self) {
        if let Some(pid) = self.0 {
            let _ = killpg(pid, Signal::SIGKILL);
        }
    }
}
