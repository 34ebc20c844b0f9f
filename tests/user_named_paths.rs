//! What the wrapper writes where the user said to: an existing device, FIFO or link is written
//! through, never replaced or unlinked — `-o /dev/null` run as root must leave the machine's
//! null device a device — whether the object comes from a server, a local fallback or a failed
//! compile; and as an ordinary user `-o /dev/null` succeeds as it does with gcc. The server's
//! `--pid-file` is such a path too.

use std::os::unix::fs::FileTypeExt;

use crate::support::namespace::with_private_mounts;
use crate::support::wrapper::hello_args;
use crate::support::{Cmd, DistfarmServer, Work, free_port, set_mode, text};

/// Runs `wrapper` in a private mount namespace where `dir` is a fresh tmpfs holding a real
/// null device `dir/null` (major 1, minor 3), and says what `dir/null` is afterwards. The
/// tmpfs (open to all, so that a server that dropped root could unlink there too) keeps the
/// real `/dev/null` out of reach even if the program under test still got it wrong.
fn with_null_device(work: &Work, wrapper: Cmd) -> (std::process::Output, String) {
    let dir = work.root().join("dev");
    std::fs::create_dir_all(&dir).unwrap();
    let script = r#"dir=$1; shift
mount -t tmpfs -o mode=777 distfarm-test "$dir" || exit 90
mknod "$dir/null" c 1 3 && chmod 666 "$dir/null" || exit 91
"$@" 2>"$dir/../logs/wrapper.err"
rc=$?
stat -c '%F %t:%T' "$dir/null" >&2
exit $rc"#;
    let cmd = with_private_mounts(script)
        .arg(&dir)
        .arg(wrapper.get_program())
        .args(wrapper.get_args());
    // The wrapper's environment, as `work.env` set it, reaches it through unshare and sh.
    let out = work
        .env(cmd, None)
        .envs(wrapper_env(&wrapper))
        .output_unchecked()
        .unwrap();
    let what = text(&out.stderr).trim().to_string();
    (out, what)
}

fn wrapper_env(cmd: &Cmd) -> Vec<(String, String)> {
    cmd.to_command()
        .get_envs()
        .filter_map(|(k, v)| Some((k.to_str()?.to_string(), v?.to_str()?.to_string())))
        .collect()
}

#[track_caller]
fn require_root() {
    assert!(
        nix::unistd::Uid::effective().is_root(),
        "this test shows what happens to a device when the wrapper runs as root: run the \
         tests as root (scripts/test under sudo; CI runs as root)"
    );
}

#[track_caller]
fn assert_still_null_device(what: &str, work: &Work, case: &str) {
    assert_eq!(
        what,
        "character special file 1:3",
        "after {case}, dev/null is no longer the null device; wrapper's stderr:\n{}",
        crate::support::read_text(&work.root().join("logs/wrapper.err"))
    );
}

#[test]
fn remote_compile_to_a_null_device_as_root_writes_through_it() {
    require_root();
    let work = Work::new();
    let mut server = DistfarmServer::start(&[]);
    let wrapper = work
        .distfarm(Some(&server.host_spec()))
        .env("DISTCC_FALLBACK", "0")
        .args(hello_args("../dev/null"));
    let (out, what) = with_null_device(&work, wrapper);
    assert_still_null_device(&what, &work, "a remote compile");
    assert!(out.status.success(), "{out:?}");
    server.compile_ok_lines(1);
}

#[test]
fn fallback_compile_to_a_null_device_as_root_leaves_it_a_device() {
    require_root();
    let work = Work::new();
    let dead = format!("127.0.0.1:{}", free_port());
    let wrapper = work.distfarm(Some(&dead)).args(hello_args("../dev/null"));
    let (out, what) = with_null_device(&work, wrapper);
    assert_still_null_device(&what, &work, "a local fallback compile");
    assert!(out.status.success(), "{out:?}");
}

#[test]
fn failed_compile_to_a_null_device_as_root_leaves_it_a_device() {
    require_root();
    let work = Work::new();
    let server = DistfarmServer::start(&[]);
    let wrapper = work
        .distfarm(Some(&server.host_spec()))
        .env("DISTCC_FALLBACK", "0")
        .args(["gcc", "-c", "hello-error.c", "-o", "../dev/null"]);
    let (out, what) = with_null_device(&work, wrapper);
    assert_still_null_device(&what, &work, "a failed compile");
    assert!(
        !out.status.success(),
        "the compile error is reported: {out:?}"
    );
}

/// gcc and distcc exit 0 for `-o /dev/null` (configure scripts test flags that way); the
/// wrapper could not make a temp file in `/dev` and exited 107.
#[test]
fn unprivileged_compile_to_dev_null_succeeds_without_fallback() {
    let work = Work::new();
    let mut server = DistfarmServer::start(&[]);
    let wrapper = work
        .distfarm(Some(&server.host_spec()))
        .env("DISTCC_FALLBACK", "0")
        .args(hello_args("/dev/null"));
    let out = as_unprivileged_user(&work, wrapper)
        .output_unchecked()
        .unwrap();
    assert!(
        out.status.success(),
        "exit {:?}; stderr:\n{}",
        out.status,
        text(&out.stderr)
    );
    assert!(
        std::fs::metadata("/dev/null")
            .unwrap()
            .file_type()
            .is_char_device(),
        "/dev/null is still a device"
    );
    server.compile_ok_lines(1);
}

/// Root runs `cmd` as `nobody` (its work area opened to everyone); anyone else runs it as is.
fn as_unprivileged_user(work: &Work, cmd: Cmd) -> Cmd {
    if !nix::unistd::Uid::effective().is_root() {
        return cmd;
    }
    set_mode(work.root(), 0o755);
    for sub in ["src", "distcc_dir", "tmp", "logs"] {
        set_mode(&work.root().join(sub), 0o777);
    }
    let env = wrapper_env(&cmd);
    let wrapped = Cmd::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
        .arg(cmd.get_program())
        .args(cmd.get_args());
    work.env(wrapped, None).envs(env)
}

/// `--pid-file` names a path too: the server removes it on exit only while it is the regular
/// file it wrote, so a pid file pointed at a device leaves the device in place.
#[test]
fn server_pid_file_on_a_null_device_is_not_removed_at_exit() {
    require_root();
    let work = Work::new();
    // The server runs as nobody: its TMPDIR must be one nobody may write.
    let tmpdir = crate::support::files::readable_temp_dir("serve-tmp");
    crate::support::set_mode(tmpdir.path(), 0o1777);
    let serve = Cmd::new(crate::support::distfarm_bin())
        .env("TMPDIR", tmpdir.path())
        .args([
            "serve",
            "--no-detach",
            "--listen",
            "127.0.0.1",
            "--port",
            &free_port().to_string(),
            "--lifetime",
            "1",
            "--log-stderr",
            "--pid-file",
            "../dev/null",
        ]);
    let (out, what) = with_null_device(&work, serve);
    assert_still_null_device(&what, &work, "a server with --pid-file on it exited");
    assert!(out.status.success(), "{out:?}");
}
