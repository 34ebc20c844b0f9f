//! A job on a Remote Execution API endpoint (a `grpc://` host): the preprocessed text
//! (line markers made relative to the working directory unless the job has debug info) —
//! or, for a `,cpp` entry, the source and its headers ([`super::engine_pump`]) —, the
//! remote argv and the compiler's identity become an Action ([`crate::reapi`]); its
//! result comes back as a distcc [`Response`], so the rest of the job (writing the object
//! and the `.d`, replaying messages, falling back) is the same as for any host.
//!
//! The wrapper prepares the Action; the agent, which keeps one channel per endpoint, runs it
//! in the slot it gave (`protocol::agent_engine`). Without an agent the wrapper connects for
//! its own job.

use std::path::Path;
use std::time::Duration;

use super::attempt::JobStream;
use super::engine_pump::{self, DEPS_OUTPUT, PumpInputs, ROOT_OUTPUT};
use super::identity::Identity;
use super::job::CompileJob;
use super::preprocess::SharedSource;
use super::remote::RemoteError;
use crate::hosts::GrpcEndpoint;
use crate::protocol::agent_engine::{self, ActionRequest};
use crate::protocol::{Limits, ProtocolError, Response, TokenReader, TokenWriter};
use crate::reapi::action::{self, Compile};
use crate::reapi::connect::Engine;
use crate::reapi::error::ReapiError;
use crate::reapi::run::Finished;
use crate::reapi::{line_markers, platform, pump_action, run};

/// What the job needs from the wrapper besides the job itself.
pub struct EngineJob<'a> {
    pub endpoint: &'a GrpcEndpoint,
    /// The compiler's absolute path.
    pub compiler: &'a Path,
    /// This machine's compiler identity: workers with another compiler never match.
    pub identity: Option<&'a Identity>,
    /// The working directory: line markers under it become relative.
    pub cwd: &'a Path,
    /// The whole job's bound: connecting, uploading, compiling, downloading.
    pub timeout: Duration,
}

/// What the Action's input is made of.
#[derive(Clone, Copy)]
pub enum EngineInput<'a> {
    /// Plain mode: the text the local preprocessor makes.
    Preprocessed(&'a SharedSource),
    /// Pump mode (`,cpp`): the source and its header closure, as scanned.
    Pumped(&'a PumpInputs),
}

/// Runs `job` on the engine, through the agent when `slot` is the agent's. A compile error
/// is an `Ok` response with its status.
pub async fn compile(
    engine_job: &EngineJob<'_>,
    job: &CompileJob,
    input: EngineInput<'_>,
    slot: JobStream,
) -> Result<Response, RemoteError> {
    let Some(identity) = engine_job.identity else {
        // Without it the Action would not say which compiler may run it.
        return Err(RemoteError::Engine(ReapiError::Action(
            action::ActionError::UnknownCompiler(engine_job.compiler.display().to_string()),
        )));
    };
    let compiler = engine_job.compiler.to_string_lossy();
    let connecting = async {
        if slot.agent_runs_action {
            Ok(None)
        } else {
            Engine::connect(engine_job.endpoint, engine_job.timeout)
                .await
                .map(Some)
        }
    };
    let properties = platform::properties(
        &format!("{}; {}", identity.version, identity.machine),
        &engine_job.endpoint.properties,
    );
    let (engine, prepared) = match input {
        EngineInput::Preprocessed(source) => {
            let (engine, text) = tokio::join!(connecting, source.get());
            let text = text.map_err(RemoteError::Preprocess)?;
            let prepared = plain_action(engine_job, job, &compiler, &text.text, properties)
                .map_err(ReapiError::from)?;
            (engine?, prepared)
        }
        EngineInput::Pumped(inputs) => {
            let prepared = pump_action::prepare(pump_action::Compile {
                compiler: &compiler,
                args: &inputs.args,
                cwd: &inputs.cwd,
                tree: inputs.tree.clone(),
                outputs: &inputs.outputs,
                root_file: inputs.root_file,
                platform: properties,
            })
            .map_err(ReapiError::from)?;
            (connecting.await?, prepared)
        }
    };
    let action = crate::reapi::digest::display(&prepared.action_digest);
    let finished = match &engine {
        Some(engine) => run::run(engine, &prepared, engine_job.timeout).await?,
        None => through_agent(slot, prepared, engine_job.timeout).await??,
    };
    tracing::debug!(
        "{}: {:?} on {} (action {action}, {} blobs uploaded)",
        job.input,
        finished.source,
        engine_job.endpoint.host,
        finished.uploaded
    );
    let ok = finished.exit_code == 0;
    let (extras, deps) = match input {
        EngineInput::Pumped(inputs) if ok && inputs.root_file.is_some() => {
            dependency_file(finished.extras, &engine_job.endpoint.name())?
        }
        // Nothing of a failed compile is written (below).
        _ => (finished.extras, None),
    };
    if ok && let Err((path, e)) = write_extras(&extras) {
        return Err(RemoteError::ExtraOutput {
            path,
            why: e.to_string(),
        });
    }
    Ok(Response {
        // `W_EXITCODE(code, 0)`, as distccd reports a compiler's exit.
        status: ((finished.exit_code as u32) & 0xff) << 8,
        stderr: finished.stderr,
        stdout: finished.stdout,
        object: if ok {
            finished.object.unwrap_or_default()
        } else {
            Vec::new()
        },
        deps,
    })
}

/// The Action of a plain-mode job: the preprocessed `text` is its input.
fn plain_action(
    engine_job: &EngineJob<'_>,
    job: &CompileJob,
    compiler: &str,
    text: &[u8],
    properties: crate::reapi::proto::Platform,
) -> Result<crate::reapi::action::Prepared, action::ActionError> {
    let debug_info = crate::debug_info::asked_for(job.argv.iter().skip(1).map(String::as_str));
    let text = if debug_info {
        std::borrow::Cow::Borrowed(text)
    } else {
        line_markers::relative_to(text, engine_job.cwd, engine_job.cwd)
    };
    let argv = job.remote_argv();
    // Outputs named after the object need the object's own name in the Command.
    let split = job.engine_only.is_some();
    let extra_outputs = engine_pump::named_after_output(job);
    let output_ext = engine_pump::made_ext(job);
    action::prepare(&Compile {
        compiler,
        argv: &argv,
        input: &job.input,
        preprocessed_ext: job.preprocessed_ext,
        text: &text,
        output_ext,
        output_as_given: split.then_some(job.output.as_str()),
        extra_outputs: &extra_outputs,
        platform: properties,
    })
}

/// A pump-mode result's `.d` (taken out of the outputs written beside the object), as a
/// local `gcc -MD` writes it: the worker's root, which the script wrote beside it, removed.
/// A successful compile that declared them and lacks either is not a result to trust.
#[allow(clippy::type_complexity)]
fn dependency_file(
    extras: Vec<(String, Vec<u8>)>,
    endpoint: &str,
) -> Result<(Vec<(String, Vec<u8>)>, Option<Vec<u8>>), ReapiError> {
    let (ours, theirs): (Vec<_>, Vec<_>) = extras
        .into_iter()
        .partition(|(path, _)| path == DEPS_OUTPUT || path == ROOT_OUTPUT);
    let find = |name: &str| ours.iter().find(|(path, _)| path == name).map(|(_, b)| b);
    match (find(DEPS_OUTPUT), find(ROOT_OUTPUT)) {
        (Some(deps), Some(root)) => Ok((theirs, Some(engine_pump::local_deps(deps, root)))),
        _ => Err(ReapiError::Untrusted {
            endpoint: endpoint.to_string(),
            why: format!("its result of a successful compile lacks {DEPS_OUTPUT} or {ROOT_OUTPUT}"),
        }),
    }
}

/// Hands the Action to the agent on its slot's connection and reads how it ended. The agent
/// bounds the job by `timeout`; a little more is allowed here for the answer to arrive.
async fn through_agent(
    slot: JobStream,
    prepared: crate::reapi::action::Prepared,
    timeout: Duration,
) -> Result<Result<Finished, ReapiError>, ProtocolError> {
    let request = ActionRequest {
        timeout,
        blobs: prepared.into_blobs(),
    };
    let mut stream = slot.stream;
    request.write(&mut TokenWriter::new(&mut stream)).await?;
    let mut reader = TokenReader::new(stream, Limits::default());
    let answer = agent_engine::read_answer(&mut reader);
    tokio::time::timeout(timeout + Duration::from_secs(10), answer)
        .await
        .unwrap_or(Err(ProtocolError::Timeout {
            secs: timeout.as_secs() + 10,
        }))
}

/// Writes the outputs besides the object, each whole or not at all, before the object: a
/// build that sees the object sees its `.dwo` too.
fn write_extras(extras: &[(String, Vec<u8>)]) -> Result<(), (String, std::io::Error)> {
    for (path, bytes) in extras {
        super::output::write_output(Path::new(path), bytes).map_err(|e| (path.clone(), e))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_dwo_is_named_as_gcc_names_it() {
        use engine_pump::dwo_beside;
        assert_eq!(dwo_beside("x.o"), "x.dwo");
        assert_eq!(dwo_beside("sub/x.tar.o"), "sub/x.tar.dwo");
        assert_eq!(dwo_beside("out"), "out.dwo");
    }

    #[test]
    fn a_pumped_results_dependency_file_loses_the_workers_root_and_is_not_written_beside() {
        let extras = vec![
            ("sub/x.dwo".to_string(), b"dwo".to_vec()),
            ("output.d".to_string(), b"x.o: x.c /w/r/p/a.h\n".to_vec()),
            ("output.root".to_string(), b"/w/r".to_vec()),
        ];
        let (left, deps) = dependency_file(extras, "grpc://e:1").unwrap();
        assert_eq!(left, [("sub/x.dwo".to_string(), b"dwo".to_vec())]);
        assert_eq!(deps.unwrap(), b"x.o: x.c /p/a.h\n");
        let without_root = vec![("output.d".to_string(), b"x.o: x.c\n".to_vec())];
        assert!(matches!(
            dependency_file(without_root, "grpc://e:1"),
            Err(ReapiError::Untrusted { .. })
        ));
    }
}
