//! The wrapper's distcc environment variables, seen from outside: `DISTCC_VERBOSE`,
//! `DISTCC_LOG`, `DISTCC_SAVE_TEMPS` with `TMPDIR`, and `DISTCC_IO_TIMEOUT` on the client.

mod support;

use std::time::{Duration, Instant};

use support::wrapper::{assert_distcc_exit_code, hello_args};
use support::{FakeServer, RealDistccd, Work, free_port, text};

#[test]
fn distcc_verbose_names_the_host_that_compiled_the_job() {
    let distccd = RealDistccd::start();
    let work = Work::new();
    let quiet = work
        .distfarm(Some(&distccd.host_spec()))
        .args(hello_args("out/quiet.o"))
        .run();
    assert_eq!(
        text(&quiet.stderr),
        "",
        "without DISTCC_VERBOSE a good job prints nothing"
    );

    let loud = work
        .distfarm(Some(&distccd.host_spec()))
        .env("DISTCC_VERBOSE", "1")
        .args(hello_args("out/loud.o"))
        .run();
    let stderr = text(&loud.stderr);
    assert!(
        stderr.contains(&format!("hello.c compiled on {}", distccd.host_spec())),
        "{stderr}"
    );
    assert_eq!(work.read("out/loud.o"), work.hello_reference());
}

#[test]
fn distcc_log_takes_the_messages_off_stderr_into_the_file() {
    let work = Work::new();
    let log = work.path("distfarm.log");
    let dead = format!("127.0.0.1:{}", free_port());
    let out = work
        .distfarm(Some(&dead))
        .env("DISTCC_LOG", &log)
        .args(hello_args("out/hello.o"))
        .run();
    assert_eq!(
        text(&out.stderr),
        "",
        "with DISTCC_LOG nothing goes to stderr"
    );
    let logged = std::fs::read_to_string(&log).expect("DISTCC_LOG file written");
    assert!(
        logged.contains("failed to distribute hello.c") && logged.contains(&dead),
        "{logged}"
    );
    assert_eq!(work.read("out/hello.o"), work.hello_reference());
}

#[test]
fn distcc_save_temps_keeps_the_preprocessed_source_in_tmpdir() {
    let distccd = RealDistccd::start();
    let work = Work::new();
    let tmpdir = work.path("kept");
    std::fs::create_dir_all(&tmpdir).unwrap();
    work.distfarm(Some(&distccd.host_spec()))
        .env("DISTCC_SAVE_TEMPS", "1")
        .env("TMPDIR", &tmpdir)
        .args(hello_args("out/hello.o"))
        .run();
    let kept: Vec<_> = std::fs::read_dir(&tmpdir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(kept.len(), 1, "{kept:?}");
    let name = kept[0].file_name().unwrap().to_string_lossy().into_owned();
    assert!(
        name.starts_with("distfarm_") && name.ends_with(".i"),
        "{name}"
    );
    let source = std::fs::read_to_string(&kept[0]).unwrap();
    assert!(
        source.starts_with("# 0 \"hello.c\""),
        "the kept file is the preprocessed hello.c:\n{source}"
    );

    // Without it, TMPDIR stays empty.
    let clean = work.path("clean");
    std::fs::create_dir_all(&clean).unwrap();
    work.distfarm(Some(&distccd.host_spec()))
        .env("TMPDIR", &clean)
        .args(hello_args("out/hello2.o"))
        .run();
    assert_eq!(std::fs::read_dir(&clean).unwrap().count(), 0);
}

#[test]
fn distcc_io_timeout_gives_up_on_a_host_that_never_answers() {
    let stalled = FakeServer::stalling();
    let work = Work::new();
    let started = Instant::now();
    let out = work
        .distfarm(Some(&stalled.host_spec()))
        .env("DISTCC_IO_TIMEOUT", "1")
        .env("DISTCC_FALLBACK", "0")
        .args(hello_args("out/hello.o"))
        .output_unchecked()
        .unwrap();
    let waited = started.elapsed();
    stalled.release_all();
    assert_distcc_exit_code(&out);
    assert!(
        waited >= Duration::from_millis(900) && waited < Duration::from_secs(10),
        "gave up after {waited:?}, expected about DISTCC_IO_TIMEOUT=1 s"
    );
    assert!(
        text(&out.stderr).contains("timed out"),
        "{}",
        text(&out.stderr)
    );
    assert!(!work.path("out/hello.o").exists());
}
