//! One job on an engine: `GetActionResult` first (a hit costs two calls and no compile
//! anywhere); otherwise upload what the CAS is missing, `Execute` and follow the stream to
//! the final Operation; then read the outputs. Every answer is checked to be for our Action
//! (see [`super`], Trust).

use std::time::Duration;

use prost::Message;

use super::action::Prepared;
use super::cas;
use super::connect::Engine;
use super::digest;
use super::error::ReapiError;
use super::longrunning_proto::{Operation, operation};
use super::proto::{
    ActionResult, Digest, ExecuteOperationMetadata, ExecuteRequest, ExecuteResponse,
    GetActionResultRequest,
};

/// How a job ended on the engine: the compiler's exit code and output, and the object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finished {
    pub exit_code: i32,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    /// The output file; `None` when the compile failed and made none.
    pub object: Option<Vec<u8>>,
    /// The other declared outputs the compile wrote (`Prepared::declares`), by path.
    pub extras: Vec<(String, Vec<u8>)>,
    /// Where the answer came from.
    pub source: ResultSource,
    /// How many blobs went up (0 on a cache hit).
    pub uploaded: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResultSource {
    /// `GetActionResult` had it: nothing ran.
    ActionCache,
    /// `Execute` answered from its cache (`cached_result`).
    ExecuteCache,
    /// A worker ran the compile.
    Executed,
}

impl ResultSource {
    /// The number it travels as between agent and wrapper (`protocol::agent_engine`).
    pub fn number(self) -> u32 {
        match self {
            ResultSource::ActionCache => 0,
            ResultSource::ExecuteCache => 1,
            ResultSource::Executed => 2,
        }
    }

    pub fn from_number(n: u32) -> Option<ResultSource> {
        [
            ResultSource::ActionCache,
            ResultSource::ExecuteCache,
            ResultSource::Executed,
        ]
        .into_iter()
        .find(|s| s.number() == n)
    }
}

/// Runs `prepared` on `engine`; every call together within `timeout`.
pub async fn run(
    engine: &Engine,
    prepared: &Prepared,
    timeout: Duration,
) -> Result<Finished, ReapiError> {
    match tokio::time::timeout(timeout, run_unbounded(engine, prepared)).await {
        Ok(result) => result,
        Err(_) => Err(ReapiError::Timeout {
            endpoint: engine.name.clone(),
            call: "the job".into(),
            secs: timeout.as_secs(),
        }),
    }
}

async fn run_unbounded(engine: &Engine, prepared: &Prepared) -> Result<Finished, ReapiError> {
    if let Some(result) = cached(engine, prepared).await? {
        return outputs(engine, prepared, result, ResultSource::ActionCache, 0).await;
    }
    let uploaded = cas::upload_missing(engine, &prepared.blobs).await?;
    let response = execute(engine, &prepared.action_digest).await?;
    if let Some(status) = response.status.as_ref().filter(|s| s.code != 0) {
        return Err(ReapiError::Engine {
            endpoint: engine.name.clone(),
            why: format!(
                "Execute ended with code {}: {}{}",
                status.code,
                status.message,
                if response.message.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", response.message)
                }
            ),
        });
    }
    let Some(result) = response.result else {
        return Err(ReapiError::Engine {
            endpoint: engine.name.clone(),
            why: "Execute finished without a result".into(),
        });
    };
    let source = if response.cached_result {
        ResultSource::ExecuteCache
    } else {
        ResultSource::Executed
    };
    outputs(engine, prepared, result, source, uploaded).await
}

/// The action cache's entry, if it has one.
async fn cached(engine: &Engine, prepared: &Prepared) -> Result<Option<ActionResult>, ReapiError> {
    let request = GetActionResultRequest {
        instance_name: engine.instance.clone(),
        action_digest: Some(prepared.action_digest.clone()),
        inline_stdout: true,
        inline_stderr: true,
        inline_output_files: vec![prepared.output_path().to_string()],
        ..Default::default()
    };
    match engine.action_cache().get_action_result(request).await {
        Ok(result) => Ok(Some(result.into_inner())),
        Err(status) if status.code() == tonic::Code::NotFound => Ok(None),
        Err(status) => Err(ReapiError::call(&engine.name, "GetActionResult", &status)),
    }
}

/// `Execute`, followed to the Operation that is done; its metadata must name our action.
async fn execute(engine: &Engine, action: &Digest) -> Result<ExecuteResponse, ReapiError> {
    let call_error = |status: tonic::Status| ReapiError::call(&engine.name, "Execute", &status);
    let request = ExecuteRequest {
        instance_name: engine.instance.clone(),
        action_digest: Some(action.clone()),
        ..Default::default()
    };
    let mut stream = engine
        .execution()
        .execute(request)
        .await
        .map_err(call_error)?
        .into_inner();
    let mut last: Option<Operation> = None;
    while let Some(operation) = stream.message().await.map_err(call_error)? {
        check_metadata(engine, action, &operation)?;
        let done = operation.done;
        last = Some(operation);
        if done {
            break;
        }
    }
    let Some(operation) = last.filter(|o| o.done) else {
        return Err(ReapiError::Engine {
            endpoint: engine.name.clone(),
            why: "the Execute stream ended before the operation was done".into(),
        });
    };
    match operation.result {
        Some(operation::Result::Response(any)) => ExecuteResponse::decode(any.value.as_slice())
            .map_err(|e| ReapiError::Engine {
                endpoint: engine.name.clone(),
                why: format!("its ExecuteResponse does not decode: {e}"),
            }),
        Some(operation::Result::Error(status)) => Err(ReapiError::Engine {
            endpoint: engine.name.clone(),
            why: format!(
                "the operation failed with code {}: {}",
                status.code, status.message
            ),
        }),
        None => Err(ReapiError::Engine {
            endpoint: engine.name.clone(),
            why: "the operation is done but has no result".into(),
        }),
    }
}

/// An Operation whose metadata names another action is not ours.
fn check_metadata(
    engine: &Engine,
    action: &Digest,
    operation: &Operation,
) -> Result<(), ReapiError> {
    let Some(any) = &operation.metadata else {
        return Ok(());
    };
    let Ok(metadata) = ExecuteOperationMetadata::decode(any.value.as_slice()) else {
        return Ok(()); // another kind of metadata: nothing it claims
    };
    match &metadata.action_digest {
        Some(theirs) if theirs != action => Err(ReapiError::Untrusted {
            endpoint: engine.name.clone(),
            why: format!(
                "asked to run action {}, it answered for action {}",
                digest::display(action),
                digest::display(theirs)
            ),
        }),
        _ => Ok(()),
    }
}

/// The result's output, stdout and stderr, inline or from the CAS, all checked.
async fn outputs(
    engine: &Engine,
    prepared: &Prepared,
    result: ActionResult,
    source: ResultSource,
    uploaded: usize,
) -> Result<Finished, ReapiError> {
    let untrusted = |why: String| ReapiError::Untrusted {
        endpoint: engine.name.clone(),
        why,
    };
    if let Some(other) = result
        .output_files
        .iter()
        .find(|f| !prepared.declares(&f.path))
    {
        return Err(untrusted(format!(
            "its result has an output \"{}\" this action does not make",
            other.path
        )));
    }
    let output = result
        .output_files
        .iter()
        .find(|f| f.path == prepared.output_path());
    if result.exit_code == 0 && output.is_none() {
        return Err(untrusted(format!(
            "its result of a successful compile has no \"{}\"",
            prepared.output_path()
        )));
    }
    let mut wanted: Vec<Digest> = Vec::new();
    let mut need = |inline: &[u8], digest: Option<&Digest>| -> Result<(), ReapiError> {
        if let Some(d) = digest {
            if inline.is_empty() && d.size_bytes > 0 {
                wanted.push(d.clone());
            } else if !inline.is_empty() {
                cas::checked(engine, d, inline)?;
            }
        }
        Ok(())
    };
    for file in &result.output_files {
        let Some(d) = file.digest.as_ref() else {
            return Err(untrusted(format!(
                "its output \"{}\" has no digest",
                file.path
            )));
        };
        need(&file.contents, Some(d))?;
    }
    need(&result.stdout_raw, result.stdout_digest.as_ref())?;
    need(&result.stderr_raw, result.stderr_digest.as_ref())?;
    let blobs = cas::download(engine, &wanted).await?;
    let take = |inline: &[u8], digest: Option<&Digest>| -> Vec<u8> {
        match digest {
            Some(d) if inline.is_empty() => blobs.get(&d.hash).cloned().unwrap_or_default(),
            _ => inline.to_vec(),
        }
    };
    let object = output.map(|f| take(&f.contents, f.digest.as_ref()));
    let extras = result
        .output_files
        .iter()
        .filter(|f| f.path != prepared.output_path())
        .map(|f| (f.path.clone(), take(&f.contents, f.digest.as_ref())))
        .collect();
    Ok(Finished {
        extras,
        exit_code: result.exit_code,
        stdout: take(&result.stdout_raw, result.stdout_digest.as_ref()),
        stderr: take(&result.stderr_raw, result.stderr_digest.as_ref()),
        object,
        source,
        uploaded,
    })
}
