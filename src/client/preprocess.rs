//! The local preprocessor run that feeds a remote compile: the same command line with `-E`
//! instead of `-c`/`-S` and no `-o`, its output captured. Its messages are held back and
//! shown once: with the remote result, or not at all when a local re-run will print them.

use std::ffi::OsString;
use std::path::Path;
use std::process::Stdio;
use std::sync::Arc;

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

/// Starts the preprocessor now and returns a future of its output.
pub fn start(
    compiler: &Path,
    args: &[String],
    path: Option<&OsString>,
    safeguard: u32,
) -> impl std::future::Future<Output = Result<Preprocessed, PreprocessFailure>> + use<> {
    let mut command = tokio::process::Command::new(compiler);
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
    let program = compiler.display().to_string();
    let command_line = std::iter::once(program.clone())
        .chain(args.iter().cloned())
        .collect::<Vec<_>>()
        .join(" ");
    let child = command.spawn();
    async move {
        let child = child.map_err(|error| PreprocessFailure::Spawn {
            program: program.clone(),
            error,
        })?;
        let output = child
            .wait_with_output()
            .await
            .map_err(|error| PreprocessFailure::Spawn { program, error })?;
        if output.status.success() {
            Ok(Preprocessed {
                text: output.stdout,
                messages: output.stderr,
            })
        } else {
            Err(PreprocessFailure::Failed {
                command: command_line,
                status: output.status,
            })
        }
    }
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
