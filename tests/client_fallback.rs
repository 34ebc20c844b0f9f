//! What the wrapper does when distributing goes wrong: a dead host, a host that answers
//! garbage, a compile error, a preprocessor error, an answer cut short, a wrapper killed
//! mid-answer. Transport failures back the host off and fall back (or fail with a distcc exit
//! code under `DISTCC_FALLBACK=0`); compile errors are the compiler's answer, reported as a
//! local gcc reports them, and never held against the host; no failure leaves a half object.

use std::io::{Read, Write};
use std::net::Shutdown;
use std::process::Output;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crate::support::fake_server::read_request;
use crate::support::wire::token;
use crate::support::wrapper::{assert_distcc_exit_code, hello_args};
use crate::support::{ChildGuard, Cmd, FakeServer, RealDistccd, Work, free_port, text, wait_for};

// ---------------------------------------------------------------------------------------
// Dead host
// ---------------------------------------------------------------------------------------

#[test]
fn dead_host_falls_back_to_local_with_one_warning_naming_file_host_and_reason() {
    let work = Work::new();
    let host = format!("127.0.0.1:{}", free_port());
    let out = work
        .distfarm(Some(&host))
        .args(hello_args("out/hello.o"))
        .run();

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
    let out = hello_without_fallback(&work, &host).run_expect_failure();

    assert_distcc_exit_code(&out);
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("hello.c") && stderr.contains(&host),
        "the error should name the file and the host:\n{stderr}"
    );
    assert_no_object(&work, "no object may be left when the job failed");
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
    let hosts = format!("{} {}", junk.host_spec(), distccd.host_spec());
    // No fallback: a local compile cannot stand in for the second host.
    let run = || hello_without_fallback(&work, &hosts).run();

    run();
    assert!(
        junk.accepted() >= 1,
        "the garbage host (listed first) was never tried"
    );
    let backoff = format!("backoff_tcp_127.0.0.1_{}_0", junk.port());
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
    distccd.wait_for_log_lines(" COMPILE_OK ", 1);
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
    distccd.wait_for_log_lines(" COMPILE_OK ", 2);
    assert_eq!(work.read("out/hello.o"), work.hello_reference());
}

/// `,cpp,lzo` is pump mode: the real distccd gets a protocol-3 job (its debug log shows the
/// file list) and the wrapper, which needs no include server, says nothing.
#[test]
fn cpp_host_gets_a_pump_job_without_a_word_from_the_wrapper() {
    let mut distccd = RealDistccd::builder().arg("--log-level=debug").start();
    let work = Work::new();
    let hosts = format!("{},cpp,lzo", distccd.host_spec());
    let out = hello_without_fallback(&work, &hosts).run();

    assert_eq!(text(&out.stderr).trim(), "", "the wrapper said something");
    distccd.wait_for_log_lines(" COMPILE_OK ", 1);
    assert_eq!(
        distccd.log_lines("got NFIL", 1).len(),
        1,
        "{}",
        distccd.log()
    );
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
        .distfarm(Some(&distccd.host_spec()))
        .arg("gcc")
        .args(args)
        .run_expect_failure();

    distccd.wait_for_log_lines(" COMPILE_ERROR ", 1);
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
            .distfarm(Some(&distccd.host_spec()))
            .env("DISTCC_SKIP_LOCAL_RETRY", "1")
            .env("DISTCC_FALLBACK", fallback)
            .arg("gcc")
            .args(args)
            .run_expect_failure();
        assert_same_failure(&out, &local);
        assert!(!work.path("out/error.o").exists());
    }
    distccd.wait_for_log_lines(" COMPILE_ERROR ", 2);
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
    let mut distccd = RealDistccd::start();
    let work = Work::new();
    std::fs::write(
        work.path("needs-missing.c"),
        "#include \"no-such-header.h\"\nint f(void) { return 1; }\n",
    )
    .unwrap();
    let args = ["-c", "needs-missing.c", "-o", "out/missing.o"];
    let local = work.gcc().args(args).run_expect_failure();

    for skip in [false, true] {
        let mut cmd = work
            .distfarm(Some(&distccd.host_spec()))
            .arg("gcc")
            .args(args);
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
    let compiled = distccd.log_lines("COMPILE_OK", 0);
    assert!(compiled.is_empty(), "{}", distccd.log());
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
    let host = server.host_spec();
    let work = Work::new();

    // No object before: none after.
    let out = hello_without_fallback(&work, &host).run_expect_failure();
    assert_distcc_exit_code(&out);
    assert_eq!(server.accepted(), 1, "the server was not asked");
    assert_no_object(&work, "a truncated object was written");

    // An object from an earlier build: kept as it was (or removed), never half-replaced.
    let previous = b"previous build's object".to_vec();
    std::fs::write(work.path("out/hello.o"), &previous).unwrap();
    std::fs::remove_dir_all(work.lock_dir()).unwrap(); // forget the backoff
    let out = hello_without_fallback(&work, &host).run_expect_failure();
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
        hello_without_fallback(&work, &server.host_spec()).to_command(),
        "distfarm waiting for the rest of an object",
    );
    wait_for(
        "the fake server to send half an object",
        Duration::from_secs(20),
        || sent.load(Ordering::SeqCst).then_some(()),
        String::new,
    );
    std::thread::sleep(Duration::from_millis(200));
    assert!(
        wrapper.try_wait().is_none(),
        "the wrapper should still be waiting"
    );
    wrapper.kill();
    assert_no_object(&work, "a killed job left an object");
}

// ---------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------

/// `distfarm gcc -O2 -c hello.c -o out/hello.o` through `hosts`, remote or fail.
fn hello_without_fallback(work: &Work, hosts: &str) -> Cmd {
    work.distfarm(Some(hosts))
        .env("DISTCC_FALLBACK", "0")
        .args(hello_args("out/hello.o"))
}

/// No `out/hello.o` (else `why`), and nothing else in `out/` either.
#[track_caller]
fn assert_no_object(work: &Work, why: &str) {
    assert!(!work.path("out/hello.o").exists(), "{why}");
    assert_eq!(
        work.out_files(),
        Vec::<String>::new(),
        "files left in the output directory"
    );
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

// ---------------------------------------------------------------------------------------
// Fake answers
// ---------------------------------------------------------------------------------------

/// A well-formed success header whose `DOTO` promises 64 KiB, followed by only 100 bytes.
fn short_object_answer(version: u32) -> Vec<u8> {
    let mut answer = [
        token("DONE", version),
        token("STAT", 0),
        token("SERR", 0),
        token("SOUT", 0),
        token("DOTO", 0x10000),
    ]
    .concat();
    answer.extend_from_slice(b"\x7fELF");
    answer.resize(answer.len() + 96, 0);
    answer
}
