//! What can go wrong between a job and an engine, and who is to blame. A compile that
//! fails is not here: it is an ActionResult with a non-zero exit code, the user's.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::action::ActionError;

/// Plain data (the RPC status as text), so that the agent, which runs a wrapper's Action on
/// its kept channel, can hand the error back as it happened (`protocol::agent_engine`).
#[derive(Debug, thiserror::Error, Serialize, Deserialize)]
pub enum ReapiError {
    /// The endpoint's address, TLS or connection failed.
    #[error("cannot reach the remote execution engine at {endpoint}: {message}")]
    Connect { endpoint: String, message: String },
    /// A file the host entry names (`key-file=`, `tls-ca=`, `tls-cert=`, `tls-key=`).
    #[error(
        "cannot read {path} (named by {option}= in the entry for {endpoint}): {message}; fix \
         the file or the entry in DISTFARM_HOSTS or $DISTCC_DIR/distfarm-hosts"
    )]
    EntryFile {
        endpoint: String,
        option: String,
        path: PathBuf,
        message: String,
    },
    /// An RPC failed: the engine, or the network to it.
    #[error("the remote execution engine at {endpoint} failed {call}: {status}")]
    Call {
        endpoint: String,
        call: String,
        /// The gRPC status: its code and message.
        status: String,
    },
    /// The engine answered something that is not the answer to our question.
    #[error(
        "the remote execution engine at {endpoint} is not trusted for this job: {why}; its \
         answer was thrown away"
    )]
    Untrusted { endpoint: String, why: String },
    /// The engine ran the action but could not say how it ended (no result, a bad status).
    #[error("the remote execution engine at {endpoint} could not run the compile: {why}")]
    Engine { endpoint: String, why: String },
    /// Every wait has a bound.
    #[error("the remote execution engine at {endpoint} did not finish {call} within {secs} s")]
    Timeout {
        endpoint: String,
        call: String,
        secs: u64,
    },
    /// The job cannot be an Action (a fault of this side, not the engine's).
    #[error("this compile cannot be sent to a remote execution engine: {0}")]
    Action(#[from] ActionError),
}

impl ReapiError {
    /// An RPC's failure.
    pub fn call(endpoint: &str, call: &str, status: &tonic::Status) -> ReapiError {
        ReapiError::Call {
            endpoint: endpoint.to_string(),
            call: call.to_string(),
            status: format!("{:?}: {}", status.code(), status.message()),
        }
    }

    /// Whether the endpoint is at fault: back it off and try another host. A job that
    /// cannot be an Action, or an entry naming a file that is not there, is this side's
    /// problem: the job is compiled elsewhere, the endpoint is not backed off for it.
    pub fn blames_endpoint(&self) -> bool {
        !matches!(self, ReapiError::Action(_) | ReapiError::EntryFile { .. })
    }
}
