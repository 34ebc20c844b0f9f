//! A link that goes silent mid-job: packets dropped, nothing reset (RELIABILITY.md,
//! Faults). The farm is two network namespaces joined by a veth pair (support/netns.rs):
//! the wrapper runs in the client's, one server in the server's (10.77.0.1), another on the
//! client's own loopback. While the first server compiles, the server's end of the link is
//! taken down: every packet is dropped from then on, and no reset, FIN or ICMP says so.
//! Root only (CI runs as root): run with `cargo test --test integration silent_link`.

use std::process::Command;
use std::time::{Duration, Instant};

use crate::server_daemon::FakeCompiler;
use crate::support::daemon::Daemon;
use crate::support::netns::{NetPair, SERVER_IP, SUBNET};
use crate::support::wrapper::{Work, hello_args};
use crate::support::{distfarm_bin, require, set_mode, temp_dir, test_path, wait_for};

const IO_TIMEOUT: u64 = 3;

#[test]
fn a_link_dropping_every_packet_mid_job_sends_the_job_to_the_next_host_within_the_io_timeout() {
    let net = NetPair::new_for("the silent-link test");
    // The far server's gcc says it started, then takes its time (the link goes down
    // meanwhile); the near one is plain.
    let slow = slow_gcc();
    let far = serve_in(&net.server, SERVER_IP, SUBNET, &slow.1);
    let near = serve_in(
        &net.client,
        "127.0.0.1",
        "127.0.0.1",
        &test_path().to_string_lossy(),
    );

    let work = Work::new();
    let hosts = format!("{SERVER_IP}:{}/1 127.0.0.1:{}/1", far.port(), near.port());
    let wrapper = net.in_client(
        work.distfarm(Some(&hosts))
            .args(hello_args("out/hello.o"))
            .env("DISTCC_IO_TIMEOUT", IO_TIMEOUT.to_string())
            .env("DISTCC_FALLBACK", "0")
            .env("DISTCC_VERBOSE", "1"),
    );
    let mut wrapper = work.spawn(wrapper, "wrapper");
    let started = slow.0.marks.join("started");
    wait_for(
        "the far server's compiler to start",
        Duration::from_secs(30),
        || started.exists().then_some(()),
        || format!("{}\n--- far server\n{}", work.logs(), far.log()),
    );
    net.drop_every_packet();
    let cut = Instant::now();
    let status = wrapper
        .wait_timeout(Duration::from_secs(IO_TIMEOUT + 30))
        .unwrap_or_else(|| {
            panic!(
                "the wrapper still waits on the silent link\n{}",
                work.logs()
            )
        });
    let waited = cut.elapsed();
    let logs = work.logs();
    eprintln!("moved on {waited:?} after the link went silent (DISTCC_IO_TIMEOUT={IO_TIMEOUT})");
    assert!(status.success(), "{logs}\n--- near server\n{}", near.log());
    assert_eq!(work.read("out/hello.o"), work.hello_reference());
    assert!(
        near.log().contains("COMPILE_OK"),
        "the near server compiled it:\n{}",
        near.log()
    );
    assert!(
        logs.contains(&format!(
            "{SERVER_IP}:{}/1: timed out after {IO_TIMEOUT} s",
            far.port()
        )),
        "the wrapper names the silent host and the timeout:\n{logs}"
    );
    // One read bounded by the timeout, then the next host: distcc's default would wait
    // 300 s, and TCP's own retransmissions about 15 minutes.
    assert!(
        waited < Duration::from_secs(IO_TIMEOUT + 10),
        "moved on {waited:?} after the link went silent, with DISTCC_IO_TIMEOUT={IO_TIMEOUT}\n{logs}"
    );
}

/// A `gcc` (and its triplet name, which the wrapper sends) that marks `started` and waits
/// 20 s before compiling for real; and the PATH that finds it first.
fn slow_gcc() -> (FakeCompiler, String) {
    let real = require("gcc", "gcc");
    crate::server_faults::fake_gcc(&format!(
        "touch {{marks}}/started\nsleep 20\nexec {} \"$@\"",
        real.display()
    ))
}

/// `distfarm serve` in namespace `ns`, listening on `address` for clients from `allow`,
/// compilers found on `path` (unconfined: the slow compiler marks outside its job
/// directory).
fn serve_in(ns: &str, address: &str, allow: &str, path: &str) -> Daemon {
    let ip = require("ip", "iproute2");
    let own = temp_dir("serve-netns");
    set_mode(own.path(), 0o1777);
    let tmp = own.path().to_path_buf();
    let command = |port: u16| {
        let mut cmd = Command::new(&ip);
        cmd.args(["netns", "exec", ns])
            .arg(distfarm_bin())
            .args(["serve", "--no-detach", "--log-stderr", "--listen", address])
            .args(["-p", &port.to_string(), "--allow", allow, "--jobs", "1"])
            .env_clear()
            .env("PATH", path)
            .env("DISTCCD_PATH", path)
            .env("TMPDIR", &tmp)
            .env("DISTFARM_CONFINE", "0")
            .env("LC_ALL", "C");
        cmd
    };
    let ready = |port: u16, log: &str| log.contains(&format!("listening on {address}:{port}"));
    Daemon::start("distfarm serve", own, command, ready, "cannot listen")
}
