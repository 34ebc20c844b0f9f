//! distfarm and the real distcc 3.4 sharing one `DISTCC_DIR`: each respects the other's
//! fcntl slot locks (waiting for a busy slot, or taking another host's), and the real
//! `distccmon-text` shows distfarm's running jobs from the state files.
//!
//! A "stalling" server accepts a job and never answers, so whoever holds its slot keeps it
//! until the test lets go (by killing that client or closing the connection).

mod support;

use std::fs::File;
use std::io::Read;
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use support::{ChildGuard, Cmd, RealDistccd, distfarm_bin, fixture_path, local_object, require};

// ---------------------------------------------------------------------------------------
// The monitor
// ---------------------------------------------------------------------------------------

#[test]
fn distccmon_text_shows_a_running_distfarm_job_and_the_state_file_goes_with_it() {
    let stall = StallServer::start();
    let work = Work::new();
    let hosts = stall.host(1);
    let mut job = work.spawn(Client::Distfarm, &hosts, "out/hello.o", "job");

    let line = wait_for(
        "distccmon-text to show hello.c",
        Duration::from_secs(20),
        || {
            let out = work.distccmon_text();
            out.lines()
                .find(|l| l.contains("hello.c"))
                .map(String::from)
        },
        || work.logs(),
    );
    assert!(
        line.contains("127.0.0.1"),
        "the monitor line should name the host: {line:?}"
    );
    assert!(
        line.trim_start().starts_with(&job.id().to_string()),
        "the monitor line should carry the wrapper's pid {}: {line:?}",
        job.id()
    );
    let state = work
        .distcc_dir()
        .join(format!("state/binstate_{}", job.id()));
    assert!(
        state.exists(),
        "{} missing while the job runs",
        state.display()
    );

    // The server goes away: the wrapper falls back to a local compile and ends. (The monitor
    // shows the job from its Connect phase on: make sure there is a connection to hang up.)
    wait_for(
        "the wrapper to reach the server",
        Duration::from_secs(20),
        || (stall.accepted() >= 1).then_some(()),
        || work.logs(),
    );
    stall.release_all();
    let status = job
        .wait_timeout(Duration::from_secs(60))
        .unwrap_or_else(|| panic!("the wrapper did not finish:\n{}", work.logs()));
    assert!(status.success(), "{status:?}\n{}", work.logs());
    assert_eq!(work.read("out/hello.o"), work.hello_reference());
    assert!(
        !state.exists(),
        "{} left behind after the job ended",
        state.display()
    );
    assert_eq!(list(&work.distcc_dir().join("state")), Vec::<String>::new());
    assert!(
        !work.distccmon_text().contains("hello.c"),
        "{}",
        work.distccmon_text()
    );
}

// ---------------------------------------------------------------------------------------
// Slot locks shared with distcc
// ---------------------------------------------------------------------------------------

#[test]
fn distfarm_waits_for_the_only_slot_while_real_distcc_holds_it() {
    waiter_respects_holder(Client::Distcc, Client::Distfarm);
}

#[test]
fn real_distcc_waits_for_the_only_slot_while_distfarm_holds_it() {
    waiter_respects_holder(Client::Distfarm, Client::Distcc);
}

#[test]
fn distfarm_takes_the_free_host_while_real_distcc_holds_the_busy_one() {
    second_client_takes_the_free_host(Client::Distcc, Client::Distfarm);
}

#[test]
fn real_distcc_takes_the_free_host_while_distfarm_holds_the_busy_one() {
    second_client_takes_the_free_host(Client::Distfarm, Client::Distcc);
}

/// One host, one slot. `holder` takes it and stalls on the server; `waiter` must not connect
/// while the slot is held, and must connect as soon as the holder dies (its lock with it).
fn waiter_respects_holder(holder: Client, waiter: Client) {
    let stall = StallServer::start();
    let work = Work::new();
    let hosts = stall.host(1);
    let mut first = work.spawn(holder, &hosts, "out/first.o", "holder");
    wait_for(
        "the holder to reach the server",
        Duration::from_secs(20),
        || (stall.accepted() >= 1).then_some(()),
        || work.logs(),
    );

    let mut second = work.spawn(waiter, &hosts, "out/second.o", "waiter");
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(
        stall.accepted(),
        1,
        "{waiter:?} connected to a host whose only slot {holder:?} holds\n{}",
        work.logs()
    );
    assert!(
        second.try_wait().is_none(),
        "{waiter:?} should be waiting for the slot\n{}",
        work.logs()
    );

    first.kill();
    wait_for(
        "the waiter to take the freed slot",
        Duration::from_secs(20),
        || (stall.accepted() >= 2).then_some(()),
        || work.logs(),
    );
    // Let the waiter go: the server hangs up, the job is compiled locally instead.
    stall.release_all();
    let status = second
        .wait_timeout(Duration::from_secs(60))
        .unwrap_or_else(|| panic!("{waiter:?} did not finish:\n{}", work.logs()));
    assert!(status.success(), "{waiter:?}: {status:?}\n{}", work.logs());
    assert_eq!(work.read("out/second.o"), work.hello_reference());
}

/// Two hosts, one slot each, the stalling one first. `holder` takes the first; `second`
/// must skip its busy slot and compile on the real distccd (no fallback allowed).
fn second_client_takes_the_free_host(holder: Client, second: Client) {
    let stall = StallServer::start();
    let mut distccd = RealDistccd::start();
    let work = Work::new();
    let hosts = format!("{} {}/1", stall.host(1), distccd.host_spec());
    let _first = work.spawn(holder, &hosts, "out/first.o", "holder");
    wait_for(
        "the holder to reach the first host",
        Duration::from_secs(20),
        || (stall.accepted() >= 1).then_some(()),
        || work.logs(),
    );

    let out = work
        .client(second, &hosts, "out/second.o")
        .env("DISTCC_FALLBACK", "0")
        .timeout(Duration::from_secs(30))
        .output()
        .unwrap_or_else(|e| panic!("{second:?} failed: {e}\n{}", work.logs()));
    assert_eq!(
        stall.accepted(),
        1,
        "{second:?} connected to the host whose only slot {holder:?} holds"
    );
    let deadline = Instant::now() + Duration::from_secs(15);
    while !distccd.log().contains(" COMPILE_OK ") {
        assert!(
            Instant::now() < deadline && distccd.is_running(),
            "{second:?} did not compile on the free host; distccd log:\n{}\n{:?}",
            distccd.log(),
            out
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(work.read("out/second.o"), work.hello_reference());
}

// ---------------------------------------------------------------------------------------
// Clients sharing a DISTCC_DIR
// ---------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Client {
    Distfarm,
    Distcc,
}

/// `src/` with the hello fixtures, one `DISTCC_DIR` for every client, logs of background
/// clients in `logs/`.
struct Work {
    dir: tempfile::TempDir,
}

impl Work {
    fn new() -> Work {
        let dir = support::temp_dir("locks");
        for sub in ["src/out", "distcc_dir", "tmp", "logs"] {
            std::fs::create_dir_all(dir.path().join(sub)).unwrap();
        }
        for name in ["hello.c", "hello.h"] {
            std::fs::copy(fixture_path(name), dir.path().join("src").join(name)).unwrap();
        }
        Work { dir }
    }

    fn src(&self) -> PathBuf {
        self.dir.path().join("src")
    }

    fn distcc_dir(&self) -> PathBuf {
        self.dir.path().join("distcc_dir")
    }

    fn read(&self, rel: &str) -> Vec<u8> {
        let path = self.src().join(rel);
        std::fs::read(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
    }

    fn hello_reference(&self) -> Vec<u8> {
        local_object("gcc", ["-O2"], Path::new("hello.c"), &self.src())
    }

    /// `distfarm gcc …` or `distcc gcc …` compiling hello.c to `output`, in `src/`, with the
    /// shared `DISTCC_DIR` and a short pause between lock attempts.
    fn client(&self, client: Client, hosts: &str, output: &str) -> Cmd {
        let program = match client {
            Client::Distfarm => distfarm_bin(),
            Client::Distcc => require("distcc", "distcc"),
        };
        Cmd::new(program)
            .args(["gcc", "-O2", "-c", "hello.c", "-o", output])
            .current_dir(self.src())
            .env_clear()
            .env("PATH", test_path())
            .env("HOME", self.dir.path())
            .env("LC_ALL", "C")
            .env("TMPDIR", self.dir.path().join("tmp"))
            .env("DISTCC_DIR", self.distcc_dir())
            .env("DISTCC_HOSTS", hosts)
            .env("DISTCC_PAUSE_TIME_MSEC", "50")
    }

    /// The client in the background, its output in `logs/<label>.log`.
    fn spawn(&self, client: Client, hosts: &str, output: &str, label: &str) -> ChildGuard {
        let log = File::create(self.log_path(label)).unwrap();
        let mut cmd = self.client(client, hosts, output).to_command();
        cmd.stdout(Stdio::from(log.try_clone().unwrap()))
            .stderr(Stdio::from(log));
        ChildGuard::spawn(cmd, format!("{client:?} ({label})"))
    }

    fn log_path(&self, label: &str) -> PathBuf {
        self.dir.path().join("logs").join(format!("{label}.log"))
    }

    /// Every background client's output, for failure messages.
    fn logs(&self) -> String {
        list(&self.dir.path().join("logs"))
            .into_iter()
            .map(|name| {
                let text = std::fs::read_to_string(self.dir.path().join("logs").join(&name))
                    .unwrap_or_default();
                format!("--- {name}\n{text}")
            })
            .collect()
    }

    /// What the real `distccmon-text` prints once for the shared `DISTCC_DIR`.
    fn distccmon_text(&self) -> String {
        let out = Cmd::new(require("distccmon-text", "distcc"))
            .env_clear()
            .env("PATH", test_path())
            .env("HOME", self.dir.path())
            .env("DISTCC_DIR", self.distcc_dir())
            .timeout(Duration::from_secs(10))
            .run();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

// ---------------------------------------------------------------------------------------
// A server that accepts jobs and never answers
// ---------------------------------------------------------------------------------------

struct StallServer {
    port: u16,
    accepted: Arc<AtomicUsize>,
    open: Arc<Mutex<Vec<TcpStream>>>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl StallServer {
    fn start() -> StallServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let port = listener.local_addr().unwrap().port();
        let accepted = Arc::new(AtomicUsize::new(0));
        let open = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (accepted, open, stop) = (accepted.clone(), open.clone(), stop.clone());
            std::thread::spawn(move || {
                for stream in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        return;
                    }
                    let Ok(mut stream) = stream else { continue };
                    // Registered before counted: whoever sees the count can hang it up.
                    if let Ok(clone) = stream.try_clone() {
                        open.lock().unwrap().push(clone);
                    }
                    accepted.fetch_add(1, Ordering::SeqCst);
                    // Swallow the request so the client's writes never block; answer nothing.
                    std::thread::spawn(move || {
                        let mut sink = [0u8; 16384];
                        while matches!(stream.read(&mut sink), Ok(n) if n > 0) {}
                    });
                }
            })
        };
        StallServer {
            port,
            accepted,
            open,
            stop,
            thread: Some(thread),
        }
    }

    /// `127.0.0.1:PORT/LIMIT`.
    fn host(&self, limit: u32) -> String {
        format!("127.0.0.1:{}/{limit}", self.port)
    }

    fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }

    /// Hangs up every connection accepted so far.
    fn release_all(&self) {
        for stream in self.open.lock().unwrap().drain(..) {
            let _ = stream.shutdown(Shutdown::Both);
        }
    }
}

impl Drop for StallServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        self.release_all();
        let _ = TcpStream::connect(("127.0.0.1", self.port)); // wake the accept loop
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

// ---------------------------------------------------------------------------------------
// Small helpers
// ---------------------------------------------------------------------------------------

/// Polls `probe` until it gives a value; panics after `timeout` with `context()`.
#[track_caller]
fn wait_for<T>(
    what: &str,
    timeout: Duration,
    mut probe: impl FnMut() -> Option<T>,
    context: impl Fn() -> String,
) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = probe() {
            return value;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}\n{}",
            context()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn list(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

fn test_path() -> std::ffi::OsString {
    std::env::var_os("PATH").unwrap_or_else(|| "/usr/local/bin:/usr/bin:/bin".into())
}
