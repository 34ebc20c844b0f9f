//! The wrapper's distcc environment variables, seen from outside: `DISTCC_VERBOSE`,
//! `DISTCC_LOG`, `DISTCC_SAVE_TEMPS` with `TMPDIR`, and `DISTCC_IO_TIMEOUT` on the client.

use std::time::{Duration, Instant};

use crate::support::lock_holder;
use crate::support::wrapper::{assert_distcc_exit_code, hello_args};
use crate::support::{FakeServer, RealDistccd, Work, free_port, text};

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
    // A timeout test, with margins: the timeout is 1 s and the stalled host never answers;
    // the window only has to tell DISTCC_IO_TIMEOUT from distcc's default of 300 s.
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

/// Holds distcc's slot lock `name` in `DISTCC_DIR/lock` from another process for `secs`.
fn hold_lock(work: &Work, name: &str, secs: f64) -> std::process::Child {
    std::fs::create_dir_all(work.lock_dir()).unwrap();
    lock_holder::hold_lock(&work.lock_dir().join(name), secs)
}

/// When every slot is taken a wrapper taking slot locks itself (distcc's way: here without
/// the agent, whose queue wakes jobs instead) waits `DISTCC_PAUSE_TIME_MSEC` between rounds:
/// with the only slot held for 1 s, a 3 s pause makes it start no sooner than 3 s in, a 50 ms
/// pause soon after the lock is released — well before the 3 s run.
#[test]
fn distcc_pause_time_msec_spaces_the_rounds_of_slot_attempts() {
    let distccd = RealDistccd::start();
    let work = Work::new();
    let host = format!("{}/1", distccd.host_spec());
    let lock = format!("cpu_tcp_127.0.0.1_{}_0", distccd.port());
    let mut waited = Vec::new();
    for pause in ["3000", "50"] {
        let mut holder = hold_lock(&work, &lock, 1.0);
        let started = Instant::now();
        work.distfarm(Some(&host))
            .env("DISTCC_PAUSE_TIME_MSEC", pause)
            .env("DISTFARM_AGENT", "0")
            .env("DISTCC_FALLBACK", "0")
            .args(hello_args(&format!("out/pause-{pause}.o")))
            .run();
        waited.push(started.elapsed().as_secs_f64());
        holder.wait().unwrap();
    }
    let (long, short) = (waited[0], waited[1]);
    // Lower bounds hold on any machine (the lock and the pause guarantee them); the two runs
    // are compared with each other rather than with a clock window, so a loaded machine that
    // slows both does not fail the test.
    assert!(
        long >= 2.9,
        "with DISTCC_PAUSE_TIME_MSEC=3000 the job took {long:.2} s"
    );
    assert!(
        short >= 0.9,
        "with the slot held for 1 s the job took {short:.2} s"
    );
    assert!(
        short + 1.0 < long,
        "a 50 ms pause ({short:.2} s) starts the job well before a 3 s pause ({long:.2} s)"
    );
}

/// A host whose SYNs go unanswered (here: a listener whose backlog is full) is given up on
/// after distcc's fixed 4 s connect timeout, not the long `DISTCC_IO_TIMEOUT`.
#[test]
fn unanswered_connect_gives_up_after_four_seconds() {
    let listener =
        socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    listener
        .bind(
            &"127.0.0.1:0"
                .parse::<std::net::SocketAddr>()
                .unwrap()
                .into(),
        )
        .unwrap();
    listener.listen(0).unwrap();
    let addr = listener.local_addr().unwrap().as_socket().unwrap();
    // Fill the accept queue; later SYNs are dropped and connect() just waits.
    let mut fillers = Vec::new();
    while fillers.len() < 8 {
        match std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(200)) {
            Ok(stream) => fillers.push(stream),
            Err(_) => break,
        }
    }
    let work = Work::new();
    let started = Instant::now();
    let out = work
        .distfarm(Some(&addr.to_string()))
        .env("DISTCC_FALLBACK", "0")
        .args(hello_args("out/hello.o"))
        .output_unchecked()
        .unwrap();
    let waited = started.elapsed();
    assert_distcc_exit_code(&out);
    // A timeout test, with margins: distcc's connect timeout is 4 s, its I/O timeout 300 s.
    assert!(
        waited >= Duration::from_millis(3900) && waited < Duration::from_secs(8),
        "gave up after {waited:?}; {}",
        text(&out.stderr)
    );
    assert!(
        text(&out.stderr).contains("no answer within 4 s"),
        "{}",
        text(&out.stderr)
    );
}
