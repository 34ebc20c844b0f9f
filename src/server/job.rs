//! One compile in its own directory: write the source, run gcc's passes (`gcc_passes`) or
//! the compiler driver, each program as `child` runs it, and collect the answer. The
//! directory is removed when the job is dropped.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use tempfile::TempDir;

use super::arg_rules::{self, PreparedArgs};
use super::assembly_check;
use super::child::{Captured, Clock, Ended, confinement};
use super::compilers::Resolved;
use super::confinement::ConfinementMode;
use super::gcc_passes::{Pass, Passes};
use super::job_root::JobRoot;
use super::pump_args::PumpRewrite;
use super::refusal::Refusal;
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
            .prefix(&super::leftovers::prefix())
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

impl Drop for JobDir {
    /// Removes the directory on a blocking thread when there is a runtime: a pump-mode
    /// root of 100,000 files takes seconds to remove, which would stall every connection
    /// served by this worker thread.
    fn drop(&mut self) {
        let Some(dir) = self.dir.take() else {
            return;
        };
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                runtime.spawn_blocking(move || drop(dir));
            }
            Err(_) => drop(dir),
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
        Err(e) if super::disk_full::is_disk_full(&e) => Outcome::Failed(Response::failure(
            ExitCode::IoError.as_wait_status(),
            super::disk_full::message(dir.path()).into_bytes(),
        )),
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
    if prepared.pump.is_none() {
        tokio::fs::write(&prepared.input, source).await?;
    }
    let mut client_gone = std::pin::pin!(client_gone);
    let mut clock = Clock {
        client_gone: client_gone.as_mut(),
        lifetime: settings.job_lifetime,
        deadline: settings
            .job_lifetime
            .map(|l| tokio::time::Instant::now() + l),
    };
    // gcc's passes are planned for preprocessed input; a pump-mode job runs the driver.
    if let Some(plans) = &settings.pass_plans
        && prepared.pump.is_none()
        && assembly_check::is_gcc_driver(compiler)
        && let Some(passes) = plans
            .for_job(
                compiler,
                &prepared.args,
                &prepared.output,
                dir,
                settings.child_path.as_deref(),
                || confinement(dir, compiler, settings),
            )
            .await
        && let Some(outcome) =
            run_passes(compiler, &passes, prepared, dir, settings, &mut clock).await?
    {
        tracing::debug!("{}: gcc's passes run directly", prepared.source_name);
        return Ok(outcome);
    }
    tracing::debug!("{}: through the compiler driver", prepared.source_name);
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
    // A limit reached is answered as it is: the driver would only run into it again.
    if hit_a_limit(status) {
        let answer = captured.answer(&passes.compile.program, status, prepared, settings);
        return answer.await.map(Some);
    }
    let status = match (&passes.assemble, status.code()) {
        (None, Some(0)) | (_, Some(1)) => status,
        (Some((assemble, assembly)), Some(0)) => {
            if let Err(refusal) = assembly_check::check_assembly(&tokio::fs::read(assembly).await?)
            {
                return Ok(Some(refused(refusal)));
            }
            match clock.wait(run(assemble)?).await {
                Ok(Ended::Exited(status)) if matches!(status.code(), Some(0 | 1)) => status,
                Ok(Ended::Exited(status)) if hit_a_limit(status) => {
                    let answer = captured.answer(&assemble.program, status, prepared, settings);
                    return answer.await.map(Some);
                }
                Ok(Ended::Exited(_)) | Err(_) => return Ok(None),
                Ok(early) => return Ok(Some(early.outcome(clock.lifetime))),
            }
        }
        _ => return Ok(None),
    };
    captured
        .answer(&passes.compile.program, status, prepared, settings)
        .await
        .map(Some)
}

/// Whether a program was stopped by one of the job's resource limits (see `job_limits`).
fn hit_a_limit(status: std::process::ExitStatus) -> bool {
    use std::os::unix::process::ExitStatusExt;
    let limit_signals = [nix::libc::SIGXCPU, nix::libc::SIGXFSZ];
    status.signal().is_some_and(|s| limit_signals.contains(&s))
}

/// Runs the compiler driver, its assembler guarded by `-wrapper`, or, unconfined, its
/// assembly checked first with `-S`.
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
        // A confined compiler cannot read what it was not given, whatever its assembly
        // says: the text check (a whole second compile for clang) is for unconfined servers.
        None if settings.confinement != ConfinementMode::Unconfined => {}
        None => {
            if let Err(refusal) = check_generated_assembly(compiler, prepared, dir, settings).await
            {
                return Ok(refused(refusal));
            }
        }
    }
    let captured = Captured::create(dir, compiler, settings)?;
    let mut command = captured.command(compiler, prepared.workdir(dir), settings)?;
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
    captured.answer(compiler, status, prepared, settings).await
}

/// distccd's answer when `execvp` of the compiler fails: exit 110 and why, on stderr.
pub fn compiler_missing(name: &str, why: &str) -> Response {
    Response::failure(
        ExitCode::CompilerMissing.as_wait_status(),
        format!("distfarm server: cannot run compiler {name:?}: {why}\n").into_bytes(),
    )
}

fn refused(refusal: Refusal) -> Outcome {
    Outcome::Failed(Response::failure(
        ExitCode::AccessDenied.as_wait_status(),
        format!("{refusal}\n").into_bytes(),
    ))
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
    let mut args: Vec<String> = prepared
        .args
        .iter()
        .map(|a| match a.as_str() {
            "-c" => "-S".to_string(),
            a if a == output => check.to_string_lossy().into_owned(),
            a => a.to_string(),
        })
        .collect();
    if assembly_check::is_clang(compiler) {
        // clang's integrated assembler would carry out `.incbin` while writing the
        // assembly (the file's bytes then stand there as `.ascii`): inline assembly must
        // come out as written to be checked.
        args.push("-fno-integrated-as".to_string());
    }
    let mut command = tokio::process::Command::new(compiler);
    command
        .args(&args)
        .current_dir(prepared.workdir(dir))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .env("TMPDIR", dir)
        .kill_on_drop(true);
    if let Some(path) = &settings.child_path {
        command.env("PATH", path);
    }
    // SAFETY: the hook only calls setrlimit: no allocation, no lock (see job_limits.rs).
    unsafe {
        command.pre_exec(settings.job_limits.in_child());
    }
    let confinement = confinement(dir, compiler, settings);
    if let Some(confinement) = &confinement
        && confinement.apply(command.as_std_mut()).is_err()
    {
        return Ok(()); // as when the check cannot start: the job's own run says why
    }
    if command.status().await.is_ok_and(|s| s.success()) {
        let text = tokio::fs::read(&check).await.unwrap_or_default();
        let _ = tokio::fs::remove_file(&check).await;
        assembly_check::check_assembly(&text)?;
    }
    Ok(())
}

/// Checks a request against the compiler policy, the argument rules and the source scan,
/// and places its input and output in `job_dir`. The compiler may turn out to be missing:
/// that is answered as a failed job, after the arguments have been checked (as distccd).
pub fn admit(
    argv: &[String],
    source: &[u8],
    job_dir: &Path,
    settings: &ServerSettings,
) -> Result<(Resolved, PreparedArgs), Refusal> {
    let compiler = settings
        .compilers
        .resolve(argv.first().map(String::as_str).unwrap_or(""))?;
    let prepared = arg_rules::prepare(argv, job_dir)?;
    arg_rules::check_source(source)?;
    Ok((compiler, prepared))
}

/// `admit` for a pump-mode request, whose files are already in `root`: the compiler runs in
/// `workdir`, the client's directory mirrored there.
pub fn admit_pump(
    argv: &[String],
    root: &JobRoot,
    workdir: PathBuf,
    job_dir: &Path,
    settings: &ServerSettings,
) -> Result<(Resolved, PreparedArgs), Refusal> {
    let compiler = settings
        .compilers
        .resolve(argv.first().map(String::as_str).unwrap_or(""))?;
    let rewrite = PumpRewrite::new(root.path(), workdir, job_dir.join("deps.d"));
    let prepared = arg_rules::prepare_pump(argv, job_dir, rewrite)?;
    Ok((compiler, prepared))
}
