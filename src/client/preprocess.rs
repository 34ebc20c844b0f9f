//! The local preprocessor run that feeds a remote compile: the same command line with `-E`
//! instead of `-c`/`-S` and no `-o`, its output captured. Its messages are held back and
//! shown once: with the remote result, or not at all when a local re-run will print them.
//!
//! For gcc, the preprocessor is usually run without the driver: `cc1 -E` from the plan the
//! driver stated once for this command's shape (`cpp_plan`, `cpp_plans`).

use std::ffi::OsString;
use std::path::Path;
use std::process::Stdio;
use std::sync::Arc;

use super::cpp_plans;
use crate::driver_report::Pass;

/// Why preprocessing produced no source. Not a host failure: the compile is re-run locally,
/// which reports the same errors the user would have seen.
#[derive(Debug, thiserror::Error)]
pub enum PreprocessFailure {
    #[error("cannot run the preprocessor {program}: {error}")]
    Spawn {
        program: String,
        error: std::io::Error,
    },
    /// It ran and failed: the command line and how it ended.
    #[error("the preprocessor `{command}` {}", describe(*.status))]
    Failed {
        command: String,
        status: std::process::ExitStatus,
    },
}

/// How a process ended, in words: its exit status, or the signal that killed it.
fn describe(status: std::process::ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exited with status {code}"),
        (None, Some(signal)) => format!("was killed by signal {signal}"),
        (None, None) => format!("ended with {status}"),
    }
}

/// What the preprocessor produced.
#[derive(Debug, Default)]
pub struct Preprocessed {
    /// The preprocessed source that is sent.
    pub text: Vec<u8>,
    /// Its warnings (`#warning`, …), shown with the remote compile's own messages.
    pub messages: Vec<u8>,
}

/// How this job's preprocessor runs.
pub enum Route {
    /// Through the compiler driver (`gcc -E …`).
    Driver,
    /// `cc1 -E` directly, from the plan for this command's shape (see `cpp_plans`).
    Plan(Pass),
    /// Through the driver, while the driver is asked once for a plan for later jobs.
    Learn(cpp_plans::Learn),
}

/// Starts the preprocessor now and returns a future of its output.
///
/// From a plan, a pass that ends with status 0 or 1 is the answer (1 is a preprocessing
/// error, which the driver would have ended with too); any other end (a signal, an internal
/// compiler error) runs the driver after all, so that the user sees what it says.
pub fn start(
    compiler: &Path,
    args: &[String],
    path: Option<&OsString>,
    safeguard: u32,
    route: Route,
) -> impl std::future::Future<Output = Result<Preprocessed, PreprocessFailure>> + use<> {
    let compiler = compiler.to_path_buf();
    let args = args.to_vec();
    let path = path.cloned();
    let (planned, learn) = match route {
        Route::Driver => (None, None),
        Route::Plan(pass) => (Some(pass), None),
        Route::Learn(learn) => (None, Some(learn)),
    };
    let planned = planned.map(|pass| {
        let child = command(&pass.program, &pass.args, path.as_ref(), safeguard)
            .envs(pass.env.iter().map(|(n, v)| (n, v)))
            .spawn();
        (pass, child)
    });
    let driver = planned
        .is_none()
        .then(|| command(&compiler, &args, path.as_ref(), safeguard).spawn());
    let asked = learn.map(|learn| {
        let env = cpp_plans::AskEnv {
            path: path.clone(),
            safeguard,
        };
        learn.ask(compiler.clone(), args.clone(), env)
    });
    async move {
        let driver = match (planned, driver) {
            (Some((pass, child)), _) => {
                let (ran, finished) = finish(&pass.program, &pass.args, child).await;
                if finished {
                    return ran;
                }
                tracing::debug!(
                    "{}; running the driver for its own messages",
                    ran.err().map(|e| e.to_string()).unwrap_or_default()
                );
                command(&compiler, &args, path.as_ref(), safeguard).spawn()
            }
            (None, Some(child)) => child,
            (None, None) => unreachable!("one of the two is started"),
        };
        let ran = finish(&compiler, &args, driver);
        match asked {
            Some(asked) => tokio::join!(ran, asked).0.0,
            None => ran.await.0,
        }
    }
}

/// The preprocessor command: output and messages captured, no input, and the recursion
/// guard one deeper (a compiler that is a wrapper must not come back to us).
fn command(
    program: &Path,
    args: &[String],
    path: Option<&OsString>,
    safeguard: u32,
) -> tokio::process::Command {
    let mut command = tokio::process::Command::new(program);
    command
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .env("_DISTCC_SAFEGUARD", (safeguard + 1).to_string())
        .kill_on_drop(true);
    if let Some(path) = path {
        command.env("PATH", path);
    }
    command
}

/// Waits for a started preprocessor. The flag says whether it ended as a preprocessor
/// ends: started, and exited with status 0 or 1.
async fn finish(
    program: &Path,
    args: &[String],
    child: std::io::Result<tokio::process::Child>,
) -> (Result<Preprocessed, PreprocessFailure>, bool) {
    let name = program.display().to_string();
    let spawned = match child {
        Ok(child) => child.wait_with_output().await,
        Err(error) => Err(error),
    };
    let output = match spawned {
        Ok(output) => output,
        Err(error) => {
            let failure = PreprocessFailure::Spawn {
                program: name,
                error,
            };
            return (Err(failure), false);
        }
    };
    if output.status.success() {
        let done = Preprocessed {
            text: output.stdout,
            messages: output.stderr,
        };
        return (Ok(done), true);
    }
    let command = std::iter::once(name)
        .chain(args.iter().cloned())
        .collect::<Vec<_>>()
        .join(" ");
    let ordinary = output.status.code() == Some(1);
    let failure = PreprocessFailure::Failed {
        command,
        status: output.status,
    };
    (Err(failure), ordinary)
}

type SourceResult = Result<Arc<Preprocessed>, Arc<PreprocessFailure>>;

/// The preprocessor's output, started once and awaited by as many attempts as it takes: a
/// job retried on a second host does not preprocess twice.
pub struct SharedSource {
    state: tokio::sync::Mutex<State>,
}

enum State {
    Running(tokio::task::JoinHandle<Result<Preprocessed, PreprocessFailure>>),
    Done(SourceResult),
}

impl SharedSource {
    /// Runs `work` in the background from now on.
    pub fn spawn(
        work: impl std::future::Future<Output = Result<Preprocessed, PreprocessFailure>>
        + Send
        + 'static,
    ) -> Self {
        SharedSource {
            state: tokio::sync::Mutex::new(State::Running(tokio::spawn(work))),
        }
    }

    /// A source that needs no preprocessing (already `.i`).
    pub fn ready(text: Vec<u8>) -> Self {
        let done = Preprocessed {
            text,
            messages: Vec::new(),
        };
        SharedSource {
            state: tokio::sync::Mutex::new(State::Done(Ok(Arc::new(done)))),
        }
    }

    pub async fn get(&self) -> SourceResult {
        let mut state = self.state.lock().await;
        if let State::Running(handle) = &mut *state {
            let result = match handle.await {
                Ok(result) => result.map(Arc::new).map_err(Arc::new),
                Err(join) => Err(Arc::new(PreprocessFailure::Spawn {
                    program: "the preprocessor".into(),
                    error: std::io::Error::other(join.to_string()),
                })),
            };
            *state = State::Done(result);
        }
        match &*state {
            State::Done(result) => result.clone(),
            State::Running(_) => unreachable!("just finished"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::process::ExitStatusExt;

    #[test]
    fn a_failed_preprocessor_is_described_with_its_command_and_its_signal() {
        let killed = PreprocessFailure::Failed {
            command: "gcc -E x.c".into(),
            status: std::process::ExitStatus::from_raw(9),
        };
        assert_eq!(
            killed.to_string(),
            "the preprocessor `gcc -E x.c` was killed by signal 9"
        );
        let failed = PreprocessFailure::Failed {
            command: "gcc -E x.c".into(),
            status: std::process::ExitStatus::from_raw(1 << 8),
        };
        assert_eq!(
            failed.to_string(),
            "the preprocessor `gcc -E x.c` exited with status 1"
        );
    }
}
