//! Faults on the server's side: its TMPDIR full, compilers killed by a signal or stopped by
//! the server's resource limits, the server killed mid-job (and what it left removed by the
//! next one), SIGTERM with a job that will not finish, SIGHUP after logrotate. Each fault is
//! real (a tmpfs mounted full, a real `kill`, the kernel's rlimits), and each test checks
//! what the client is told.

use std::net::TcpStream;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::server_daemon::{FakeCompiler, is_zombie, unconfined};
use crate::support::distfarm_server::{assert_no_job_directories, job_directories};
use crate::support::files::{open_dir, read_text, set_mode};
use crate::support::process::{ChildGuard, text};
use crate::support::wire::{HONEST_ARGV, assert_compiled, exchange, request_bytes, stderr_text};
use crate::support::wrapper::{Work, hello_args};
use crate::support::{DistfarmServer, distfarm_bin, free_port, temp_dir, test_path, wait_for};
use distfarm::protocol::Version;
use nix::sys::signal::Signal;

const HELLO: &[u8] = b"# 0 \"foo.c\"\nint printf(const char *, ...);\n\
    int main(void) { printf(\"hello\\n\"); return 0; }\n";

/// `W_EXITCODE(107, 0)`: distcc's EXIT_IO_ERROR, what a job the server could not write gets.
const IO_ERROR_STATUS: u32 = 107 << 8;

/// A tmpfs of `size` mounted (root only) on a directory of its own, open to all (the server
/// drops root), unmounted when dropped.
struct SmallTmpfs {
    _dir: tempfile::TempDir,
    mount: PathBuf,
}

impl SmallTmpfs {
    fn new(size: &str) -> SmallTmpfs {
        assert!(
            nix::unistd::Uid::effective().is_root(),
            "mounting a tmpfs needs root (run the tests as root)"
        );
        let dir = temp_dir("tmpfs");
        set_mode(dir.path(), 0o755);
        let mount = dir.path().join("tmp");
        std::fs::create_dir(&mount).unwrap();
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size},mode=1777")])
            .arg("distfarm-test")
            .arg(&mount)
            .status()
            .expect("run mount");
        assert!(status.success(), "mount -t tmpfs failed: {status}");
        SmallTmpfs { _dir: dir, mount }
    }

    fn path(&self) -> &Path {
        &self.mount
    }

    /// Fills it with one file until no byte more fits, except `keep` bytes.
    fn fill(&self, keep: u64) {
        use std::io::Write;
        let mut filler = std::fs::File::create(self.mount.join("filler")).unwrap();
        let chunk = vec![b'x'; 4096];
        while filler.write_all(&chunk).is_ok() {}
        drop(filler);
        if keep > 0 {
            let size = std::fs::metadata(self.mount.join("filler")).unwrap().len();
            let file = std::fs::OpenOptions::new()
                .write(true)
                .open(self.mount.join("filler"))
                .unwrap();
            file.set_len(size.saturating_sub(keep)).unwrap();
        }
    }

    /// What is in it besides the filler.
    fn contents(&self) -> Vec<String> {
        std::fs::read_dir(&self.mount)
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n != "filler")
            .collect()
    }
}

impl Drop for SmallTmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.mount).status();
    }
}

/// A preprocessed source of about 100 KB whose assembly is several times larger.
fn many_functions() -> Vec<u8> {
    let mut source = String::from("# 0 \"big.c\"\n");
    for i in 0..2000 {
        source.push_str(&format!(
            "int f{i}(int a, int b) {{ return a * {i} + b; }}\n"
        ));
    }
    source.into_bytes()
}

#[test]
fn a_full_tmpdir_fails_the_job_saying_so_and_the_client_compiles_locally() {
    let tmpfs = SmallTmpfs::new("1m");
    let server = DistfarmServer::builder().tmpdir(tmpfs.path()).start();

    // No room for the source.
    tmpfs.fill(0);
    let (response, _) = server.compile(&HONEST_ARGV, HELLO);
    let stderr = stderr_text(&response);
    assert_eq!(response.status, IO_ERROR_STATUS, "{stderr}");
    assert!(
        stderr.contains("no space left in the server's TMPDIR"),
        "{stderr}"
    );
    assert!(
        stderr.contains(&tmpfs.path().display().to_string()),
        "{stderr}"
    );

    // Room for the source, not for the compiler's output.
    tmpfs.fill(150 * 1024);
    let argv = ["gcc", "-O0", "-c", "big.c", "-o", "big.o"];
    let (response, _) = server.compile(&argv, &many_functions());
    let stderr = stderr_text(&response);
    assert_eq!(response.status, IO_ERROR_STATUS, "{stderr}");
    assert!(
        stderr.contains("no space left in the server's TMPDIR"),
        "{stderr}"
    );
    assert_no_job_directories(tmpfs.path());
    assert_eq!(tmpfs.contents(), Vec::<String>::new(), "left in the TMPDIR");

    // The distfarm client, with its default DISTCC_FALLBACK, compiles it here instead.
    tmpfs.fill(0);
    let work = Work::new();
    let out = work
        .distfarm(Some(&server.host_spec()))
        .args(hello_args("out/hello.o"))
        .run();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(work.read("out/hello.o"), work.hello_reference());
    assert!(!server.log().contains("COMPILE_OK"), "{}", server.log());
    assert_eq!(tmpfs.contents(), Vec::<String>::new(), "left in the TMPDIR");
}

/// A fake `gcc` for the server's DISTCCD_PATH, also under the triplet name the distfarm
/// client sends (`x86_64-linux-gnu-gcc`); and that DISTCCD_PATH.
pub fn fake_gcc(script: &str) -> (FakeCompiler, String) {
    let gcc = FakeCompiler::new("gcc", script);
    let machine = Command::new("gcc").arg("-dumpmachine").output().unwrap();
    let triplet = format!("{}-gcc", String::from_utf8_lossy(&machine.stdout).trim());
    std::os::unix::fs::symlink("gcc", gcc.dir.path().join(triplet)).unwrap();
    let path = format!(
        "{}:{}",
        gcc.dir.path().display(),
        test_path().to_string_lossy()
    );
    (gcc, path)
}

#[test]
fn a_compiler_killed_by_a_signal_is_reported_with_the_signal() {
    // A `gcc` on the server's DISTCCD_PATH that is killed as soon as it starts.
    let (_gcc, path) = fake_gcc("kill -KILL $$");
    let server = unconfined().env("DISTCCD_PATH", &path).start();
    let (response, _) = server.compile(&HONEST_ARGV, HELLO);
    let stderr = stderr_text(&response);
    assert_eq!(response.status & 0x7f, 9, "killed by SIGKILL: {stderr}");
    assert!(
        stderr.contains("gcc was killed by signal 9 (SIGKILL)"),
        "{stderr}"
    );

    // The client shows it when asked for the remote result; by default it compiles here.
    let work = Work::new();
    let out = work
        .distfarm(Some(&server.host_spec()))
        .env("DISTCC_SKIP_LOCAL_RETRY", "1")
        .args(hello_args("out/hello.o"))
        .run_expect_failure();
    let client_stderr = text(&out.stderr);
    assert!(
        client_stderr.contains("killed by signal 9 (SIGKILL)"),
        "{client_stderr}"
    );
    let out = work
        .distfarm(Some(&server.host_spec()))
        .args(hello_args("out/hello.o"))
        .run();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(work.read("out/hello.o"), work.hello_reference());
}

/// The server's rlimits: CPU time (SIGXCPU), file size (SIGXFSZ) and address space (the
/// compiler's own "out of memory"), each named in the answer with its option.
#[test]
fn compilers_stopped_by_the_servers_limits_are_told_which_limit() {
    let spincc = FakeCompiler::new("spincc", "while :; do :; done");
    let bigcc = FakeCompiler::new(
        "bigcc",
        "out=; prev=\nfor a in \"$@\"; do [ \"$prev\" = -o ] && out=$a; prev=$a; done\n\
         exec head -c 10000000 /dev/zero > \"$out\"",
    );
    let server = unconfined()
        .args(&[
            "--limit-cpu",
            "1",
            "--limit-output",
            "1M",
            "--compiler",
            &spincc.path,
            "--compiler",
            &bigcc.path,
        ])
        .start();

    let started = Instant::now();
    let (response, _) = server.compile(&[&spincc.path, "-c", "foo.c", "-o", "foo.o"], HELLO);
    let stderr = stderr_text(&response);
    assert_eq!(response.status & 0x7f, Signal::SIGXCPU as u32, "{stderr}");
    assert!(
        stderr.contains("CPU time limit of 1 s") && stderr.contains("--limit-cpu"),
        "{stderr}"
    );
    assert!(started.elapsed() < Duration::from_secs(30));

    let (response, _) = server.compile(&[&bigcc.path, "-c", "foo.c", "-o", "foo.o"], HELLO);
    let stderr = stderr_text(&response);
    assert_eq!(response.status & 0x7f, Signal::SIGXFSZ as u32, "{stderr}");
    assert!(
        stderr.contains("limit of 1 MiB") && stderr.contains("--limit-output"),
        "{stderr}"
    );

    // A real gcc whose cc1 needs more than 300 MiB of address space for this source.
    let mut source = String::from("# 0 \"huge.c\"\nint table[] = {\n");
    for _ in 0..400_000 {
        source.push_str("1,2,3,4,5,6,7,8,9,10,\n");
    }
    source.push_str("};\n");
    let server = DistfarmServer::start(&["--limit-memory", "300M"]);
    let (response, _) = server.compile(&HONEST_ARGV, source.as_bytes());
    let stderr = stderr_text(&response);
    assert_ne!(response.status, 0, "{stderr}");
    assert!(
        stderr.contains("limit of 300 MiB") && stderr.contains("--limit-memory"),
        "{stderr}"
    );
    // A job within the limits compiles as ever.
    assert_compiled(&server.compile(&HONEST_ARGV, HELLO).0, "a small job");
    assert_no_job_directories(server.tmpdir());
}

#[test]
fn a_server_killed_mid_job_is_retried_elsewhere_and_the_next_one_removes_what_it_left() {
    // Server A's gcc records its pid and takes its time; server B compiles at once.
    let (slow, path) = fake_gcc("echo $$ > {marks}/pid\nsleep 30\nexec /usr/bin/gcc \"$@\"");
    let own = temp_dir("killed-server");
    let tmp_a = open_dir(own.path(), "tmp");
    let mut a = unconfined()
        .env("DISTCCD_PATH", &path)
        .tmpdir(&tmp_a)
        .start();
    let b = DistfarmServer::start(&[]);

    let work = Work::new();
    let hosts = format!("{} {}", a.host_spec(), b.host_spec());
    let mut client = work.spawn(
        work.distfarm(Some(&hosts)).args(hello_args("out/hello.o")),
        "client",
    );
    let pid_file = slow.marks.join("pid");
    wait_for(
        "server A's compiler to start",
        Duration::from_secs(20),
        || pid_file.exists().then_some(()),
        || work.logs() + &a.log(),
    );
    a.process().signal(Signal::SIGKILL);
    let _ = a.process().wait_timeout(Duration::from_secs(10));
    // Its compiler, in a process group of its own, outlives it: ours to stop.
    let compiler: i32 = read_text(&pid_file).trim().parse().unwrap();
    let _ = nix::sys::signal::killpg(nix::unistd::Pid::from_raw(compiler), Signal::SIGKILL);

    let status = client
        .wait_timeout(Duration::from_secs(60))
        .expect("the client finishes");
    assert!(status.success(), "{}", work.logs());
    assert_eq!(work.read("out/hello.o"), work.hello_reference());
    b.expect_log("COMPILE_OK");

    // What A left: its job directory. Beside it, a decoy of a live process (pid 1) that
    // belongs to the same user: a new server must leave that alone.
    let left = job_directories(&tmp_a);
    assert_eq!(left.len(), 1, "{left:?}");
    let owner = std::fs::metadata(&left[0]).unwrap().uid();
    let decoy = tmp_a.join("distfarm_1_decoy");
    std::fs::create_dir(&decoy).unwrap();
    nix::unistd::chown(&decoy, Some(nix::unistd::Uid::from_raw(owner)), None).unwrap();

    let restarted = unconfined().tmpdir(&tmp_a).start();
    restarted.expect_log("removed 1 job directories");
    assert!(!left[0].exists(), "{} is still there", left[0].display());
    assert!(decoy.exists(), "the live process's directory was removed");
    assert_compiled(
        &restarted.compile(&HONEST_ARGV, HELLO).0,
        "after the restart",
    );
    std::fs::remove_dir(&decoy).unwrap();
}

#[test]
fn sigterm_refuses_new_clients_and_stops_waiting_after_the_stop_timeout() {
    let stuck = FakeCompiler::new(
        "stuckcc",
        "sleep 60 &\necho $! > {marks}/sleep.pid\ntouch {marks}/started\nwait",
    );
    let mut server = unconfined()
        .args(&["--stop-timeout", "2", "--compiler", &stuck.path])
        .start();
    let port = server.port();
    let request = request_bytes(
        Version::V1,
        &[&stuck.path, "-c", "foo.c", "-o", "foo.o"],
        HELLO,
    );
    let job = std::thread::spawn(move || exchange(port, &request, false));
    let started = stuck.marks.join("started");
    wait_for(
        "the compiler to start",
        Duration::from_secs(20),
        || started.exists().then_some(()),
        || server.log(),
    );
    server.process().signal(Signal::SIGTERM);
    wait_for(
        "new clients to be refused",
        Duration::from_secs(10),
        || {
            TcpStream::connect(("127.0.0.1", port))
                .is_err()
                .then_some(())
        },
        || server.log(),
    );
    let stopping = Instant::now();
    let status = server
        .process()
        .wait_timeout(Duration::from_secs(30))
        .expect("the server exits after --stop-timeout");
    assert!(
        stopping.elapsed() < Duration::from_secs(20),
        "it waited {:?} for a job that sleeps 60 s",
        stopping.elapsed()
    );
    assert_eq!(status.code(), Some(0), "{}", server.log());
    assert!(server.log().contains("--stop-timeout"), "{}", server.log());
    let reply = job.join().unwrap();
    assert!(reply.bytes.is_empty(), "the unfinished job got an answer");
    // The compiler's own child went with its process group.
    let sleep: i32 = read_text(&stuck.marks.join("sleep.pid"))
        .trim()
        .parse()
        .unwrap();
    wait_for(
        "the compiler's child to be gone",
        Duration::from_secs(10),
        || is_zombie(nix::unistd::Pid::from_raw(sleep)).then_some(()),
        String::new,
    );
    assert_no_job_directories(server.tmpdir());
}

#[test]
fn sighup_opens_the_log_file_again_after_logrotate_moved_it() {
    let dir = temp_dir("sighup");
    set_mode(dir.path(), 0o1777);
    let log = dir.path().join("serve.log");
    let rotated = dir.path().join("serve.log.1");
    let port = free_port();
    let mut cmd = Command::new(distfarm_bin());
    cmd.args(["serve", "--no-detach", "--listen", "127.0.0.1", "-p"])
        .arg(port.to_string())
        .arg("--log-file")
        .arg(&log)
        .env_clear()
        .env("PATH", test_path())
        .env("TMPDIR", dir.path())
        .stdin(Stdio::null());
    let mut server = ChildGuard::spawn(cmd, "distfarm serve --log-file");
    wait_for(
        "the server to listen",
        Duration::from_secs(20),
        || read_text(&log).contains("listening on").then_some(()),
        || read_text(&log),
    );
    std::fs::rename(&log, &rotated).unwrap();
    server.signal(Signal::SIGHUP);
    wait_for(
        "a new log file",
        Duration::from_secs(10),
        || read_text(&log).contains("opened again").then_some(()),
        || read_text(&rotated),
    );
    let (response, _) = crate::support::wire::compile(port, Version::V1, &HONEST_ARGV, HELLO);
    assert_compiled(&response, "a job after SIGHUP");
    wait_for(
        "the job in the new log",
        Duration::from_secs(10),
        || read_text(&log).contains("COMPILE_OK").then_some(()),
        || read_text(&log),
    );
    assert!(server.try_wait().is_none(), "SIGHUP stopped the server");
    let old = read_text(&rotated);
    assert!(old.contains("SIGHUP"), "{old}");
    assert!(!old.contains("COMPILE_OK"), "{old}");
}
