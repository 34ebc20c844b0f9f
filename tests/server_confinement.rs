//! The confinements of the programs a server runs, entered the way the server enters them:
//! built in this process and entered by the child between fork and exec. Landlock
//! (server/sandbox.rs): on a kernel without it a test that cannot show anything says
//! `SKIPPED:`. The mount namespace used where Landlock is missing (server/mount_jail.rs):
//! here as root (a mount namespace alone), and through whole servers started with
//! `--confinement namespaces`, which drop root to nobody and so make a user namespace too —
//! a compiler reading `/etc/passwd` or a user's file (plainly, through `.incbin`, through
//! `#include`) or writing outside its job gets nothing, while honest C and C++ jobs give
//! objects identical to local ones. What a whole Landlock server does is in
//! server_hostile.rs.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use distfarm::config::CcacheEnv;
use distfarm::protocol::{Response, Version};
use distfarm::server::mount_jail::{self, Jail};
use distfarm::server::sandbox::{self, Confinement};

use crate::support::canary::{Traps, canary_files};
use crate::support::daemon::Daemon;
use crate::support::distfarm_server::assert_no_job_directories;
use crate::support::files::readable_temp_dir;
use crate::support::wire::{HONEST_ARGV, assert_compiled, compile, stderr_text};
use crate::support::{
    ChildGuard, Cmd, DistfarmServer, distfarm_bin, fixture_path, free_port, local_object,
    read_text, set_mode, temp_dir, test_path, write_script,
};

/// Runs `sh -c script` confined to the job directory `job`; returns (success, stderr).
fn confined(script: &str, job: &Path) -> (bool, String) {
    let confinement = Confinement::for_job(job, Path::new("/bin/sh"), &[], &CcacheEnv::default())
        .expect("Landlock rules for a job");
    let mut command = std::process::Command::new("/bin/sh");
    command.arg("-c").arg(script).current_dir(job);
    let enter = confinement.enter_in_child().expect("a ruleset descriptor");
    // SAFETY: the hook neither allocates nor locks (see server/sandbox.rs).
    unsafe {
        command.pre_exec(enter);
    }
    let out = command.output().expect("/bin/sh runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn the_start_probe_finds_confinement_where_the_kernel_has_landlock() {
    let tmp = tempfile::tempdir().unwrap();
    assert_eq!(sandbox::works(tmp.path()), sandbox::abi_version() > 0);
    assert_eq!(
        std::fs::read_dir(tmp.path()).unwrap().count(),
        0,
        "probe left files"
    );
}

#[test]
fn a_confined_compiler_reads_the_system_and_its_job_but_nothing_else() {
    let job = tempfile::tempdir().unwrap();
    let abi = sandbox::abi_version();
    if abi < 1 {
        // What such a kernel gets: no confinement, which the server says at start.
        assert!(
            Confinement::for_job(job.path(), Path::new("/bin/sh"), &[], &CcacheEnv::default())
                .is_none()
        );
        eprintln!("SKIPPED: this kernel has no Landlock, so there is no confinement to test");
        return;
    }
    let secret = tempfile::tempdir().unwrap();
    std::fs::write(secret.path().join("secret"), "s3cret").unwrap();
    let (ok, err) = confined(
        "cat /usr/include/stdio.h > out && cat out > /dev/null",
        job.path(),
    );
    assert!(ok, "system headers and the job directory: {err}");
    let (ok, _) = confined(
        &format!("cat {}/secret", secret.path().display()),
        job.path(),
    );
    assert!(!ok, "a file outside the allowed places was read");
    let (ok, _) = confined("cat /etc/passwd", job.path());
    assert!(!ok, "/etc/passwd was read");
    let (ok, _) = confined(
        &format!("echo x > {}/planted", secret.path().display()),
        job.path(),
    );
    assert!(
        !ok && !secret.path().join("planted").exists(),
        "wrote outside the job"
    );
    // Landlock knows truncation from ABI 3 on; before that, only opening for writing.
    if abi < 3 {
        eprintln!(
            "SKIPPED: truncate(2) outside the job: Landlock ABI {abi} cannot deny it (ABI 3 can)"
        );
        return;
    }
    // truncate(2) by path, which opens nothing (coreutils' truncate opens for writing).
    let (ok, _) = confined(
        &format!(
            "perl -e 'truncate(\"{}/secret\", 0) or exit 1'",
            secret.path().display()
        ),
        job.path(),
    );
    let intact = std::fs::read_to_string(secret.path().join("secret")).unwrap() == "s3cret";
    assert!(!ok && intact, "truncated a file outside the job");
}

// =======================================================================================
// The mount namespace (where Landlock is missing)
// =======================================================================================

/// Runs `sh -c script` in the mount namespace of the job directory `job` (as this test
/// process, root: a mount namespace without a user namespace); returns (success, stderr).
fn in_jail(script: &str, job: &Path) -> (bool, String) {
    let jail = Jail::for_job(job, Path::new("/bin/sh"), &[], &CcacheEnv::default())
        .expect("a jail for a job");
    let mut command = std::process::Command::new("/bin/sh");
    command.arg("-c").arg(script).current_dir(job);
    // SAFETY: `enter` neither allocates nor locks (see server/mount_jail.rs).
    unsafe {
        command.pre_exec(move || jail.enter().map_err(Into::into));
    }
    let out = command.output().expect("/bin/sh runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn the_namespace_probe_works_here_and_leaves_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    mount_jail::works(tmp.path()).expect("a mount namespace works on this machine");
    assert_eq!(
        std::fs::read_dir(tmp.path()).unwrap().count(),
        0,
        "probe left files"
    );
}

#[test]
fn a_program_in_the_mount_namespace_sees_the_system_and_its_job_but_nothing_else() {
    let job = tempfile::tempdir().unwrap();
    let secret = tempfile::tempdir().unwrap();
    std::fs::write(secret.path().join("secret"), "s3cret").unwrap();
    let (ok, err) = in_jail(
        "cat /usr/include/stdio.h > out && cat out > /dev/null && test -s out",
        job.path(),
    );
    assert!(ok, "system headers, /dev/null and the job directory: {err}");
    assert!(
        job.path().join("out").exists(),
        "the job directory is the real one"
    );
    let secret_file = secret.path().join("secret");
    let denied = [
        format!("cat {}", secret_file.display()),
        "cat /etc/passwd".to_string(),
        format!("echo x > {}/planted", secret.path().display()),
        format!(
            "perl -e 'truncate(\"{}\", 0) or exit 1'",
            secret_file.display()
        ),
        // The new root itself is read-only, and so are the system directories.
        "echo x > /planted".to_string(),
        "echo x > /usr/planted".to_string(),
        // No /proc, whose /proc/PID/root leads back to the real root.
        "ls /proc/1/root/etc".to_string(),
        // No capability left to make a mount (or undo one), even as root.
        "mount -t tmpfs none /usr".to_string(),
        // /dev/null is written through a read-only mount: its owner (root here) cannot
        // change it for the whole machine (the same mode, so nothing changes if it could).
        "chmod 666 /dev/null".to_string(),
    ];
    for script in denied {
        let (ok, _) = in_jail(&script, job.path());
        assert!(!ok, "allowed in the jail: {script}");
    }
    assert_eq!(std::fs::read_to_string(&secret_file).unwrap(), "s3cret");
    assert!(
        !secret.path().join("planted").exists(),
        "wrote outside the job"
    );
    assert!(!Path::new("/planted").exists() && !Path::new("/usr/planted").exists());
}

/// `distfarm serve --confinement namespaces` with these extra arguments; as root it drops
/// to nobody, whose compilers then run in a user namespace as well.
fn namespace_server(args: &[&str]) -> DistfarmServer {
    let server = DistfarmServer::start(&[&["--confinement", "namespaces"], args].concat());
    server.expect_log("compilers run confined in a mount namespace");
    server
}

/// A 0755 directory holding a world-readable `secret` that only a confinement keeps from a
/// compiler run by nobody.
fn user_secret() -> (tempfile::TempDir, PathBuf) {
    let dir = readable_temp_dir("user-secret");
    let secret = dir.path().join("secret");
    std::fs::write(&secret, "user-s3cret-marker\n").unwrap();
    set_mode(&secret, 0o644);
    (dir, secret)
}

/// Whether `response` carries /etc/passwd's first line or the user's secret anywhere.
fn leaks(response: &Response) -> bool {
    let needles: [&[u8]; 2] = [b"root:x:0:0", b"user-s3cret-marker"];
    [&response.object, &response.stderr, &response.stdout]
        .iter()
        .any(|body| {
            needles
                .iter()
                .any(|n| body.windows(n.len()).any(|w| w == *n))
        })
}

/// A compiler allowed by name that tries every way to put `/etc/passwd` and `secret` into
/// its answer — reading them, the real assembler's `.incbin`, the real preprocessor's
/// `#include` of their absolute paths — and to write into `canary`; it always succeeds.
/// It lives in `dir/bin`: a compiler's installation (`dir`, as for `…/x-tools/bin/gcc`) is
/// readable to it.
fn leaking_compiler(dir: &Path, secret: &Path, canary: &Path) -> String {
    let bin = dir.join("bin");
    std::fs::create_dir(&bin).unwrap();
    set_mode(&bin, 0o755);
    let leakcc = bin.join("leakcc");
    let s = secret.display();
    write_script(
        &leakcc,
        &format!(
            "out=; prev=\nfor a in \"$@\"; do [ \"$prev\" = -o ] && out=$a; prev=$a; done\n\
             touch {canary}/written\n\
             cat /etc/passwd {s} > \"$out\"\n\
             printf '.incbin \"/etc/passwd\"\\n.incbin \"{s}\"\\n' > leak.s\n\
             as leak.s -o leak.o && cat leak.o >> \"$out\"\n\
             printf '#include \"/etc/passwd\"\\n#include \"{s}\"\\n' | cpp -P >> \"$out\"\n\
             cat \"$out\" >&2\n\
             exit 0",
            canary = canary.display()
        ),
    );
    leakcc.display().to_string()
}

#[test]
fn in_the_mount_namespace_a_compiler_cannot_read_server_or_user_files_nor_write_outside_its_job() {
    let traps = Traps::new();
    let canary = traps.canary("namespaces");
    let (_secret_dir, secret) = user_secret();
    let tools = readable_temp_dir("leakcc");
    let leakcc = leaking_compiler(tools.path(), &secret, &canary);
    let argv = [leakcc.as_str(), "-c", "foo.c", "-o", "foo.o"];
    let hello = b"int main(void) { return 0; }\n";

    let mut server = namespace_server(&["--compiler", &leakcc]);
    let (response, _) = compile(server.port(), Version::V1, &argv, hello);
    assert!(
        !leaks(&response),
        "a compiler in the mount namespace got /etc/passwd or the user's file into its \
         answer; stderr: {}",
        stderr_text(&response)
    );
    assert!(
        canary_files(&canary).is_empty(),
        "a compiler in the mount namespace wrote outside its job: {:?}",
        canary_files(&canary)
    );
    assert!(server.is_running(), "{}", server.log());
    assert_no_job_directories(server.tmpdir());

    // The same compiler unconfined gets both, else this test shows nothing.
    let open = DistfarmServer::start(&["--unconfined", "--compiler", &leakcc]);
    open.expect_log("compilers run UNCONFINED");
    let (response, _) = compile(open.port(), Version::V1, &argv, hello);
    let stderr = stderr_text(&response);
    assert!(
        leaks(&response) && !canary_files(&canary).is_empty(),
        "the same compiler unconfined should have read and written: {stderr}"
    );
    assert!(
        response
            .object
            .windows(18)
            .filter(|w| *w == b"user-s3cret-marker")
            .count()
            >= 3,
        "unconfined, the plain read, .incbin and #include should each have leaked the \
         user's file"
    );
}

/// The preprocessed text of `source` (a fixture) by `compiler -E`.
fn preprocessed(compiler: &str, source: &Path) -> Vec<u8> {
    Cmd::new(compiler)
        .args(["-O2", "-E"])
        .arg(source)
        .current_dir(source.parent().unwrap())
        .run()
        .stdout
}

#[test]
fn honest_c_and_cxx_jobs_in_the_mount_namespace_give_objects_identical_to_local_ones() {
    let mut server = namespace_server(&["--jobs", "2"]);
    let cases = [
        ("gcc", fixture_path("hello.c"), "hello.c", "i"),
        ("g++", fixture_path("cxx/shapes.cpp"), "shapes.cpp", "ii"),
    ];
    for (compiler, source, name, extension) in cases {
        let text = preprocessed(compiler, &source);
        let argv = [compiler, "-O2", "-c", name, "-o", "unit.o"];
        // Plain requests run gcc's passes in the server; `-v` leaves them to the driver.
        for extra in [None, Some("-v")] {
            let argv: Vec<&str> = argv.iter().copied().chain(extra).collect();
            let (response, _) = compile(server.port(), Version::V1, &argv, &text);
            assert_compiled(&response, &format!("{argv:?} in the mount namespace"));
            let local_dir = tempfile::tempdir().unwrap();
            let local_source = local_dir.path().join(format!("unit.{extension}"));
            std::fs::write(&local_source, &text).unwrap();
            let reference = local_object(compiler, ["-O2"], &local_source, local_dir.path());
            assert!(
                response.object == reference,
                "{argv:?}: the object differs from a local {compiler} -c"
            );
        }
    }
    assert!(server.is_running(), "{}", server.log());
    assert_no_job_directories(server.tmpdir());
}

#[test]
fn confinement_options_say_what_they_do_at_start() {
    if sandbox::abi_version() > 0 {
        let landlock = DistfarmServer::start(&["--confinement", "landlock"]);
        landlock.expect_log("compilers run confined with Landlock");
    } else {
        eprintln!("SKIPPED: --confinement landlock: this kernel has no Landlock");
    }
    // Both at once make no sense: clap refuses.
    let out = Cmd::new(crate::support::distfarm_bin())
        .args(["serve", "--unconfined", "--confinement", "namespaces"])
        .run_expect_failure();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--unconfined"), "{stderr}");
}

/// The kernel refuses both confinements: a seccomp filter, installed between fork and exec
/// and inherited by everything the server starts, answers Landlock's system calls ENOSYS
/// (a kernel without Landlock) and `unshare` EPERM (no user namespaces, or a container's
/// filter). The server refuses to start and says why, naming `--unconfined`; with
/// `--unconfined` it starts, warns, and serves.
#[test]
fn with_neither_confinement_working_a_server_refuses_to_start_unless_unconfined() {
    let dir = temp_dir("no-confinement");
    set_mode(dir.path(), 0o1777);
    let serve = |port: u16, extra: &[&str]| {
        let mut cmd = std::process::Command::new(distfarm_bin());
        cmd.args([
            "serve",
            "--no-detach",
            "--log-stderr",
            "--listen",
            "127.0.0.1",
        ])
        .args(["-p", &port.to_string()])
        .args(extra)
        .env_clear()
        .env("PATH", test_path())
        .env("TMPDIR", dir.path())
        .env("LC_ALL", "C");
        neither_confinement_works(&mut cmd);
        cmd
    };

    let log = dir.path().join("refused.log");
    let mut refused = serve(free_port(), &[]);
    let file = std::fs::File::create(&log).unwrap();
    refused.stdout(file.try_clone().unwrap()).stderr(file);
    let mut child = ChildGuard::spawn(refused, "distfarm serve with no confinement");
    let status = child
        .wait_timeout(Duration::from_secs(30))
        .unwrap_or_else(|| panic!("the server did not refuse to start:\n{}", read_text(&log)));
    let said = read_text(&log);
    assert!(!status.success(), "{said}");
    for words in [
        "no confinement for compilers works here, so this server will not start",
        "Landlock: this kernel has none",
        "Mount namespace: ",
        "start with --unconfined",
    ] {
        assert!(said.contains(words), "the refusal says {words:?}:\n{said}");
    }

    let unconfined = Daemon::start(
        "distfarm serve --unconfined",
        temp_dir("no-confinement-serve"),
        |port| serve(port, &["--unconfined"]),
        |port, log| log.contains(&format!("listening on 127.0.0.1:{port}")),
        "cannot listen",
    );
    assert!(
        unconfined.log().contains("compilers run UNCONFINED"),
        "{}",
        unconfined.log()
    );
    let (response, _) = compile(
        unconfined.port(),
        Version::V1,
        &HONEST_ARGV,
        b"int main(void) { return 0; }\n",
    );
    assert_compiled(&response, "a job on the unconfined server");
}

/// Installs the seccomp filter of the test above in `cmd`'s child (x86_64 system call
/// numbers).
fn neither_confinement_works(cmd: &mut std::process::Command) {
    use nix::libc;
    if !cfg!(target_arch = "x86_64") {
        panic!("the seccomp filter of this test knows x86_64's system call numbers only");
    }
    const LD_W_ABS: u16 = 0x20; // BPF_LD | BPF_W | BPF_ABS
    const JEQ_K: u16 = 0x15; // BPF_JMP | BPF_JEQ | BPF_K
    const RET_K: u16 = 0x06; // BPF_RET | BPF_K
    const ALLOW: u32 = 0x7fff_0000; // SECCOMP_RET_ALLOW
    const ERRNO: u32 = 0x0005_0000; // SECCOMP_RET_ERRNO
    const AUDIT_ARCH_X86_64: u32 = 0xc000_003e;
    const LANDLOCK: [u32; 3] = [444, 445, 446]; // create_ruleset, add_rule, restrict_self
    const UNSHARE: u32 = 272;
    let op = |code, k| libc::sock_filter {
        code,
        jt: 0,
        jf: 0,
        k,
    };
    let jump_if = |k, jt| libc::sock_filter {
        code: JEQ_K,
        jt,
        jf: 0,
        k,
    };
    let filter = [
        op(LD_W_ABS, 4), // seccomp_data.arch
        jump_if(AUDIT_ARCH_X86_64, 1),
        op(RET_K, ALLOW),
        op(LD_W_ABS, 0), // seccomp_data.nr
        jump_if(LANDLOCK[0], 4),
        jump_if(LANDLOCK[1], 3),
        jump_if(LANDLOCK[2], 2),
        jump_if(UNSHARE, 2),
        op(RET_K, ALLOW),
        op(RET_K, ERRNO | libc::ENOSYS as u32),
        op(RET_K, ERRNO | libc::EPERM as u32),
    ];
    // SAFETY: two prctl calls on memory the closure owns: no allocation, no lock.
    unsafe {
        cmd.pre_exec(move || {
            let program = libc::sock_fprog {
                len: filter.len() as u16,
                filter: filter.as_ptr() as *mut libc::sock_filter,
            };
            if libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0
                || libc::prctl(
                    libc::PR_SET_SECCOMP,
                    libc::SECCOMP_MODE_FILTER,
                    &program as *const libc::sock_fprog,
                ) != 0
            {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}
