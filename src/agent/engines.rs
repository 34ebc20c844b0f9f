//! The agent's channels to Remote Execution API endpoints: one per `grpc://` entry, kept
//! from job to job (HTTP/2 carries every job's calls on it), so a job costs its RPCs and
//! not a TCP and TLS handshake. An endpoint that fails a job loses its channel: the next
//! job connects afresh and reads the entry's files again (a rotated API key, a new CA).

use std::collections::HashMap;
use std::sync::Mutex;

use crate::hosts::GrpcEndpoint;
use crate::protocol::agent_engine::ActionRequest;
use crate::reapi::action::Prepared;
use crate::reapi::connect::Engine;
use crate::reapi::error::ReapiError;
use crate::reapi::run::{self, Finished};

#[derive(Default)]
pub struct Engines {
    /// By host entry text: two entries that differ in a key file or instance name are two
    /// channels.
    kept: Mutex<HashMap<String, Engine>>,
}

impl Engines {
    /// Runs a wrapper's Action on the endpoint of entry `text`. `Err(why)`: the request
    /// itself was not an Action (a wrapper's fault, not the engine's).
    pub async fn run(
        &self,
        text: &str,
        endpoint: &GrpcEndpoint,
        request: ActionRequest,
    ) -> Result<Result<Finished, ReapiError>, String> {
        let prepared = Prepared::from_blobs(request.blobs)?;
        let engine = match self.engine(text, endpoint, request.timeout).await {
            Ok(engine) => engine,
            Err(e) => return Ok(Err(e)),
        };
        let finished = run::run(&engine, &prepared, request.timeout).await;
        if finished.as_ref().is_err_and(ReapiError::blames_endpoint) {
            self.forget(text);
        }
        Ok(finished)
    }

    /// The kept channel, or a new one. Connecting happens outside the lock: jobs for other
    /// endpoints do not wait for it (two first jobs may both connect; one channel stays).
    async fn engine(
        &self,
        text: &str,
        endpoint: &GrpcEndpoint,
        timeout: std::time::Duration,
    ) -> Result<Engine, ReapiError> {
        if let Some(engine) = self.kept.lock().expect("engines").get(text) {
            return Ok(engine.clone());
        }
        let engine = Engine::connect(endpoint, timeout).await?;
        self.kept
            .lock()
            .expect("engines")
            .insert(text.to_string(), engine.clone());
        Ok(engine)
    }

    fn forget(&self, text: &str) {
        self.kept.lock().expect("engines").remove(text);
    }
}
