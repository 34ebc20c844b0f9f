//! One picture of the farm for `distfarm mon`, from whatever is there to look at: the
//! agent's live view (asked on its socket, never started for it), distcc's state files in
//! `$DISTCC_DIR/state` (which plain distcc clients write too), the host list, the backoff
//! marks in `$DISTCC_DIR/lock` and the live offers. This is also the `--json` document:
//! its shape is documented in docs/mon-json.md and versioned by [`VERSION`].

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};
use tokio::net::UnixStream;

use super::state::{self, Phase, Record};
use crate::hosts::{HostKind, HostSpec};
use crate::protocol::agent::{read_view, write_view_request};
use crate::protocol::farm_view::{AgentView, BuildSummary, HostView, JobView};
use crate::protocol::{Limits, TokenReader, TokenWriter};

/// The `version` of the JSON document; bumped when a field changes meaning or goes away
/// (new fields may appear without it).
pub const VERSION: u32 = 1;

/// How long a monitor waits for the agent's answer.
const AGENT_TIMEOUT: Duration = Duration::from_secs(2);

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FarmView {
    pub version: u32,
    /// When this picture was taken, in milliseconds since the Unix epoch.
    pub at_unix_ms: u64,
    pub distcc_dir: String,
    /// The agent, when one runs.
    pub agent: Option<AgentInfo>,
    /// Jobs waiting in the agent's queue for a slot.
    pub queued: u32,
    pub hosts: Vec<HostView>,
    pub jobs: Vec<JobView>,
    /// The agent's latest finished builds (their `DISTFARM_SUMMARY` numbers).
    pub builds: Vec<BuildSummary>,
    /// Why there is nothing to show, when there is nothing.
    pub note: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AgentInfo {
    pub pid: u32,
    pub uptime_ms: u64,
}

/// Where to look, read once by the `mon` command.
#[derive(Debug, Clone)]
pub struct Sources {
    pub distcc_dir: PathBuf,
    pub agent_socket: PathBuf,
    /// The host list, when there is one.
    pub hosts: Vec<HostSpec>,
    pub backoff_period: Duration,
    /// Host-list entries that are live `distfarm offer`s.
    pub offers: Vec<String>,
}

/// The agent's view, if an agent answers on `socket`.
pub async fn ask_agent(socket: &Path) -> Option<AgentView> {
    let asked = async {
        let mut stream = UnixStream::connect(socket).await.ok()?;
        write_view_request(&mut TokenWriter::new(&mut stream))
            .await
            .ok()?;
        let mut reader = TokenReader::new(stream, Limits::default());
        read_view(&mut reader)
            .await
            .map_err(|e| tracing::debug!("the agent's view: {e}"))
            .ok()
    };
    tokio::time::timeout(AGENT_TIMEOUT, asked).await.ok()?
}

/// Looks at everything once.
pub async fn look(sources: &Sources) -> FarmView {
    let agent = ask_agent(&sources.agent_socket).await;
    let records = state::read_all(&sources.distcc_dir);
    combine(sources, agent, records)
}

/// The picture from the agent's view (if any) and the state files' records.
pub fn combine(sources: &Sources, agent: Option<AgentView>, records: Vec<Record>) -> FarmView {
    let lock_dir = sources.distcc_dir.join("lock");
    let mut hosts: Vec<HostView> = sources
        .hosts
        .iter()
        .map(|spec| HostView {
            spec: spec.text.clone(),
            name: spec.hostname().to_string(),
            transport: match spec.kind {
                HostKind::Local => "local",
                HostKind::Tcp { .. } => "tcp",
                HostKind::Ssh { .. } => "ssh",
                HostKind::Unix { .. } => "unix",
                HostKind::Grpc(_) => "grpc",
            }
            .into(),
            limit: spec.limit,
            backoff_left_ms: (!spec.is_local())
                .then(|| {
                    crate::lock_files::backoff_left(
                        &lock_dir,
                        &spec.backoff_name(),
                        sources.backoff_period,
                    )
                })
                .flatten()
                .map(|d| d.as_millis() as u64),
            ..HostView::default()
        })
        .collect();
    let (agent_info, queued, mut jobs, builds) = match agent {
        Some(view) => {
            for seen in view.hosts {
                match hosts.iter_mut().find(|h| h.spec == seen.spec) {
                    Some(listed) => {
                        let file_backoff = listed.backoff_left_ms;
                        *listed = seen;
                        listed.backoff_left_ms = listed.backoff_left_ms.or(file_backoff);
                    }
                    None => hosts.push(seen),
                }
            }
            (
                Some(AgentInfo {
                    pid: view.pid,
                    uptime_ms: view.uptime_ms,
                }),
                view.queued,
                view.jobs,
                view.builds,
            )
        }
        None => (None, 0, Vec::new(), Vec::new()),
    };
    for host in &mut hosts {
        if sources.offers.contains(&host.spec) {
            host.remote_end = Some("offer".into());
        } else if host.transport == "tcp" && host.remote_end.is_none() {
            host.remote_end = Some("tcp".into());
        }
    }
    // The agent's jobs take their finer phase from their wrapper's state file; the other
    // state files are jobs the agent does not carry.
    for job in &mut jobs {
        if let Some(record) = records.iter().find(|r| r.pid == job.pid)
            && job.phase != "queued"
        {
            job.phase = record.phase.name().into();
        }
    }
    for record in &records {
        if jobs.iter().any(|j| j.pid == record.pid) {
            continue;
        }
        jobs.push(JobView {
            pid: record.pid,
            phase: record.phase.name().into(),
            file: record.file.clone(),
            host: Some(record.host.clone()),
            slot: u32::try_from(record.slot).ok(),
            elapsed_ms: record.age.as_millis() as u64,
            seen_by: "state-file".into(),
        });
    }
    // Busy slots the agent does not count: jobs in state files on that host.
    for host in &mut hosts {
        let running = jobs
            .iter()
            .filter(|j| j.host.as_deref() == Some(host.name.as_str()))
            .filter(|j| j.phase != Phase::Done.name())
            .count() as u32;
        host.busy = host.busy.max(running);
    }
    jobs.sort_by(|a, b| {
        a.host
            .cmp(&b.host)
            .then(a.slot.cmp(&b.slot))
            .then(a.pid.cmp(&b.pid))
    });
    let note = (agent_info.is_none() && jobs.is_empty()).then(|| {
        format!(
            "no agent is running and no job has a state file in {}",
            sources.distcc_dir.join("state").display()
        )
    });
    FarmView {
        version: VERSION,
        at_unix_ms: SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64),
        distcc_dir: sources.distcc_dir.display().to_string(),
        agent: agent_info,
        queued,
        hosts,
        jobs,
        builds,
        note,
    }
}

impl FarmView {
    /// An empty picture, for tests of what is drawn from one.
    pub fn empty_for_tests() -> FarmView {
        FarmView {
            version: VERSION,
            at_unix_ms: 0,
            distcc_dir: "/d".into(),
            agent: None,
            queued: 0,
            hosts: Vec::new(),
            jobs: Vec::new(),
            builds: Vec::new(),
            note: None,
        }
    }
}
