//! One compile in its own directory: write the source, run the compiler with its stdout and
//! stderr captured, and collect the answer. The directory is removed when the job is dropped.

use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use tempfile::TempDir;

use super::arg_rules::{self, PreparedArgs};
use super::assembly_check;
use super::gcc_passes::{Pass, Passes};
use super::refusal::Refusal;
use super::sandbox::Confinement;
use super::settings::ServerSettings;
use crate::exit_code::ExitCode;
use crate::protocol::Response;

/// How a job ended, for the answer and the summary log line.
#[derive(Debug)]
pub enum Outcome {
    /// The compiler ran; its status may be a failure (that is a result, not an error).
    Compiled(Response),
    /// The compiler ran past `--job-lifetime` and was killed.
    TimedOut(Response),
    /// The client went away while the compiler ran; the compiler was killed.
    ClientGone,
    /// The compiler could not be started, or its output could not be read.
    Failed(Response),
}

pub struct JobDir {
    dir: Option<TempDir>,
}

impl JobDir {
    pub fn create(settings: &ServerSettings) -> std::io::Result<JobDir> {
        let dir = tempfile::Builder::new()
            .prefix("distfarm_")
            .tempdir_in(&settings.tmpdir)?;
        Ok(JobDir { dir: Some(dir) })
    }

    pub fn path(&self) -> &Path {
        self.dir.as_ref().expect("present until drop").path()
    }

    /// `DISTCC_SAVE_TEMPS=1`: leave the directory behind and say where it is.
    pub fn keep(mut self) {
        if let Some(dir) = self.dir.take() {
            let path = dir.keep();
            tracing::info!("DISTCC_SAVE_TEMPS: kept job directory {}", path.display());
        }
    }
}

/// Runs `compiler` on the prepared arguments. `client_gone` resolves if the client hangs up,
/// which kills the compiler: nobody is waiting for its answer.
pub async fn run(
    compiler: &Path,
    prepared: &PreparedArgs,
    source: &[u8],
    dir: &JobDir,
    settings: &ServerSettings,
    client_gone: impl std::future::Future<Output = ()>,
) -> Outcome {
    match start_and_wait(
        compiler,
        prepared,
        source,
        dir.path(),
        settings,
        client_gone,
    )
    .await
    {
        Ok(outcome) => outcome,
        Err(e) => Outcome::Failed(Response::failure(
            ExitCode::CompilerMissing.as_wait_status(),
            format!("distfarm server: cannot run {}: {e}\n", compiler.display()).into_bytes(),
        )),
    }
}

async fn start_and_wait(
    compiler: &Path,
    prepared: &PreparedArgs,
    source: &[u8],
    dir: &Path,
    settings: &ServerSettings,
    client_gone: impl std::future::Future<Output = ()>,
) -> std::io::Result<Outcome> {
    tokio::fs::write(&prepared.input, source).await?;
    let mut client_gone = std::pin::pin!(client_gone);
    let mut clock = Clock {
        client_gone: client_gone.as_mut(),
        lifetime: settings.job_lifetime,
        deadline: settings
            .job_lifetime
            .map(|l| tokio::time::Instant::now() + l),
    };
    if let Some(plans) = &settings.pass_plans
        && assembly_check::is_gcc_driver(compiler)
        && let Some(passes) = plans
            .for_job(
                compiler,
                &prepared.args,
                &prepared.output,
                dir,
                settings.child_path.as_deref(),
            )
            .await
        && let Some(outcome) =
            run_passes(compiler, &passes, prepared, dir, settings, &mut clock).await?
    {
        return Ok(outcome);
    }
    run_driver(compiler, prepared, dir, settings, &mut clock).await
}

/// Runs gcc's passes as its driver would (see `gcc_passes`), checking the assembly between
/// them. `None` when a pass could not start or ended in a way only the driver reports well
/// (a crash, say): the job is then run again through the driver.
async fn run_passes<F: Future<Output = ()>>(
    compiler: &Path,
    passes: &Passes,
    prepared: &PreparedArgs,
    dir: &Path,
    settings: &ServerSettings,
    clock: &mut Clock<'_, F>,
) -> std::io::Result<Option<Outcome>> {
    let captured = Captured::create(dir, compiler, settings)?;
    let run = |pass: &Pass| {
        let mut command = captured.command(&pass.program, dir, settings)?;
        command.args(&pass.args).envs(pass.env.iter().cloned());
        Ok::<_, std::io::Error>(command)
    };
    let Ok(compiled) = clock.wait(run(&passes.compile)?).await else {
        return Ok(None);
    };
    let status = match compiled {
        Ended::Exited(status) => status,
        early => return Ok(Some(early.outcome(clock.lifetime))),
    };
    let status = match (&passes.assemble, status.code()) {
        (None, Some(0)) | (_, Some(1)) => status,
        (Some((assemble, assembly)), Some(0)) => {
            if let Err(refusal) = assembly_check::check_assembly(&tokio::fs::read(assembly).await?)
            {
                return Ok(Some(refused(refusal)));
            }
            match clock.wait(run(assemble)?).await {
                Ok(Ended::Exited(status)) if matches!(status.code(), Some(0 | 1)) => status,
                Ok(Ended::Exited(_)) | Err(_) => return Ok(None),
                Ok(early) => return Ok(Some(early.outcome(clock.lifetime))),
            }
        }
        _ => return Ok(None),
    };
    captured.answer(status, prepared).await.map(Some)
}

/// Runs the compiler driver, its assembler guarded by `-wrapper` or its assembly checked
/// first with `-S`.
async fn run_driver<F: Future<Output = ()>>(
    compiler: &Path,
    prepared: &PreparedArgs,
    dir: &Path,
    settings: &ServerSettings,
    clock: &mut Clock<'_, F>,
) -> std::io::Result<Outcome> {
    let mut args = prepared.args.clone();
    match settings
        .assembler_guard
        .as_ref()
        .and_then(|guard| guard.args(compiler))
    {
        Some(guard_args) => {
            args.splice(0..0, guard_args);
        }
        None => {
            if let Err(refusal) = check_generated_assembly(compiler, prepared, dir, settings).await
            {
                return Ok(refused(refusal));
            }
        }
    }
    let captured = Captured::create(dir, compiler, settings)?;
    let mut command = captured.command(compiler, dir, settings)?;
    command.args(&args);
    let status = match clock.wait(command).await? {
        Ended::Exited(status) => status,
        early => return Ok(early.outcome(clock.lifetime)),
    };
    if let Ok(refusal) = tokio::fs::read(dir.join(assembly_check::REFUSAL_FILE)).await {
        return Ok(Outcome::Failed(Response::failure(
            ExitCode::AccessDenied.as_wait_status(),
            refusal,
        )));
    }
    captured.answer(status, prepared).await
}

/// The confinement of a job's programs: the compiler, and distfarm itself when it guards
/// the assembler (`-wrapper`).
fn confinement(dir: &Path, compiler: &Path, settings: &ServerSettings) -> Option<Confinement> {
    let guard = settings.assembler_guard.as_ref().map(|g| g.exe.as_path());
    settings
        .confine
        .then(|| Confinement::for_job(dir, compiler, &guard.into_iter().collect::<Vec<_>>()))
        .flatten()
}

fn refused(refusal: Refusal) -> Outcome {
    Outcome::Failed(Response::failure(
        ExitCode::AccessDenied.as_wait_status(),
        format!("{refusal}\n").into_bytes(),
    ))
}

/// The compiler's stdout and stderr, in files of the job directory shared by its passes,
/// and the confinement every program of the job runs in.
struct Captured {
    stdout: std::fs::File,
    stderr: std::fs::File,
    dir: std::path::PathBuf,
    confinement: Option<Confinement>,
}

impl Captured {
    fn create(dir: &Path, compiler: &Path, settings: &ServerSettings) -> std::io::Result<Captured> {
        Ok(Captured {
            stdout: std::fs::File::create(dir.join("stdout"))?,
            stderr: std::fs::File::create(dir.join("stderr"))?,
            dir: dir.to_path_buf(),
            confinement: confinement(dir, compiler, settings),
        })
    }

    /// A command for `program` writing to these files, in its own process group so that
    /// the programs it starts die with it when it is killed.
    fn command(
        &self,
        program: &Path,
        dir: &Path,
        settings: &ServerSettings,
    ) -> std::io::Result<tokio::process::Command> {
        let mut command = tokio::process::Command::new(program);
        command
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(self.stdout.try_clone()?)
            .stderr(self.stderr.try_clone()?)
            .process_group(0)
            .kill_on_drop(true);
        if let Some(path) = &settings.child_path {
            command.env("PATH", path);
        }
        // The driver's temporary files (its `.s`) go where they are removed with the job,
        // also when the compiler is killed and cannot remove them itself.
        command.env("TMPDIR", dir);
        if let Some(confinement) = &self.confinement {
            // SAFETY: the hook makes only async-signal-safe system calls.
            unsafe {
                command.pre_exec(confinement.enter_in_child());
            }
        }
        Ok(command)
    }

    /// The answer for a compiler that exited with `status`.
    async fn answer(
        &self,
        status: std::process::ExitStatus,
        prepared: &PreparedArgs,
    ) -> std::io::Result<Outcome> {
        let mut response = Response {
            status: status.into_raw() as u32,
            stderr: tokio::fs::read(self.dir.join("stderr")).await?,
            stdout: tokio::fs::read(self.dir.join("stdout")).await?,
            object: Vec::new(),
        };
        if status.success() {
            match tokio::fs::read(&prepared.output).await {
                Ok(object) => response.object = object,
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
struct Clock<'a, F> {
    client_gone: std::pin::Pin<&'a mut F>,
    lifetime: Option<Duration>,
    deadline: Option<tokio::time::Instant>,
}

/// How one program of a job ended.
enum Ended {
    Exited(std::process::ExitStatus),
    ClientGone,
    TimedOut,
}

impl Ended {
    fn outcome(self, lifetime: Option<Duration>) -> Outcome {
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
    async fn wait(&mut self, mut command: tokio::process::Command) -> std::io::Result<Ended> {
        let mut child = command.spawn()?;
        let pid = child.id().map(|id| Pid::from_raw(id as i32));
        let kill_group = || {
            if let Some(pid) = pid {
                let _ = killpg(pid, Signal::SIGKILL);
            }
        };
        let deadline = self.deadline;
        let expired = async {
            match deadline {
                Some(at) => tokio::time::sleep_until(at).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            status = child.wait() => Ok(Ended::Exited(status?)),
            _ = self.client_gone.as_mut() => {
                kill_group();
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

/// For compilers that cannot take the `-wrapper` guard: generate the assembly first and
/// scan it. A compile error here is left for the real compile to report.
async fn check_generated_assembly(
    compiler: &Path,
    prepared: &PreparedArgs,
    dir: &Path,
    settings: &ServerSettings,
) -> Result<(), Refusal> {
    if prepared.output.extension().is_some_and(|e| e == "s") {
        return Ok(()); // `-S`: no assembler runs at all
    }
    let check = dir.join("check.s");
    let output = prepared.output.to_string_lossy();
    let args: Vec<String> = prepared
        .args
        .iter()
        .map(|a| match a.as_str() {
            "-c" => "-S".to_string(),
            a if a == output => check.to_string_lossy().into_owned(),
            a => a.to_string(),
        })
        .collect();
    let mut command = tokio::process::Command::new(compiler);
    command
        .args(&args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .env("TMPDIR", dir)
        .kill_on_drop(true);
    if let Some(path) = &settings.child_path {
        command.env("PATH", path);
    }
    let confinement = confinement(dir, compiler, settings);
    if let Some(confinement) = &confinement {
        // SAFETY: the hook makes only async-signal-safe system calls.
        unsafe {
            command.pre_exec(confinement.enter_in_child());
        }
    }
    if command.status().await.is_ok_and(|s| s.success()) {
        let text = tokio::fs::read(&check).await.unwrap_or_default();
        let _ = tokio::fs::remove_file(&check).await;
        assembly_check::check_assembly(&text)?;
    }
    Ok(())
}

/// Checks a request against the compiler policy, the argument rules and the source scan,
/// and places its input and output in `job_dir`.
pub fn admit(
    argv: &[String],
    source: &[u8],
    job_dir: &Path,
    settings: &ServerSettings,
) -> Result<(std::path::PathBuf, PreparedArgs), Refusal> {
    let compiler = settings
        .compilers
        .resolve(argv.first().map(String::as_str).unwrap_or(""))?;
    let prepared = arg_rules::prepare(argv, job_dir)?;
    arg_rules::check_source(source)?;
    Ok((compiler, prepared))
}
