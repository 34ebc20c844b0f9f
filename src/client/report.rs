//! Telling the agent how a job ended, for `distfarm mon`'s counters and the build summary
//! (`DISTFARM_SUMMARY=1`). Sent on a connection of its own when the job (or one attempt of
//! it) is over; the wrapper waits for the agent's one-token acknowledgement, so that its
//! build cannot be seen to end before its last job is counted.
//!
//! Without `DISTFARM_SUMMARY`, a report is sent only to an agent that already runs (one
//! failed `connect` when none does); with it, the agent is started if needed. Nothing here
//! ever fails or slows a build by more than [`ACK_TIMEOUT`].

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::net::UnixStream;

use crate::config::{ClientEnv, SshEnv};
use crate::hosts::{HostKind, HostSpec};
use crate::protocol::agent::write_report;
use crate::protocol::farm_view::{JobReport, Outcome};
use crate::protocol::{Limits, TokenReader, TokenWriter};
use crate::transport::counted::ByteCounts;

/// The longest a wrapper waits for the agent to take its report.
const ACK_TIMEOUT: Duration = Duration::from_secs(4);

pub struct Reporter {
    enabled: bool,
    summary: bool,
    build_id: Option<String>,
    socket: PathBuf,
    lock_dir: PathBuf,
    idle: Duration,
    /// Waiting for slots since the last report, in milliseconds.
    waited_ms: AtomicU64,
    /// Why this job left pump mode, told with the next report.
    pump_demoted: std::sync::Mutex<Option<String>>,
}

/// One remote attempt's numbers.
pub struct AttemptNumbers<'a> {
    pub host: &'a HostSpec,
    pub started: Instant,
    pub bytes: &'a ByteCounts,
}

impl Reporter {
    pub fn new(env: &ClientEnv, ssh: &SshEnv) -> Reporter {
        Reporter {
            enabled: ssh.agent_enabled,
            summary: env.summary,
            build_id: env.build_id.clone(),
            socket: crate::config::agent_socket_path(&env.distcc_dir),
            lock_dir: env.distcc_dir.join("lock"),
            idle: ssh.agent_idle,
            waited_ms: AtomicU64::new(0),
            pump_demoted: Default::default(),
        }
    }

    /// A `,cpp` job goes in plain mode after all: counted with the next report.
    pub fn pump_demoted(&self, reason: String) {
        *self.pump_demoted.lock().expect("report lock") = Some(reason);
    }

    /// Time spent waiting for a slot, told with the next report.
    pub fn waited(&self, time: Duration) {
        self.waited_ms
            .fetch_add(time.as_millis() as u64, Ordering::Relaxed);
    }

    /// A remote attempt ended with `outcome`.
    pub async fn remote(
        &self,
        source: &str,
        attempt: AttemptNumbers<'_>,
        outcome: Outcome,
        reason: Option<String>,
    ) {
        let host = attempt.host;
        let transport = match host.kind {
            HostKind::Ssh { .. } => "ssh",
            HostKind::Unix { .. } => "unix",
            HostKind::Grpc(_) => "grpc",
            _ => "tcp",
        };
        self.send(JobReport {
            host: Some(host.text.clone()),
            host_name: Some(host.hostname().to_string()),
            transport: Some(transport.into()),
            limit: host.limit,
            outcome,
            reason,
            time_ms: attempt.started.elapsed().as_millis() as u64,
            bytes_sent: attempt.bytes.sent(),
            bytes_received: attempt.bytes.received(),
            ..self.blank(source)
        })
        .await;
    }

    /// The job is compiled here: `fallback` after remote attempts failed or no host was
    /// usable, else from the start.
    pub async fn local(&self, source: &str, reason: String, fallback: bool) {
        self.send(JobReport {
            outcome: Outcome::Local,
            reason: Some(reason),
            fallback,
            ..self.blank(source)
        })
        .await;
    }

    fn blank(&self, source: &str) -> JobReport {
        let (build, stderr_of) = super::build_id::find(self.build_id.as_deref());
        JobReport {
            pid: std::process::id(),
            build,
            file: crate::monitor::state::base_name(source),
            host: None,
            host_name: None,
            transport: None,
            limit: 0,
            outcome: Outcome::Local,
            reason: None,
            fallback: false,
            pump_demoted: self.pump_demoted.lock().expect("report lock").take(),
            wait_ms: self.waited_ms.swap(0, Ordering::Relaxed),
            time_ms: 0,
            bytes_sent: 0,
            bytes_received: 0,
            summary: self.summary,
            stderr_of,
        }
    }

    async fn send(&self, report: JobReport) {
        if !self.enabled {
            return;
        }
        let sent = tokio::time::timeout(ACK_TIMEOUT, async {
            let stream = if self.summary {
                crate::agent::launch::connect_or_start(&self.socket, &self.lock_dir, self.idle)
                    .await
            } else {
                UnixStream::connect(&self.socket).await.ok()
            };
            let mut stream = stream?;
            write_report(&mut TokenWriter::new(&mut stream), &report)
                .await
                .ok()?;
            let mut reader = TokenReader::new(stream, Limits::default());
            reader.read_int("RACK").await.ok()
        })
        .await;
        if !matches!(sent, Ok(Some(_))) {
            tracing::debug!("the job's report did not reach the agent");
        }
    }
}
