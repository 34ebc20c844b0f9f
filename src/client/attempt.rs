//! How one attempt gets a connection for a job: through the agent's queue (every remote
//! host: SSH jobs ride the agent's pooled connection, TCP and local-socket jobs connect from
//! here in the slot the agent gave them), or by taking a distcc slot lock and connecting here
//! (lists with `localhost`, `DISTCC_SSH`, or no agent).

use std::os::fd::{AsRawFd, RawFd};
use std::path::Path;
use std::time::Duration;

use super::agent_link;
use super::pick::{self, Choice};
use super::remote::RemoteError;
use crate::config::{ClientEnv, SshEnv};
use crate::hosts::{HostKind, HostSpec, RemoteEnd};
use crate::lock_files::SlotLock;
use crate::protocol::agent::{Channel, JobRequest, Pick};
use crate::remote_exec::{self, Remembered, Remote, SessionMemory};
use crate::transport::{self, BoxStream, Guarded};

/// A connection on its way: awaited after the preprocessor has started, so that the two
/// overlap as in distcc.
pub type Connecting<'a> = std::pin::Pin<
    Box<dyn std::future::Future<Output = Result<JobStream, RemoteError>> + Send + 'a>,
>;

/// One job's connection to its host.
pub struct JobStream {
    pub stream: BoxStream,
    /// A distfarm session server is at the far end: it keeps the headers it is sent, so a
    /// pump-mode tree goes by content hash (`protocol::hashed_tree`).
    pub stores_headers: bool,
    /// An engine's slot from the agent: the stream is the agent's, which runs the job's
    /// Action on its kept channel to the endpoint (`protocol::agent_engine`).
    pub agent_runs_action: bool,
    /// The descriptor under `stream`, when it is a socket of this process that the agent
    /// may write a pump-mode tree into (`client::tree_contents`); valid while `stream` is.
    pub socket: Option<RawFd>,
}

impl JobStream {
    /// A stream to a server that may be any distccd.
    fn plain(stream: BoxStream, socket: Option<RawFd>) -> JobStream {
        JobStream {
            stream,
            stores_headers: false,
            agent_runs_action: false,
            socket,
        }
    }
}

#[allow(clippy::large_enum_variant)] // one short-lived value per attempt
pub enum Attempt<'a> {
    /// A host was chosen; `stream` becomes its connection or why there is none.
    Connected {
        host: HostSpec,
        slot: u32,
        /// The distcc slot lock, when the slot came from lock files.
        _lock: Option<SlotLock>,
        stream: Connecting<'a>,
    },
    /// The `localhost` entry won: compile here under its slot.
    Localhost { slot: u32, _lock: Box<SlotLock> },
    /// Nothing usable: the reason for the fallback warning.
    NoHost(Option<String>),
    /// The agent could not be reached or started; connect directly from now on.
    AgentUnavailable,
}

/// Whether these candidates go through the agent's queue: agent enabled, no `DISTCC_SSH`
/// (whose per-job `ssh` is distcc's way, lock files and all), and no `localhost` (compiled
/// here, under distcc's lock).
pub fn agent_serves(candidates: &[&HostSpec], env: &ClientEnv, ssh: &SshEnv) -> bool {
    ssh.agent_enabled
        && env.distcc_ssh.is_none()
        && !candidates.is_empty()
        && !candidates.iter().any(|h| h.is_local())
}

/// Asks the agent for one of `candidates`. `slot_held`: the wrapper already holds the
/// host's distcc slot lock (mixed lists), so the agent only opens the channel.
/// `file` is the job's source, which the monitor shows.
pub async fn through_agent(
    candidates: &[&HostSpec],
    env: &ClientEnv,
    ssh: &SshEnv,
    slot_held: bool,
    file: &str,
) -> Attempt<'static> {
    let request = JobRequest {
        ssh_config: ssh.config_file.clone(),
        auth_sock: ssh.auth_sock.clone(),
        backoff: env.backoff_period,
        slot_held,
        pid: std::process::id(),
        file: crate::monitor::state::base_name(file),
        hosts: candidates.iter().map(|h| h.text.clone()).collect(),
    };
    // Twice: an agent that died (or was killed) between our connect and its answer is
    // replaced by a fresh one on the second try.
    for _ in 0..2 {
        let Some(stream) = agent_link::reach(env, ssh).await else {
            return Attempt::AgentUnavailable;
        };
        let (pick, reader) = match agent_link::ask(stream, &request).await {
            Ok(answer) => answer,
            Err(e) => {
                tracing::debug!("the agent did not answer ({e}); starting another");
                continue;
            }
        };
        return match pick {
            Pick::Host { index, slot } if index < candidates.len() => {
                let host = candidates[index].clone();
                let stream: Connecting = match host.kind {
                    HostKind::Ssh { .. } => Box::pin(channel_from_agent(reader, env.io_timeout)),
                    HostKind::Grpc(_) => Box::pin(engine_slot_from_agent(reader)),
                    _ => Box::pin(connect_in_agent_slot(host.clone(), reader)),
                };
                Attempt::Connected {
                    host,
                    slot,
                    _lock: None,
                    stream,
                }
            }
            Pick::NoHost { message } => Attempt::NoHost(Some(message)),
            Pick::Host { .. } => Attempt::AgentUnavailable,
        };
    }
    Attempt::AgentUnavailable
}

/// The agent's second answer: the open channel, or why the host could not be reached. An
/// agent that goes away in between is a cut connection (retried once on the same host).
/// The agent gets `io_timeout` (`DISTCC_IO_TIMEOUT`) to open it: over a link gone silent
/// it would otherwise wait out SSH's own timeouts while the job could move on.
async fn channel_from_agent(
    reader: crate::protocol::TokenReader<tokio::net::UnixStream>,
    io_timeout: std::time::Duration,
) -> Result<JobStream, RemoteError> {
    let Ok(answer) = tokio::time::timeout(io_timeout, agent_link::channel(reader)).await else {
        return Err(RemoteError::Agent(format!(
            "opening a channel timed out after {} s (DISTCC_IO_TIMEOUT); the link to the \
             host may be down",
            io_timeout.as_secs()
        )));
    };
    match answer? {
        (Channel::Open { stores_headers, .. }, stream) => Ok(JobStream {
            socket: Some(stream.as_raw_fd()),
            stream: Box::new(stream),
            stores_headers,
            agent_runs_action: false,
        }),
        (Channel::Failed { message }, _) => Err(RemoteError::Agent(message)),
    }
}

/// A TCP or local-socket host the agent gave a slot: connected from here, the agent's
/// connection held open beside the job's, since hanging it up gives the slot back.
async fn connect_in_agent_slot(
    host: HostSpec,
    reader: crate::protocol::TokenReader<tokio::net::UnixStream>,
) -> Result<JobStream, RemoteError> {
    match agent_link::channel(reader).await? {
        (Channel::Open { .. }, slot) => {
            let job = connect_plain(&host).await?;
            Ok(JobStream {
                stream: Box::new(Guarded::new(job.stream, slot)),
                ..job
            })
        }
        (Channel::Failed { message }, _) => Err(RemoteError::Agent(message)),
    }
}

/// An engine's slot: the agent's connection itself, on which the Action goes.
async fn engine_slot_from_agent(
    reader: crate::protocol::TokenReader<tokio::net::UnixStream>,
) -> Result<JobStream, RemoteError> {
    match agent_link::channel(reader).await? {
        (Channel::Open { .. }, agent) => Ok(JobStream {
            stream: Box::new(agent),
            stores_headers: false,
            agent_runs_action: true,
            socket: None,
        }),
        (Channel::Failed { message }, _) => Err(RemoteError::Agent(message)),
    }
}

/// distcc's way: a slot lock file, then a connection made by this process.
pub async fn with_lock<'a>(
    candidates: &[&HostSpec],
    lock_dir: &Path,
    pause: Duration,
    env: &'a ClientEnv,
    ssh: &'a SshEnv,
    file: &str,
) -> std::io::Result<Attempt<'a>> {
    let file = file.to_string();
    Ok(match pick::pick(candidates, lock_dir, pause).await? {
        Choice::NoHost => Attempt::NoHost(None),
        Choice::Localhost { slot, lock } => Attempt::Localhost {
            slot,
            _lock: Box::new(lock),
        },
        Choice::Remote { host, slot, lock } => {
            let target = host.clone();
            Attempt::Connected {
                host,
                slot,
                _lock: Some(lock),
                stream: Box::pin(async move { connect(&target, env, ssh, &file).await }),
            }
        }
    })
}

/// A connection made here: TCP; `DISTCC_SSH` spawned per job like distcc; otherwise one
/// russh connection for this job (the agent's pooled path is the fast one).
pub async fn connect(
    host: &HostSpec,
    env: &ClientEnv,
    ssh: &SshEnv,
    file: &str,
) -> Result<JobStream, RemoteError> {
    Ok(match &host.kind {
        HostKind::Tcp { .. } | HostKind::Unix { .. } | HostKind::Grpc(_) => {
            connect_plain(host).await?
        }
        HostKind::Ssh {
            user,
            host: name,
            remote,
        } => {
            if env.distcc_ssh.is_some() {
                let words = transport::ssh_command::ssh_words(env.distcc_ssh.as_deref());
                let argv = remote_exec::ssh_process::argv(&words, user.as_deref(), name, remote);
                JobStream::plain(Box::new(transport::ssh_command::spawn(&argv, name)?), None)
            } else {
                // The slot is ours already; the agent still lends its pooled connection.
                let through_agent = if agent_serves(&[host], env, ssh) {
                    through_agent(&[host], env, ssh, true, file).await
                } else {
                    Attempt::AgentUnavailable
                };
                match through_agent {
                    Attempt::Connected { stream, .. } => stream.await?,
                    Attempt::NoHost(message) => {
                        return Err(RemoteError::Agent(message.unwrap_or_default()));
                    }
                    _ => direct_ssh(user.as_deref(), name, remote, env, ssh).await?,
                }
            }
        }
        HostKind::Local => unreachable!("localhost is compiled here, never connected to"),
    })
}

/// A TCP or local-socket host, reached from here (an engine: see below).
async fn connect_plain(host: &HostSpec) -> Result<JobStream, RemoteError> {
    Ok(match &host.kind {
        HostKind::Tcp { host, port } => {
            let stream = transport::tcp::connect(host, *port).await?;
            let socket = stream.as_raw_fd();
            JobStream::plain(Box::new(stream), Some(socket))
        }
        HostKind::Unix { path } => {
            let stream = transport::unix_socket::connect(Path::new(path)).await?;
            let socket = stream.as_raw_fd();
            JobStream::plain(Box::new(stream), Some(socket))
        }
        // Without the agent an engine is reached by `reapi` from here
        // (client/engine_job.rs), not by a byte stream: this one only stands for the slot.
        HostKind::Grpc(_) => JobStream::plain(
            Box::new(tokio::io::join(tokio::io::empty(), tokio::io::sink())),
            None,
        ),
        _ => unreachable!("only TCP, local-socket and engine hosts are connected to plainly"),
    })
}

/// One russh connection for this job alone (no agent): the far end chosen as the agent
/// would choose it, and the session server the agent (or an earlier job) remembered, so
/// that jobs without an agent share one lingering server rather than each leaving one.
async fn direct_ssh(
    user: Option<&str>,
    alias: &str,
    end: &RemoteEnd,
    env: &ClientEnv,
    ssh: &SshEnv,
) -> Result<JobStream, RemoteError> {
    let memory = SessionMemory::for_distcc_dir(&env.distcc_dir);
    let entry = SessionMemory::entry(user, alias, end, ssh.config_file.as_deref());
    let remembered = || {
        memory.as_ref().map(|memory| Remembered {
            memory,
            entry: &entry,
        })
    };
    let mut remote = Remote::connect(alias, user, end, &ssh.settings(), remembered()).await?;
    let stream = match remote.open_job().await {
        Ok(stream) => stream,
        // The remembered server answered the probe and then ended (with the connection that
        // started it): that is no fault of the host's.
        Err(e) if remote.borrows_a_session() => {
            tracing::info!(
                "{}: {e}; starting a session server of our own",
                remote.conn.description()
            );
            remote.start_own_session(end, remembered()).await;
            remote.open_job().await?
        }
        Err(e) => return Err(e.into()),
    };
    let stores_headers = remote.stores_headers();
    // The connection must outlive the job's channel.
    Ok(JobStream {
        stream: Box::new(Guarded::new(stream, remote)),
        stores_headers,
        agent_runs_action: false,
        socket: None,
    })
}
