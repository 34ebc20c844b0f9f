//! The per-user agent against the in-process russh server (`TestSshServer`): fast, and its
//! counters show what crossed the wire — TCP connections, session channels (one per remote
//! command) and `direct-streamlocal` channels (one per job to a distfarm `--ssh-session`
//! server). The server runs commands with `sh -c`, so the remote is the binary under test
//! through a `distccd` symlink, running as a child of this test process.
//!
//! The wrappers are real `distfarm gcc` processes; the agent is the one they start. Every
//! test has its own `DISTCC_DIR`, and its [`Farm`] kills that agent (by pid) when dropped.
//!
//! The agent's scheduler is also tested here in-process, where it meets a lock file that
//! another process holds.

use std::os::unix::process::CommandExt;

use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use distfarm::agent::scheduler::{Candidate, Scheduler};

use crate::support::build::parallel_map;
use crate::support::compile::hello_reference;
use crate::support::files::{read, read_text, set_mode};
use crate::support::lock_holder::hold_lock;
use crate::support::procs::{agent_pids, kill};
use crate::support::russh_server::start_farmhost;
use crate::support::{Cmd, TestSshServer, distfarm_bin, fixture_path, temp_dir, test_path, text};

/// Jobs in the "many wrappers" build, and wrappers at once.
const JOBS: usize = 12;
const WORKERS: usize = 4;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_wrappers_share_one_ssh_connection_and_one_remote_session() {
    let farm = Farm::start("agent-shared").await;

    let outputs = farm.hello_build(JOBS, WORKERS, &[]).await;

    for (name, object) in &outputs {
        assert!(
            *object == *hello_reference(),
            "{name} differs from local gcc"
        );
    }
    let stats = farm.server.stats();
    assert_eq!(
        stats.connections(),
        1,
        "{JOBS} jobs from {JOBS} wrapper processes share one SSH connection\n--- agent log\n{}",
        farm.agent_log()
    );
    assert_eq!(
        stats.sessions(),
        1,
        "one remote command (`distccd --ssh-session`) for every job"
    );
    assert_eq!(
        stats.direct_streamlocal.load(Ordering::SeqCst),
        JOBS + 1,
        "one direct-streamlocal channel per job, and one that asked which compiler runs there"
    );
    assert_eq!(farm.agent_pids().len(), 1, "one agent served every wrapper");
    let log = farm.agent_log();
    assert_eq!(
        (
            log.matches("agent: listening").count(),
            log.matches("leaving").count()
        ),
        (1, 0),
        "the {WORKERS} wrappers that started together started one agent, not one each\n{log}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agent_exits_after_the_idle_time() {
    let farm = Farm::start("agent-idle").await;

    farm.hello_build(1, 1, &[("DISTFARM_AGENT_IDLE", "1")])
        .await;
    let pids = farm.agent_pids();
    assert_eq!(pids.len(), 1, "the first job started the agent");

    let gone = wait_for(Duration::from_secs(15), || farm.agent_pids().is_empty()).await;
    assert!(
        gone,
        "the agent (pid {}) is still running 15 s after its last job with DISTFARM_AGENT_IDLE=1\n\
         --- agent log\n{}",
        pids[0],
        farm.agent_log()
    );
    assert!(
        !farm.socket().exists(),
        "an agent that exits removes its socket"
    );

    // The next job starts a new one.
    farm.hello_build(1, 1, &[("DISTFARM_AGENT_IDLE", "1")])
        .await;
    assert_eq!(farm.server.stats().connections(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agent_socket_directory_is_private_even_if_it_existed_open() {
    let farm = Farm::start("agent-private").await;
    let dir = farm.socket().parent().unwrap().to_path_buf();
    std::fs::create_dir_all(&dir).unwrap();
    set_mode(&dir, 0o755);

    farm.hello_build(1, 1, &[]).await;

    let mode = std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o700, "{} has mode {mode:o}", dir.display());
    let socket = std::fs::symlink_metadata(farm.socket()).unwrap();
    assert!(socket.file_type().is_socket());
    // The agent is up (we, its user, can reach it) but another user cannot even reach the
    // socket through the private directory.
    assert!(std::os::unix::net::UnixStream::connect(farm.socket()).is_ok());
    let other_user = std::process::Command::new("python3")
        .args([
            "-c",
            "import socket, sys; socket.socket(socket.AF_UNIX).connect(sys.argv[1])",
        ])
        .arg(farm.socket())
        .uid(65534)
        .gid(65534)
        .output()
        .unwrap();
    assert!(
        !other_user.status.success(),
        "another user connected to the agent"
    );
    assert!(
        String::from_utf8_lossy(&other_user.stderr).contains("PermissionError"),
        "{}",
        String::from_utf8_lossy(&other_user.stderr)
    );
    assert_eq!(
        farm.server.stats().connections(),
        1,
        "the job went through the agent"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stale_socket_file_is_replaced_by_a_live_agent() {
    let farm = Farm::start("agent-stale").await;
    let socket = farm.socket();
    std::fs::create_dir_all(socket.parent().unwrap()).unwrap();
    set_mode(socket.parent().unwrap(), 0o700);
    // A socket file nobody listens on: what an agent killed with SIGKILL leaves behind.
    drop(std::os::unix::net::UnixListener::bind(&socket).unwrap());
    assert!(std::os::unix::net::UnixStream::connect(&socket).is_err());

    let outputs = farm.hello_build(2, 1, &[]).await;

    assert!(outputs.iter().all(|(_, o)| *o == *hello_reference()));
    assert_eq!(farm.agent_pids().len(), 1, "an agent was started");
    assert!(
        std::os::unix::net::UnixStream::connect(&socket).is_ok(),
        "the agent listens where the stale socket was"
    );
    assert_eq!(
        farm.server.stats().connections(),
        1,
        "both jobs went through the agent's one connection\n--- agent log\n{}",
        farm.agent_log()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agent_disabled_makes_every_wrapper_connect_by_itself() {
    let farm = Farm::start("agent-off").await;
    let jobs = 4;

    let outputs = farm.hello_build(jobs, 2, &[("DISTFARM_AGENT", "0")]).await;

    assert!(outputs.iter().all(|(_, o)| *o == *hello_reference()));
    let stats = farm.server.stats();
    // And one more for the connection that asked which compiler runs there.
    assert_eq!(stats.connections(), jobs + 1, "one SSH connection per job");
    // A remote command per connection at most: a wrapper may reach the session server of
    // another one's live connection through the remembered socket instead.
    assert!(
        (1..=jobs + 1).contains(&stats.sessions()),
        "{} remote commands for {} connections",
        stats.sessions(),
        jobs + 1
    );
    assert!(farm.agent_pids().is_empty(), "no agent was started");
    assert!(!farm.socket().exists(), "no agent socket was created");
}

/// A remembered session server may answer the probe and end before the job's channel opens
/// (it ends with the connection that started it): the wrapper then starts its own on the same
/// connection, and the host is not blamed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_remembered_session_server_gone_after_the_probe_is_replaced_by_our_own() {
    let farm = Farm::start("session-gone").await;
    let agent_off = [("DISTFARM_AGENT", "0")];
    farm.hello_build(1, 1, &agent_off).await; // remembers its session socket
    let memory_dir = farm.socket().with_file_name("sessions");
    let remembered: Vec<PathBuf> = std::fs::read_dir(&memory_dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(remembered.len(), 1, "one session server remembered");
    // A stand-in that answers the probe on its counters socket but has no job socket.
    let stand_in = farm.path("stand-in");
    std::fs::create_dir(&stand_in).unwrap();
    let _counters = std::os::unix::net::UnixListener::bind(stand_in.join("counters")).unwrap();
    let dead_socket = stand_in.join("sock").display().to_string();
    std::fs::write(&remembered[0], format!("{dead_socket}\n")).unwrap();

    let outputs = farm.hello_build(1, 1, &agent_off).await;

    assert_eq!(outputs[0].1, *hello_reference());
    let now = read_text(&remembered[0]);
    assert!(
        !now.is_empty() && now.trim_end() != dead_socket,
        "the new session server is remembered instead: {now:?}"
    );
}

/// The agent answers every request it read in full: the request's own bytes must never
/// look like the wrapper hanging up (which would send the job to the lock-file path).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_agent_answers_every_request_with_a_host_and_a_channel() {
    use distfarm::protocol::agent::{Channel, JobRequest, Pick};
    use distfarm::protocol::{Limits, TokenReader, TokenWriter};

    let farm = Farm::start("agent-answers").await;
    farm.hello_build(1, 1, &[]).await; // starts the agent and its connection
    let request = JobRequest {
        ssh_config: Some(farm.path("ssh_config").display().to_string()),
        auth_sock: None,
        backoff: Duration::from_secs(60),
        slot_held: false,
        pid: std::process::id(),
        file: "hello.c".into(),
        hosts: vec![farm.hosts()],
    };
    for round in 0..20 {
        let mut stream = tokio::net::UnixStream::connect(farm.socket())
            .await
            .unwrap();
        request
            .write(&mut TokenWriter::new(&mut stream))
            .await
            .unwrap();
        let mut reader = TokenReader::new(stream, Limits::default());
        let pick = Pick::read(&mut reader).await;
        assert!(
            matches!(pick, Ok(Pick::Host { index: 0, .. })),
            "round {round}: {pick:?}\n--- agent log\n{}",
            farm.agent_log()
        );
        let channel = Channel::read(&mut reader).await.unwrap();
        assert!(matches!(channel, Channel::Open { .. }), "{channel:?}");
    }
}

/// Like distcc, which starts cpp and then connects, a wrapper preprocesses as soon as the
/// agent has picked its host, while the agent is still opening the channel. A stand-in
/// agent on the socket answers PICK, then holds the channel answer back until the
/// preprocessor has run (or 10 s have passed), then says the host failed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_wrapper_preprocesses_while_the_agent_opens_the_channel() {
    use distfarm::protocol::agent::{Channel, JobRequest, Pick};
    use distfarm::protocol::{Limits, TokenReader, TokenWriter};

    let farm = Farm::start("agent-overlap").await;
    let bin = farm.path("bin");
    std::fs::create_dir(&bin).unwrap();
    let mark = farm.path("preprocessed");
    let gcc = distfarm::executables::find_on_path("gcc", &test_path()).expect("gcc is installed");
    crate::support::files::write_script(
        &bin.join("gcc"),
        &format!(
            "for a in \"$@\"; do [ \"$a\" = -E ] && touch {}; done\nexec {} \"$@\"",
            mark.display(),
            gcc.display()
        ),
    );
    let socket = farm.socket();
    std::fs::create_dir_all(socket.parent().unwrap()).unwrap();
    set_mode(socket.parent().unwrap(), 0o700);
    let listener = tokio::net::UnixListener::bind(&socket).unwrap();
    let mark2 = mark.clone();
    let stand_in = tokio::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        let mut reader = TokenReader::new(stream, Limits::default());
        JobRequest::read(&mut reader).await.unwrap();
        let mut stream = reader.into_inner();
        Pick::Host { index: 0, slot: 0 }
            .write(&mut TokenWriter::new(&mut stream))
            .await
            .unwrap();
        let mark = mark2.clone();
        let preprocessed_first = wait_for(Duration::from_secs(10), move || mark.exists()).await;
        Channel::Failed {
            message: "stand-in agent".into(),
        }
        .write(&mut TokenWriter::new(&mut stream))
        .await
        .unwrap();
        preprocessed_first
    });

    let path = format!("{}:{}", bin.display(), test_path().to_string_lossy());
    let out = farm
        .hello("overlap.o", &[("PATH", &path), ("DISTCC_FALLBACK", "1")])
        .output()
        .unwrap();
    assert!(
        stand_in.await.unwrap(),
        "the preprocessor did not run while the channel answer was pending"
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("stand-in agent"),
        "the fallback warning names the failure: {}",
        text(&out.stderr)
    );
    assert_eq!(read(&farm.path("out/overlap.o")), *hello_reference());
}

/// The agent's scheduler mirrors its slots in distcc's lock files: a slot whose lock another
/// program holds (a distcc client sharing the `DISTCC_DIR`) is skipped for the next one.
#[tokio::test]
async fn scheduler_skips_a_slot_whose_lock_another_program_holds() {
    let dir = temp_dir("scheduler-locks");
    let scheduler = Arc::new(Scheduler::with_lock_dir(Some(dir.path().to_path_buf())));
    let name = |n: u32| format!("cpu_ssh_box_{n}");
    let candidates = vec![Candidate {
        key: "@box/2",
        limit: 2,
        lock_name: &name,
    }];
    let mut holder = hold_lock(&dir.path().join("cpu_ssh_box_0"), 30.0);
    let (_, slot) = scheduler.acquire(&candidates).await.unwrap();
    assert_eq!(slot.number, 1, "slot 0 is held by the other process");
    holder.kill().unwrap();
    holder.wait().unwrap();
}

// ---------------------------------------------------------------------------------------
// The farm: server, key, configuration, remote, DISTCC_DIR
// ---------------------------------------------------------------------------------------

pub(crate) struct Farm {
    pub(crate) dir: tempfile::TempDir,
    pub(crate) server: TestSshServer,
}

impl Farm {
    /// A server that accepts a fresh key, an ssh_config whose `farmhost` reaches it with
    /// strict host key checking, a `distccd` symlink to distfarm, and empty work dirs.
    pub(crate) async fn start(label: &str) -> Farm {
        let dir = temp_dir(label);
        let server = start_farmhost(dir.path()).await;
        let remote = dir.path().join("remote");
        set_mode(dir.path(), 0o755);
        set_mode(&remote, 0o755);
        for sub in ["distcc_dir", "tmp", "out"] {
            std::fs::create_dir(dir.path().join(sub)).unwrap();
        }
        Farm { dir, server }
    }

    pub(crate) fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub(crate) fn hosts(&self) -> String {
        format!("@farmhost/8:{}", self.path("remote/distccd").display())
    }

    pub(crate) fn socket(&self) -> PathBuf {
        distfarm::config::agent_socket_path(&self.path("distcc_dir"))
    }

    pub(crate) fn agent_log(&self) -> String {
        read_text(&self.socket().with_file_name("agent.log"))
    }

    /// Running `distfarm agent --socket <our socket>` processes.
    pub(crate) fn agent_pids(&self) -> Vec<i32> {
        agent_pids(&self.socket())
    }

    /// `distfarm gcc -O2 -c hello.c -o out/<output>`, remote or fail, environment in full.
    pub(crate) fn hello(&self, output: &str, env: &[(&str, &str)]) -> Cmd {
        let mut cmd = Cmd::new(distfarm_bin())
            .args(["gcc", "-O2", "-c", "hello.c", "-o"])
            .arg(self.path("out").join(output))
            .current_dir(fixture_path(""))
            .env_clear()
            .env("PATH", test_path())
            .env("HOME", self.dir.path())
            .env("LC_ALL", "C")
            .env("TMPDIR", self.path("tmp"))
            .env("DISTCC_DIR", self.path("distcc_dir"))
            .env("DISTCC_HOSTS", self.hosts())
            .env("DISTCC_FALLBACK", "0")
            .env("DISTCC_SKIP_LOCAL_RETRY", "1")
            .env("DISTFARM_SSH_CONFIG", self.path("ssh_config"))
            .env("DISTFARM_AGENT_IDLE", "60")
            .timeout(Duration::from_secs(60));
        for (k, v) in env {
            cmd = cmd.env(k, v);
        }
        cmd
    }

    /// `jobs` compiles of hello.c by as many wrapper processes, `workers` at a time (off the
    /// async threads: the server runs on them). Returns (output name, object) in order.
    pub(crate) async fn hello_build(
        &self,
        jobs: usize,
        workers: usize,
        env: &[(&str, &str)],
    ) -> Vec<(String, Vec<u8>)> {
        let round = ROUND.fetch_add(1, Ordering::SeqCst);
        let names: Vec<String> = (0..jobs).map(|i| format!("r{round}-{i}.o")).collect();
        let cmds: Vec<Cmd> = names.iter().map(|n| self.hello(n, env)).collect();
        let outs = self.path("out");
        let agent_log = self.socket().with_file_name("agent.log");
        let names2 = names.clone();
        tokio::task::spawn_blocking(move || {
            parallel_map(cmds.len(), workers, |i| {
                let out = cmds[i]
                    .output()
                    .unwrap_or_else(|e| panic!("{e}\n--- agent log\n{}", read_text(&agent_log)));
                let stderr = text(&out.stderr);
                assert!(
                    !stderr.contains("distfarm"),
                    "a clean remote compile prints nothing of distfarm's own:\n{stderr}"
                );
                read(&outs.join(&names2[i]))
            })
        })
        .await
        .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()))
        .into_iter()
        .zip(names)
        .map(|(object, name)| (name, object))
        .collect()
    }
}

static ROUND: AtomicUsize = AtomicUsize::new(0);

impl Drop for Farm {
    fn drop(&mut self) {
        for pid in self.agent_pids() {
            kill(pid);
        }
    }
}

pub(crate) async fn wait_for(timeout: Duration, mut done: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if done() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A socket left by a dead agent is replaced; any other file at the socket's path is not
/// the agent's to remove.
#[test]
fn a_left_over_socket_is_replaced_but_any_other_file_is_kept() {
    use distfarm::agent::socket::remove_stale_socket;
    let dir = temp_dir("stale-socket");
    let path = dir.path().join("sock");
    drop(std::os::unix::net::UnixListener::bind(&path).unwrap());
    remove_stale_socket(&path).unwrap();
    assert!(!path.exists());

    std::fs::write(&path, b"not a socket").unwrap();
    let refused = remove_stale_socket(&path).unwrap_err();
    assert!(refused.to_string().contains("not a socket"), "{refused}");
    assert_eq!(std::fs::read(&path).unwrap(), b"not a socket");
}
