//! `distfarm serve` as an operator runs it: options and exit codes, the allow-list, the pid
//! file, detaching, signals, `--job-lifetime`, `--jobs`, and the environment it honours
//! (`TMPDIR`, `DISTCC_SAVE_TEMPS`, `DISTCCD_PATH`). Always the real binary, on loopback.
//!
//! Run as root the server drops to `distcc`/`nobody` before it serves: every directory it
//! must write (TMPDIR, pid file, markers of fake compilers) is world-writable here, and every
//! fake compiler is world-readable.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::support::distfarm_server::{assert_no_job_directories, distccd_link, job_directories};
use crate::support::files::{open_dir, readable_temp_dir, set_mode};
use crate::support::wire::{
    HONEST_ARGV, assert_compiled, compile, exchange, request_bytes, stderr_text,
};
use crate::support::{
    Cmd, DistfarmServer, distfarm_bin, free_port, read_text, temp_dir, test_path, write_script,
};
use distfarm::protocol::Version;
use nix::sys::signal::Signal;

const START_TIMEOUT: Duration = Duration::from_secs(20);

const HELLO: &[u8] = b"# 0 \"foo.c\"\nint printf(const char *, ...);\n\
    int main(void) { printf(\"hello\\n\"); return 0; }\n";

// =======================================================================================
// Options and exit codes
// =======================================================================================

/// A fake compiler for the server to run: the script `name` in a 0755 directory of its own,
/// beside a world-writable `marks/` directory (`{marks}` in the script) for its evidence.
pub(crate) struct FakeCompiler {
    pub(crate) dir: tempfile::TempDir,
    pub(crate) marks: PathBuf,
    pub(crate) path: String,
}

impl FakeCompiler {
    pub(crate) fn new(name: &str, script: &str) -> FakeCompiler {
        let dir = readable_temp_dir(name);
        let marks = open_dir(dir.path(), "marks");
        let path = dir.path().join(name);
        write_script(
            &path,
            &script.replace("{marks}", &marks.display().to_string()),
        );
        FakeCompiler {
            path: path.display().to_string(),
            dir,
            marks,
        }
    }
}

/// A server whose compilers run unconfined: fake compilers leave their evidence (`marks/`)
/// outside the job directory, where a confined compiler may not write. Confinement has its
/// own tests (server_hostile.rs, server_confinement.rs).
pub(crate) fn unconfined() -> crate::support::distfarm_server::ServeBuilder {
    DistfarmServer::builder().env("DISTFARM_CONFINE", "0")
}

fn serve_cmd() -> Cmd {
    Cmd::new(distfarm_bin())
        .arg("serve")
        .timeout(Duration::from_secs(30))
}

/// A server whose user cannot write its TMPDIR could run no job: it says so and does not
/// start (as root it serves as nobody, and a root-only directory is not nobody's).
#[test]
fn a_tmpdir_the_serving_user_cannot_write_stops_the_server_with_the_reason() {
    let private = crate::support::temp_dir("root-only-tmp");
    set_mode(private.path(), 0o700);
    let out = serve_cmd()
        .env("TMPDIR", private.path())
        .args([
            "--no-detach",
            "--listen",
            "127.0.0.1",
            "--lifetime",
            "5",
            "--log-stderr",
        ])
        .args(["--port", &crate::support::free_port().to_string()])
        .output_unchecked()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(100), "{stderr}");
    assert!(
        stderr.contains("cannot write in TMPDIR")
            && stderr.contains(&*private.path().to_string_lossy()),
        "{stderr}"
    );
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
            "--max-connections",
            "--max-per-address",
            "--limit-memory",
            "--limit-cpu",
            "--limit-output",
            "--stop-timeout",
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

/// `distfarm serve` takes distccd's options with the same names and meanings: `--version`
/// too, not only on the top-level command (`propagate_version`).
#[test]
fn distfarm_serve_version_exits_0_like_distccd() {
    let cmd = serve_cmd().arg("--version");
    let out = cmd.output_unchecked().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "`{cmd}` is refused:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains(env!("CARGO_PKG_VERSION")));
}

// =======================================================================================
// Who may connect
// =======================================================================================

#[test]
fn without_allow_the_daemon_serves_loopback_only_and_says_so() {
    let server = DistfarmServer::start(&["--jobs", "1"]);
    server.expect_log("no --allow given: accepting clients from loopback only");
    server.expect_log("for clients from 127.0.0.0/8, ::1/128");
    let (response, addr) = server.compile(&HONEST_ARGV, HELLO);
    assert_compiled(&response, "a loopback client without --allow");
    server.expect_log(&format!("client: {addr} COMPILE_OK"));
}

#[test]
fn client_outside_the_allow_list_is_closed_without_an_answer() {
    let server = DistfarmServer::start(&["--allow", "10.0.0.0/8"]);
    server.expect_log("for clients from 10.0.0.0/8");
    assert!(
        !server.log().contains("loopback only"),
        "with --allow, loopback is not added: {}",
        server.log()
    );
    let reply = exchange(
        server.port(),
        &request_bytes(Version::V1, &HONEST_ARGV, HELLO),
        false,
    );
    assert!(
        reply.bytes.is_empty(),
        "a denied client gets no answer: {:?}",
        String::from_utf8_lossy(&reply.bytes)
    );
    server.expect_log(&format!("client: {} denied by access list", reply.addr));
    assert!(!server.log().contains("COMPILE_"), "{}", server.log());
    assert_no_job_directories(server.tmpdir());
}

#[test]
fn allow_private_and_explicit_loopback_let_loopback_in() {
    for args in [
        &["--allow-private"][..],
        &["--allow", "127.0.0.1"][..],
        &["--allow", "10.0.0.0/8", "--allow", "127.0.0.0/8"][..],
    ] {
        let server = DistfarmServer::start(args);
        let (response, _) = server.compile(&HONEST_ARGV, HELLO);
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
    let mut server = DistfarmServer::start(&["--pid-file", pid_file.to_str().unwrap()]);
    let written = std::fs::read_to_string(&pid_file).expect("the pid file exists while serving");
    assert_eq!(written.trim(), server.process().id().to_string());
    let (response, _) = server.compile(&HONEST_ARGV, HELLO);
    assert_compiled(&response, "a job while the pid file exists");

    server.process().signal(Signal::SIGTERM);
    let status = server
        .process()
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

#[test]
fn sigterm_lets_the_running_job_finish_then_exits() {
    // Records that it started, sleeps, then really compiles.
    let slowcc = FakeCompiler::new(
        "slowcc",
        "touch {marks}/started\nsleep 2\nexec /usr/bin/gcc \"$@\"",
    );
    let mut server = unconfined().args(&["--compiler", &slowcc.path]).start();
    let port = server.port();
    let slow = slowcc.path.clone();
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
    while !slowcc.marks.join("started").exists() {
        assert!(
            Instant::now() < deadline,
            "the compiler never started:\n{}",
            server.log()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    server.process().signal(Signal::SIGTERM);
    let response = job.join().expect("the client thread");
    assert_compiled(&response, "the job running at SIGTERM");
    let status = server
        .process()
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
            .env("PATH", test_path())
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
        // The starting process has exited (within the command's timeout, far below the
        // daemon's --lifetime): what shows that it returned at once rather than serving is
        // the order — its daemon comes up and serves after it is gone, below.
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
    let (response, _) = compile(port, Version::V2, &HONEST_ARGV, HELLO);
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

pub(crate) fn is_zombie(pid: nix::unistd::Pid) -> bool {
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
        eprintln!(
            "SKIPPED: dropping privileges needs root (only the refusal of --user when not root \
             was checked)"
        );
        return;
    }
    let server = DistfarmServer::start(&[]);
    assert!(
        server.log().contains("running as user distcc")
            || server.log().contains("running as user nobody"),
        "{}",
        server.log()
    );
    // Root itself, and a user that does not exist: both refused.
    for user in ["root", "no-such-user-here"] {
        let out = serve_cmd()
            .args([
                "--no-detach",
                "--listen",
                "127.0.0.1",
                "-p",
                &free_port().to_string(),
            ])
            .args(["--log-stderr", "--user", user])
            .output_unchecked()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(112), "{stderr}");
        assert!(stderr.contains(user), "{stderr}");
    }
}

/// A job that connected to a session server's socket just before the server ended (its
/// connection closed and it does not linger) waits in the socket's backlog: it is served,
/// not reset, since the client would count a reset against the host. The server is stopped
/// while the job connects and its stdin closes, so that on waking it sees both at once.
#[test]
fn a_session_server_serves_the_jobs_queued_when_it_ends() {
    use std::io::{BufRead, Read, Write};
    use std::process::{Command, Stdio};

    use crate::support::wire::parse_response;
    use nix::sys::signal::kill;
    use nix::unistd::Pid;

    for round in 0..4 {
        let dir = readable_temp_dir("session-end");
        let tmp = open_dir(dir.path(), "tmp"); // run as root, the server drops to nobody
        let mut server = Command::new(distfarm_bin())
            .args(["serve", "--ssh-session"])
            .env_clear()
            .env("PATH", test_path())
            .env("TMPDIR", &tmp)
            .env("DISTFARM_SESSION_LINGER", "0")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("start distfarm serve --ssh-session");
        let pid = Pid::from_raw(server.id() as i32);
        let _reaper = KillOnDrop(pid);
        let mut greeting = String::new();
        std::io::BufReader::new(server.stdout.take().unwrap())
            .read_line(&mut greeting)
            .unwrap();
        let socket = greeting
            .trim_end()
            .rsplit(' ')
            .next()
            .expect("the greeting names the socket")
            .to_string();

        kill(pid, Signal::SIGSTOP).unwrap();
        let mut job = std::os::unix::net::UnixStream::connect(&socket).expect("queued");
        job.write_all(&request_bytes(Version::V1, &HONEST_ARGV, HELLO))
            .unwrap();
        drop(server.stdin.take()); // the connection closed
        kill(pid, Signal::SIGCONT).unwrap();

        job.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
        let mut answer = Vec::new();
        let _ = job.read_to_end(&mut answer);
        assert_compiled(
            &parse_response(&answer, Version::V1),
            &format!("round {round}: the job queued as the server ended"),
        );
        let status = server.wait().unwrap();
        assert!(
            status.success(),
            "the session server ends cleanly: {status}"
        );
        assert!(!Path::new(&socket).exists(), "its socket is gone");
    }
}

/// Kills the process it names when the test lets go of it (also when it fails).
struct KillOnDrop(nix::unistd::Pid);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = nix::sys::signal::kill(self.0, Signal::SIGCONT);
        let _ = nix::sys::signal::kill(self.0, Signal::SIGKILL);
    }
}

// =======================================================================================
// Jobs
// =======================================================================================

#[test]
fn job_lifetime_kills_a_slow_compiler_and_answers_exit_118() {
    // The sleep is a child of the compiler: the whole process group must die with it.
    let sleepycc = FakeCompiler::new("sleepycc", "sleep 60 &\necho $! > {marks}/sleep.pid\nwait");
    let sleepy = sleepycc.path.as_str();
    let server = unconfined()
        .args(&["--job-lifetime", "1", "--compiler", sleepy])
        .start();
    let started = Instant::now();
    let (response, addr) = server.compile(&[sleepy, "-c", "foo.c", "-o", "foo.o"], HELLO);
    let took = started.elapsed();
    let stderr = stderr_text(&response);
    assert_eq!(
        response.status,
        118 << 8,
        "STAT is W_EXITCODE(118, 0): {stderr}"
    );
    assert!(stderr.contains("job lifetime"), "{stderr}");
    assert!(response.object.is_empty());
    // A timeout test, with margins: the lifetime is 1 s and the compiler would take 60 s, so
    // the 30 s bound tells the two apart on any loaded machine.
    assert!(
        took < Duration::from_secs(30),
        "answered when the lifetime ran out, not when the compiler would have ({took:?})"
    );
    server.expect_log(&format!("client: {addr} COMPILE_TIMEOUT"));
    let pid = std::fs::read_to_string(sleepycc.marks.join("sleep.pid")).unwrap();
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
    assert_no_job_directories(server.tmpdir());
}

/// A confined daemon still runs gcc's passes itself (the driver is asked for its plan in
/// the same confinement), and a request with `-v` goes through the driver.
#[test]
fn a_confined_daemon_runs_gccs_passes_itself_and_verbose_jobs_through_the_driver() {
    let server = DistfarmServer::start(&["--verbose"]);
    let (response, _) = server.compile(&HONEST_ARGV, HELLO);
    assert_compiled(&response, "a plain job");
    server.expect_log("foo.c: gcc's passes run directly");
    let verbose: Vec<&str> = HONEST_ARGV.iter().copied().chain(["-v"]).collect();
    let (response, _) = server.compile(&verbose, HELLO);
    assert_compiled(&response, "a -v job");
    server.expect_log("foo.c: through the compiler driver");
}

/// The server runs gcc's passes itself, as `gcc -###` says the driver would; when a pass
/// ends in a way only the driver reports (a crash), the job runs again through the driver,
/// so the user gets the driver's message and status rather than a bare signal.
#[test]
fn a_crashed_pass_is_run_again_through_the_driver_which_reports_it() {
    let cc1 = FakeCompiler::new("cc1", "echo cc1 >> {marks}/passes\nkill -SEGV $$");
    let marks = cc1.marks.display().to_string();
    // The driver must be a program (the server leaves scripts named gcc to themselves): a
    // small one that runs this script.
    let gcc = cc1.dir.path().join("gcc.sh");
    program_running_script(&cc1.dir.path().join("gcc"), &gcc);
    write_script(
        &gcc,
        &format!(
            r#"out=""; prev=""
for a in "$@"; do [ "$prev" = "-o" ] && out="$a"; prev="$a"; done
if [ "$1" = "-###" ]; then
  echo "gcc version 12 (fake)" >&2
  echo " {cc1} -quiet -o /tmp/fake-pass.s" >&2
  echo " as --64 -o $out /tmp/fake-pass.s" >&2
  exit 0
fi
echo driver >> {marks}/passes
echo "gcc: internal compiler error: Segmentation fault signal terminated program cc1" >&2
exit 4
"#,
            cc1 = cc1.path
        ),
    );
    let path = format!(
        "{}:{}",
        cc1.dir.path().display(),
        test_path().to_string_lossy()
    );
    let server = unconfined()
        .args(&["--jobs", "1"])
        .env("DISTCCD_PATH", &path)
        .env("PATH", &path)
        .start();
    let (response, _) = server.compile(&HONEST_ARGV, HELLO);
    let stderr = stderr_text(&response);
    assert_eq!(
        response.status,
        4 << 8,
        "the driver's exit status: {stderr}"
    );
    assert!(stderr.contains("internal compiler error"), "{stderr}");
    assert!(response.object.is_empty());
    assert_eq!(
        read_text(&cc1.marks.join("passes")),
        "cc1\ndriver\n",
        "the pass ran first, then the driver"
    );
    assert_no_job_directories(server.tmpdir());
}

/// Builds `program`, an executable that runs `/bin/sh script ARGS…`.
fn program_running_script(program: &Path, script: &Path) {
    let source = program.with_extension("c");
    std::fs::write(
        &source,
        format!(
            "#include <unistd.h>\nint main(int c, char **v) {{ (void)c; v[0] = \"{}\";\n\
             char *a[64] = {{\"sh\"}}; for (int i = 0; i < 62 && v[i]; i++) a[i + 1] = v[i];\n\
             execv(\"/bin/sh\", a); return 127; }}\n",
            script.display()
        ),
    )
    .unwrap();
    Cmd::new("gcc").arg("-o").arg(program).arg(&source).run();
}

/// A real gcc killed at the job lifetime cannot remove its temporary files; they were in the
/// job directory, which goes with the job. (`-v` makes the driver run the passes, with its
/// temporary `.s`; without it the server runs them and the `.s` is in the job directory anyway.)
#[test]
fn a_killed_compiler_leaves_no_temporary_files_behind() {
    let server = DistfarmServer::start(&["--job-lifetime", "1"]);
    let mut source = String::from("# 0 \"slow.c\"\n");
    for i in 0..6000 {
        source.push_str(&format!(
            "int f{i}(int *a, int n) {{ int s = 0; for (int j = 0; j < n; j++) s += a[j] * {i} ^ (s >> 3); return s; }}\n"
        ));
    }
    let argv = ["gcc", "-O3", "-v", "-c", "slow.c", "-o", "slow.o"];
    let (response, _) = server.compile(&argv, source.as_bytes());
    assert_eq!(
        response.status,
        118 << 8,
        "the compile outlived the 1 s lifetime and was killed: {}",
        stderr_text(&response)
    );
    assert_no_job_directories(server.tmpdir());
    let left: Vec<String> = std::fs::read_dir(server.tmpdir())
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("cc"))
        .collect();
    assert!(left.is_empty(), "temporary files left behind: {left:?}");
}

/// ccache in front of gcc on the server (a `gcc` link to it first on `DISTCCD_PATH`) keeps
/// working under the confinement: it may read its configuration and write its cache.
#[test]
fn ccache_on_the_server_keeps_its_cache_when_compilers_are_confined() {
    ccache_keeps_its_cache_under(&[]);
}

/// The same in the mount namespace used where Landlock is missing.
#[test]
fn ccache_on_the_server_keeps_its_cache_when_compilers_are_in_a_mount_namespace() {
    ccache_keeps_its_cache_under(&["--confinement", "namespaces"]);
}

fn ccache_keeps_its_cache_under(server_args: &[&str]) {
    let ccache = crate::support::require("ccache", "ccache");
    let links = readable_temp_dir("ccache-links");
    for name in ["gcc", "x86_64-linux-gnu-gcc"] {
        std::os::unix::fs::symlink(&ccache, links.path().join(name)).unwrap();
    }
    let home = readable_temp_dir("ccache-home");
    set_mode(home.path(), 0o1777);
    let path = format!(
        "{}:{}",
        links.path().display(),
        test_path().to_string_lossy()
    );
    let server = DistfarmServer::builder()
        .args(server_args)
        .env("DISTCCD_PATH", &path)
        .env("PATH", &path)
        .env("HOME", home.path())
        .start();
    let (response, _) = server.compile(&HONEST_ARGV, HELLO);
    assert_compiled(
        &response,
        &format!("a job through ccache on a confined server {server_args:?}"),
    );
    let cache = home.path().join(".cache/ccache");
    let entries = std::fs::read_dir(&cache).map(|d| d.count()).unwrap_or(0);
    assert!(
        entries > 0,
        "ccache wrote nothing in {}:\n{}",
        cache.display(),
        server.log()
    );
}

#[test]
fn concurrent_jobs_all_succeed_and_no_more_than_jobs_compile_at_once() {
    let countcc = FakeCompiler::new(
        "countcc",
        "mkdir {marks}/running/$$\nls {marks}/running | wc -l >> {marks}/counts\nsleep 1\n\
         rmdir {marks}/running/$$\nexec /usr/bin/gcc \"$@\"",
    );
    open_dir(&countcc.marks, "running");
    let counting = countcc.path.clone();
    let server = unconfined()
        .args(&["--jobs", "2", "--compiler", &counting])
        .start();
    let port = server.port();
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
    let counts: Vec<usize> = read_text(&countcc.marks.join("counts"))
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
    let fake = FakeCompiler::new(
        "pwdcc",
        "pwd > {marks}/cwd\nls > {marks}/listing\nexec /usr/bin/gcc \"$@\"",
    );
    let chosen = open_dir(fake.dir.path(), "chosen-tmp");
    let marks = &fake.marks;
    let pwdcc = fake.path.as_str();
    let server = unconfined()
        .args(&["--compiler", pwdcc])
        .tmpdir(&chosen)
        .start();
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
    let server = DistfarmServer::builder()
        .env("DISTCC_SAVE_TEMPS", "1")
        .tmpdir(&chosen)
        .start();
    let (response, _) = server.compile(&HONEST_ARGV, HELLO);
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
    let gcc = FakeCompiler::new(
        "gcc",
        "echo \"$PATH\" > {marks}/gcc-wrapper\nexec /usr/bin/gcc \"$@\"",
    );
    let (bin, marks) = (gcc.dir.path(), &gcc.marks);
    let distccd_path = format!("{}:/usr/bin:/bin", bin.display());

    // Without DISTCCD_PATH the wrapper is not on PATH: the system gcc compiles.
    let plain = unconfined().start();
    assert_compiled(
        &plain.compile(&HONEST_ARGV, HELLO).0,
        "without DISTCCD_PATH",
    );
    assert!(
        !marks.join("gcc-wrapper").exists(),
        "the wrapper ran without DISTCCD_PATH"
    );
    drop(plain);

    let server = unconfined().env("DISTCCD_PATH", &distccd_path).start();
    let (response, _) = server.compile(&HONEST_ARGV, HELLO);
    assert_compiled(&response, "with DISTCCD_PATH");
    assert_eq!(
        read_text(&marks.join("gcc-wrapper")).trim(),
        distccd_path,
        "the gcc on DISTCCD_PATH ran, with DISTCCD_PATH as its PATH"
    );
    // A name that is only on the server's PATH is not found through DISTCCD_PATH.
    std::fs::remove_file(marks.join("gcc-wrapper")).unwrap();
    let server = DistfarmServer::builder()
        .env("DISTCCD_PATH", bin.as_os_str())
        .start();
    let (response, _) = server.compile(&["gcc-12", "-c", "foo.c", "-o", "foo.o"], HELLO);
    assert_ne!(response.status, 0, "gcc-12 is not in {}", bin.display());
    assert!(
        stderr_text(&response).contains("DISTCCD_PATH"),
        "{}",
        stderr_text(&response)
    );
}

/// `DISTCC_CMDLIST` names the only commands the server runs, as in distccd: a request's
/// compiler matches an entry on its last `DISTCC_CMDLIST_NUMWORDS` path words (default 1, the
/// basename), and the entry's full path runs, even when it is not on the PATH and not a gcc
/// or clang name. Anything unlisted is refused, `gcc` included. An unreadable list stops the
/// server at start (distccd would then run any compiler).
#[test]
fn distcc_cmdlist_runs_only_listed_commands_by_their_full_path() {
    let tools = readable_temp_dir("cmdlist-tools");
    let bin = tools.path().join("cross/bin");
    std::fs::create_dir_all(&bin).unwrap();
    set_mode(&tools.path().join("cross"), 0o755);
    set_mode(&bin, 0o755);
    let listed = bin.join("farm-cc");
    write_script(
        &listed,
        "out=; prev=\nfor a in \"$@\"; do [ \"$prev\" = -o ] && out=$a; prev=$a; done\n\
         printf 'ran %s' \"$0\" > \"$out\"",
    );
    let list = tools.path().join("cmdlist");
    std::fs::write(&list, format!("/usr/bin/cc\n{}\n", listed.display())).unwrap();
    set_mode(&list, 0o644);
    let job = |compiler: &str| {
        [compiler, "-c", "foo.c", "-o", "foo.o"]
            .map(String::from)
            .to_vec()
    };
    let ran_listed = format!("ran {}", listed.display());

    let server = unconfined().env("DISTCC_CMDLIST", &list).start();
    for asked in ["farm-cc", "/usr/local/bin/farm-cc"] {
        let (response, _) = server.compile(&job(asked), HELLO);
        assert_eq!(response.status, 0, "{asked}: {}", stderr_text(&response));
        assert_eq!(
            String::from_utf8_lossy(&response.object),
            ran_listed,
            "{asked} runs the listed path"
        );
    }
    for unlisted in ["gcc", "clang", "true"] {
        let (response, _) = server.compile(&job(unlisted), HELLO);
        assert_eq!(response.status, 113 << 8, "{unlisted}: refused");
        assert!(
            stderr_text(&response).contains("DISTCC_CMDLIST"),
            "{unlisted}: {}",
            stderr_text(&response)
        );
    }
    // `cc` is listed as /usr/bin/cc: a real compile.
    assert_compiled(&server.compile(&job("cc"), HELLO).0, "cc from the list");
    drop(server);

    // Two words: `bin/farm-cc` must match, the basename alone does not.
    let server = unconfined()
        .env("DISTCC_CMDLIST", &list)
        .env("DISTCC_CMDLIST_NUMWORDS", "2")
        .start();
    let (response, _) = server.compile(&job("/elsewhere/bin/farm-cc"), HELLO);
    assert_eq!(String::from_utf8_lossy(&response.object), ran_listed);
    let (response, _) = server.compile(&job("farm-cc"), HELLO);
    assert_eq!(response.status, 113 << 8, "farm-cc alone is not two words");
    drop(server);

    let missing = tools.path().join("no-such-list");
    let out = serve_cmd()
        .args(["--no-detach", "--listen", "127.0.0.1", "--log-stderr", "-p"])
        .arg(free_port().to_string())
        .env("DISTCC_CMDLIST", &missing)
        .output_unchecked()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(101), "{stderr}");
    assert!(stderr.contains("DISTCC_CMDLIST"), "{stderr}");
}

/// `GET /` on a statistics port: everything until the server closes; empty if it closed at
/// once.
fn get_stats_page(port: u16) -> String {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).expect("stats port");
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let _ = stream.write_all(b"GET / HTTP/1.0\r\n\r\n");
    let mut page = Vec::new();
    let _ = stream.read_to_end(&mut page);
    String::from_utf8_lossy(&page).into_owned()
}

/// The `key` of every `key value` line of a statistics page, in order.
fn stats_keys(page: &str) -> Vec<String> {
    page.lines()
        .map(|l| l.split(' ').next().unwrap_or("").to_string())
        .collect()
}

/// `--stats --stats-port P` serves distccd's statistics page (same header, same keys in the
/// same order as the real distccd's page), and its counters follow the jobs: accepted
/// connections, successes, compile errors, refusals (`dcc_other`), bad requests, the longest
/// job and the compiles of the last minute. A client outside `--allow` gets no page.
#[test]
fn stats_port_serves_distccds_page_with_the_servers_job_counts() {
    let stats_port = free_port();
    let server = unconfined()
        .args(&[
            "--jobs",
            "3",
            "--stats",
            "--stats-port",
            &stats_port.to_string(),
        ])
        .start();
    assert_compiled(&server.compile(&HONEST_ARGV, HELLO).0, "first");
    assert_compiled(&server.compile(&HONEST_ARGV, HELLO).0, "second");
    let (failed, _) = server.compile(&HONEST_ARGV, b"int main( {\n");
    assert_eq!(failed.status, 1 << 8, "a compile error");
    let (refused, _) = server.compile(&["sh", "-c", "foo.c", "-o", "foo.o"], HELLO);
    assert_eq!(refused.status, 113 << 8, "sh is refused");
    exchange(server.port(), b"NOT A DISTCC REQUEST AT ALL", true);

    // Each connection is counted as it ends, which may be after its client has its answer:
    // wait for the last counts of all five.
    let page = crate::support::wait_for(
        "the statistics to count five connections",
        Duration::from_secs(10),
        || {
            let page = get_stats_page(stats_port);
            [
                "dcc_rej_bad_req 1\n",
                "dcc_other 1\n",
                "dcc_compile_ok 2\n",
                "dcc_compile_error 1\n",
            ]
            .iter()
            .all(|count| page.contains(count))
            .then_some(page)
        },
        || get_stats_page(stats_port),
    );
    assert!(
        page.starts_with(
            "HTTP/1.0 200 OK\nContent-Type: text/plain\nConnection: close\n\nargv /distccd\n<distccstats>\n"
        ),
        "{page}"
    );
    assert!(page.ends_with("</distccstats>\n"), "{page}");
    for line in [
        "dcc_tcp_accept 5",
        "dcc_rej_bad_req 1",
        "dcc_rej_overload 0",
        "dcc_compile_ok 2",
        "dcc_compile_error 1",
        "dcc_compile_timeout 0",
        "dcc_cli_disconnect 0",
        "dcc_other 1",
        "dcc_longest_job foo.c",
        "dcc_longest_job_compiler gcc",
        "dcc_max_kids 3",
        "dcc_num_compiles1 3",
    ] {
        assert!(page.lines().any(|l| l == line), "{line:?} in:\n{page}");
    }
    assert!(
        page.lines()
            .any(|l| l.starts_with("dcc_free_space ") && l.ends_with(" MB")),
        "{page}"
    );

    // The same keys, in the same order, as the real distccd 3.4 sends.
    let distccd_port = free_port();
    let _distccd = crate::support::RealDistccd::builder()
        .arg("--stats")
        .arg("--stats-port")
        .arg(distccd_port.to_string())
        .start();
    let theirs = crate::support::wait_for(
        "the real distccd's statistics page",
        Duration::from_secs(10),
        || {
            let page = get_stats_page(distccd_port);
            page.contains("</distccstats>").then_some(page)
        },
        String::new,
    );
    assert_eq!(stats_keys(&page), stats_keys(&theirs), "{theirs}");

    let elsewhere_port = free_port();
    let elsewhere = unconfined()
        .args(&[
            "--allow",
            "10.0.0.0/8",
            "--stats",
            "--stats-port",
            &elsewhere_port.to_string(),
        ])
        .start();
    assert_eq!(
        get_stats_page(elsewhere_port),
        "",
        "no page for a client outside --allow: {}",
        elsewhere.log()
    );
}

/// `DISTCC_IO_TIMEOUT` bounds every read: a client that stops in the middle of its source is
/// dropped once it has been silent that long (not after distcc's default 300 s), and an honest
/// client is served meanwhile.
#[test]
fn distcc_io_timeout_drops_a_client_that_stalls_mid_request() {
    use std::io::{Read, Write};
    let server = DistfarmServer::builder()
        .env("DISTCC_IO_TIMEOUT", "1")
        .start();
    let full = request_bytes(Version::V1, &HONEST_ARGV, HELLO);
    let mut stalled = std::net::TcpStream::connect(("127.0.0.1", server.port())).unwrap();
    stalled.write_all(&full[..full.len() - 10]).unwrap();
    let started = Instant::now();

    let (response, _) = compile(server.port(), Version::V1, &HONEST_ARGV, HELLO);
    assert_compiled(&response, "honest job beside a stalled client");

    stalled
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut answer = Vec::new();
    let read = stalled.read_to_end(&mut answer);
    let waited = started.elapsed();
    assert!(
        read.is_ok() && answer.is_empty(),
        "the stalled client got {read:?} {answer:?}"
    );
    // A timeout test, with margins: the timeout is 1 s, distcc's default would be 300 s; the
    // window only has to tell them apart (and show the timeout was not cut short).
    assert!(
        waited >= Duration::from_millis(900) && waited < Duration::from_secs(5),
        "dropped after {waited:?}, expected about DISTCC_IO_TIMEOUT=1 s"
    );
    // Whichever says it first, the read's timeout or the whole request's (both 1 s).
    crate::support::wait_for(
        "the server log to say why the client was dropped",
        Duration::from_secs(10),
        || {
            let log = server.log();
            (log.contains("timed out after 1 s")
                || log.contains("sent no complete request within 1 s (DISTCC_IO_TIMEOUT)"))
            .then_some(())
        },
        || server.log(),
    );
}

/// A sender that trickles its request token by token makes progress on every read, so the
/// per-read timeout never fires: the whole request must still arrive within
/// `DISTCC_IO_TIMEOUT`. (A pump-mode tree of many small files, each sent quickly, 200 ms
/// apart.)
#[test]
fn a_request_trickled_token_by_token_is_dropped_after_distcc_io_timeout() {
    use distfarm::protocol::file_tree::{TreeEntry, write_tree};
    use distfarm::protocol::{RequestHeader, TokenWriter};
    use std::io::{Read, Write};
    let server = DistfarmServer::builder()
        .env("DISTCC_IO_TIMEOUT", "2")
        .start();
    let entries: Vec<TreeEntry> = (0..200)
        .map(|i| TreeEntry::File {
            name: format!("/p/h{i}.h").into_bytes(),
            content: b"int x;\n".to_vec(),
        })
        .collect();
    let request = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(async {
            let argv = ["gcc", "-c", "main.c", "-o", "main.o"].map(|a| a.as_bytes().to_vec());
            let mut writer = TokenWriter::new(Vec::new());
            RequestHeader::pump(b"/p".to_vec(), argv.to_vec())
                .write(&mut writer)
                .unwrap();
            write_tree(&mut writer, &entries).unwrap();
            writer.flush().await.unwrap();
            writer.into_inner()
        });
    let mut slow = std::net::TcpStream::connect(("127.0.0.1", server.port())).unwrap();
    slow.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let started = Instant::now();
    let mut dropped_after = None;
    for chunk in request.chunks(16) {
        if slow.write_all(chunk).is_err() {
            dropped_after = Some(started.elapsed());
            break;
        }
        match slow.read(&mut [0u8; 1]) {
            Ok(0) | Err(_) if started.elapsed() > Duration::from_secs(30) => break,
            Ok(0) => {
                dropped_after = Some(started.elapsed());
                break;
            }
            Ok(_) => panic!("the slow sender got an answer"),
            Err(_) => {}
        }
    }
    let waited = dropped_after.expect("the slow sender was never dropped");
    assert!(
        waited >= Duration::from_millis(1800) && waited < Duration::from_secs(10),
        "dropped after {waited:?}, expected about DISTCC_IO_TIMEOUT=2 s"
    );
    server.expect_log("sent no complete request within 2 s (DISTCC_IO_TIMEOUT)");
    assert_no_job_directories(server.tmpdir());
}

/// `-N` lowers the server's priority by that much (distccd's default is 5).
#[test]
fn nice_option_lowers_the_servers_priority() {
    fn nice_of(pid: u32) -> i32 {
        let stat = read_text(Path::new(&format!("/proc/{pid}/stat")));
        // Fields after the parenthesised command name; nice is field 19 of the whole line.
        let after = &stat[stat.rfind(')').expect("comm") + 2..];
        after
            .split_whitespace()
            .nth(16)
            .expect("nice field")
            .parse()
            .expect("a number")
    }
    // Relative to ours: the suite itself may run under `nice`.
    let ours = nice_of(std::process::id());
    let mut default = DistfarmServer::start(&[]);
    let mut seven = DistfarmServer::start(&["-N", "7"]);
    assert_eq!(nice_of(default.process().id()), (ours + 5).min(19));
    assert_eq!(nice_of(seven.process().id()), (ours + 7).min(19));
}
