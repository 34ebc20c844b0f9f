//! A fake Remote Execution API engine on 127.0.0.1: the few RPCs a compile needs
//! (ActionCache, CAS, ByteStream, Execution) in one in-process tonic server on a thread and
//! runtime of its own, so plain and `#[tokio::test]` tests can use it alike. Execute runs
//! the Command for real in a temporary directory (the input root: files, links that stay
//! inside it, directories, laid out as a worker does), in its working directory, with only
//! the Command's environment. It counts what it was asked, and can be told to lie ([`Lie`]). The CAS and
//! ByteStream services are in [`super::fake_engine_cas`].

use std::collections::HashMap;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use distfarm::reapi::bytestream_proto::byte_stream_server::ByteStreamServer;
use distfarm::reapi::digest;
use distfarm::reapi::longrunning_proto::{Operation, operation};
use distfarm::reapi::proto::action_cache_server::{ActionCache, ActionCacheServer};
use distfarm::reapi::proto::content_addressable_storage_server::ContentAddressableStorageServer;
use distfarm::reapi::proto::execution_server::{Execution, ExecutionServer};
use distfarm::reapi::proto::{
    Action, ActionResult, Command, Digest, Directory, ExecuteOperationMetadata, ExecuteRequest,
    ExecuteResponse, GetActionResultRequest, OutputFile, UpdateActionResultRequest,
    WaitExecutionRequest,
};
use prost::Message;
use tokio_stream::{Stream, StreamExt};
use tonic::{Request, Response, Status};

use super::fake_engine_cas::FakeCas;

/// How the engine misbehaves, when told to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lie {
    /// Execute's Operation metadata names another action digest.
    OtherActionDigest,
    /// Blobs read back (BatchReadBlobs, ByteStream.Read) have their first byte changed.
    CorruptBlobs,
}

/// What the engine holds and counts; shared by its services.
#[derive(Default)]
pub struct EngineState {
    /// The CAS: blobs by hash.
    pub blobs: Mutex<HashMap<String, Vec<u8>>>,
    /// The action cache: results by action hash.
    pub results: Mutex<HashMap<String, ActionResult>>,
    pub lie: Mutex<Option<Lie>>,
    pub get_action_result_calls: AtomicUsize,
    pub action_cache_hits: AtomicUsize,
    pub execute_calls: AtomicUsize,
    pub batch_update_calls: AtomicUsize,
    pub bytestream_writes: AtomicUsize,
    pub bytestream_reads: AtomicUsize,
    /// Per executed action, the input root's paths: files, `link -> target`, `dir/`.
    pub inputs_seen: Mutex<Vec<Vec<String>>>,
    /// Per executed action, its Command's arguments.
    pub commands_seen: Mutex<Vec<Vec<String>>>,
    /// TCP connections accepted.
    pub connections: AtomicUsize,
    /// The `x-api-key`/`authorization`-style headers seen, `name: value`.
    pub headers_seen: Mutex<Vec<String>>,
}

impl EngineState {
    pub fn count(counter: &AtomicUsize) -> usize {
        counter.load(Ordering::SeqCst)
    }

    pub(super) fn blob(&self, digest: &Digest) -> Option<Vec<u8>> {
        self.blobs.lock().unwrap().get(&digest.hash).cloned()
    }

    /// A blob as the engine sends it back to a client (corrupt under [`Lie::CorruptBlobs`]).
    pub(super) fn blob_to_send(&self, digest: &Digest) -> Option<Vec<u8>> {
        let mut blob = self.blob(digest)?;
        if *self.lie.lock().unwrap() == Some(Lie::CorruptBlobs)
            && let Some(first) = blob.first_mut()
        {
            *first ^= 0xff;
        }
        Some(blob)
    }

    pub(super) fn store(&self, bytes: Vec<u8>) -> Digest {
        let digest = digest::of_bytes(&bytes);
        self.blobs
            .lock()
            .unwrap()
            .insert(digest.hash.clone(), bytes);
        digest
    }

    pub(super) fn note_headers<T>(&self, request: &Request<T>) {
        for name in ["authorization", "x-api-key", "x-buildbuddy-api-key"] {
            if let Some(value) = request.metadata().get(name) {
                let value = value.to_str().unwrap_or("?");
                self.headers_seen
                    .lock()
                    .unwrap()
                    .push(format!("{name}: {value}"));
            }
        }
    }
}

/// Stopped when dropped.
pub struct FakeEngine {
    pub addr: SocketAddr,
    pub state: Arc<EngineState>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl FakeEngine {
    pub fn start() -> FakeEngine {
        FakeEngine::serve(None)
    }

    /// Over TLS with this server identity (and client-certificate check, if the config
    /// asks for it): reach it as `localhost` ([`FakeEngine::tls_entry`]).
    pub fn start_tls(tls: tonic::transport::ServerTlsConfig) -> FakeEngine {
        FakeEngine::serve(Some(tls))
    }

    fn serve(tls: Option<tonic::transport::ServerTlsConfig>) -> FakeEngine {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(EngineState::default());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = {
            let state = state.clone();
            std::thread::spawn(move || {
                let runtime = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .enable_all()
                    .build()
                    .expect("fake engine runtime");
                // Not a graceful shutdown, which would wait for the clients' connections
                // to close: the runtime goes, and its connections with it.
                runtime.block_on(async move {
                    let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                    let counted = state.clone();
                    let incoming = tokio_stream::wrappers::TcpListenerStream::new(listener).map(
                        move |accepted| {
                            counted.connections.fetch_add(1, Ordering::SeqCst);
                            accepted
                        },
                    );
                    let mut builder = tonic::transport::Server::builder();
                    if let Some(tls) = tls {
                        builder = builder.tls_config(tls).expect("fake engine TLS config");
                    }
                    let serving = builder
                        .add_service(ActionCacheServer::new(FakeActionCache(state.clone())))
                        .add_service(ContentAddressableStorageServer::new(FakeCas(state.clone())))
                        .add_service(ByteStreamServer::new(FakeCas(state.clone())))
                        .add_service(ExecutionServer::new(FakeExecution(state)))
                        .serve_with_incoming(incoming);
                    tokio::select! {
                        served = serving => served.expect("fake engine serves"),
                        _ = stopped => {}
                    }
                });
                runtime.shutdown_timeout(std::time::Duration::from_secs(10));
            })
        };
        FakeEngine {
            addr,
            state,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    /// The host entry for this engine, with `options` (`,instance=x` …) after it.
    pub fn entry(&self, options: &str) -> String {
        format!("grpc://{}/4{options}", self.addr)
    }

    /// The `grpcs://localhost:PORT/4` entry of a TLS engine, with `options` after it.
    pub fn tls_entry(&self, options: &str) -> String {
        format!("grpcs://localhost:{}/4{options}", self.addr.port())
    }

    pub fn lie(&self, lie: Lie) {
        *self.state.lie.lock().unwrap() = Some(lie);
    }

    pub fn executes(&self) -> usize {
        EngineState::count(&self.state.execute_calls)
    }

    pub fn connections(&self) -> usize {
        EngineState::count(&self.state.connections)
    }

    /// The input roots of the actions executed so far, in order.
    pub fn inputs_seen(&self) -> Vec<Vec<String>> {
        self.state.inputs_seen.lock().unwrap().clone()
    }

    /// The Commands' argv of the actions executed so far, in order.
    pub fn commands_seen(&self) -> Vec<Vec<String>> {
        self.state.commands_seen.lock().unwrap().clone()
    }

    pub fn cache_hits(&self) -> usize {
        EngineState::count(&self.state.action_cache_hits)
    }
}

impl Drop for FakeEngine {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

struct FakeActionCache(Arc<EngineState>);

#[tonic::async_trait]
impl ActionCache for FakeActionCache {
    async fn get_action_result(
        &self,
        request: Request<GetActionResultRequest>,
    ) -> Result<Response<ActionResult>, Status> {
        self.0.note_headers(&request);
        self.0
            .get_action_result_calls
            .fetch_add(1, Ordering::SeqCst);
        let asked = request.into_inner().action_digest.unwrap_or_default();
        let results = self.0.results.lock().unwrap();
        match results.get(&asked.hash) {
            Some(result) => {
                self.0.action_cache_hits.fetch_add(1, Ordering::SeqCst);
                Ok(Response::new(result.clone()))
            }
            None => Err(Status::not_found("no such action result")),
        }
    }

    async fn update_action_result(
        &self,
        request: Request<UpdateActionResultRequest>,
    ) -> Result<Response<ActionResult>, Status> {
        let request = request.into_inner();
        let (Some(action), Some(result)) = (request.action_digest, request.action_result) else {
            return Err(Status::invalid_argument("action digest and result needed"));
        };
        self.0
            .results
            .lock()
            .unwrap()
            .insert(action.hash, result.clone());
        Ok(Response::new(result))
    }
}

struct FakeExecution(Arc<EngineState>);

type OperationStream = Pin<Box<dyn Stream<Item = Result<Operation, Status>> + Send>>;

#[tonic::async_trait]
impl Execution for FakeExecution {
    type ExecuteStream = OperationStream;
    type WaitExecutionStream = OperationStream;

    async fn execute(
        &self,
        request: Request<ExecuteRequest>,
    ) -> Result<Response<Self::ExecuteStream>, Status> {
        self.0.note_headers(&request);
        self.0.execute_calls.fetch_add(1, Ordering::SeqCst);
        let action_digest = request
            .into_inner()
            .action_digest
            .ok_or_else(|| Status::invalid_argument("no action digest"))?;
        let state = self.0.clone();
        let asked = action_digest.clone();
        let result = tokio::task::spawn_blocking(move || run_action(&state, &asked))
            .await
            .map_err(|e| Status::internal(e.to_string()))??;
        if result.exit_code == 0 {
            self.0
                .results
                .lock()
                .unwrap()
                .insert(action_digest.hash.clone(), result.clone());
        }
        let mut named = action_digest.clone();
        if *self.0.lie.lock().unwrap() == Some(Lie::OtherActionDigest) {
            named = digest::of_bytes(b"some other action");
        }
        let metadata = ExecuteOperationMetadata {
            stage: 4, // COMPLETED
            action_digest: Some(named),
            ..Default::default()
        };
        let response = ExecuteResponse {
            result: Some(result),
            ..Default::default()
        };
        let operation = Operation {
            name: format!("operations/{}", action_digest.hash),
            metadata: Some(any(
                "build.bazel.remote.execution.v2.ExecuteOperationMetadata",
                &metadata,
            )),
            done: true,
            result: Some(operation::Result::Response(any(
                "build.bazel.remote.execution.v2.ExecuteResponse",
                &response,
            ))),
        };
        let stream: OperationStream = Box::pin(tokio_stream::iter([Ok(operation)]));
        Ok(Response::new(stream))
    }

    async fn wait_execution(
        &self,
        _: Request<WaitExecutionRequest>,
    ) -> Result<Response<Self::WaitExecutionStream>, Status> {
        Err(Status::unimplemented(
            "the fake engine answers Execute in one go",
        ))
    }
}

fn any(name: &str, message: &impl Message) -> distfarm::reapi::protobuf_proto::Any {
    distfarm::reapi::protobuf_proto::Any {
        type_url: format!("type.googleapis.com/{name}"),
        value: message.encode_to_vec(),
    }
}

/// Writes `directory` (and everything below it) at `at`, as a worker lays out an input
/// root; `inputs` gets each file's and link's path (`home/u/x.c`, `inc/l -> real`).
fn lay_out(
    state: &EngineState,
    directory: &Directory,
    at: &std::path::Path,
    prefix: &str,
    inputs: &mut Vec<String>,
) -> Result<(), Status> {
    let internal = |e: std::io::Error| Status::internal(e.to_string());
    let plain = |name: &str| {
        if name.is_empty() || name == "." || name == ".." || name.contains('/') {
            Err(Status::invalid_argument(format!("bad name {name:?}")))
        } else {
            Ok(())
        }
    };
    std::fs::create_dir_all(at).map_err(internal)?;
    for file in &directory.files {
        plain(&file.name)?;
        let digest = file.digest.clone().unwrap_or_default();
        let bytes = state.blob(&digest).ok_or_else(|| {
            Status::failed_precondition(format!("{prefix}{} is not in the CAS", file.name))
        })?;
        std::fs::write(at.join(&file.name), bytes).map_err(internal)?;
        inputs.push(format!("{prefix}{}", file.name));
    }
    for link in &directory.symlinks {
        plain(&link.name)?;
        // A worker never follows a link out of its root: no absolute target, no climb
        // past the top.
        let depth = prefix.matches('/').count() as isize;
        let mut level = depth;
        for part in link.target.split('/') {
            level += match part {
                ".." => -1,
                "" | "." => 0,
                _ => 1,
            };
            if link.target.starts_with('/') || level < 0 {
                return Err(Status::invalid_argument(format!(
                    "the link {prefix}{} leaves the input root: {}",
                    link.name, link.target
                )));
            }
        }
        std::os::unix::fs::symlink(&link.target, at.join(&link.name)).map_err(internal)?;
        inputs.push(format!("{prefix}{} -> {}", link.name, link.target));
    }
    for child in &directory.directories {
        plain(&child.name)?;
        let digest = child.digest.clone().unwrap_or_default();
        let bytes = state.blob(&digest).ok_or_else(|| {
            Status::failed_precondition(format!(
                "directory {prefix}{} is not in the CAS",
                child.name
            ))
        })?;
        let message = Directory::decode(bytes.as_slice())
            .map_err(|e| Status::invalid_argument(format!("{prefix}{}: {e}", child.name)))?;
        let below = format!("{prefix}{}/", child.name);
        inputs.push(below.clone());
        lay_out(state, &message, &at.join(&child.name), &below, inputs)?;
    }
    Ok(())
}

/// Runs the Action's Command in a fresh input root, as a worker would.
fn run_action(state: &EngineState, action_digest: &Digest) -> Result<ActionResult, Status> {
    let missing = |what: &str| Status::failed_precondition(format!("{what} is not in the CAS"));
    let decode =
        |what: &str, e: prost::DecodeError| Status::invalid_argument(format!("{what}: {e}"));
    let action = state
        .blob(action_digest)
        .ok_or_else(|| missing("the action"))?;
    let action = Action::decode(action.as_slice()).map_err(|e| decode("action", e))?;
    let command = action.command_digest.unwrap_or_default();
    let command = state.blob(&command).ok_or_else(|| missing("the command"))?;
    let command = Command::decode(command.as_slice()).map_err(|e| decode("command", e))?;
    let root = action.input_root_digest.unwrap_or_default();
    let root = state.blob(&root).ok_or_else(|| missing("the input root"))?;
    let root = Directory::decode(root.as_slice()).map_err(|e| decode("input root", e))?;
    let dir = tempfile::tempdir().map_err(|e| Status::internal(e.to_string()))?;
    let mut inputs = Vec::new();
    lay_out(state, &root, dir.path(), "", &mut inputs)?;
    state.inputs_seen.lock().unwrap().push(inputs);
    // Workers create the parents of the declared outputs (REAPI v2, `Command.output_paths`).
    let workdir = dir.path().join(&command.working_directory);
    for path in &command.output_paths {
        if let Some(parent) = workdir.join(path).parent() {
            std::fs::create_dir_all(parent).map_err(|e| Status::internal(e.to_string()))?;
        }
    }
    state
        .commands_seen
        .lock()
        .unwrap()
        .push(command.arguments.clone());
    let (program, args) = command
        .arguments
        .split_first()
        .ok_or_else(|| Status::invalid_argument("no arguments"))?;
    let output = std::process::Command::new(program)
        .args(args)
        .current_dir(dir.path().join(&command.working_directory))
        .env_clear()
        .envs(
            command
                .environment_variables
                .iter()
                .map(|v| (&v.name, &v.value)),
        )
        .output()
        .map_err(|e| Status::internal(format!("cannot run {program}: {e}")))?;
    let mut output_files = Vec::new();
    for path in &command.output_paths {
        if let Ok(bytes) = std::fs::read(dir.path().join(&command.working_directory).join(path)) {
            output_files.push(OutputFile {
                path: path.clone(),
                digest: Some(state.store(bytes)),
                ..Default::default()
            });
        }
    }
    Ok(ActionResult {
        output_files,
        exit_code: output.status.code().unwrap_or(-1),
        stdout_digest: Some(state.store(output.stdout.clone())),
        stderr_raw: output.stderr.clone(),
        stderr_digest: Some(state.store(output.stderr)),
        ..Default::default()
    })
}
