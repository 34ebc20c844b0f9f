//! One compile, start to finish: scan the command line, pick a host, preprocess while the
//! connection opens, send, receive, write the object, and fall back to a local compile when
//! distributing fails — trying the other hosts first, and backing off only hosts whose
//! transport failed. A compile error is an answer, never a reason to blame a host.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::args::{Scan, scan};
use super::attempt::{self, Attempt, JobStream};
use super::cpp_plans;
use super::engine_job::{self, EngineInput, EngineJob};
use super::fallback::Fallback;
use super::identity::{self, Identity};
use super::job::CompileJob;
use super::output;
use super::pick;
use super::preprocess::{self, SharedSource};
use super::pump::{NotPumped, PumpTree};
use super::remote::{self, RemoteError};
use super::report::{AttemptNumbers, Reporter};
use crate::config::{ClientEnv, SshEnv};
use crate::exit_code::ExitCode;
use crate::hosts::{HostKind, HostList, HostSpec, HostsError};

use crate::lock_files as lock;
use crate::monitor::{Phase, StateFile};
use crate::protocol::farm_view::Outcome;
use crate::protocol::{Limits, Response, Version};
use crate::transport::BoxStream;
use crate::transport::counted::{ByteCounts, Counted};
use std::time::Instant;

/// What a connection carries: the job (with its monitor record), or the probe that asks a
/// host which compiler it runs (not monitored, its source never kept).
enum Sending<'s> {
    Job(Option<&'s StateFile>),
    IdentityProbe,
}

/// What one job's attempts have learned so far.
#[derive(Default)]
pub(super) struct Tries {
    /// distcc's monitor record of this job (`distccmon-text` reads it).
    state: Option<StateFile>,
    /// The local preprocessor, started with the first attempt and shared by the others.
    source: Option<SharedSource>,
    /// Hosts that failed this job, not to be picked again.
    tried: Vec<String>,
    /// The last host failure, for the fallback warning.
    last_failure: Option<Fallback>,
    /// The user was already told about `last_failure` (a foreign compiler's warning).
    last_failure_told: bool,
    /// False once the agent could not be reached: connect directly from then on.
    use_agent: bool,
    /// A cut connection was already retried once on its host.
    retried_same_host: bool,
    /// Hosts whose compiler this job asked about (once each).
    probed: Vec<String>,
    /// Pump mode: the files scanned for the first `,cpp` host (shared by later attempts),
    /// or why the job is preprocessed here instead.
    pub(super) pump: Option<Result<Arc<PumpTree>, NotPumped>>,
    /// A pump-mode attempt failed: the job goes on in plain mode.
    pub(super) pump_failed: bool,
}

pub struct Wrapper<'a> {
    pub env: &'a ClientEnv,
    /// `PATH` for the compiler (trimmed past our own directory in masquerade mode).
    pub path: Option<OsString>,
    pub compiler: PathBuf,
    pub hosts: Result<HostList, HostsError>,
    /// Started by a distfarm child (`_DISTCC_SAFEGUARD`): compile here, take no slot.
    pub nested: bool,
    pub ssh: SshEnv,
    /// Tells the agent how the job ended (monitor counters, build summary).
    pub reporter: Reporter,
}

impl Wrapper<'_> {
    pub async fn run(&self, command: Vec<String>) -> i32 {
        if self.nested {
            return self.run_here(&command);
        }
        let job = match scan(&command) {
            Scan::Distribute(job) => job,
            Scan::Local(reason) => {
                tracing::debug!("compiling locally: {reason}");
                let source = super::fallback::source_of(&command);
                self.reporter.local(source, reason.to_string(), false).await;
                return self.run_locally(&command).await;
            }
            Scan::NotCompile(reason) => {
                tracing::debug!("running locally: {reason}");
                return self.run_locally(&command).await;
            }
        };
        if let Some(reason) = job.engine_only
            && !self.lists_an_engine()
        {
            tracing::debug!("compiling locally: {reason}");
            self.reporter
                .local(&job.input, reason.to_string(), false)
                .await;
            return self.run_locally(&command).await;
        }
        let hosts = match &self.hosts {
            Ok(list) if !list.is_empty() => list,
            Ok(list) => {
                let why = Fallback {
                    host: None,
                    reason: list.why_empty(),
                    exit: ExitCode::NoHosts,
                };
                return self.fall_back(&job, why).await;
            }
            Err(e) => {
                let exit = if matches!(e, HostsError::NotSet { .. }) {
                    ExitCode::NoHosts
                } else {
                    ExitCode::BadHostSpec
                };
                return self
                    .fall_back(
                        &job,
                        Fallback {
                            host: None,
                            reason: e.to_string(),
                            exit,
                        },
                    )
                    .await;
            }
        };
        self.distribute(&job, hosts).await
    }

    /// Whether a Remote Execution API engine is among the hosts (it may take jobs no
    /// distcc host can).
    fn lists_an_engine(&self) -> bool {
        self.hosts
            .as_ref()
            .is_ok_and(|list| list.hosts.iter().any(HostSpec::is_engine))
    }

    /// pick → attempt → settle, until a host answers or there is none left to try.
    async fn distribute(&self, job: &CompileJob, hosts: &HostList) -> i32 {
        let lock_dir = match lock::lock_dir(&self.env.distcc_dir) {
            Ok(dir) => dir,
            Err(e) => {
                let reason = format!(
                    "cannot create {}: {e}",
                    self.env.distcc_dir.join("lock").display()
                );
                return self.fall_back(job, Fallback::local_problem(reason)).await;
            }
        };
        let mut tries = Tries {
            state: StateFile::new(&self.env.distcc_dir, &job.input).ok(),
            use_agent: true,
            ..Tries::default()
        };
        if job.engine_only.is_some() {
            let distcc_hosts = hosts.hosts.iter().filter(|h| !h.is_engine());
            tries.tried.extend(distcc_hosts.map(|h| h.text.clone()));
        }
        // Hosts whose compiler lately turned out not to be this one are left out.
        let identities = self.identities();
        let target = identity::target_options(&job.argv);
        // An engine's Actions name the compiler: that name is what an object shows, never
        // what the driver tells.
        let at_least = if self.lists_an_engine() {
            identity::Asked::Compiled
        } else {
            identity::Asked::Told
        };
        let local_identity = identity::local(
            &self.compiler,
            &target,
            self.path.as_ref(),
            self.env.safeguard,
            &identities,
            at_least,
        );
        if let Some(local) = &local_identity {
            tries.tried.extend(
                hosts
                    .hosts
                    .iter()
                    .filter(|h| identity::is_left_out(&identities, &h.text, local))
                    .map(|h| h.text.clone()),
            );
        }
        loop {
            let waiting = Instant::now();
            let attempt = self.pick(job, hosts, &lock_dir, &mut tries).await;
            self.reporter.waited(waiting.elapsed());
            let attempt = match attempt {
                Ok(attempt) => attempt,
                Err(exit) => return exit,
            };
            let Attempt::Connected {
                host,
                slot,
                _lock,
                stream,
            } = attempt
            else {
                continue; // the agent is gone: pick again, directly
            };
            let wants_pump = host.protocol_version() == 3 && !tries.pump_failed;
            // An engine entry with `,cpp`: the job's input is its source and headers.
            let wants_engine_pump = !tries.pump_failed
                && matches!(&host.kind, HostKind::Grpc(endpoint) if endpoint.pump);
            // A `-g` job to an SSH host may go as a tree (below) if a distfarm session
            // server answers; any other job starts preprocessing while it connects
            // (and while the host's compiler is asked who it is).
            let tree_if_distfarm = matches!(host.kind, HostKind::Ssh { .. })
                && !tries.pump_failed
                && crate::debug_info::asked_for(job.argv.iter().skip(1).map(String::as_str));
            if !wants_pump && !tree_if_distfarm && !wants_engine_pump {
                tries
                    .source
                    .get_or_insert_with(|| self.start_preprocessor(job, &lock_dir));
            }
            if let Some(state) = &mut tries.state {
                state.set_host(host.hostname(), slot as usize);
                state.phase(Phase::Connect);
            }
            let engine = match &host.kind {
                HostKind::Grpc(endpoint) => Some(endpoint.clone()),
                _ => None,
            };
            // Nothing known yet about this host's compiler: this connection asks it, and
            // the job picks again. (An engine needs no asking: the Action's platform names
            // the compiler, and only a worker that has it runs the job.)
            let stream = if engine.is_some() {
                stream
            } else {
                let Some(stream) = self
                    .ask_first_if_unknown(stream, &host, job, local_identity.as_ref(), &mut tries)
                    .await
                else {
                    continue;
                };
                stream
            };
            let started = Instant::now();
            let bytes = Arc::new(ByteCounts::default());
            let stream = async {
                stream.await.map(|job| JobStream {
                    stream: Box::new(Counted::new(job.stream, bytes.clone())) as BoxStream,
                    ..job
                })
            };
            let numbers = || AttemptNumbers {
                host: &host,
                started,
                bytes: &bytes,
            };
            let result = if let Some(endpoint) = &engine {
                // Not a connection: it holds the agent's slot (or nothing, under a slot
                // lock) while the job runs on the engine, reached by `reapi`. The include
                // scan of a pump-mode job overlaps it, as the preprocessor does otherwise.
                let (slot, pumped) = if wants_engine_pump {
                    tokio::join!(stream, self.engine_pump_inputs(job, &mut tries))
                } else {
                    (stream.await, Ok(None))
                };
                let pumped = match pumped {
                    Ok(pumped) => pumped,
                    Err(exit) => return exit,
                };
                let input = match &pumped {
                    Some(inputs) => EngineInput::Pumped(inputs),
                    None => EngineInput::Preprocessed(
                        tries
                            .source
                            .get_or_insert_with(|| self.start_preprocessor(job, &lock_dir)),
                    ),
                };
                if let Some(state) = &tries.state {
                    state.phase(Phase::Compile);
                }
                let cwd = std::env::current_dir().unwrap_or_default();
                let engine_job = EngineJob {
                    endpoint,
                    compiler: &self.compiler,
                    identity: local_identity.as_ref(),
                    cwd: &cwd,
                    timeout: self.env.io_timeout,
                };
                let result = match slot {
                    Ok(slot) => engine_job::compile(&engine_job, job, input, slot).await,
                    Err(e) => Err(e),
                };
                if pumped.is_some() && pump_attempt_failed(&result) {
                    // As for a distcc `,cpp` host: perhaps a header the scan missed, or a
                    // worker that cannot run the script.
                    self.retry_in_plain_mode(job, &host, &result, &mut tries);
                    continue;
                }
                result
            } else {
                let (connected, pump) = if wants_pump {
                    // The scan overlaps the connection, as the preprocessor does in plain mode.
                    tokio::join!(stream, self.pump_tree(job, &mut tries, true))
                } else {
                    (stream.await, Ok(None))
                };
                let mut pump = match pump {
                    Ok(pump) => pump,
                    Err(exit) => return exit,
                };
                // Between distfarm ends a `-g` job goes as a tree too, whatever the host's
                // options: compiled from its sources, its object is the one a direct local
                // `gcc -g -c` makes (preprocessed text changes gcc's line tables).
                if let Ok(connected) = &connected
                    && pump.is_none()
                    && connected.stores_headers
                    && tree_if_distfarm
                {
                    pump = self.pump_tree(job, &mut tries, false).await.unwrap_or(None);
                }
                let result = match (connected, &pump) {
                    (Ok(connected), Some(tree)) => {
                        self.compile_pumped(connected, tree, tries.state.as_ref(), &bytes)
                            .await
                    }
                    (Ok(connected), None) => {
                        let source: &SharedSource = tries
                            .source
                            .get_or_insert_with(|| self.start_preprocessor(job, &lock_dir));
                        let sending = Sending::Job(tries.state.as_ref());
                        self.compile_on(connected.stream, &host, job, source, sending)
                            .await
                    }
                    (Err(e), _) => Err(e),
                };
                if pump.is_some() && pump_attempt_failed(&result) {
                    // Perhaps a header the scan missed, or a server that refuses pump mode.
                    self.retry_in_plain_mode(job, &host, &result, &mut tries);
                    continue;
                }
                result
            };
            match result {
                Ok(response) if response.succeeded() => {
                    let foreign = match (
                        local_identity.clone(),
                        Identity::of_object(&response.object),
                    ) {
                        (Some(mut local), Some(theirs)) => self
                            .is_foreign(&mut local, &theirs, &target)
                            .then_some((local, theirs)),
                        _ => None,
                    };
                    match foreign {
                        Some((local, theirs)) => {
                            let why = format!("its compiler is {theirs}, not {local}");
                            self.reporter
                                .remote(&job.input, numbers(), Outcome::Failed, Some(why))
                                .await;
                            self.foreign_compiler(&host, &local, theirs, &mut tries, &identities);
                        }
                        None => {
                            self.reporter
                                .remote(&job.input, numbers(), Outcome::Compiled, None)
                                .await;
                            return self
                                .answered(job, &host, slot, response, &tries, &lock_dir)
                                .await;
                        }
                    }
                }
                Ok(response) => {
                    let (outcome, why) = match refusal_in(&response.stderr) {
                        Some(why) => (Outcome::Refused, Some(why)),
                        None => (Outcome::CompileError, None),
                    };
                    self.reporter
                        .remote(&job.input, numbers(), outcome, why)
                        .await;
                    return self
                        .answered(job, &host, slot, response, &tries, &lock_dir)
                        .await;
                }
                Err(failure) if matches!(failure, RemoteError::Preprocess(_)) => {
                    // The source itself does not preprocess: compiling here shows the user
                    // the same errors a local build would. The host did nothing wrong.
                    tracing::debug!("{}: {failure}; compiling locally to report it", job.input);
                    let why = format!("preprocessing failed: {failure}");
                    self.reporter.local(&job.input, why, false).await;
                    return self.run_locally(&job.argv).await;
                }
                Err(failure) => {
                    let why = Some(failure.to_string());
                    self.reporter
                        .remote(&job.input, numbers(), Outcome::Failed, why)
                        .await;
                    self.settle_failure(job, &host, failure, &mut tries, &lock_dir)
                }
            }
        }
    }

    /// The next attempt: through the agent's queue when it serves these hosts, else by
    /// distcc's lock files. `Err` is the job's exit when it ends here: no host is left (the
    /// fallback) or `localhost` won its slot.
    async fn pick<'s>(
        &'s self,
        job: &CompileJob,
        hosts: &HostList,
        lock_dir: &Path,
        tries: &mut Tries,
    ) -> Result<Attempt<'s>, i32> {
        let candidates = pick::candidates(hosts, lock_dir, self.env.backoff_period, &tries.tried);
        let attempt = if tries.use_agent && attempt::agent_serves(&candidates, self.env, &self.ssh)
        {
            attempt::through_agent(&candidates, self.env, &self.ssh, false, &job.input).await
        } else {
            let pause = self.env.pause_time;
            match attempt::with_lock(
                &candidates,
                lock_dir,
                pause,
                self.env,
                &self.ssh,
                &job.input,
            )
            .await
            {
                Ok(attempt) => attempt,
                Err(e) => {
                    let reason = format!("cannot take a slot lock in {}: {e}", lock_dir.display());
                    return Err(self.fall_back(job, Fallback::local_problem(reason)).await);
                }
            }
        };
        match attempt {
            Attempt::AgentUnavailable => {
                tracing::debug!("no agent; connecting directly");
                tries.use_agent = false;
                Ok(attempt)
            }
            Attempt::NoHost(message) => {
                let why = tries.last_failure.take().unwrap_or_else(|| Fallback {
                    host: None,
                    reason: message.unwrap_or_else(|| self.why_no_host(hosts, lock_dir)),
                    exit: ExitCode::NoHosts,
                });
                Err(self.fall_back(job, why).await)
            }
            Attempt::Localhost { slot, _lock } => {
                if let Some(state) = &mut tries.state {
                    state.set_host("localhost", slot as usize);
                    state.phase(Phase::Compile);
                }
                let why = "the localhost entry won a slot".to_string();
                self.reporter.local(&job.input, why, false).await;
                Err(self.run_here(&job.argv))
            }
            connected @ Attempt::Connected { .. } => Ok(connected),
        }
    }

    /// The host answered (the compile itself may have failed: that is the compiler's answer).
    async fn answered(
        &self,
        job: &CompileJob,
        host: &HostSpec,
        slot: u32,
        response: Response,
        tries: &Tries,
        lock_dir: &Path,
    ) -> i32 {
        // What DISTCC_VERBOSE and DISTCC_LOG show for every distributed job.
        tracing::info!(
            "{} compiled on {} (slot {slot}), status {}",
            job.input,
            host.text,
            output::exit_code_of_wait_status(response.status)
        );
        lock::enjoy(lock_dir, &host.backoff_name(), self.env.backoff_period);
        if let Some(failed) = tries
            .last_failure
            .as_ref()
            .filter(|_| !tries.last_failure_told)
        {
            tracing::warn!(
                "{} was compiled on {} after {} failed: {}",
                job.input,
                host.text,
                failed.host.as_deref().unwrap_or("another host"),
                failed.reason
            );
        }
        if let Some(state) = &tries.state {
            state.phase(Phase::Done);
        }
        let cpp_messages = match &tries.source {
            Some(source) => match source.get().await {
                Ok(source) => source.messages.clone(),
                Err(_) => Vec::new(),
            },
            None => Vec::new(),
        };
        self.finish(job, host, response, &cpp_messages).await
    }

    /// Before the first job for this compiler goes to `host`, uses the connection to ask
    /// which compiler it runs (`None`: it was used so). Otherwise, or when the connection
    /// failed (that is the job's failure), gives the connection back.
    async fn ask_first_if_unknown<'c>(
        &self,
        stream: attempt::Connecting<'c>,
        host: &HostSpec,
        job: &CompileJob,
        local: Option<&Identity>,
        tries: &mut Tries,
    ) -> Option<attempt::Connecting<'c>> {
        let identities = self.identities();
        let Some(local) = local else {
            return Some(stream);
        };
        if tries.probed.contains(&host.text) {
            return Some(stream);
        }
        let Some(_asking) = identity::claim_probe(&identities, &host.text, local) else {
            return Some(stream);
        };
        let connected = match stream.await {
            Ok(connected) => connected,
            Err(e) => return Some(Box::pin(std::future::ready(Err(e)))),
        };
        tries.probed.push(host.text.clone());
        let mut local = local.clone();
        let target = identity::target_options(&job.argv);
        match self.ask_identity(connected, host, job).await {
            Ok(Some(theirs)) if self.is_foreign(&mut local, &theirs, &target) => {
                self.foreign_compiler(host, &local, theirs, tries, &identities)
            }
            Ok(Some(_)) => identity::remember_same(&identities, &host.text, &local),
            // Not answered: the job goes on, and its object is checked all the same.
            Ok(None) => {}
            // The exchange broke: a failure of this host, as the job's would be.
            Err(e) => return Some(Box::pin(std::future::ready(Err(e)))),
        }
        None
    }

    /// Whether an object of `theirs` comes from another compiler than this machine's `local`.
    /// A `local` the driver told is checked first by compiling an empty unit here (a host is
    /// never blamed on the driver's words), and becomes what that showed.
    fn is_foreign(&self, local: &mut Identity, theirs: &Identity, target: &[String]) -> bool {
        if local == theirs {
            return false;
        }
        if let Some(compiled) = identity::local(
            &self.compiler,
            target,
            self.path.as_ref(),
            self.env.safeguard,
            &self.identities(),
            identity::Asked::Compiled,
        ) {
            *local = compiled;
        }
        local != theirs
    }

    /// Where what other hosts' compilers are is kept.
    fn identities(&self) -> PathBuf {
        self.env.distcc_dir.join("identity")
    }

    /// What compiler `host` runs for `job`'s: the identity of the object it makes of
    /// [`identity::PROBE_SOURCE`] (`None`: it did not say, e.g. the compile failed there).
    async fn ask_identity(
        &self,
        connected: JobStream,
        host: &HostSpec,
        job: &CompileJob,
    ) -> Result<Option<Identity>, RemoteError> {
        let Scan::Distribute(probe) = scan(&identity::probe_command(&job.argv)) else {
            return Ok(None);
        };
        let source = SharedSource::ready(identity::PROBE_SOURCE.to_vec());
        let response = self
            .compile_on(
                connected.stream,
                host,
                &probe,
                &source,
                Sending::IdentityProbe,
            )
            .await?;
        let identity = response
            .succeeded()
            .then(|| Identity::of_object(&response.object))
            .flatten();
        if identity.is_none() {
            tracing::debug!(
                "{}: the compiler identity probe was not answered",
                host.text
            );
        }
        Ok(identity)
    }

    /// `host` compiled with another compiler than this machine's: its object is dropped and
    /// the host left out for this compiler for a while, with one warning that says so.
    fn foreign_compiler(
        &self,
        host: &HostSpec,
        local: &Identity,
        theirs: Identity,
        tries: &mut Tries,
        identities: &Path,
    ) {
        let compiler = self.compiler.display();
        if identity::remember_mismatch(identities, &host.text, local, &theirs) {
            tracing::warn!(
                "{} compiles with {theirs}, but {compiler} here is {local}: its objects would \
                 not match this machine's, so it is left out for {compiler} for {} minutes; \
                 install the same compiler version there",
                host.text,
                identity::IDENTITY_MEMORY.as_secs() / 60
            );
        }
        tries.tried.push(host.text.clone());
        tries.last_failure = Some(Fallback {
            host: Some(host.text.clone()),
            reason: format!("its compiler is {theirs}, not {local}"),
            exit: ExitCode::DistccFailed,
        });
        tries.last_failure_told = true;
    }

    /// A host failed this job: once on the same host for a connection cut mid-job over SSH
    /// (the agent reconnects), otherwise the host is backed off and another one is tried.
    fn settle_failure(
        &self,
        job: &CompileJob,
        host: &HostSpec,
        failure: RemoteError,
        tries: &mut Tries,
        lock_dir: &Path,
    ) {
        let over_ssh = matches!(host.kind, HostKind::Ssh { .. });
        if failure.worth_one_more_try_on_the_same_host() && over_ssh && !tries.retried_same_host {
            tracing::info!(
                "{} on {}: {failure}; retrying once on a fresh channel",
                job.input,
                host.text
            );
            tries.retried_same_host = true;
            return;
        }
        // One warning at the end names this failure; here it is detail. Not backed off
        // for what is this side's fault (an engine entry naming a missing key file): the
        // job still moves on, and the warning says why.
        let blamed = failure.blames_host();
        tracing::info!(
            "{} on {}: {failure}; {}trying another host",
            job.input,
            host.text,
            if blamed { "backing it off and " } else { "" }
        );
        if blamed {
            lock::dislike(lock_dir, &host.backoff_name(), self.env.backoff_period);
        }
        tries.tried.push(host.text.clone());
        tries.last_failure = Some(Fallback {
            host: Some(host.text.clone()),
            reason: failure.to_string(),
            exit: failure.exit_code(),
        });
        tries.last_failure_told = false;
    }

    /// A pump-mode attempt on `host` failed: the job goes once more in plain mode, on the
    /// same host, before anything else — said once and counted as a demotion.
    fn retry_in_plain_mode(
        &self,
        job: &CompileJob,
        host: &HostSpec,
        result: &Result<Response, RemoteError>,
        tries: &mut Tries,
    ) {
        tracing::warn!(
            "{}: pump-mode compile on {} failed ({}); retrying in plain mode",
            job.input,
            host.text,
            describe_failure(result)
        );
        self.reporter
            .pump_demoted(format!("pump-mode compile failed on {}", host.text));
        tries.pump_failed = true;
    }

    /// Starts the local preprocessor under a `--localslots_cpp` slot, released when it ends.
    fn start_preprocessor(&self, job: &CompileJob, lock_dir: &Path) -> SharedSource {
        if job.preprocessed {
            return match std::fs::read(&job.input) {
                Ok(bytes) => SharedSource::ready(bytes),
                Err(error) => SharedSource::spawn(async move {
                    Err(preprocess::PreprocessFailure::Spawn {
                        program: "reading the source".into(),
                        error,
                    })
                }),
            };
        }
        let cpp_slots = self.hosts.as_ref().map(|h| h.local_slots_cpp).unwrap_or(8);
        let args = &job.preprocess_argv()[1..];
        let run = preprocess::start(
            &self.compiler,
            args,
            self.path.as_ref(),
            self.env.safeguard,
            self.preprocessor_route(job, args),
        );
        let lock_dir = lock_dir.to_path_buf();
        let pause = self.env.pause_time;
        SharedSource::spawn(async move {
            let _slot = pick::local_slot(cpp_slots, &lock_dir, pause).await.ok();
            run.await
        })
    }

    /// Whether this job's preprocessor runs from a plan (gcc-family compilers; clang's
    /// driver runs itself), and whether one must be learned first.
    fn preprocessor_route(&self, job: &CompileJob, args: &[String]) -> preprocess::Route {
        let clang = crate::compiler_names::is_clang(job.compiler())
            || crate::compiler_names::is_clang(&self.compiler.to_string_lossy());
        if !self.env.cpp_plans || clang {
            return preprocess::Route::Driver;
        }
        let Ok(cwd) = std::env::current_dir() else {
            return preprocess::Route::Driver;
        };
        let request = cpp_plans::Request {
            compiler: &self.compiler,
            args,
            input: &job.input,
            path: self.path.as_deref(),
            key_env: &self.env.cpp_plan_env,
            cwd: &cwd,
        };
        match cpp_plans::lookup(&self.env.distcc_dir.join("cpp-plans"), &request) {
            cpp_plans::Found::Plan(pass) => preprocess::Route::Plan(pass),
            cpp_plans::Found::Driver => preprocess::Route::Driver,
            cpp_plans::Found::Unknown(learn) => preprocess::Route::Learn(learn),
        }
    }

    async fn compile_on(
        &self,
        stream: BoxStream,
        host: &HostSpec,
        job: &CompileJob,
        source: &SharedSource,
        sending: Sending<'_>,
    ) -> Result<Response, RemoteError> {
        let (state, save_temps) = match sending {
            Sending::Job(state) => (state, self.env.save_temps),
            Sending::IdentityProbe => (None, false),
        };
        // A `,cpp` host whose job is not pumped gets protocol 2, as in distcc.
        let version = match host.protocol_version() {
            1 => Version::V1,
            _ => Version::V2,
        };
        if let Some(state) = state {
            state.phase(Phase::Send);
        }
        let mut argv = job.remote_argv();
        if let Ok(cwd) = std::env::current_dir()
            && let Some(option) = job.compilation_dir_option(&cwd)
        {
            argv.push(option);
        }
        let argv = argv.into_iter().map(String::into_bytes).collect();
        let limits = Limits {
            io_timeout: self.env.io_timeout,
            ..Limits::default()
        };
        let source = async {
            let bytes = source.get().await;
            if let (true, Ok(source)) = (save_temps, &bytes) {
                self.save_temp(job, &source.text);
            }
            if let Some(state) = state {
                state.phase(Phase::Compile);
            }
            bytes
        };
        remote::compile(stream, version, argv, source, limits).await
    }

    /// `DISTCC_SAVE_TEMPS=1`: keep what was sent, as distcc keeps its `distcc_*.i` files.
    /// The name is new each time (never a path someone else could have put a link at).
    fn save_temp(&self, job: &CompileJob, text: &[u8]) {
        let kept = tempfile::Builder::new()
            .prefix(&format!("distfarm_{}_", std::process::id()))
            .suffix(&job.preprocessed_ext)
            .tempfile_in(&self.env.tmpdir)
            .and_then(|mut file| {
                std::io::Write::write_all(&mut file, text)?;
                file.keep().map_err(|e| e.error)
            });
        match kept {
            Ok((_, path)) => tracing::info!(
                "DISTCC_SAVE_TEMPS: kept the preprocessed source in {}",
                path.display()
            ),
            Err(e) => tracing::warn!(
                "DISTCC_SAVE_TEMPS: cannot write in {}: {e}",
                self.env.tmpdir.display()
            ),
        }
    }

    /// The server answered. Success: write the object and replay the output. A failed
    /// compile is re-run here (like distcc) unless `DISTCC_SKIP_LOCAL_RETRY` or
    /// `DISTCC_FALLBACK=0` says to report the remote result as it is.
    async fn finish(
        &self,
        job: &CompileJob,
        host: &HostSpec,
        mut response: Response,
        cpp_messages: &[u8],
    ) -> i32 {
        // The preprocessor's warnings come first, as in a local compile.
        response.stderr.splice(0..0, cpp_messages.iter().copied());
        if response.succeeded() {
            if let Err(e) = output::write_output(Path::new(&job.output), &response.object) {
                eprintln!(
                    "distfarm[{}] ERROR: cannot write {}: {e}",
                    std::process::id(),
                    job.output
                );
                return ExitCode::IoError.code();
            }
            // Pump mode: the server's preprocessor wrote the dependency file.
            if let (Some(deps), Some(wanted)) = (&response.deps, &job.dependencies)
                && let Err(e) = output::write_output(Path::new(&wanted.file), deps)
            {
                eprintln!(
                    "distfarm[{}] ERROR: cannot write {}: {e}",
                    std::process::id(),
                    wanted.file
                );
                return ExitCode::IoError.code();
            }
            output::replay(&response.stdout, &response.stderr);
            return 0;
        }
        if self.env.skip_local_retry || !self.env.fallback {
            output::replay(&response.stdout, &response.stderr);
            return output::exit_code_of_wait_status(response.status);
        }
        tracing::info!(
            "compile of {} on {} failed with status {}; running it locally to confirm",
            job.input,
            host.text,
            output::exit_code_of_wait_status(response.status)
        );
        self.run_locally(&job.argv).await
    }
}

/// The reason, when a failed job's messages say the server refused to run it (distfarm's
/// refusal, or distccd's refused command) rather than that the compiler failed.
fn refusal_in(stderr: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(stderr);
    text.lines()
        .find(|line| line.contains("server refused") || line.contains("not in the allow-list"))
        .map(|line| line.trim().to_string())
}

/// Whether a pump-mode attempt ended in a way plain mode on the same host may mend: the
/// compile failed there, or the server did not take the request.
fn pump_attempt_failed(result: &Result<Response, RemoteError>) -> bool {
    match result {
        Ok(response) => !response.succeeded(),
        Err(failure) => matches!(failure, RemoteError::Protocol(_)),
    }
}

fn describe_failure(result: &Result<Response, RemoteError>) -> String {
    match result {
        Ok(response) => format!(
            "status {}",
            output::exit_code_of_wait_status(response.status)
        ),
        Err(failure) => failure.to_string(),
    }
}
