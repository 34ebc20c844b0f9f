//! `distfarm serve` as an operator runs it: options and exit codes, the allow-list, the pid
//! file, detaching, signals, `--job-lifetime`, `--jobs`, and the environment it honours
//! (`TMPDIR`, `DISTCC_SAVE_TEMPS`, `DISTCCD_PATH`). Always the real binary, on loopback.
//!
//! Run as root the server drops to `distcc`/`nobody` before it serves: every directory it
//! must write (TMPDIR, pid file, markers of fake compilers) is world-writable here, and every
//! fake compiler is world-readable.

mod support;

use std::ffi::OsString;
use std::fs::File;
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use distfarm::protocol::{
    Limits, Request, RequestHeader, Response, TokenReader, TokenWriter, Version,
};
use nix::sys::signal::Signal;
use support::{ChildGuard, Cmd, distfarm_bin, free_port, temp_dir};

const START_TIMEOUT: Duration = Duration::from_secs(20);
const ANSWER_TIMEOUT: Duration = Duration::from_secs(60);

const HELLO: &[u8] = b"# 0 \"foo.c\"\nint printf(const char *, ...);\n\
    int main(void) { printf(\"hello\\n\"); return 0; }\n";

// =======================================================================================
// The server under test
// =======================================================================================

/// How to start one server: extra arguments, extra environment, and its TMPDIR.
struct Options {
    args: Vec<String>,
    env: Vec<(String, OsString)>,
    tmpdir: Option<PathBuf>,
}

fn options(args: &[&str]) -> Options {
    Options {
        args: args.iter().map(|a| a.to_string()).collect(),
        env: Vec::new(),
        tmpdir: None,
    }
}

impl Options {
    fn env(mut self, key: &str, value: impl Into<OsString>) -> Options {
        self.env.push((key.to_string(), value.into()));
        self
    }

    fn tmpdir(mut self, dir: &Path) -> Options {
        self.tmpdir = Some(dir.to_path_buf());
        self
    }

    #[track_caller]
    fn start(self) -> Server {
        Server::start(self)
    }
}

/// `distfarm serve --no-detach --listen 127.0.0.1 -p PORT --log-stderr …`, its log in a file.
struct Server {
    // Field order is drop order: the server dies before its directories are removed.
    child: ChildGuard,
    port: u16,
    log: PathBuf,
    tmpdir: PathBuf,
    _own: tempfile::TempDir,
}

impl Server {
    #[track_caller]
    fn start(options: Options) -> Server {
        let own = temp_dir("daemon-serve");
        set_mode(own.path(), 0o1777);
        let tmpdir = options
            .tmpdir
            .clone()
            .unwrap_or_else(|| own.path().to_path_buf());
        let log = own.path().join("serve.log");
        for _attempt in 0..5 {
            let port = free_port();
            let file = File::create(&log).expect("server log file");
            let mut cmd = Command::new(distfarm_bin());
            cmd.args([
                "serve",
                "--no-detach",
                "--listen",
                "127.0.0.1",
                "--log-stderr",
            ])
            .args(["-p", &port.to_string()])
            .args(&options.args)
            .env_clear()
            .env("PATH", system_path())
            .env("TMPDIR", &tmpdir)
            .env("LC_ALL", "C")
            .envs(options.env.iter().map(|(k, v)| (k, v)))
            .stdout(Stdio::from(file.try_clone().expect("dup log")))
            .stderr(Stdio::from(file));
            let mut child = ChildGuard::spawn(cmd, format!("distfarm serve on 127.0.0.1:{port}"));
            let ready = format!("listening on 127.0.0.1:{port}");
            let deadline = Instant::now() + START_TIMEOUT;
            loop {
                let text = read_text(&log);
                if text.contains(&ready) {
                    return Server {
                        child,
                        port,
                        log,
                        tmpdir,
                        _own: own,
                    };
                }
                if let Some(status) = child.try_wait() {
                    if text.contains("cannot listen") {
                        break;
                    }
                    panic!("distfarm serve exited at start-up ({status}):\n{text}");
                }
                assert!(
                    Instant::now() < deadline,
                    "distfarm serve did not log {ready:?} within {START_TIMEOUT:?}:\n{text}"
                );
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        panic!("distfarm serve could not bind a free port in 5 attempts");
    }

    fn log(&self) -> String {
        read_text(&self.log)
    }

    #[track_caller]
    fn expect_log(&self, needle: &str) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !self.log().contains(needle) {
            assert!(
                Instant::now() < deadline,
                "the server log never said {needle:?}:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    #[track_caller]
    fn compile(&self, argv: &[&str], source: &[u8]) -> (Response, SocketAddr) {
        compile(self.port, Version::V1, argv, source)
    }
}

fn system_path() -> OsString {
    std::env::var_os("PATH").unwrap_or_else(|| "/usr/bin:/bin".into())
}

fn job_directories(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with("distfarm_"))
        .map(|e| e.path())
        .collect()
}

#[track_caller]
fn assert_no_job_directories(dir: &Path) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !job_directories(dir).is_empty() {
        assert!(
            Instant::now() < deadline,
            "job directories left in {}: {:?}",
            dir.display(),
            job_directories(dir)
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

// =======================================================================================
// The wire
// =======================================================================================

fn block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
        .block_on(future)
}

const HONEST: [&str; 6] = ["gcc", "-O2", "-c", "foo.c", "-o", "foo.o"];

fn request_bytes(version: Version, argv: &[&str], source: &[u8]) -> Vec<u8> {
    let request = Request {
        header: RequestHeader::new(
            version,
            argv.iter().map(|a| a.as_bytes().to_vec()).collect(),
        ),
        source: source.to_vec(),
    };
    block_on(async {
        let mut writer = TokenWriter::new(Vec::new());
        request.write(&mut writer).await.expect("encode request");
        writer.into_inner()
    })
}

/// Sends a request (never half-closing: the server takes end-of-stream as a hang-up) and
/// reads until the server closes. Returns our address and what came back.
#[track_caller]
fn exchange(port: u16, bytes: &[u8]) -> (SocketAddr, Vec<u8>) {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect to the server");
    let addr = stream.local_addr().unwrap();
    stream.set_read_timeout(Some(ANSWER_TIMEOUT)).unwrap();
    let _ = stream.write_all(bytes);
    let mut got = Vec::new();
    let mut chunk = [0u8; 65536];
    loop {
        match stream.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => got.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => break,
            Err(e) => panic!("no answer or close within {ANSWER_TIMEOUT:?}: {e}"),
        }
    }
    let _ = stream.shutdown(Shutdown::Both);
    (addr, got)
}

#[track_caller]
fn parse_response(bytes: &[u8], version: Version) -> Response {
    block_on(async {
        let mut reader = TokenReader::new(bytes, Limits::default());
        let response = Response::read(&mut reader, version.number(), version)
            .await
            .unwrap_or_else(|e| {
                panic!(
                    "not a distcc answer ({e}): {:?}",
                    String::from_utf8_lossy(&bytes[..bytes.len().min(400)])
                )
            });
        assert!(reader.into_inner().is_empty(), "bytes after the answer");
        response
    })
}

#[track_caller]
fn compile(port: u16, version: Version, argv: &[&str], source: &[u8]) -> (Response, SocketAddr) {
    let (addr, bytes) = exchange(port, &request_bytes(version, argv, source));
    (parse_response(&bytes, version), addr)
}

#[track_caller]
fn assert_compiled(response: &Response, what: &str) {
    assert_eq!(
        response.status,
        0,
        "{what}: status {:#x}, stderr: {}",
        response.status,
        String::from_utf8_lossy(&response.stderr)
    );
    assert!(
        response.object.starts_with(b"\x7fELF"),
        "{what}: the answer carries an object"
    );
}

// =======================================================================================
// Fake compilers and world-writable places
// =======================================================================================

/// A world-writable directory inside `parent`.
fn open_dir(parent: &Path, name: &str) -> PathBuf {
    let dir = parent.join(name);
    std::fs::create_dir_all(&dir).unwrap();
    set_mode(&dir, 0o777);
    dir
}

/// A 0755 directory for scripts the dropped user must be able to run.
fn script_dir(label: &str) -> tempfile::TempDir {
    let dir = temp_dir(label);
    set_mode(dir.path(), 0o755);
    dir
}

fn write_script(path: &Path, body: &str) {
    std::fs::write(path, format!("#!/bin/sh\n{body}\n")).unwrap();
    set_mode(path, 0o755);
}

// =======================================================================================
// Options and exit codes
// =======================================================================================

/// `distccd` → the distfarm binary, in a directory of its own.
fn distccd_link() -> (tempfile::TempDir, PathBuf) {
    let dir = script_dir("distccd-link");
    let link = dir.path().join("distccd");
    std::os::unix::fs::symlink(distfarm_bin(), &link).unwrap();
    (dir, link)
}

fn serve_cmd() -> Cmd {
    Cmd::new(distfarm_bin())
        .arg("serve")
        .timeout(Duration::from_secs(30))
}

#[test]
fn unknown_option_exits_101_and_names_the_option() {
    let (_dir, distccd) = distccd_link();
    for cmd in [
        serve_cmd().arg("--no-such-option"),
        Cmd::new(&distccd).arg("--no-such-option"),
    ] {
        let out = cmd.output_unchecked().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(101), "{cmd}: {stderr}");
        assert!(stderr.contains("--no-such-option"), "{cmd}: {stderr}");
    }
}

#[test]
fn bad_option_values_exit_101_and_name_the_value() {
    let (_dir, distccd) = distccd_link();
    for (cmd, named) in [
        (serve_cmd().args(["--allow", "10.0.0/8"]), "10.0.0/8"),
        (Cmd::new(&distccd).args(["--allow", "example"]), "example"),
        (serve_cmd().args(["--log-level", "loud"]), "loud"),
        (serve_cmd().args(["--port", "99999"]), "99999"),
        (serve_cmd().args(["--listen", "nowhere"]), "nowhere"),
    ] {
        let cmd = cmd.args(["--no-detach", "--log-stderr"]);
        let out = cmd.output_unchecked().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(101), "{cmd}: {stderr}");
        assert!(stderr.contains(named), "{cmd}: {stderr}");
    }
}

#[test]
fn help_and_version_exit_0_for_distccd_and_distfarm_serve() {
    let (_dir, distccd) = distccd_link();
    for cmd in [serve_cmd().arg("--help"), Cmd::new(&distccd).arg("--help")] {
        let out = cmd.output_unchecked().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(0), "{cmd}: {stdout}");
        assert!(stdout.contains("Usage:"), "{cmd}: {stdout}");
        for option in [
            "--allow",
            "--jobs",
            "--inetd",
            "--pid-file",
            "--job-lifetime",
        ] {
            assert!(
                stdout.contains(option),
                "{cmd} documents {option}: {stdout}"
            );
        }
    }
    let out = Cmd::new(&distccd)
        .arg("--version")
        .output_unchecked()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "distccd --version: {stdout}");
    assert!(
        stdout.contains(env!("CARGO_PKG_VERSION")),
        "distccd --version: {stdout}"
    );
}

/// SERVER BUG (src/cli.rs): `distfarm serve` takes "distccd's options, with the same names and
/// meanings", but `--version` exists only on the top-level command, so `distfarm serve
/// --version` is an unknown argument (exit 101) while `distccd --version` exits 0.
/// `#[command(propagate_version = true)]` on `Cli` would fix it.
#[test]
fn distfarm_serve_version_exits_0_like_distccd() {
    let cmd = serve_cmd().arg("--version");
    let out = cmd.output_unchecked().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "SERVER BUG: `{cmd}` is refused:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains(env!("CARGO_PKG_VERSION")));
}

// =======================================================================================
// Who may connect
// =======================================================================================

#[test]
fn without_allow_the_daemon_serves_loopback_only_and_says_so() {
    let server = options(&["--jobs", "1"]).start();
    server.expect_log("no --allow given: accepting clients from loopback only");
    server.expect_log("for clients from 127.0.0.0/8, ::1/128");
    let (response, addr) = server.compile(&HONEST, HELLO);
    assert_compiled(&response, "a loopback client without --allow");
    server.expect_log(&format!("client: {addr} COMPILE_OK"));
}

#[test]
fn client_outside_the_allow_list_is_closed_without_an_answer() {
    let server = options(&["--allow", "10.0.0.0/8"]).start();
    server.expect_log("for clients from 10.0.0.0/8");
    assert!(
        !server.log().contains("loopback only"),
        "with --allow, loopback is not added: {}",
        server.log()
    );
    let (addr, answer) = exchange(server.port, &request_bytes(Version::V1, &HONEST, HELLO));
    assert!(
        answer.is_empty(),
        "a denied client gets no answer: {:?}",
        String::from_utf8_lossy(&answer)
    );
    server.expect_log(&format!("client: {addr} denied by access list"));
    assert!(!server.log().contains("COMPILE_"), "{}", server.log());
    assert_no_job_directories(&server.tmpdir);
}

#[test]
fn allow_private_and_explicit_loopback_let_loopback_in() {
    for args in [
        &["--allow-private"][..],
        &["--allow", "127.0.0.1"][..],
        &["--allow", "10.0.0.0/8", "--allow", "127.0.0.0/8"][..],
    ] {
        let server = options(args).start();
        let (response, _) = server.compile(&HONEST, HELLO);
        assert_compiled(&response, &format!("loopback with {args:?}"));
    }
}

// =======================================================================================
// Process life: pid file, signals, detaching, privileges
// =======================================================================================

#[test]
fn pid_file_is_written_at_start_and_removed_at_sigterm() {
    let run = temp_dir("pid-file");
    let run_dir = open_dir(run.path(), "run");
    let pid_file = run_dir.join("distfarm.pid");
    let mut server = options(&["--pid-file", pid_file.to_str().unwrap()]).start();
    let written = std::fs::read_to_string(&pid_file).expect("the pid file exists while serving");
    assert_eq!(written.trim(), server.child.id().to_string());
    let (response, _) = server.compile(&HONEST, HELLO);
    assert_compiled(&response, "a job while the pid file exists");

    server.child.signal(Signal::SIGTERM);
    let status = server
        .child
        .wait_timeout(Duration::from_secs(20))
        .expect("the server exits on SIGTERM");
    assert_eq!(
        status.code(),
        Some(0),
        "exit status after SIGTERM:\n{}",
        server.log()
    );
    assert!(!pid_file.exists(), "the pid file is removed at exit");
    assert!(server.log().contains("SIGTERM"), "{}", server.log());
}

/// A fake compiler that records that it started, sleeps, then really compiles.
fn slow_compiler(dir: &Path, marks: &Path, seconds: &str) -> PathBuf {
    let path = dir.join("slowcc");
    write_script(
        &path,
        &format!(
            "touch {marks}/started\nsleep {seconds}\nexec /usr/bin/gcc \"$@\"",
            marks = marks.display()
        ),
    );
    path
}

#[test]
fn sigterm_lets_the_running_job_finish_then_exits() {
    let scripts = script_dir("sigterm-scripts");
    let marks = open_dir(scripts.path(), "marks");
    let slowcc = slow_compiler(scripts.path(), &marks, "2");
    let mut server = options(&["--compiler", slowcc.to_str().unwrap()]).start();
    let port = server.port;
    let slow = slowcc.to_str().unwrap().to_string();
    let job = std::thread::spawn(move || {
        compile(
            port,
            Version::V1,
            &[&slow, "-c", "foo.c", "-o", "foo.o"],
            HELLO,
        )
        .0
    });
    let deadline = Instant::now() + Duration::from_secs(20);
    while !marks.join("started").exists() {
        assert!(
            Instant::now() < deadline,
            "the compiler never started:\n{}",
            server.log()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    server.child.signal(Signal::SIGTERM);
    let response = job.join().expect("the client thread");
    assert_compiled(&response, "the job running at SIGTERM");
    let status = server
        .child
        .wait_timeout(Duration::from_secs(20))
        .expect("the server exits once the job is done");
    assert_eq!(status.code(), Some(0), "{}", server.log());
    let log = server.log();
    let term = log.find("SIGTERM").expect("SIGTERM is logged");
    let done = log.find("COMPILE_OK").expect("the job is logged");
    assert!(term < done, "the job finished after SIGTERM:\n{log}");
}

/// Kills a detached daemon by its pid file when dropped (a failing test leaves nothing).
struct Detached {
    pid_file: PathBuf,
}

impl Detached {
    fn pid(&self) -> Option<nix::unistd::Pid> {
        std::fs::read_to_string(&self.pid_file)
            .ok()
            .and_then(|t| t.trim().parse::<i32>().ok())
            .map(nix::unistd::Pid::from_raw)
    }
}

impl Drop for Detached {
    fn drop(&mut self) {
        if let Some(pid) = self.pid() {
            let _ = nix::sys::signal::kill(pid, Signal::SIGKILL);
        }
    }
}

#[test]
fn detached_daemon_returns_at_once_serves_and_stops_by_its_pid_file() {
    let own = temp_dir("detached");
    let open = open_dir(own.path(), "open");
    let pid_file = open.join("daemon.pid");
    let log = open.join("daemon.log");
    let guard = Detached {
        pid_file: pid_file.clone(),
    };
    let mut port = 0;
    for attempt in 0..5 {
        assert!(
            attempt < 4,
            "no free port in 5 attempts:\n{}",
            read_text(&log)
        );
        port = free_port();
        let started = Instant::now();
        let out = Cmd::new(distfarm_bin())
            .args([
                "serve",
                "--daemon",
                "--listen",
                "127.0.0.1",
                "-p",
                &port.to_string(),
            ])
            .arg("--pid-file")
            .arg(&pid_file)
            .arg("--log-file")
            .arg(&log)
            // A backstop: the daemon exits by itself even if this test dies without cleaning.
            .args(["--lifetime", "300"])
            .env_clear()
            .env("PATH", system_path())
            .env("TMPDIR", &open)
            .env("LC_ALL", "C")
            .timeout(Duration::from_secs(30))
            .output_unchecked()
            .unwrap();
        if out.status.code() == Some(102) && read_text(&log).contains("cannot listen") {
            continue; // the port was taken meanwhile: try another
        }
        assert_eq!(
            out.status.code(),
            Some(0),
            "the starting process exits 0: {}\n{}",
            String::from_utf8_lossy(&out.stderr),
            read_text(&log)
        );
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the starting process returned at once ({:?})",
            started.elapsed()
        );
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            let text = read_text(&log);
            if text.contains(&format!("listening on 127.0.0.1:{port}")) && guard.pid().is_some() {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "the detached daemon did not come up:\n{text}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        break;
    }
    let pid = guard.pid().expect("the pid file names the daemon");
    assert!(
        Path::new(&format!("/proc/{pid}")).exists(),
        "pid {pid} from the pid file is running"
    );
    let (response, _) = compile(port, Version::V2, &HONEST, HELLO);
    assert_compiled(&response, "a job served by the detached daemon");

    nix::sys::signal::kill(pid, Signal::SIGTERM).unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while pid_file.exists() || Path::new(&format!("/proc/{pid}/status")).exists() && !is_zombie(pid)
    {
        assert!(
            Instant::now() < deadline,
            "the daemon did not stop on SIGTERM:\n{}",
            read_text(&log)
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(
        !pid_file.exists(),
        "the pid file is removed when the daemon stops"
    );
}

fn is_zombie(pid: nix::unistd::Pid) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .map(|s| {
            s.lines()
                .any(|l| l.starts_with("State:") && l.contains('Z'))
        })
        .unwrap_or(true)
}

/// Like distccd: started as root, the server becomes an unprivileged user before serving,
/// and `--user root` is refused (exit 112) rather than honoured.
#[test]
fn root_drops_privileges_and_will_not_serve_as_root() {
    if !nix::unistd::Uid::effective().is_root() {
        let out = serve_cmd()
            .args(["--inetd", "--user", "root", "--log-stderr"])
            .stdin(Vec::new())
            .output_unchecked()
            .unwrap();
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("not running as root"),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        return;
    }
    let server = options(&[]).start();
    assert!(
        server.log().contains("running as user distcc")
            || server.log().contains("running as user nobody"),
        "{}",
        server.log()
    );
    let out = serve_cmd()
        .args([
            "--no-detach",
            "--listen",
            "127.0.0.1",
            "-p",
            &free_port().to_string(),
        ])
        .args(["--log-stderr", "--user", "root"])
        .output_unchecked()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(112), "{stderr}");
    assert!(stderr.contains("root"), "{stderr}");
    let out = serve_cmd()
        .args([
            "--no-detach",
            "--listen",
            "127.0.0.1",
            "-p",
            &free_port().to_string(),
        ])
        .args(["--log-stderr", "--user", "no-such-user-here"])
        .output_unchecked()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(112), "{stderr}");
    assert!(stderr.contains("no-such-user-here"), "{stderr}");
}

// =======================================================================================
// Jobs
// =======================================================================================

#[test]
fn job_lifetime_kills_a_slow_compiler_and_answers_exit_118() {
    let scripts = script_dir("lifetime-scripts");
    let marks = open_dir(scripts.path(), "marks");
    let sleepy = scripts.path().join("sleepycc");
    // The sleep is a child of the compiler: the whole process group must die with it.
    write_script(
        &sleepy,
        &format!(
            "sleep 60 &\necho $! > {marks}/sleep.pid\nwait",
            marks = marks.display()
        ),
    );
    let sleepy = sleepy.to_str().unwrap();
    let server = options(&["--job-lifetime", "1", "--compiler", sleepy]).start();
    let started = Instant::now();
    let (response, addr) = server.compile(&[sleepy, "-c", "foo.c", "-o", "foo.o"], HELLO);
    let took = started.elapsed();
    let stderr = String::from_utf8_lossy(&response.stderr);
    assert_eq!(
        response.status,
        118 << 8,
        "STAT is W_EXITCODE(118, 0): {stderr}"
    );
    assert!(stderr.contains("job lifetime"), "{stderr}");
    assert!(response.object.is_empty());
    assert!(
        took < Duration::from_secs(30),
        "answered when the lifetime ran out, not when the compiler would have ({took:?})"
    );
    server.expect_log(&format!("client: {addr} COMPILE_TIMEOUT"));
    let pid = std::fs::read_to_string(marks.join("sleep.pid")).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while Path::new(&format!("/proc/{}", pid.trim())).exists()
        && !is_zombie(nix::unistd::Pid::from_raw(pid.trim().parse().unwrap()))
    {
        assert!(
            Instant::now() < deadline,
            "the compiler's child (pid {}) outlived the job",
            pid.trim()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_no_job_directories(&server.tmpdir);
}

#[test]
fn concurrent_jobs_all_succeed_and_no_more_than_jobs_compile_at_once() {
    let scripts = script_dir("jobs-scripts");
    let marks = open_dir(scripts.path(), "marks");
    let running = open_dir(&marks, "running");
    let counting = scripts.path().join("countcc");
    write_script(
        &counting,
        &format!(
            "mkdir {running}/$$\nls {running} | wc -l >> {marks}/counts\nsleep 1\n\
             rmdir {running}/$$\nexec /usr/bin/gcc \"$@\"",
            running = running.display(),
            marks = marks.display()
        ),
    );
    let counting = counting.to_str().unwrap().to_string();
    let server = options(&["--jobs", "2", "--compiler", &counting]).start();
    let port = server.port;
    let clients: Vec<_> = (0..6)
        .map(|i| {
            let cc = counting.clone();
            std::thread::spawn(move || {
                let version = if i % 2 == 0 { Version::V1 } else { Version::V2 };
                compile(
                    port,
                    version,
                    &[&cc, "-O2", "-c", "foo.c", "-o", "foo.o"],
                    HELLO,
                )
                .0
            })
        })
        .collect();
    for (i, client) in clients.into_iter().enumerate() {
        let response = client.join().expect("client thread");
        assert_compiled(&response, &format!("concurrent job {i}"));
    }
    let counts: Vec<usize> = read_text(&marks.join("counts"))
        .lines()
        .map(|l| l.trim().parse().unwrap())
        .collect();
    assert_eq!(
        counts.len(),
        6,
        "every job ran its compiler once: {counts:?}"
    );
    let most = counts.iter().copied().max().unwrap_or(0);
    assert!(
        most <= 2,
        "--jobs 2 but {most} compilers ran at once: {counts:?}"
    );
    assert_eq!(most, 2, "two compilers ran side by side: {counts:?}");
    assert_eq!(
        server.log().matches(" COMPILE_OK ").count(),
        6,
        "{}",
        server.log()
    );
}

// =======================================================================================
// Environment: TMPDIR, DISTCC_SAVE_TEMPS, DISTCCD_PATH
// =======================================================================================

#[test]
fn tmpdir_chooses_where_job_directories_go_and_they_are_removed() {
    let scripts = script_dir("tmpdir-scripts");
    let marks = open_dir(scripts.path(), "marks");
    let chosen = open_dir(scripts.path(), "chosen-tmp");
    let pwdcc = scripts.path().join("pwdcc");
    write_script(
        &pwdcc,
        &format!(
            "pwd > {marks}/cwd\nls > {marks}/listing\nexec /usr/bin/gcc \"$@\"",
            marks = marks.display()
        ),
    );
    let pwdcc = pwdcc.to_str().unwrap();
    let server = options(&["--compiler", pwdcc]).tmpdir(&chosen).start();
    let (response, _) = server.compile(&[pwdcc, "-c", "foo.c", "-o", "foo.o"], HELLO);
    assert_compiled(&response, "a job with TMPDIR set");
    let cwd = PathBuf::from(read_text(&marks.join("cwd")).trim());
    assert_eq!(
        cwd.parent(),
        Some(chosen.as_path()),
        "the compiler ran in a job directory inside TMPDIR"
    );
    assert!(
        cwd.file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("distfarm_"),
        "{}",
        cwd.display()
    );
    assert!(
        read_text(&marks.join("listing")).contains("input.i"),
        "the source was written into the job directory: {}",
        read_text(&marks.join("listing"))
    );
    assert_no_job_directories(&chosen);
    assert!(!cwd.exists(), "the job directory is removed after the job");
}

#[test]
fn save_temps_keeps_the_job_directory_with_source_and_output() {
    let own = temp_dir("save-temps");
    let chosen = open_dir(own.path(), "tmp");
    let server = options(&[])
        .env("DISTCC_SAVE_TEMPS", "1")
        .tmpdir(&chosen)
        .start();
    let (response, _) = server.compile(&HONEST, HELLO);
    assert_compiled(&response, "a job with DISTCC_SAVE_TEMPS=1");
    server.expect_log("DISTCC_SAVE_TEMPS: kept job directory");
    let kept = job_directories(&chosen);
    assert_eq!(kept.len(), 1, "one job, one kept directory: {kept:?}");
    let dir = &kept[0];
    assert!(
        server.log().contains(&dir.display().to_string()),
        "the log names the kept directory:\n{}",
        server.log()
    );
    assert_eq!(std::fs::read(dir.join("input.i")).unwrap(), HELLO);
    assert_eq!(
        std::fs::read(dir.join("output.o")).unwrap(),
        response.object
    );
    // Tidy up what the server (as another user) left on purpose.
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn distccd_path_chooses_where_compilers_are_found() {
    let scripts = script_dir("distccd-path");
    let marks = open_dir(scripts.path(), "marks");
    let bin = scripts.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    set_mode(&bin, 0o755);
    write_script(
        &bin.join("gcc"),
        &format!(
            "echo \"$PATH\" > {marks}/gcc-wrapper\nexec /usr/bin/gcc \"$@\"",
            marks = marks.display()
        ),
    );
    let distccd_path = format!("{}:/usr/bin:/bin", bin.display());

    // Without DISTCCD_PATH the wrapper is not on PATH: the system gcc compiles.
    let plain = options(&[]).start();
    assert_compiled(&plain.compile(&HONEST, HELLO).0, "without DISTCCD_PATH");
    assert!(
        !marks.join("gcc-wrapper").exists(),
        "the wrapper ran without DISTCCD_PATH"
    );
    drop(plain);

    let server = options(&[]).env("DISTCCD_PATH", &distccd_path).start();
    let (response, _) = server.compile(&HONEST, HELLO);
    assert_compiled(&response, "with DISTCCD_PATH");
    assert_eq!(
        read_text(&marks.join("gcc-wrapper")).trim(),
        distccd_path,
        "the gcc on DISTCCD_PATH ran, with DISTCCD_PATH as its PATH"
    );
    // A name that is only on the server's PATH is not found through DISTCCD_PATH.
    std::fs::remove_file(marks.join("gcc-wrapper")).unwrap();
    let server = options(&[]).env("DISTCCD_PATH", bin.as_os_str()).start();
    let (response, _) = server.compile(&["gcc-12", "-c", "foo.c", "-o", "foo.o"], HELLO);
    assert_ne!(response.status, 0, "gcc-12 is not in {}", bin.display());
    assert!(
        String::from_utf8_lossy(&response.stderr).contains("DISTCCD_PATH"),
        "{}",
        String::from_utf8_lossy(&response.stderr)
    );
}

// =======================================================================================
// Small helpers
// =======================================================================================

fn read_text(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .unwrap_or_else(|e| panic!("chmod {mode:o} {}: {e}", path.display()));
}
