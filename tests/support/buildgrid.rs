//! A real Remote Execution API engine: BuildGrid 0.4.4 (`bgd`, from PyPI, in the virtualenv
//! `scripts/test` installs) on a free 127.0.0.1 port, with its SQL scheduler on a private
//! PostgreSQL cluster ([`super::postgres`], a fresh database each time: a reused one hands
//! jobs to the bot sessions of dead workers), an in-memory CAS and action cache, and
//! test-only workers (`buildgrid_worker.py`) that lease jobs through its Bots service and
//! run them here. Everything (bgd, the workers, PostgreSQL) is killed on drop.
//!
//! The workers advertise the platform properties distfarm puts on this machine's gcc's
//! Actions (`OSFamily`, `ISA`, `distfarm-compiler`), computed by distfarm's own code, so
//! BuildGrid matches them the way an operator's configured workers would be matched.

use std::path::{Path, PathBuf};
use std::time::Duration;

use distfarm::client::identity;
use distfarm::reapi::platform;

use super::files::read_text;
use super::ports::{free_port, port_accepts};
use super::postgres::Postgres;
use super::process::{ChildGuard, Cmd};
use super::programs::{manifest_dir, test_path};
use super::wait::wait_for;

/// The BuildGrid release the tests run (the newest that installs on Debian 12's Python 3.11).
pub const VERSION: &str = "0.4.4";

/// What installs it where the tests look (see [`venv`]).
pub fn install_command() -> String {
    format!(
        "scripts/test does it; by hand:  apt-get install -y python3-venv postgresql && \
         /usr/bin/python3 -m venv {venv} && {venv}/bin/pip install -c {constraints} \
         'buildgrid[database]=={VERSION}'",
        venv = venv().display(),
        constraints = manifest_dir()
            .join("tests/support/buildgrid-constraints.txt")
            .display()
    )
}

/// The virtualenv `scripts/test` installs BuildGrid into:
/// `$HOME/.cache/distfarm-test/buildgrid-venv` (shared by every checkout on the machine).
pub fn venv() -> PathBuf {
    let home = std::env::var_os("HOME").unwrap_or_else(|| "/root".into());
    PathBuf::from(home).join(".cache/distfarm-test/buildgrid-venv")
}

pub struct BuildGrid {
    workers: Vec<ChildGuard>,
    bgd: Option<ChildGuard>,
    postgres: Postgres,
    port: u16,
    dir: tempfile::TempDir,
}

/// The workers a [`BuildGrid`] starts with.
#[derive(Clone, Debug)]
pub struct Workers {
    /// How many (one job each).
    pub count: usize,
    /// How long each waits in every job before running it (so a test can catch jobs
    /// running).
    pub delay: Duration,
    /// The `distfarm-compiler` they advertise; `None`: this machine's gcc, as distfarm puts
    /// it on its Actions.
    pub compiler: Option<String>,
}

impl Workers {
    /// `count` workers with this machine's gcc, no delay.
    pub fn new(count: usize) -> Workers {
        Workers {
            count,
            delay: Duration::ZERO,
            compiler: None,
        }
    }
}

impl BuildGrid {
    /// BuildGrid with `workers` workers of one job each and this machine's gcc, every one
    /// with a bot session open (so the engine answers and has somewhere to run jobs).
    #[track_caller]
    pub fn start(workers: usize) -> BuildGrid {
        Self::start_with(Workers::new(workers))
    }

    /// As [`start`](Self::start), with such workers.
    #[track_caller]
    pub fn start_with(workers: Workers) -> BuildGrid {
        let venv = venv();
        for program in ["bgd", "python"] {
            assert!(
                venv.join("bin").join(program).exists(),
                "this test needs BuildGrid {VERSION} in {}, which is not there.\n{}",
                venv.display(),
                install_command()
            );
        }
        let dir = super::temp_dir("buildgrid");
        let postgres = Postgres::start(dir.path());
        let migrate = Cmd::new(venv.join("bin/bgd"))
            .args(["migrate", "apply", &postgres.url()])
            .timeout(Duration::from_secs(120))
            .output();
        if let Err(e) = migrate {
            panic!("bgd migrate apply: {e}\npostgres:\n{}", postgres.log());
        }
        let port = free_port();
        let config = dir.path().join("bgd.yml");
        std::fs::write(&config, config_text(port, &postgres.url())).expect("bgd.yml");
        let bgd = spawn_logged(
            Cmd::new(venv.join("bin/bgd"))
                .args(["server", "start"])
                .arg(&config),
            &dir.path().join("bgd.log"),
            "bgd server",
        );
        let mut grid = BuildGrid {
            workers: Vec::new(),
            bgd: Some(bgd),
            postgres,
            port,
            dir,
        };
        grid.wait("bgd to listen", || port_accepts(port));
        let properties = worker_properties(workers.compiler.as_deref());
        for n in 0..workers.count {
            let log = grid.dir.path().join(format!("worker-{n}.log"));
            let mut cmd = Cmd::new(venv.join("bin/python"))
                .arg(manifest_dir().join("tests/support/buildgrid_worker.py"))
                .args(["--endpoint", &format!("127.0.0.1:{port}")])
                .args(["--bot-id", &format!("distfarm-test-worker-{n}")])
                .arg("--log")
                .arg(grid.jobs_log())
                .args(["--delay", &format!("{}", workers.delay.as_secs_f64())]);
            for (name, value) in &properties {
                cmd = cmd.arg("--property").arg(format!("{name}={value}"));
            }
            let worker = spawn_logged(cmd, &log, "buildgrid_worker.py");
            grid.workers.push(worker);
            grid.wait("a worker's bot session", || {
                read_text_or_empty(&log).contains("bot session ")
            });
        }
        grid
    }

    /// bgd's port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The host entry: `grpc://127.0.0.1:PORT/SLOTS`.
    pub fn entry(&self, slots: usize) -> String {
        format!("grpc://127.0.0.1:{}/{slots}", self.port)
    }

    /// The jobs the workers ran: one `RUN <action hash> <argv…>` line each.
    pub fn jobs_run(&self) -> Vec<String> {
        read_text_or_empty(&self.jobs_log())
            .lines()
            .map(String::from)
            .collect()
    }

    /// Kills bgd now (the engine gone mid-build); the workers lose it too.
    pub fn kill_engine(&mut self) {
        if let Some(mut bgd) = self.bgd.take() {
            bgd.kill();
        }
    }

    /// Everything bgd, the workers and PostgreSQL logged, for failure messages.
    pub fn logs(&self) -> String {
        let mut all = String::new();
        for name in super::files::list(self.dir.path()) {
            if name.ends_with(".log") {
                let text = read_text(&self.dir.path().join(&name));
                // bgd is talkative: its tail is what matters.
                let tail: Vec<&str> = text.lines().rev().take(60).collect();
                all.push_str(&format!("--- {name} (last lines)\n"));
                for line in tail.into_iter().rev() {
                    all.push_str(line);
                    all.push('\n');
                }
            }
        }
        all.push_str("--- postgres\n");
        all.push_str(&self.postgres.log());
        all
    }

    fn jobs_log(&self) -> PathBuf {
        self.dir.path().join("jobs.log")
    }

    #[track_caller]
    fn wait(&mut self, what: &str, mut ready: impl FnMut() -> bool) {
        let dir = self.dir.path().to_path_buf();
        wait_for(
            what,
            Duration::from_secs(60),
            || {
                if let Some(bgd) = self.bgd.as_mut()
                    && let Some(status) = bgd.try_wait()
                {
                    panic!(
                        "bgd exited ({status}):\n{}",
                        read_text_or_empty(&dir.join("bgd.log"))
                    );
                }
                ready().then_some(())
            },
            || self_logs(&dir),
        );
    }
}

/// Workers first (they would log the engine's loss), then bgd; PostgreSQL last (its own
/// drop).
impl Drop for BuildGrid {
    fn drop(&mut self) {
        self.workers.clear();
        self.bgd = None;
    }
}

/// The properties distfarm gives this machine's gcc's Actions, with `compiler` (when given)
/// as the `distfarm-compiler` instead.
fn worker_properties(compiler: Option<&str>) -> Vec<(String, String)> {
    let path = test_path();
    let gcc = distfarm::executables::find_on_path("gcc", &path).expect("gcc is installed");
    let cache = tempfile::tempdir().expect("temp dir");
    let local = identity::local(
        &gcc,
        &[],
        Some(&path),
        0,
        cache.path(),
        identity::Asked::Compiled,
    )
    .expect("gcc's identity");
    let ours = format!("{}; {}", local.version, local.machine);
    platform::properties(compiler.unwrap_or(&ours), &[])
        .properties
        .into_iter()
        .map(|p| (p.name, p.value))
        .collect()
}

/// BuildGrid's configuration: one unnamed instance with the action cache, the CAS and
/// ByteStream in memory, and Execution (with its Bots service) on the SQL scheduler, which
/// matches jobs to workers on `OSFamily`, `ISA` (always) and `distfarm-compiler`.
fn config_text(port: u16, sql_url: &str) -> String {
    format!(
        r#"server:
  - !channel
    address: "127.0.0.1:{port}"
    insecure-mode: true
connections:
  - !sql-connection &sql
    connection-string: {sql_url}
    pool-size: 5
    max-overflow: 10
storages:
  - !lru-storage &storage
    size: 1024M
caches:
  - !lru-action-cache &cache
    storage: *storage
    max-cached-refs: 100000
    allow-updates: true
    cache-failed-actions: false
schedulers:
  - !sql-scheduler &scheduler
    sql: *sql
    storage: *storage
    action-cache: *cache
    property-set: !dynamic-property-set
      match-property-keys:
        - {compiler}
    bot-session-keepalive-timeout: 30
    # The default assigner looks for queued jobs every 1-2 s: most of a job's time here.
    assigners:
      - !priority-age-assigner
        interval: 0.05
        jitter-factor: 0.01
instances:
  - name: ''
    services:
      - !action-cache
        cache: *cache
      - !execution
        scheduler: *scheduler
      - !cas
        storage: *storage
      - !bytestream
        storage: *storage
"#,
        compiler = platform::COMPILER
    )
}

fn spawn_logged(cmd: Cmd, log: &Path, label: &str) -> ChildGuard {
    let file = std::fs::File::create(log).unwrap_or_else(|e| panic!("{}: {e}", log.display()));
    let mut command = cmd.to_command();
    command
        .stdout(file.try_clone().expect("dup log"))
        .stderr(file);
    ChildGuard::spawn(command, label)
}

fn read_text_or_empty(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

fn self_logs(dir: &Path) -> String {
    super::files::list(dir)
        .into_iter()
        .filter(|name| name.ends_with(".log"))
        .map(|name| format!("--- {name}\n{}", read_text_or_empty(&dir.join(&name))))
        .collect()
}
