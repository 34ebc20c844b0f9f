//! The agent's accept loop: each wrapper connection asks for a host, gets a channel on a
//! pooled SSH connection, and its job's bytes are spliced through — or asks for a pump-mode
//! job's include scan.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::AsyncReadExt;
use tokio::net::{UnixListener, UnixStream};

use super::pool::{ConnKey, Pool};
use super::scheduler::{Candidate, Scheduler};
use super::socket;
use crate::hosts::{self, HostKind};
use crate::include_scan::Scanner;
use crate::protocol::agent::{Channel, JobRequest, Pick};
use crate::protocol::agent_scan::ScanRequest;
use crate::protocol::{Limits, TokenReader, TokenWriter};

pub struct Agent {
    pub scheduler: Arc<Scheduler>,
    pub pool: Pool,
    /// The include scanner for pump-mode jobs, its caches shared by all of them.
    pub scanner: Arc<Scanner>,
    /// Wrapper connections being served.
    active: AtomicUsize,
    /// When the last wrapper connection ended (or the agent started).
    last_done: Mutex<Instant>,
}

impl Agent {
    /// `lock_dir` is `$DISTCC_DIR/lock`: slots are mirrored in distcc's lock files there.
    /// Connections are made as `account`.
    pub fn new(lock_dir: Option<std::path::PathBuf>, account: crate::config::Account) -> Self {
        Agent {
            scheduler: Arc::new(Scheduler::with_lock_dir(lock_dir)),
            pool: Pool::new(account),
            scanner: Arc::new(Scanner::new()),
            active: AtomicUsize::new(0),
            last_done: Mutex::new(Instant::now()),
        }
    }
}

impl Agent {
    /// No wrapper connected, and none for `idle`.
    fn idle_for(&self, idle: Duration) -> bool {
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
    // Checked on a short tick rather than one long sleep, so the clock restarts from the
    // end of the last job, however long ago the last connection arrived.
    let tick = idle.min(Duration::from_millis(500));
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
        let Ok((stream, _)) = accepted else { continue };
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

async fn serve_wrapper(
    stream: UnixStream,
    agent: &Agent,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let mut reader = TokenReader::new(stream, Limits::default());
    let request = match reader.read_any().await? {
        (token, version) if &token == b"SCAN" => {
            let request = ScanRequest::read_after_header(version, &mut reader).await?;
            let mut stream = reader.into_inner();
            return Ok(super::scan::answer(agent.scanner.clone(), request, &mut stream).await?);
        }
        (token, version) if &token == b"AGNT" => {
            JobRequest::read_after_header(version, &mut reader).await?
        }
        (other, _) => {
            return Err(crate::protocol::ProtocolError::WrongToken {
                expected: "AGNT",
                got: String::from_utf8_lossy(&other).into_owned(),
            }
            .into());
        }
    };
    let mut stream = reader.into_inner();

    let mut keys = Vec::new();
    let mut specs = Vec::new();
    for text in &request.hosts {
        let list = hosts::parse(text, "agent request")?;
        let spec = list.hosts.into_iter().next().ok_or("empty host entry")?;
        let HostKind::Ssh { user, host, .. } = &spec.kind else {
            return Err(format!("{text} is not an SSH host").into());
        };
        keys.push(ConnKey {
            user: user.clone(),
            host: host.clone(),
            remote: spec.ssh_remote().cloned().ok_or("not an SSH host")?,
            ssh_config: request.ssh_config.clone(),
            auth_sock: request.auth_sock.clone(),
        });
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
    // The wrapper preprocesses while the channel opens.
    Pick::Host { index }
        .write(&mut TokenWriter::new(&mut stream))
        .await?;
    let (mut job, stores_headers) = match agent.pool.open_job(&keys[index]).await {
        Ok(opened) => opened,
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
    crate::forward::splice(&mut stream, &mut job).await?;
    Ok(())
}
