//! distfarm and the real distcc 3.4 sharing one `DISTCC_DIR`: each respects the other's
//! fcntl slot locks (waiting for a busy slot, or taking another host's), and the real
//! `distccmon-text` shows distfarm's running jobs from the state files.
//!
//! A "stalling" server accepts a job and never answers, so whoever holds its slot keeps it
//! until the test lets go (by killing that client or closing the connection).

use std::time::Duration;

use crate::support::wrapper::hello_args;
use crate::support::{Cmd, FakeServer, RealDistccd, Work, list, require, text, wait_for};

// ---------------------------------------------------------------------------------------
// The monitor
// ---------------------------------------------------------------------------------------

#[test]
fn distccmon_text_shows_a_running_distfarm_job_and_the_state_file_goes_with_it() {
    let stall = FakeServer::stalling();
    let work = Work::new();
    let hosts = format!("{}/1", stall.host_spec());
    let mut job = work.spawn(Client::Distfarm.cmd(&work, &hosts, "out/hello.o"), "job");

    let line = wait_for(
        "distccmon-text to show hello.c",
        Duration::from_secs(20),
        || {
            let out = distccmon_text(&work);
            out.lines()
                .find(|l| l.contains("hello.c"))
                .map(String::from)
        },
        || work.logs(),
    );
    assert!(
        line.contains("127.0.0.1"),
        "the monitor line should name the host: {line:?}"
    );
    assert!(
        line.trim_start().starts_with(&job.id().to_string()),
        "the monitor line should carry the wrapper's pid {}: {line:?}",
        job.id()
    );
    let state = work
        .distcc_dir()
        .join(format!("state/binstate_{}", job.id()));
    assert!(
        state.exists(),
        "{} missing while the job runs",
        state.display()
    );

    // The server goes away: the wrapper falls back to a local compile and ends. (The monitor
    // shows the job from its Connect phase on: make sure there is a connection to hang up.)
    stall.wait_for_accepted(1, "the wrapper to reach the server", || work.logs());
    stall.release_all();
    let status = job
        .wait_timeout(Duration::from_secs(60))
        .unwrap_or_else(|| panic!("the wrapper did not finish:\n{}", work.logs()));
    assert!(status.success(), "{status:?}\n{}", work.logs());
    assert_eq!(work.read("out/hello.o"), work.hello_reference());
    assert!(
        !state.exists(),
        "{} left behind after the job ended",
        state.display()
    );
    assert_eq!(list(&work.distcc_dir().join("state")), Vec::<String>::new());
    assert!(
        !distccmon_text(&work).contains("hello.c"),
        "{}",
        distccmon_text(&work)
    );
}

// ---------------------------------------------------------------------------------------
// Slot locks shared with distcc
// ---------------------------------------------------------------------------------------

#[test]
fn distfarm_waits_for_the_only_slot_while_real_distcc_holds_it() {
    waiter_respects_holder(Client::Distcc, Client::Distfarm);
}

#[test]
fn real_distcc_waits_for_the_only_slot_while_distfarm_holds_it() {
    waiter_respects_holder(Client::Distfarm, Client::Distcc);
}

#[test]
fn distfarm_takes_the_free_host_while_real_distcc_holds_the_busy_one() {
    second_client_takes_the_free_host(Client::Distcc, Client::Distfarm);
}

#[test]
fn real_distcc_takes_the_free_host_while_distfarm_holds_the_busy_one() {
    second_client_takes_the_free_host(Client::Distfarm, Client::Distcc);
}

/// One host, one slot. `holder` takes it and stalls on the server; `waiter` must not connect
/// while the slot is held, and must connect as soon as the holder dies (its lock with it).
fn waiter_respects_holder(holder: Client, waiter: Client) {
    let stall = FakeServer::stalling();
    let work = Work::new();
    let hosts = format!("{}/1", stall.host_spec());
    let mut first = work.spawn(holder.cmd(&work, &hosts, "out/first.o"), "holder");
    stall.wait_for_accepted(1, "the holder to reach the server", || work.logs());

    let mut second = work.spawn(waiter.cmd(&work, &hosts, "out/second.o"), "waiter");
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(
        stall.accepted(),
        1,
        "{waiter:?} connected to a host whose only slot {holder:?} holds\n{}",
        work.logs()
    );
    assert!(
        second.try_wait().is_none(),
        "{waiter:?} should be waiting for the slot\n{}",
        work.logs()
    );

    first.kill();
    stall.wait_for_accepted(2, "the waiter to take the freed slot", || work.logs());
    // Let the waiter go: the server hangs up, the job is compiled locally instead.
    stall.release_all();
    let status = second
        .wait_timeout(Duration::from_secs(60))
        .unwrap_or_else(|| panic!("{waiter:?} did not finish:\n{}", work.logs()));
    assert!(status.success(), "{waiter:?}: {status:?}\n{}", work.logs());
    assert_eq!(work.read("out/second.o"), work.hello_reference());
}

/// Two hosts, one slot each, the stalling one first. `holder` takes the first; `second`
/// must skip its busy slot and compile on the real distccd (no fallback allowed).
fn second_client_takes_the_free_host(holder: Client, second: Client) {
    let stall = FakeServer::stalling();
    let mut distccd = RealDistccd::start();
    let work = Work::new();
    let hosts = format!("{}/1 {}/1", stall.host_spec(), distccd.host_spec());
    let _first = work.spawn(holder.cmd(&work, &hosts, "out/first.o"), "holder");
    stall.wait_for_accepted(1, "the holder to reach the first host", || work.logs());

    let out = second
        .cmd(&work, &hosts, "out/second.o")
        .env("DISTCC_FALLBACK", "0")
        .timeout(Duration::from_secs(30))
        .output()
        .unwrap_or_else(|e| panic!("{second:?} failed: {e}\n{}", work.logs()));
    assert_eq!(
        stall.accepted(),
        1,
        "{second:?} connected to the host whose only slot {holder:?} holds"
    );
    assert!(
        !distccd.log_lines(" COMPILE_OK ", 1).is_empty(),
        "{second:?} did not compile on the free host; distccd log:\n{}\n{out:?}",
        distccd.log()
    );
    assert_eq!(work.read("out/second.o"), work.hello_reference());
}

// ---------------------------------------------------------------------------------------
// Clients sharing a DISTCC_DIR
// ---------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Client {
    Distfarm,
    Distcc,
}

impl Client {
    /// `distfarm gcc …` or `distcc gcc …` compiling hello.c to `output` in the work area:
    /// every client shares its `DISTCC_DIR`.
    fn cmd(self, work: &Work, hosts: &str, output: &str) -> Cmd {
        let cmd = match self {
            Client::Distfarm => work.distfarm(Some(hosts)),
            Client::Distcc => work.distcc(hosts),
        };
        cmd.args(hello_args(output))
    }
}

/// What the real `distccmon-text` prints once for the shared `DISTCC_DIR`.
fn distccmon_text(work: &Work) -> String {
    let out = work
        .env(Cmd::new(require("distccmon-text", "distcc")), None)
        .timeout(Duration::from_secs(10))
        .run();
    text(&out.stdout)
}
