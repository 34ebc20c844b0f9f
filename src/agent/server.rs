//! The agent's accept loop: each wrapper connection asks for a host and waits in the queue
//! for a slot; for an SSH host it gets a channel on a pooled SSH connection and its job's
//! bytes are spliced through, for a TCP or local-socket host it holds the slot while it
//! connects by itself, for an engine the agent runs the Action it is handed on its kept
//! channel — or it asks for a pump-mode job's include scan.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, BufReader};
use tokio::net::{UnixListener, UnixStream};

use super::ledger::Ledger;
use super::pool::{ConnKey, Pool};
use super::scheduler::{Candidate, Scheduler};
use super::socket;
use crate::hosts::{self, HostKind};
use crate::include_scan::Scanner;
use crate::protocol::agent::{
    AgentRequest, Channel, JobRequest, Pick, write_browse_answer, write_view,
};
use crate::protocol::{Limits, TokenReader, TokenWriter};

pub struct Agent {
    pub scheduler: Arc<Scheduler>,
    pub pool: Pool,
    /// What `distfarm mon` is shown: running jobs, host counters, builds.
    pub ledger: Arc<Ledger>,
    /// The include scanner for pump-mode jobs, its caches shared by all of them.
    pub scanner: Arc<Scanner>,
    /// The files pump-mode jobs ship, packed once per version.
    pub packed_files: Arc<super::packed_files::PackedFiles>,
    /// `+zeroconf`'s browser.
    pub browsing: super::browse::Browsing,
    /// One channel per Remote Execution API endpoint.
    pub engines: super::engines::Engines,
    /// Wrapper connections being served.
    active: AtomicUsize,
    /// When the last wrapper connection ended (or the agent started).
    last_done: Mutex<Instant>,
}

impl Agent {
    /// `lock_dir` is `$DISTCC_DIR/lock`: slots are mirrored in distcc's lock files there.
    /// Connections are made as `account`; where their session servers were found is kept in
    /// `sessions`.
    pub fn new(
        lock_dir: Option<std::path::PathBuf>,
        account: crate::config::Account,
        sessions: Option<crate::remote_exec::SessionMemory>,
    ) -> Self {
        Agent {
            scheduler: Arc::new(Scheduler::with_lock_dir(lock_dir)),
            pool: Pool::new(account, sessions),
            ledger: Arc::default(),
            scanner: Arc::new(Scanner::new()),
            packed_files: Default::default(),
            browsing: Default::default(),
            engines: Default::default(),
            active: AtomicUsize::new(0),
            last_done: Mutex::new(Instant::now()),
        }
    }
}

impl Agent {
    /// No wrapper connected, and none for `idle`, and no build reading the zeroconf list.
    fn idle_for(&self, idle: Duration) -> bool {
        if self.browsing.running() {
            // The clock starts again when the browser stops.
            *self.last_done.lock().expect("idle clock") = Instant::now();
            return false;
        }
        self.active.load(Ordering::SeqCst) == 0
            && self.last_done.lock().expect("idle clock").elapsed() >= idle
    }

    fn done(&self) {
        *self.last_done.lock().expect("idle clock") = Instant::now();
        self.active.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Serves until no wrapper has been connected for `idle`.
pub async fn run(listener: UnixListener, agent: Arc<Agent>, idle: Duration) {
    // Checked on a tick rather than one long sleep, so the clock restarts from the end of
    // the last job, however long ago the last connection arrived; a quarter of `idle`, so
    // the agent leaves at most that late and wakes rarely meanwhile (a sleeping agent that
    // woke seven times a second spent 3 ms of CPU a second).
    let tick = (idle / 4).clamp(Duration::from_millis(50), Duration::from_secs(5));
    // Builds end when their make (or ninja …) exits, or when they go quiet.
    let builds = {
        let ledger = agent.ledger.clone();
        tokio::spawn(async move { ledger.builds.watch().await })
    };
    let _stop_builds = AbortOnDrop(builds);
    let mut out_of_descriptors = false;
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = tokio::time::sleep(tick) => {
                if agent.idle_for(idle) {
                    tracing::info!("agent: idle for {} s, exiting", idle.as_secs());
                    return;
                }
                continue;
            }
        };
        let stream = match accepted {
            Ok((stream, _)) => {
                out_of_descriptors = false;
                stream
            }
            Err(e) => {
                // Out of descriptors (or memory): the listener stays readable, so trying
                // again at once would spin a core until a job ends. Pause; the waiting
                // wrappers stay in the listen queue meanwhile.
                if !out_of_descriptors {
                    tracing::warn!(
                        "agent: cannot accept a wrapper's connection: {e}; waiting for jobs \
                         to end (raise `ulimit -n` for more wrappers at once)"
                    );
                    out_of_descriptors = true;
                }
                tokio::time::sleep(ACCEPT_PAUSE).await;
                continue;
            }
        };
        if !socket::peer_is_us(&stream) {
            tracing::warn!("agent: refused a connection from another user");
            continue;
        }
        let agent = agent.clone();
        agent.active.fetch_add(1, Ordering::SeqCst);
        tokio::spawn(async move {
            if let Err(e) = serve_wrapper(stream, &agent).await {
                tracing::debug!("agent: wrapper connection ended: {e}");
            }
            agent.done();
        });
    }
}

/// How long the agent waits after `accept` failed (no descriptor left) before trying again.
const ACCEPT_PAUSE: Duration = Duration::from_millis(100);

struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

type Failure = Box<dyn std::error::Error + Send + Sync>;

/// One connection: a job, a job's report, or a monitor asking for the view.
async fn serve_wrapper(stream: UnixStream, agent: &Agent) -> Result<(), Failure> {
    // Buffered: a request is dozens of small packets (a scan's argv, one per argument), each
    // header and body otherwise its own recv. A wrapper sends nothing more until it has the
    // agent's answer, so the buffer holds no bytes of what follows (`unbuffered` checks).
    let mut reader = TokenReader::new(
        BufReader::with_capacity(REQUEST_READ_BUFFER, stream),
        Limits::default(),
    );
    let request = AgentRequest::read(&mut reader).await?;
    let mut stream = unbuffered(reader)?;
    match request {
        AgentRequest::Job(request) => Box::pin(serve_job(stream, agent, request)).await,
        AgentRequest::Scan(request) => {
            // Boxed, as the other large steps are: a queued job's task holds only what it
            // needs while it waits (10,000 queued wrappers must not cost a GB).
            Ok(Box::pin(super::scan::answer(
                agent.scanner.clone(),
                agent.packed_files.clone(),
                request,
                &mut stream,
            ))
            .await?)
        }
        AgentRequest::Report(report) => {
            agent.ledger.report(&report);
            // The wrapper exits only after this: its build cannot end before its report
            // is counted.
            let mut w = TokenWriter::new(&mut stream);
            w.int(b"RACK", 0);
            w.flush().await?;
            Ok(())
        }
        AgentRequest::View => {
            let view = agent.ledger.view(&agent.scheduler);
            write_view(&mut TokenWriter::new(&mut stream), &view).await?;
            Ok(())
        }
        AgentRequest::Browse(request) => {
            let answer = Box::pin(agent.browsing.answer(request)).await;
            write_browse_answer(&mut TokenWriter::new(&mut stream), answer).await?;
            Ok(())
        }
    }
}

/// Room for a whole typical request in one read.
const REQUEST_READ_BUFFER: usize = 16 * 1024;

/// The stream under a buffered request reader; bytes read ahead of the answer would belong to
/// a conversation the wrapper cannot have started yet, so they are an error, not dropped.
fn unbuffered(reader: TokenReader<BufReader<UnixStream>>) -> Result<UnixStream, Failure> {
    let buffered = reader.into_inner();
    if !buffered.buffer().is_empty() {
        return Err("the wrapper sent more than its request before the answer".into());
    }
    Ok(buffered.into_inner())
}

async fn serve_job(
    mut stream: UnixStream,
    agent: &Agent,
    request: JobRequest,
) -> Result<(), Failure> {
    let entry = agent.ledger.job_arrived(request.pid, &request.file);

    // Per candidate: its pooled SSH connection's key, or `None` for a TCP or local-socket
    // host, which the wrapper connects to itself once the agent has given it the slot (and
    // for an engine, whose Action the agent runs in that slot).
    let mut keys = Vec::new();
    let mut specs = Vec::new();
    for text in &request.hosts {
        // Every form a wrapper may queue, the distfarm-only ones (`grpc://`) among them.
        let list = hosts::parse_distfarm(text, "agent request")?;
        let spec = list.hosts.into_iter().next().ok_or("empty host entry")?;
        let (key, kind) = match &spec.kind {
            HostKind::Ssh { user, host, remote } => (
                Some(ConnKey {
                    user: user.clone(),
                    host: host.clone(),
                    remote: remote.clone(),
                    ssh_config: request.ssh_config.clone(),
                    auth_sock: request.auth_sock.clone(),
                }),
                "ssh",
            ),
            HostKind::Tcp { .. } => (None, "tcp"),
            HostKind::Unix { .. } => (None, "unix"),
            // An engine: the wrapper hands over its Action after `OPEN` (below).
            HostKind::Grpc(_) => (None, "grpc"),
            HostKind::Local => return Err(format!("{text} is compiled locally, not queued").into()),
        };
        keys.push(key);
        agent
            .ledger
            .know_host(text, spec.hostname(), kind, spec.limit);
        specs.push(spec);
    }
    let lock_names: Vec<_> = specs
        .iter()
        .map(|spec| move |slot| spec.lock_name(slot))
        .collect();
    let candidates: Vec<Candidate> = request
        .hosts
        .iter()
        .zip(&specs)
        .zip(&lock_names)
        .map(|((key, spec), lock_name)| Candidate {
            key,
            limit: spec.limit,
            lock_name,
        })
        .collect();

    let (index, slot) = if request.slot_held && keys.len() == 1 {
        (0, None)
    } else {
        // A wrapper sends nothing until it has its answer, so a read that ends while it
        // waits in the queue means it went away (Ctrl-C): give up its place. (A read, not
        // `readable()`: readiness left over from reading the request would fire at once.)
        let mut probe = [0u8; 1];
        let acquired = tokio::select! {
            acquired = agent.scheduler.acquire(&candidates) => acquired,
            _ = stream.read(&mut probe) => return Ok(()),
        };
        let Some((index, slot)) = acquired else {
            let message = "every candidate host failed recently and is backed off".to_string();
            Pick::NoHost { message }
                .write(&mut TokenWriter::new(&mut stream))
                .await?;
            return Ok(());
        };
        (index, Some(slot))
    };
    entry.placed(
        &request.hosts[index],
        slot.as_ref().map(|s: &super::scheduler::Slot| s.number),
    );
    // The wrapper preprocesses while the channel opens.
    Pick::Host {
        index,
        slot: slot.as_ref().map_or(0, |s| s.number),
    }
    .write(&mut TokenWriter::new(&mut stream))
    .await?;
    let Some(key) = &keys[index] else {
        // A TCP or local-socket host: the slot is the wrapper's until it hangs up. An
        // engine: the slot is the Action's, which the wrapper hands over once it has its
        // preprocessed text.
        Channel::Open {
            slot: slot.as_ref().map_or(0, |s| s.number),
            stores_headers: false,
        }
        .write(&mut TokenWriter::new(&mut stream))
        .await?;
        entry.running();
        if let HostKind::Grpc(endpoint) = &specs[index].kind {
            return Box::pin(run_action(stream, agent, &request.hosts[index], endpoint)).await;
        }
        let mut rest = [0u8; 64];
        while stream.read(&mut rest).await? > 0 {}
        return Ok(());
    };
    // A wrapper that gives up while the channel opens (its DISTCC_IO_TIMEOUT over a silent
    // link, or Ctrl-C) takes its slot back with it.
    let mut probe = [0u8; 1];
    let opening = std::time::Instant::now();
    let opened = tokio::select! {
        opened = Box::pin(agent.pool.open_job(key)) => opened,
        _ = stream.read(&mut probe) => {
            tracing::info!(
                "agent: {}: the wrapper gave up while the channel was opening",
                request.hosts[index]
            );
            return Ok(());
        }
    };
    let (mut job, stores_headers) = match opened {
        Ok((job, stores_headers, remote_end)) => {
            agent.ledger.remote_end(&request.hosts[index], remote_end);
            agent
                .ledger
                .channel_opened(&request.hosts[index], opening.elapsed());
            (job, stores_headers)
        }
        Err(e) => {
            agent
                .scheduler
                .back_off(&request.hosts[index], request.backoff);
            let message = e.to_string();
            tracing::warn!("agent: {}: {message}", request.hosts[index]);
            Channel::Failed { message }
                .write(&mut TokenWriter::new(&mut stream))
                .await?;
            return Ok(());
        }
    };
    agent.scheduler.clear_backoff(&request.hosts[index]);
    Channel::Open {
        slot: slot.as_ref().map_or(0, |s| s.number),
        stores_headers,
    }
    .write(&mut TokenWriter::new(&mut stream))
    .await?;
    entry.running();
    Box::pin(carry(&mut stream, &mut job)).await?;
    Ok(())
}

/// An engine job: the wrapper's Action, run on the endpoint's kept channel, and how it
/// ended. A wrapper that hangs up instead (its preprocessor failed) gives the slot back.
/// The wrapper backs the engine off when the answer blames it, as for any host.
async fn run_action(
    stream: UnixStream,
    agent: &Agent,
    text: &str,
    endpoint: &crate::hosts::GrpcEndpoint,
) -> Result<(), Failure> {
    use crate::protocol::agent_engine::{self, ActionRequest};
    let mut reader = TokenReader::new(stream, Limits::default());
    let Some(request) = ActionRequest::read(&mut reader).await? else {
        return Ok(());
    };
    let answer = agent.engines.run(text, endpoint, request).await?;
    let mut stream = reader.into_inner();
    agent_engine::write_answer(&mut TokenWriter::new(&mut stream), &answer).await?;
    Ok(())
}

/// Carries a job's bytes both ways until one side is done. A wrapper never half-closes:
/// its end of file means it has its answer or has given up (a timeout, Ctrl-C), and then
/// nobody waits for the host, whose link may have gone silent — waiting for its end too
/// would hold the job's slot until SSH noticed, if ever.
async fn carry(
    wrapper: &mut UnixStream,
    job: &mut crate::transport::BoxStream,
) -> std::io::Result<()> {
    use tokio::io::AsyncWriteExt;
    let (mut from_wrapper, mut to_wrapper) = wrapper.split();
    let (mut from_host, mut to_host) = tokio::io::split(job);
    let up = async {
        tokio::io::copy(&mut from_wrapper, &mut to_host).await?;
        let _ = to_host.shutdown().await;
        Ok(())
    };
    let down = async {
        tokio::io::copy(&mut from_host, &mut to_wrapper).await?;
        Ok(())
    };
    tokio::select! {
        done = up => done,
        done = down => done,
    }
}
