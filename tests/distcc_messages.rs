//! distcc 3.4's words where people and scripts look for them (its `src/compile.c`,
//! `hosts.c`, `exec.c`, `traceenv.c`, `distcc.c`): the fallback warning, the missing host
//! list, a compiler that cannot be run, a log file that cannot be opened, and `Usage:` in the
//! help. Each is checked beside what the real distcc prints in the same situation.

use crate::support::namespace::with_private_mounts;
use crate::support::wrapper::hello_args;
use crate::support::{Cmd, Work, distfarm_bin, free_port, text};

/// Runs `cmd` (distfarm or distcc) and returns its exit code and stderr.
fn run(cmd: Cmd) -> (Option<i32>, String) {
    let out = cmd.output_unchecked().unwrap();
    (out.status.code(), text(&out.stderr))
}

/// distcc with a `DISTCC_DIR` of its own, so that the host it backs off is not backed off
/// for distfarm too: each client must meet the dead host itself.
fn own_lock_dir(work: &Work, distcc: Cmd) -> Cmd {
    let dir = work.root().join("distcc_dir_of_distcc");
    std::fs::create_dir_all(&dir).unwrap();
    distcc.env("DISTCC_DIR", dir)
}

#[track_caller]
fn assert_says(who: &str, stderr: &str, words: &str) {
    assert!(
        stderr.contains(words),
        "{who} should say {words:?}; it said:\n{stderr}"
    );
}

#[test]
fn fallback_warning_says_running_locally_instead_as_distcc_does() {
    let work = Work::new();
    let host = format!("127.0.0.1:{}", free_port());
    let (_, distcc) = run(own_lock_dir(&work, work.distcc(&host)).args(hello_args("out/a.o")));
    let (code, ours) = run(work.distfarm(Some(&host)).args(hello_args("out/b.o")));
    let words = format!("failed to distribute hello.c to {host}, running locally instead");
    assert_says("distcc", &distcc, &words);
    assert_says("distfarm", &ours, &words);
    assert_eq!(code, Some(0));
}

#[test]
fn fallback_disabled_says_fallbacks_are_disabled_as_distcc_does() {
    let work = Work::new();
    let host = format!("127.0.0.1:{}", free_port());
    let no_fallback = |cmd: Cmd| cmd.env("DISTCC_FALLBACK", "0").args(hello_args("out/a.o"));
    let (distcc_code, distcc) = run(no_fallback(own_lock_dir(&work, work.distcc(&host))));
    let (code, ours) = run(no_fallback(work.distfarm(Some(&host))));
    assert_says(
        "distcc",
        &distcc,
        "failed to distribute and fallbacks are disabled",
    );
    assert_says("distfarm", &ours, "and fallbacks are disabled");
    assert_says("distfarm", &ours, "failed to distribute hello.c");
    // distcc exits 116 (no host left after backing this one off); distfarm names the
    // failure itself (103, connect failed). Both are distcc's own codes.
    for (who, code) in [("distcc", distcc_code), ("distfarm", code)] {
        assert!(
            code.is_some_and(|c| (100..=120).contains(&c)),
            "{who}: {code:?}"
        );
    }
}

#[test]
fn empty_host_list_says_it_contained_no_hosts_as_distcc_does() {
    let work = Work::new();
    let (_, distcc) = run(work.distcc("").args(hello_args("out/a.o")));
    let (code, ours) = run(work.distfarm(Some("")).args(hello_args("out/b.o")));
    let words = "$DISTCC_HOSTS contained no hosts; can't distribute work";
    assert_says("distcc", &distcc, words);
    assert_says("distfarm", &ours, words);
    assert_eq!(code, Some(0), "the job is compiled here");
}

/// With neither `DISTCC_HOSTS` nor a hosts file — the machine's own `/etc/distcc` hidden by
/// an empty tmpfs in a private mount namespace.
#[test]
fn no_host_list_at_all_says_no_hostlist_is_set_as_distcc_does() {
    assert!(
        nix::unistd::Uid::effective().is_root(),
        "hiding /etc/distcc/hosts needs root: run the tests as root (CI does)"
    );
    let work = Work::new();
    let without_hosts = |cmd: Cmd| {
        let hide = "mount -t tmpfs distfarm-test /etc/distcc && exec \"$@\"";
        work.env(
            with_private_mounts(hide)
                .arg(cmd.get_program())
                .args(hello_args("out/a.o")),
            None,
        )
    };
    let (_, distcc) = run(without_hosts(Cmd::new(crate::support::require(
        "distcc", "distcc",
    ))));
    let (code, ours) = run(without_hosts(Cmd::new(distfarm_bin())));
    let words = "no hostlist is set; can't distribute work";
    assert_says("distcc", &distcc, words);
    assert_says("distfarm", &ours, words);
    assert_eq!(code, Some(0), "the job is compiled here");
}

#[test]
fn missing_compiler_says_failed_to_exec_with_distccs_exit_code() {
    let work = Work::new();
    let args = ["no-such-compiler", "-c", "hello.c", "-o", "out/a.o"];
    let (distcc_code, distcc) = run(work.distcc("localhost").args(args));
    let (code, ours) = run(work.distfarm(Some("localhost")).args(args));
    let words = "failed to exec no-such-compiler: No such file or directory";
    assert_says("distcc", &distcc, words);
    assert_says("distfarm", &ours, words);
    assert_eq!(code, distcc_code);
    assert_eq!(code, Some(110));
}

#[test]
fn unopenable_log_file_says_failed_to_open_logfile_and_the_compile_goes_on() {
    let work = Work::new();
    let log = work.root().join("no/such/dir/distcc.log");
    let with_log = |cmd: Cmd, out: &str| cmd.env("DISTCC_LOG", &log).args(hello_args(out));
    let (_, distcc) = run(with_log(work.distcc("localhost"), "out/a.o"));
    let (code, ours) = run(with_log(work.distfarm(Some("localhost")), "out/b.o"));
    let words = format!("failed to open logfile {}", log.display());
    assert_says("distcc", &distcc, &words);
    assert_says("distfarm", &ours, &words);
    assert_eq!(code, Some(0));
    assert_eq!(work.read("out/b.o"), work.hello_reference());
}

#[test]
fn help_texts_have_a_usage_line() {
    let work = Work::new();
    for args in [&["--help"][..], &["serve", "--help"]] {
        let out = work.distfarm(None).args(args).run();
        assert!(
            text(&out.stdout).lines().any(|l| l.starts_with("Usage:")),
            "distfarm {args:?} has no Usage: line:\n{}",
            text(&out.stdout)
        );
    }
}
