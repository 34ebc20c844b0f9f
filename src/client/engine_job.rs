//! A job on a Remote Execution API endpoint (a `grpc://` host): the preprocessed text
//! (line markers made relative to the working directory unless the job has debug info),
//! the remote argv and the compiler's identity become an Action ([`crate::reapi`]); its
//! result comes back as a distcc [`Response`], so the rest of the job (writing the object,
//! replaying messages, falling back) is the same as for any host.
//!
//! The wrapper prepares the Action; the agent, which keeps one channel per endpoint, runs it
//! in the slot it gave (`protocol::agent_engine`). Without an agent the wrapper connects for
//! its own job.

use std::path::Path;
use std::time::Duration;

use super::attempt::JobStream;
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
use crate::reapi::{line_markers, platform, run};

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

/// Runs `job` on the engine, through the agent when `slot` is the agent's. A compile error
/// is an `Ok` response with its status.
pub async fn compile(
    engine_job: &EngineJob<'_>,
    job: &CompileJob,
    source: &SharedSource,
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
    let (engine, text) = tokio::join!(connecting, source.get());
    let text = text.map_err(RemoteError::Preprocess)?;
    let engine = engine?;
    let debug_info = crate::debug_info::asked_for(job.argv.iter().skip(1).map(String::as_str));
    let text = if debug_info {
        std::borrow::Cow::Borrowed(text.text.as_slice())
    } else {
        line_markers::relative_to(&text.text, engine_job.cwd, engine_job.cwd)
    };
    let argv = job.remote_argv();
    // Outputs named after the object (`-gsplit-dwarf`'s `.dwo`, whose name the object
    // records) need the object's own name in the Command.
    let split = job.engine_only.is_some();
    let extra_outputs: Vec<String> = if split && job.mode == super::flags::Mode::Compile {
        vec![dwo_beside(&job.output)]
    } else {
        Vec::new()
    };
    let output_ext = if job.mode == super::flags::Mode::Assemble {
        ".s"
    } else {
        ".o"
    };
    let properties = platform::properties(
        &format!("{}; {}", identity.version, identity.machine),
        &engine_job.endpoint.properties,
    );
    let prepared = action::prepare(&Compile {
        compiler: &compiler,
        argv: &argv,
        input: &job.input,
        preprocessed_ext: job.preprocessed_ext,
        text: &text,
        output_ext,
        output_as_given: split.then_some(job.output.as_str()),
        extra_outputs: &extra_outputs,
        platform: properties,
    })
    .map_err(ReapiError::from)?;
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
    if ok && let Err((path, e)) = write_extras(&finished.extras) {
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
        deps: None,
    })
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

/// gcc's name for the split debug info of `object`: its last extension replaced by `.dwo`.
fn dwo_beside(object: &str) -> String {
    Path::new(object)
        .with_extension("dwo")
        .to_string_lossy()
        .into_owned()
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
        assert_eq!(dwo_beside("x.o"), "x.dwo");
        assert_eq!(dwo_beside("sub/x.tar.o"), "sub/x.tar.dwo");
        assert_eq!(dwo_beside("out"), "out.dwo");
    }
}
