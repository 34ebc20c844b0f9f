//! The local preprocessor run that feeds a remote compile: the same command line with `-E`
//! instead of `-c`/`-S` and no `-o`, its output captured, its messages passed through.

use std::ffi::OsString;
use std::path::Path;
use std::process::Stdio;

/// Why preprocessing produced no source. Not a host failure: the compile is re-run locally,
/// which reports the same errors the user would have seen.
#[derive(Debug, thiserror::Error)]
pub enum PreprocessFailure {
    #[error("cannot run the preprocessor {program}: {error}")]
    Spawn {
        program: String,
        error: std::io::Error,
    },
    #[error("the preprocessor exited with status {code}")]
    Failed { code: i32 },
}

/// Starts the preprocessor now and returns a future of its output.
pub fn start(
    compiler: &Path,
    args: &[String],
    path: Option<&OsString>,
    safeguard: u32,
) -> impl std::future::Future<Output = Result<Vec<u8>, PreprocessFailure>> + use<> {
    let mut command = tokio::process::Command::new(compiler);
    command
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .env("_DISTCC_SAFEGUARD", (safeguard + 1).to_string())
        .kill_on_drop(true);
    if let Some(path) = path {
        command.env("PATH", path);
    }
    let program = compiler.display().to_string();
    let child = command.spawn();
    async move {
        let child = child.map_err(|error| PreprocessFailure::Spawn { program, error })?;
        let output = child
            .wait_with_output()
            .await
            .map_err(|error| PreprocessFailure::Spawn {
                program: "the preprocessor".into(),
                error,
            })?;
        if output.status.success() {
            Ok(output.stdout)
        } else {
            Err(PreprocessFailure::Failed {
                code: output.status.code().unwrap_or(1),
            })
        }
    }
}

/// The preprocessor's output, started once and awaited by as many attempts as it takes: a
/// job retried on a second host does not preprocess twice.
pub struct SharedSource {
    state: tokio::sync::Mutex<State>,
}

type SourceResult = Result<std::sync::Arc<Vec<u8>>, std::sync::Arc<PreprocessFailure>>;

enum State {
    Running(tokio::task::JoinHandle<Result<Vec<u8>, PreprocessFailure>>),
    Done(SourceResult),
}

impl SharedSource {
    /// Runs `work` in the background from now on.
    pub fn spawn(
        work: impl std::future::Future<Output = Result<Vec<u8>, PreprocessFailure>> + Send + 'static,
    ) -> Self {
        SharedSource {
            state: tokio::sync::Mutex::new(State::Running(tokio::spawn(work))),
        }
    }

    /// A source that needs no preprocessing (already `.i`), or was read from disk.
    pub fn ready(bytes: Vec<u8>) -> Self {
        SharedSource {
            state: tokio::sync::Mutex::new(State::Done(Ok(std::sync::Arc::new(bytes)))),
        }
    }

    pub async fn get(&self) -> SourceResult {
        let mut state = self.state.lock().await;
        if let State::Running(handle) = &mut *state {
            let result = match handle.await {
                Ok(result) => result.map(std::sync::Arc::new).map_err(std::sync::Arc::new),
                Err(join) => Err(std::sync::Arc::new(PreprocessFailure::Spawn {
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
