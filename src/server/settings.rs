//! A server's settings as plain values: nothing here reads the environment or the command
//! line.

use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

use super::access::AccessList;
use super::compilers::CompilerPolicy;
use super::confinement::ConfinementMode;
use super::job_limits::JobLimits;
use crate::config::{CcacheEnv, ServerEnv};
use crate::protocol::Limits;

/// `--max-connections`: connections held at once.
pub const DEFAULT_MAX_CONNECTIONS: usize = 1024;
/// `--max-per-address`: connections held at once from one address. A client machine's
/// `make -j` rarely keeps more than a few dozen jobs on one server.
pub const DEFAULT_MAX_PER_ADDRESS: usize = 128;
/// A client must send its command line within this time (and its whole request within
/// `DISTCC_IO_TIMEOUT`).
pub const DEFAULT_HEADER_TIMEOUT: Duration = Duration::from_secs(30);
/// `--stop-timeout`: how long SIGTERM waits for running jobs.
pub const DEFAULT_STOP_TIMEOUT: Duration = Duration::from_secs(60);

/// Everything a running server needs, as plain values: built by `app::serve` from the
/// command line and `config::ServerEnv`, by `distfarm offer` for its in-process server, and
/// directly by tests.
#[derive(Debug, Clone)]
pub struct ServerSettings {
    /// Who may connect over TCP. For the daemon an empty `--allow` has already been turned
    /// into loopback-only by the caller.
    pub access: AccessList,
    /// Compiles that run at once.
    pub jobs: usize,
    /// Connections held at once (reading requests, waiting for a job slot, compiling).
    pub max_connections: usize,
    /// Connections held at once from one client address; more are closed at once, so that
    /// one machine cannot take every connection slot.
    pub max_per_address: usize,
    /// Resource limits of every program a job runs.
    pub job_limits: JobLimits,
    /// After SIGTERM, how long running jobs may take to finish before the server exits
    /// anyway (killing their compilers).
    pub stop_timeout: Duration,
    /// Kill a compiler that runs longer than this (`--job-lifetime`).
    pub job_lifetime: Option<Duration>,
    pub compilers: CompilerPolicy,
    pub limits: Limits,
    /// A client must have sent its whole command line within this time, so that connections
    /// that send nothing do not sit on connection slots.
    pub header_timeout: Duration,
    /// Where job directories are made (`TMPDIR`).
    pub tmpdir: PathBuf,
    /// `DISTCC_SAVE_TEMPS=1`: keep job directories for debugging.
    pub save_temps: bool,
    /// `PATH` given to compilers (`DISTCCD_PATH` when set).
    pub child_path: Option<OsString>,
    /// The confinement compilers run in (see `confinement`): chosen at start by whoever
    /// starts the server, after probing what works.
    pub confinement: ConfinementMode,
    /// Where a ccache in front of the compilers keeps its cache and configuration, which
    /// its confinement must let it reach.
    pub ccache: CcacheEnv,
    /// Long-lived servers: run gcc's passes directly, checking the assembly between them.
    pub pass_plans: Option<std::sync::Arc<super::gcc_passes::PassPlans>>,
    /// How gcc's assembler is otherwise routed through the assembly check. Without one,
    /// assembly is checked by generating it once with `-S` first.
    pub assembler_guard: Option<std::sync::Arc<super::assembly_check::WrapperGuard>>,
    /// `--cache DIR`: keep answers and give them again (opened by whoever starts the
    /// server, as its own user: see `ServerContext::with_cache`).
    pub cache: Option<super::cache::CacheSettings>,
}

impl ServerSettings {
    /// Loopback-only defaults, as a test or a fresh daemon would want them, with compilers
    /// found on and given `env`'s search path and jobs in its `TMPDIR`.
    pub fn local_defaults(env: &ServerEnv) -> Self {
        let jobs = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2);
        ServerSettings {
            access: AccessList::new(AccessList::loopback()),
            jobs,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            max_per_address: DEFAULT_MAX_PER_ADDRESS,
            job_limits: JobLimits::default(),
            stop_timeout: DEFAULT_STOP_TIMEOUT,
            job_lifetime: None,
            compilers: CompilerPolicy::searching(env.compiler_path.clone()),
            limits: Limits::default(),
            header_timeout: DEFAULT_HEADER_TIMEOUT,
            tmpdir: env.tmpdir.clone(),
            save_temps: false,
            child_path: env.compiler_path.clone(),
            // Until the server has probed: Landlock, whose jobs fail where it is missing
            // rather than run unconfined.
            confinement: if env.confine {
                ConfinementMode::Landlock
            } else {
                ConfinementMode::Unconfined
            },
            ccache: env.ccache.clone(),
            pass_plans: None,
            assembler_guard: None,
            cache: None,
        }
    }
}
