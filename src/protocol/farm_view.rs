//! What the agent knows about the farm, as plain data: the answer to a monitor's `VIEW`
//! request, and the report a wrapper sends when one of its jobs ends. Both cross the agent's
//! socket as JSON bodies; `distfarm mon --json` prints a document built from the same types
//! (see docs/mon-json.md for the shape).

use serde::{Deserialize, Serialize};

/// The agent's live view of one user's farm.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AgentView {
    pub pid: u32,
    pub uptime_ms: u64,
    /// Jobs waiting for a slot.
    pub queued: u32,
    pub hosts: Vec<HostView>,
    pub jobs: Vec<JobView>,
    /// The latest finished builds, newest last.
    pub builds: Vec<BuildSummary>,
}

/// One host as the agent has seen it since it started.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct HostView {
    /// The host-list entry, exactly as written (`@box/8`, `10.0.0.2:3632/4,lzo`).
    pub spec: String,
    /// The host name, as distcc's state files show it.
    pub name: String,
    /// `ssh` or `tcp`.
    pub transport: String,
    /// What answers at the far end: `session server`, `inetd`, `daemon tunnel`, `tcp`,
    /// `offer`; `None` until a job reached it.
    pub remote_end: Option<String>,
    /// Jobs at once (`/N`).
    pub limit: u32,
    /// Slots in use now.
    pub busy: u32,
    /// Jobs the host answered (the compile may have failed: that is an answer).
    pub done: u64,
    /// Of `done`, those whose compiler failed.
    pub compile_errors: u64,
    /// Attempts that got no answer (connection, protocol, SSH).
    pub failed: u64,
    /// Jobs the server refused to run (its reason is in `last_problem`).
    pub refused: u64,
    /// Milliseconds left of the host's backoff, when it is backed off.
    pub backoff_left_ms: Option<u64>,
    /// Median wall time of its last answered jobs.
    pub median_job_ms: Option<u64>,
    /// Median time the agent took to open a job's channel on the host's SSH connection
    /// (microseconds, last 64 jobs; `None` for hosts the wrapper reaches itself).
    #[serde(default)]
    pub median_channel_open_us: Option<u64>,
    pub bytes_sent: u64,
    pub bytes_received: u64,
    /// The latest failure or refusal.
    pub last_problem: Option<String>,
}

/// One running job.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct JobView {
    /// The wrapper's process id.
    pub pid: u32,
    /// `queued`, `connect`, `preprocess`, `send`, `compile`, `receive` (see `Phase`).
    pub phase: String,
    /// The source's base name.
    pub file: String,
    /// The host's name; `None` while queued.
    pub host: Option<String>,
    pub slot: Option<u32>,
    /// Since the job reached the agent; for a job seen only in a state file, since its
    /// last phase change (all a state file tells).
    pub elapsed_ms: u64,
    /// `agent`, or `state-file` for jobs the agent does not carry (TCP hosts, local
    /// compiles, plain distcc clients sharing the `DISTCC_DIR`).
    #[serde(default)]
    pub seen_by: String,
}

/// How one job ended, as its wrapper tells the agent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The host answered and the compile succeeded.
    Compiled,
    /// The host answered: the compiler failed there.
    CompileError,
    /// The host got no further than a failure of its transport or protocol.
    Failed,
    /// The server refused the job.
    Refused,
    /// Compiled on this machine (`reason` says why).
    Local,
}

/// One attempt or local compile of a job, sent by the wrapper when it is over.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobReport {
    pub pid: u32,
    /// The build the job belongs to (see client/build_id.rs).
    pub build: BuildId,
    pub file: String,
    /// The host-list entry, for remote attempts.
    pub host: Option<String>,
    /// The host's name, as the state files show it.
    pub host_name: Option<String>,
    /// `tcp` or `ssh`, for remote attempts.
    pub transport: Option<String>,
    /// The host's `/N`.
    pub limit: u32,
    pub outcome: Outcome,
    /// Why it failed, was refused, or was compiled here.
    pub reason: Option<String>,
    /// The local compile followed failed remote attempts (a fallback), rather than being
    /// local from the start (not distributable, `localhost` entry).
    pub fallback: bool,
    /// A `,cpp` job that went in plain mode instead of pump mode, and why.
    #[serde(default)]
    pub pump_demoted: Option<String>,
    /// Waiting for a slot, in milliseconds.
    pub wait_ms: u64,
    /// From the connection to the answer (or the failure).
    pub time_ms: u64,
    pub bytes_sent: u64,
    pub bytes_received: u64,
    /// `DISTFARM_SUMMARY=1`: the agent prints the build's summary when it ends.
    pub summary: bool,
    /// The process whose standard error gets the summary line (the build's driver, or the
    /// wrapper's parent).
    pub stderr_of: u32,
}

/// A build: the process that runs its jobs (make, ninja …), named by pid and start time so
/// that a reused pid is another build.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct BuildId {
    pub pid: u32,
    /// The driver's start time in clock ticks since boot (`/proc/PID/stat` field 22); 0
    /// when given by `DISTFARM_BUILD_ID`.
    pub start: u64,
    /// The driver's command name (`make`, `ninja`), or the `DISTFARM_BUILD_ID` text.
    pub name: String,
}

/// The numbers of one finished build: what `DISTFARM_SUMMARY=1` prints.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BuildSummary {
    pub pid: u32,
    pub name: String,
    pub jobs: u64,
    pub remote: u64,
    pub local: u64,
    /// Remote jobs per host name, most first.
    pub hosts: Vec<(String, u64)>,
    pub wait_ms: u64,
    pub bytes_sent: u64,
    pub bytes_received: u64,
    /// Local compiles after failed remote attempts, per reason, most first.
    pub fallbacks: Vec<(String, u64)>,
    /// Local from the start, per reason.
    pub local_reasons: Vec<(String, u64)>,
    /// `,cpp` jobs preprocessed here after all (plain mode), per reason.
    #[serde(default)]
    pub pump_demotions: Vec<(String, u64)>,
    pub wall_ms: u64,
    /// The one line printed for it.
    pub line: String,
}

/// Build tools: a wrapper's nearest ancestor among these is its build, and the build ends
/// when it exits. Anything else above a wrapper (a shell typed in by hand) may live on long
/// after its compiles.
pub fn is_build_tool(name: &str) -> bool {
    matches!(
        name,
        "make" | "gmake" | "bmake" | "pmake" | "remake" | "ninja" | "samu" | "scons" | "jam"
    )
}

/// What one client address has asked of a server, as `distfarm serve --stats` answers
/// `GET /clients` (and `distfarm mon --server` shows).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientCounters {
    /// The client's IP address, or `ssh` for jobs that came through SSH (stdin/stdout or
    /// the session server's socket).
    pub client: String,
    /// Connections that carried (or tried to carry) a job.
    pub jobs: u64,
    pub compiled: u64,
    pub compile_errors: u64,
    /// Bad requests, timeouts, clients gone mid-job, other failures.
    pub failures: u64,
    /// Refused jobs per reason, most first.
    pub refusals: Vec<(String, u64)>,
    /// Jobs answered from the server's result cache (`serve --cache`), without a compile.
    #[serde(default)]
    pub cache_hits: u64,
    /// Request bytes read and answer bytes written.
    pub bytes_received: u64,
    pub bytes_sent: u64,
    /// Wall time of its jobs, in milliseconds.
    pub compile_ms: u64,
}

/// The `GET /clients` document.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerClients {
    /// 1.
    pub version: u32,
    /// The servers whose counters these are, when they were gathered from several (the
    /// session servers and the daemon of an SSH host); absent from a single server's answer.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub servers: Vec<String>,
    pub clients: Vec<ClientCounters>,
}
