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
    let mut args = prepared.args.clone();
    let guard = match &settings.assembler_guard {
        Some(guard) => guard.apply(compiler, settings.child_path.as_deref()).await,
        None => None,
    };
    let mut guard_env = Vec::new();
    match guard {
        Some((guard_args, env)) => {
            args.splice(0..0, guard_args);
            guard_env = env;
        }
        None => {
            if let Err(refusal) = check_generated_assembly(compiler, prepared, dir, settings).await
            {
                return Ok(Outcome::Failed(Response::failure(
                    ExitCode::AccessDenied.as_wait_status(),
                    format!("{refusal}\n").into_bytes(),
                )));
            }
        }
    }
    let stdout_path = dir.join("stdout");
    let stderr_path = dir.join("stderr");
    let mut command = tokio::process::Command::new(compiler);
    command
        .args(&args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&stdout_path)?)
        .stderr(std::fs::File::create(&stderr_path)?)
        // Its own process group, so that cc1 and as die with the driver when we kill it.
        .process_group(0)
        .kill_on_drop(true);
    if let Some(path) = &settings.child_path {
        command.env("PATH", path);
    }
    command.envs(guard_env);
    let mut child = command.spawn()?;
    let pid = child.id().map(|id| Pid::from_raw(id as i32));
    let kill_group = || {
        if let Some(pid) = pid {
            let _ = killpg(pid, Signal::SIGKILL);
        }
    };
    let lifetime = settings.job_lifetime.unwrap_or(Duration::MAX);
    let status = tokio::select! {
        status = child.wait() => status?,
        _ = client_gone => {
            kill_group();
            return Ok(Outcome::ClientGone);
        }
        _ = tokio::time::sleep(lifetime) => {
            kill_group();
            let _ = child.wait().await;
            let message = format!(
                "distfarm server: compiler killed after the job lifetime of {} s\n",
                lifetime.as_secs()
            );
            return Ok(Outcome::TimedOut(Response::failure(
                ExitCode::Timeout.as_wait_status(),
                message.into_bytes(),
            )));
        }
    };
    if let Ok(refusal) = tokio::fs::read(dir.join(assembly_check::REFUSAL_FILE)).await {
        return Ok(Outcome::Failed(Response::failure(
            ExitCode::AccessDenied.as_wait_status(),
            refusal,
        )));
    }
    let mut response = Response {
        status: status.into_raw() as u32,
        stderr: tokio::fs::read(&stderr_path).await?,
        stdout: tokio::fs::read(&stdout_path).await?,
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
        .kill_on_drop(true);
    if let Some(path) = &settings.child_path {
        command.env("PATH", path);
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
