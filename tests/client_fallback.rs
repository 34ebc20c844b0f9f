//! What the wrapper does when distributing goes wrong: a dead host, a host that answers
//! garbage, a compile error, a preprocessor error, an answer cut short, a wrapper killed
//! mid-answer. Transport failures back the host off and fall back (or fail with a distcc exit
//! code under `DISTCC_FALLBACK=0`); compile errors are the compiler's answer, reported as a
//! local gcc reports them, and never held against the host; no failure leaves a half object.

mod support;

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use support::{ChildGuard, Cmd, RealDistccd, distfarm_bin, fixture_path, free_port, local_object};

// ---------------------------------------------------------------------------------------
// Dead host
// ---------------------------------------------------------------------------------------

#[test]
fn dead_host_falls_back_to_local_with_one_warning_naming_file_host_and_reason() {
    let work = Work::new();
    let host = format!("127.0.0.1:{}", free_port());
    let out = work.distfarm(&host).args(hello_args("out/hello.o")).run();

    let stderr = text(&out.stderr);
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(
        lines.len(),
        1,
        "a fallback should print exactly one warning, got:\n{stderr}"
    );
    let warning = lines[0];
    for (what, needle) in [
        ("the file", "hello.c"),
        ("the host", host.as_str()),
        ("the reason", "Connection refused"),
    ] {
        assert!(
            warning.contains(needle),
            "the fallback warning does not name {what} ({needle:?}): {warning}"
        );
    }
    assert!(
        warning.to_lowercase().contains("warning"),
        "the fallback message should be a warning: {warning}"
    );
    assert_eq!(work.read("out/hello.o"), work.hello_reference());
    assert!(
        work.backoff_files()
            .contains(&format!("backoff_tcp_{host}_0").replace(':', "_")),
        "a host that refused the connection should be backed off; lock dir: {:?}",
        work.lock_files()
    );
}

#[test]
fn dead_host_without_fallback_fails_with_a_distcc_exit_code_and_no_object() {
    let work = Work::new();
    let host = format!("127.0.0.1:{}", free_port());
    let out = work
        .distfarm(&host)
        .env("DISTCC_FALLBACK", "0")
        .args(hello_args("out/hello.o"))
        .run_expect_failure();

    assert_distcc_exit_code(&out);
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("hello.c") && stderr.contains(&host),
        "the error should name the file and the host:\n{stderr}"
    );
    assert!(
        !work.path("out/hello.o").exists(),
        "no object may be left when the job failed"
    );
    assert_eq!(
        work.out_files(),
        Vec::<String>::new(),
        "files left in the output directory"
    );
}

// ---------------------------------------------------------------------------------------
// A host that answers garbage
// ---------------------------------------------------------------------------------------

#[test]
fn garbage_answering_host_is_backed_off_and_the_next_host_compiles() {
    let junk = FakeServer::start(|stream| {
        read_request(stream)?;
        stream.write_all(b"HTTP/1.0 400 Bad Request\r\n\r\nthis is not distcc\n")
    });
    let mut distccd = RealDistccd::start();
    let work = Work::new();
    let hosts = format!("127.0.0.1:{} {}", junk.port, distccd.host_spec());
    // No fallback: a local compile cannot stand in for the second host.
    let run = || {
        work.distfarm(&hosts)
            .env("DISTCC_FALLBACK", "0")
            .args(hello_args("out/hello.o"))
            .run()
    };

    run();
    assert!(
        junk.accepted() >= 1,
        "the garbage host (listed first) was never tried"
    );
    let backoff = format!("backoff_tcp_127.0.0.1_{}_0", junk.port);
    assert!(
        work.backoff_files().contains(&backoff),
        "{backoff} should mark the garbage host; lock dir: {:?}",
        work.lock_files()
    );
    assert_eq!(
        work.backoff_files(),
        vec![backoff.clone()],
        "only the garbage host may be backed off"
    );
    wait_for_log_lines(&mut distccd, " COMPILE_OK ", 1);
    assert_eq!(work.read("out/hello.o"), work.hello_reference());

    // While it is backed off the garbage host is not even contacted.
    let tried = junk.accepted();
    std::fs::remove_file(work.path("out/hello.o")).unwrap();
    run();
    assert_eq!(
        junk.accepted(),
        tried,
        "a backed-off host was contacted again"
    );
    wait_for_log_lines(&mut distccd, " COMPILE_OK ", 2);
    assert_eq!(work.read("out/hello.o"), work.hello_reference());
}

// ---------------------------------------------------------------------------------------
// Compile and preprocessor errors
// ---------------------------------------------------------------------------------------

/// The remote compile fails, the wrapper retries locally (distcc's default) and the user sees
/// exactly what gcc prints; the host did nothing wrong and is not backed off.
#[test]
fn compile_error_reports_what_local_gcc_reports_and_does_not_back_off_the_host() {
    let mut distccd = RealDistccd::start();
    let work = Work::new();
    let args = ["-c", "hello-error.c", "-o", "out/error.o"];
    let local = work.gcc().args(args).run_expect_failure();
    let _ = std::fs::remove_file(work.path("out/error.o"));

    let out = work
        .distfarm(&distccd.host_spec())
        .arg("gcc")
        .args(args)
        .run_expect_failure();

    wait_for_log_lines(&mut distccd, " COMPILE_ERROR ", 1);
    assert_same_failure(&out, &local);
    assert_eq!(
        work.backoff_files(),
        Vec::<String>::new(),
        "a compile error backed the host off"
    );
    assert!(!work.path("out/error.o").exists());
}

/// `DISTCC_SKIP_LOCAL_RETRY`: the remote messages and status are the answer. The server only
/// has the preprocessed text, so gcc there cannot quote source lines under its messages; with
/// `-fno-diagnostics-show-caret` on both sides the output must be byte-identical.
#[test]
fn compile_error_with_skip_local_retry_reports_the_remote_messages_and_status() {
    let mut distccd = RealDistccd::start();
    let work = Work::new();
    let args = [
        "-fno-diagnostics-show-caret",
        "-c",
        "hello-error.c",
        "-o",
        "out/error.o",
    ];
    let local = work.gcc().args(args).run_expect_failure();
    let _ = std::fs::remove_file(work.path("out/error.o"));

    for fallback in ["1", "0"] {
        let out = work
            .distfarm(&distccd.host_spec())
            .env("DISTCC_SKIP_LOCAL_RETRY", "1")
            .env("DISTCC_FALLBACK", fallback)
            .arg("gcc")
            .args(args)
            .run_expect_failure();
        assert_same_failure(&out, &local);
        assert!(!work.path("out/error.o").exists());
    }
    wait_for_log_lines(&mut distccd, " COMPILE_ERROR ", 2);
    assert_eq!(
        work.backoff_files(),
        Vec::<String>::new(),
        "a compile error backed the host off"
    );
}

/// A missing header fails the local preprocessor: the user sees gcc's own error and status,
/// and the host (which did nothing) is not backed off.
#[test]
fn preprocessor_error_reports_what_local_gcc_reports_and_does_not_back_off_the_host() {
    let distccd = RealDistccd::start();
    let work = Work::new();
    std::fs::write(
        work.path("needs-missing.c"),
        "#include \"no-such-header.h\"\nint f(void) { return 1; }\n",
    )
    .unwrap();
    let args = ["-c", "needs-missing.c", "-o", "out/missing.o"];
    let local = work.gcc().args(args).run_expect_failure();

    for skip in [false, true] {
        let mut cmd = work.distfarm(&distccd.host_spec()).arg("gcc").args(args);
        if skip {
            cmd = cmd.env("DISTCC_SKIP_LOCAL_RETRY", "1");
        }
        let out = cmd.run_expect_failure();
        assert_same_failure(&out, &local);
        assert!(!work.path("out/missing.o").exists());
    }
    assert_eq!(
        work.backoff_files(),
        Vec::<String>::new(),
        "a preprocessor error backed the host off"
    );
    assert!(!distccd.log().contains("COMPILE_OK"), "{}", distccd.log());
}

// ---------------------------------------------------------------------------------------
// Half answers never become half objects
// ---------------------------------------------------------------------------------------

/// The server promises a 64 KiB object, sends 100 bytes and closes.
#[test]
fn truncated_object_leaves_no_partial_file() {
    let server = FakeServer::start(|stream| {
        let version = read_request(stream)?;
        stream.write_all(&short_object_answer(version))?;
        stream.shutdown(Shutdown::Write)
    });
    let host = format!("127.0.0.1:{}", server.port);
    let work = Work::new();

    // No object before: none after.
    let out = work
        .distfarm(&host)
        .env("DISTCC_FALLBACK", "0")
        .args(hello_args("out/hello.o"))
        .run_expect_failure();
    assert_distcc_exit_code(&out);
    assert_eq!(server.accepted(), 1, "the server was not asked");
    assert!(
        !work.path("out/hello.o").exists(),
        "a truncated object was written"
    );
    assert_eq!(
        work.out_files(),
        Vec::<String>::new(),
        "files left in the output directory"
    );

    // An object from an earlier build: kept as it was (or removed), never half-replaced.
    let previous = b"previous build's object".to_vec();
    std::fs::write(work.path("out/hello.o"), &previous).unwrap();
    std::fs::remove_dir_all(work.lock_dir()).unwrap(); // forget the backoff
    let out = work
        .distfarm(&host)
        .env("DISTCC_FALLBACK", "0")
        .args(hello_args("out/hello.o"))
        .run_expect_failure();
    assert_distcc_exit_code(&out);
    assert_eq!(server.accepted(), 2, "the server was not asked");
    if let Ok(now) = std::fs::read(work.path("out/hello.o")) {
        assert!(
            now == previous,
            "the previous object was replaced by a partial one"
        );
    }
    let leftovers: Vec<String> = work
        .out_files()
        .into_iter()
        .filter(|f| f != "hello.o")
        .collect();
    assert_eq!(
        leftovers,
        Vec::<String>::new(),
        "temporary files left in the output directory"
    );
}

/// The server sends a header and part of the object, then goes quiet; the wrapper is killed
/// while it waits for the rest (make's Ctrl-C, a CI timeout).
#[test]
fn wrapper_killed_while_receiving_leaves_no_object() {
    let sent = Arc::new(AtomicBool::new(false));
    let sent_by_server = sent.clone();
    let server = FakeServer::start(move |stream| {
        let version = read_request(stream)?;
        let answer = short_object_answer(version);
        stream.write_all(&answer)?;
        stream.flush()?;
        sent_by_server.store(true, Ordering::SeqCst);
        // Hold the connection open until the test ends.
        let mut sink = [0u8; 1024];
        while stream.read(&mut sink)? > 0 {}
        Ok(())
    });
    let work = Work::new();
    let mut wrapper = ChildGuard::spawn(
        work.distfarm(&format!("127.0.0.1:{}", server.port))
            .env("DISTCC_FALLBACK", "0")
            .args(hello_args("out/hello.o"))
            .to_command(),
        "distfarm waiting for the rest of an object",
    );
    wait_until(
        "the fake server sent half an object",
        Duration::from_secs(20),
        || sent.load(Ordering::SeqCst),
    );
    std::thread::sleep(Duration::from_millis(200));
    assert!(
        wrapper.try_wait().is_none(),
        "the wrapper should still be waiting"
    );
    wrapper.kill();
    assert!(
        !work.path("out/hello.o").exists(),
        "a killed job left an object"
    );
    assert_eq!(
        work.out_files(),
        Vec::<String>::new(),
        "files left in the output directory"
    );
}

// ---------------------------------------------------------------------------------------
// A work directory and the wrapper
// ---------------------------------------------------------------------------------------

/// `src/` with the hello fixtures and an `out/` directory, plus `distcc_dir/` and `tmp/`.
struct Work {
    dir: tempfile::TempDir,
}

impl Work {
    fn new() -> Work {
        let dir = support::temp_dir("fallback");
        for sub in ["src/out", "distcc_dir", "tmp"] {
            std::fs::create_dir_all(dir.path().join(sub)).unwrap();
        }
        for name in ["hello.c", "hello.h", "hello-error.c"] {
            std::fs::copy(fixture_path(name), dir.path().join("src").join(name)).unwrap();
        }
        Work { dir }
    }

    /// A path under `src/` (where every compile runs).
    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join("src").join(rel)
    }

    fn read(&self, rel: &str) -> Vec<u8> {
        std::fs::read(self.path(rel)).unwrap_or_else(|e| panic!("reading {rel}: {e}"))
    }

    fn lock_dir(&self) -> PathBuf {
        self.dir.path().join("distcc_dir/lock")
    }

    fn lock_files(&self) -> Vec<String> {
        list(&self.lock_dir())
    }

    fn backoff_files(&self) -> Vec<String> {
        self.lock_files()
            .into_iter()
            .filter(|f| f.starts_with("backoff_"))
            .collect()
    }

    fn out_files(&self) -> Vec<String> {
        list(&self.path("out"))
    }

    /// `distfarm` in `src/` with `DISTCC_HOSTS=hosts` and nothing else from the test's
    /// environment.
    fn distfarm(&self, hosts: &str) -> Cmd {
        Cmd::new(distfarm_bin())
            .current_dir(self.path(""))
            .env_clear()
            .env("PATH", test_path())
            .env("HOME", self.dir.path())
            .env("LC_ALL", "C")
            .env("TMPDIR", self.dir.path().join("tmp"))
            .env("DISTCC_DIR", self.dir.path().join("distcc_dir"))
            .env("DISTCC_HOSTS", hosts)
            .env("DISTCC_PAUSE_TIME_MSEC", "50")
            .timeout(Duration::from_secs(60))
    }

    /// The real gcc in `src/`, same environment as the wrapper.
    fn gcc(&self) -> Cmd {
        Cmd::new("gcc")
            .current_dir(self.path(""))
            .env_clear()
            .env("PATH", test_path())
            .env("LC_ALL", "C")
            .env("TMPDIR", self.dir.path().join("tmp"))
    }

    fn hello_reference(&self) -> Vec<u8> {
        local_object("gcc", ["-O2"], Path::new("hello.c"), &self.path(""))
    }
}

fn hello_args(output: &str) -> Vec<String> {
    ["gcc", "-O2", "-c", "hello.c", "-o", output]
        .map(String::from)
        .to_vec()
}

#[track_caller]
fn assert_same_failure(out: &Output, local: &Output) {
    assert_eq!(
        out.status.code(),
        local.status.code(),
        "exit code differs from local gcc; distfarm stderr:\n{}",
        text(&out.stderr)
    );
    assert_eq!(
        text(&out.stderr),
        text(&local.stderr),
        "stderr differs from local gcc's"
    );
    assert_eq!(text(&out.stdout), text(&local.stdout), "stdout differs");
}

#[track_caller]
fn assert_distcc_exit_code(out: &Output) {
    let code = out.status.code();
    assert!(
        code.is_some_and(|c| (100..=120).contains(&c)),
        "expected a distcc exit code (100-120), got {:?}; stderr:\n{}",
        out.status,
        text(&out.stderr)
    );
}

#[track_caller]
fn wait_for_log_lines(distccd: &mut RealDistccd, needle: &str, count: usize) {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let n = distccd.log().lines().filter(|l| l.contains(needle)).count();
        if n >= count {
            return;
        }
        assert!(
            Instant::now() < deadline && distccd.is_running(),
            "distccd logged {n} of {count} {needle:?} lines:\n{}",
            distccd.log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[track_caller]
fn wait_until(what: &str, timeout: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(20));
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

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn test_path() -> std::ffi::OsString {
    std::env::var_os("PATH").unwrap_or_else(|| "/usr/local/bin:/usr/bin:/bin".into())
}

// ---------------------------------------------------------------------------------------
// Fake servers
// ---------------------------------------------------------------------------------------

type Handler = dyn Fn(&mut TcpStream) -> std::io::Result<()> + Send + Sync;

/// A TCP listener on 127.0.0.1 that runs `handler` on each connection in a thread of its own,
/// then closes it. Stopped (and its open connections shut down) when dropped.
struct FakeServer {
    port: u16,
    accepted: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    open: Arc<Mutex<Vec<TcpStream>>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl FakeServer {
    fn start(
        handler: impl Fn(&mut TcpStream) -> std::io::Result<()> + Send + Sync + 'static,
    ) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let port = listener.local_addr().unwrap().port();
        let accepted = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let open = Arc::new(Mutex::new(Vec::new()));
        let handler: Arc<Handler> = Arc::new(handler);
        let thread = {
            let (accepted, stop, open) = (accepted.clone(), stop.clone(), open.clone());
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
                    let handler = handler.clone();
                    std::thread::spawn(move || {
                        let _ = stream.set_read_timeout(Some(Duration::from_secs(60)));
                        let _ = handler(&mut stream);
                    });
                }
            })
        };
        FakeServer {
            port,
            accepted,
            stop,
            open,
            thread: Some(thread),
        }
    }

    fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }
}

impl Drop for FakeServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        for stream in self.open.lock().unwrap().drain(..) {
            let _ = stream.shutdown(Shutdown::Both);
        }
        let _ = TcpStream::connect(("127.0.0.1", self.port)); // wake the accept loop
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Reads one distcc request (`DIST ARGC ARGV… DOTI`) and returns its protocol version.
fn read_request(stream: &mut TcpStream) -> std::io::Result<u32> {
    let version = read_token(stream, "DIST")?;
    let argc = read_token(stream, "ARGC")?;
    for _ in 0..argc {
        let len = read_token(stream, "ARGV")?;
        skip(stream, len)?;
    }
    let len = read_token(stream, "DOTI")?;
    skip(stream, len)?;
    Ok(version)
}

fn read_token(stream: &mut TcpStream, expected: &str) -> std::io::Result<u32> {
    let mut token = [0u8; 12];
    stream.read_exact(&mut token)?;
    let text = String::from_utf8_lossy(&token).into_owned();
    if &text[..4] != expected {
        return Err(std::io::Error::other(format!(
            "expected {expected}, got {text:?}"
        )));
    }
    u32::from_str_radix(&text[4..], 16).map_err(std::io::Error::other)
}

fn skip(stream: &mut TcpStream, len: u32) -> std::io::Result<()> {
    let copied = std::io::copy(&mut stream.take(u64::from(len)), &mut std::io::sink())?;
    if copied < u64::from(len) {
        return Err(std::io::ErrorKind::UnexpectedEof.into());
    }
    Ok(())
}

/// A well-formed success header whose `DOTO` promises 64 KiB, followed by only 100 bytes.
fn short_object_answer(version: u32) -> Vec<u8> {
    let mut answer = format!(
        "DONE{version:08x}STAT{:08x}SERR{:08x}SOUT{:08x}DOTO{:08x}",
        0, 0, 0, 0x10000
    )
    .into_bytes();
    answer.extend_from_slice(b"\x7fELF");
    answer.resize(answer.len() + 96, 0);
    answer
}
