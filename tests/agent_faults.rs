//! The agent when its peers and links misbehave: a flood of queued job requests, peers that
//! send garbage, and an SSH link that goes silent (packets dropped, nothing reset). Through
//! all of it the agent stays up, its memory stays bounded, and honest wrappers are served.
//!
//! Memory is the agent's `VmRSS`/`VmHWM` from /proc; the bounds asserted here are the ones
//! RELIABILITY.md states.

use std::path::Path;
use std::time::{Duration, Instant};

use tokio::io::AsyncWriteExt;
use tokio::net::UnixStream;

use distfarm::protocol::agent::{Channel, JobRequest, Pick};
use distfarm::protocol::{Limits, TokenReader, TokenWriter};

use crate::agent::{Farm, wait_for};
use crate::support::compile::hello_reference;
use crate::support::files::read;
use crate::support::russh_server::{FreezableProxy, plain_known_hosts_line};
use crate::support::text;

/// Queued job requests in the flood.
const FLOOD: usize = 10_000;
/// How much the agent may grow (VmHWM over its size before the flood) while 10,000 jobs
/// wait in its queue. Measured: see RELIABILITY.md; the bound leaves room for allocator
/// slack, not for a leak that grows with every request.
const FLOOD_GROWTH_LIMIT_KB: u64 = 80 * 1024;
/// How much the agent may grow while peers send it garbage.
const GARBAGE_GROWTH_LIMIT_KB: u64 = 32 * 1024;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_queued_jobs_keep_the_agent_bounded_and_honest_wrappers_served() {
    let farm = Farm::start("agent-flood").await;
    farm.hello_build(1, 1, &[]).await; // starts the agent and its connection
    let pid = agent_pid(&farm);
    let before = Memory::of(pid);

    // One job holds the only slot of a one-slot entry: every request after it queues.
    let single = format!("@farmhost/1:{}", farm.path("remote/distccd").display());
    let request = job_request(&farm, &single);
    let (holder, channel) = send_and_wait_for_channel(&farm, &request).await;
    assert!(matches!(channel, Channel::Open { .. }), "{channel:?}");

    let fds_before_flood = open_fds(pid);
    let mut queued = Vec::with_capacity(FLOOD);
    for _ in 0..FLOOD {
        let mut stream = connect_when_accepted(&farm.socket()).await;
        request
            .write(&mut TokenWriter::new(&mut stream))
            .await
            .unwrap();
        queued.push(stream);
    }
    let all_accepted = wait_for(Duration::from_secs(60), || {
        open_fds(pid) >= FLOOD && view_jobs(&farm.socket()).is_some_and(|n| n > FLOOD)
    })
    .await;
    assert!(
        all_accepted,
        "the agent holds {} descriptors ({fds_before_flood} before) and shows {:?} jobs",
        open_fds(pid),
        view_jobs(&farm.socket())
    );
    let flooded = Memory::of(pid);

    // Honest wrappers on the ordinary entry are served while the flood waits.
    let outputs = farm.hello_build(2, 2, &[]).await;
    assert!(outputs.iter().all(|(_, o)| *o == *hello_reference()));

    // The flood goes away: every queued request is dropped, its place given up.
    drop(queued);
    let drained = wait_for(Duration::from_secs(60), || {
        view_jobs(&farm.socket()) == Some(1)
    })
    .await;
    assert!(
        drained,
        "the agent still shows {:?} jobs after every queued wrapper hung up",
        view_jobs(&farm.socket())
    );
    drop(holder);
    let outputs = farm.hello_build(2, 2, &[]).await;
    assert!(outputs.iter().all(|(_, o)| *o == *hello_reference()));
    let after = Memory::of(pid);
    assert_eq!(
        farm.agent_pids(),
        vec![pid],
        "the same agent served throughout"
    );

    eprintln!(
        "agent memory: before {before}, with {FLOOD} queued {flooded}, after {after} \
         ({} descriptors before the flood)",
        fds_before_flood
    );
    assert!(
        after.hwm_kb - before.rss_kb < FLOOD_GROWTH_LIMIT_KB,
        "the agent grew from {before} to a peak of {after} with {FLOOD} queued jobs"
    );
    // Hung-up requests are freed: no more fds than a handful over what it had before.
    let fds_left = open_fds(pid);
    assert!(
        fds_left <= fds_before_flood + 8,
        "{fds_left} descriptors left open, {fds_before_flood} before the flood"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn peers_sending_garbage_neither_crash_nor_grow_the_agent() {
    let farm = Farm::start("agent-garbage").await;
    farm.hello_build(1, 1, &[]).await;
    let pid = agent_pid(&farm);
    let before = Memory::of(pid);

    let valid = {
        let request = job_request(&farm, &farm.hosts());
        let mut w = TokenWriter::new(Vec::new());
        request.write(&mut w).await.unwrap();
        w.into_inner()
    };
    let mut cases: Vec<(&str, Vec<u8>)> = vec![
        ("nothing", Vec::new()),
        ("half a header", b"AGNT0000".to_vec()),
        ("bad hex", b"AGNTzzzzzzzz".to_vec()),
        ("unknown token", b"HELO00000003".to_vec()),
        ("future version", b"AGNT00000009".to_vec()),
        ("monitor of another version", b"VIEW00000007".to_vec()),
        (
            "a lying string length",
            b"AGNT00000003SSHCffffffff".to_vec(),
        ),
        (
            "a string just under its limit, then silence",
            b"AGNT00000003SSHC0003ffff".to_vec(),
        ),
        ("a lying report length", b"REPTffffffff".to_vec()),
        ("a report 16 MB long that stops", b"REPT00ffffff{".to_vec()),
        ("a report that is not JSON", b"REPT00000005hello".to_vec()),
        ("a browse that is not JSON", b"BRWS00000002{]".to_vec()),
        ("a scan of another version", b"SCAN00000063".to_vec()),
        ("a scan cut short", b"SCAN00000001CDIR00000010/tmp".to_vec()),
    ];
    let host_list = |count: &str, host: &str| {
        let mut bytes = valid.clone();
        let at = find(&bytes, b"NHST").unwrap();
        bytes.truncate(at);
        bytes.extend_from_slice(format!("NHST{count}").as_bytes());
        let host = host.as_bytes();
        bytes.extend_from_slice(format!("HOST{:08x}", host.len()).as_bytes());
        bytes.extend_from_slice(host);
        bytes
    };
    cases.push((
        "a host count of 4 billion",
        host_list("ffffffff", "@farmhost"),
    ));
    cases.push(("no host at all", host_list("00000000", "")));
    cases.push((
        "a host that does not parse",
        host_list("00000001", "@@@/x/"),
    ));
    cases.push(("a TCP host", host_list("00000001", "127.0.0.1:1")));
    cases.push(("an empty host", host_list("00000001", "")));
    cases.push((
        "hosts promised, one sent",
        host_list("00000005", "@farmhost"),
    ));
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    for round in 0..200 {
        let len = 1 + (round * 37) % 4096;
        let bytes: Vec<u8> = (0..len)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                seed as u8
            })
            .collect();
        cases.push(("random bytes", bytes));
    }

    // Every case many times at once; half of the peers stay connected after their garbage.
    let mut held = Vec::new();
    for repeat in 0..10 {
        for (_, bytes) in &cases {
            let mut stream = UnixStream::connect(farm.socket()).await.unwrap();
            let _ = stream.write_all(bytes).await;
            if repeat % 2 == 0 {
                held.push(stream);
            }
        }
    }
    // An honest wrapper while the garbage is being read.
    let outputs = farm.hello_build(2, 2, &[]).await;
    assert!(outputs.iter().all(|(_, o)| *o == *hello_reference()));
    drop(held);

    let outputs = farm.hello_build(2, 2, &[]).await;
    assert!(outputs.iter().all(|(_, o)| *o == *hello_reference()));
    let after = Memory::of(pid);
    assert_eq!(
        farm.agent_pids(),
        vec![pid],
        "the agent survived {} kinds of garbage\n--- agent log\n{}",
        cases.len(),
        farm.agent_log()
    );
    eprintln!("agent memory: before {before}, after garbage {after}");
    assert!(
        after.hwm_kb - before.rss_kb < GARBAGE_GROWTH_LIMIT_KB,
        "the agent grew from {before} to a peak of {after} reading garbage"
    );
}

/// A host whose SSH link goes silent (the relay stops moving bytes: no reset, no FIN) while
/// the agent holds a connection to it: the job moves on to the next host within a few
/// `DISTCC_IO_TIMEOUT`s, with a warning that names the silent host.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_link_sends_the_job_to_the_next_host_within_the_io_timeout() {
    let (farm, proxy) = farm_with_a_freezable_host("agent-silent-next").await;
    let silent = format!("@frozenhost/2:{}", farm.path("remote/distccd").display());
    // The agent connects through the relay while it still works.
    let warm = farm
        .hello("warm.o", &[("DISTCC_HOSTS", &silent)])
        .output()
        .unwrap();
    assert!(warm.status.success(), "{}", text(&warm.stderr));
    proxy.freeze();

    let both = format!("{silent} {}", farm.hosts());
    let started = Instant::now();
    let out = farm
        .hello(
            "moved.o",
            &[("DISTCC_HOSTS", &both), ("DISTCC_IO_TIMEOUT", "2")],
        )
        .output()
        .unwrap();
    let waited = started.elapsed();
    let stderr = text(&out.stderr);
    eprintln!("moved on from the silent host in {waited:?} (DISTCC_IO_TIMEOUT=2)");
    assert!(
        out.status.success(),
        "{stderr}\n--- agent log\n{}",
        farm.agent_log()
    );
    assert_eq!(read(&farm.path("out/moved.o")), *hello_reference());
    assert!(
        stderr.contains("frozenhost") && stderr.contains("timed out"),
        "the warning names the silent host and the timeout ({waited:?}): {stderr}\n--- agent log\n{}",
        farm.agent_log()
    );
    // Two attempts on the silent host (one retry on a fresh channel), each bounded by the
    // 2 s timeout, then the next host: far below distcc's default of 300 s.
    assert!(
        waited < Duration::from_secs(20),
        "moved on after {waited:?} with DISTCC_IO_TIMEOUT=2\n{stderr}"
    );
}

/// The same silent link as the only host, with fallback allowed: the job is compiled here
/// within a few `DISTCC_IO_TIMEOUT`s, and the agent is still there for the next build.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_only_host_falls_back_to_a_local_compile_within_the_io_timeout() {
    let (farm, proxy) = farm_with_a_freezable_host("agent-silent-local").await;
    let silent = format!("@frozenhost/2:{}", farm.path("remote/distccd").display());
    let warm = farm
        .hello("warm.o", &[("DISTCC_HOSTS", &silent)])
        .output()
        .unwrap();
    assert!(warm.status.success(), "{}", text(&warm.stderr));
    let pid = agent_pid(&farm);
    proxy.freeze();

    let started = Instant::now();
    let out = farm
        .hello(
            "local.o",
            &[
                ("DISTCC_HOSTS", &silent),
                ("DISTCC_IO_TIMEOUT", "2"),
                ("DISTCC_FALLBACK", "1"),
            ],
        )
        .output()
        .unwrap();
    let waited = started.elapsed();
    let stderr = text(&out.stderr);
    eprintln!("fell back from the silent host in {waited:?} (DISTCC_IO_TIMEOUT=2)");
    assert!(out.status.success(), "{stderr}");
    assert_eq!(read(&farm.path("out/local.o")), *hello_reference());
    assert!(
        stderr.contains("frozenhost") && stderr.contains("timed out") && stderr.contains("local"),
        "the warning says the host timed out and the job ran here: {stderr}"
    );
    assert!(
        waited < Duration::from_secs(20),
        "fell back after {waited:?} with DISTCC_IO_TIMEOUT=2\n{stderr}"
    );
    // The frozen job's slot is given back when its wrapper gives up: a healthy host is
    // served by the same agent at once.
    let outputs = farm.hello_build(2, 2, &[]).await;
    assert!(outputs.iter().all(|(_, o)| *o == *hello_reference()));
    assert_eq!(farm.agent_pids(), vec![pid]);
}

/// A job whose link goes silent after its channel opened: its wrapper gives up (its
/// `DISTCC_IO_TIMEOUT`) and leaves, and the agent gives the job's slot back at once rather
/// than wait for a host that may never answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_cut_off_by_a_silent_link_gives_its_slot_back_when_its_wrapper_leaves() {
    let (farm, proxy) = farm_with_a_freezable_host("agent-silent-slot").await;
    let silent = format!("@frozenhost/1:{}", farm.path("remote/distccd").display());
    let warm = farm
        .hello("warm.o", &[("DISTCC_HOSTS", &silent)])
        .output()
        .unwrap();
    assert!(warm.status.success(), "{}", text(&warm.stderr));
    let request = job_request(&farm, &silent);
    let (mut stream, channel) = send_and_wait_for_channel(&farm, &request).await;
    assert!(matches!(channel, Channel::Open { .. }), "{channel:?}");
    proxy.freeze();
    // The job's first bytes go out; nothing comes back; the wrapper leaves.
    stream.write_all(b"DIST00000001").await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    drop(stream);

    // The one slot of the entry is free for the next job.
    let mut next = UnixStream::connect(farm.socket()).await.unwrap();
    request
        .write(&mut TokenWriter::new(&mut next))
        .await
        .unwrap();
    let mut reader = TokenReader::new(next, Limits::default());
    let pick = tokio::time::timeout(Duration::from_secs(10), Pick::read(&mut reader)).await;
    assert!(
        matches!(pick, Ok(Ok(Pick::Host { index: 0, .. }))),
        "the next job got {pick:?}: the silent job still holds the slot\n--- agent log\n{}",
        farm.agent_log()
    );
}

// ---------------------------------------------------------------------------------------

/// A farm whose ssh_config also has `frozenhost`: the same server behind a relay that can be
/// frozen.
async fn farm_with_a_freezable_host(label: &str) -> (Farm, FreezableProxy) {
    let farm = Farm::start(label).await;
    let proxy = FreezableProxy::start(farm.server.addr()).await;
    let port = proxy.addr().port();
    let config = farm.path("ssh_config");
    let ours = std::fs::read_to_string(&config).unwrap();
    let frozen = ours
        .replacen("Host farmhost", "Host frozenhost", 1)
        .replace(
            &format!("Port {}", farm.server.port()),
            &format!("Port {port}"),
        );
    std::fs::write(&config, format!("{ours}{frozen}")).unwrap();
    let known = farm.path("known_hosts");
    let mut lines = std::fs::read_to_string(&known).unwrap();
    lines.push_str(&plain_known_hosts_line(
        &format!("[127.0.0.1]:{port}"),
        &farm.server.host_key(),
    ));
    lines.push('\n');
    std::fs::write(&known, lines).unwrap();
    (farm, proxy)
}

fn job_request(farm: &Farm, host: &str) -> JobRequest {
    JobRequest {
        ssh_config: Some(farm.path("ssh_config").display().to_string()),
        auth_sock: None,
        backoff: Duration::from_secs(60),
        slot_held: false,
        pid: std::process::id(),
        file: "flood.c".into(),
        hosts: vec![host.to_string()],
    }
}

/// Sends `request` and waits for its host and channel; the stream stays open (the job holds
/// its slot until it is dropped).
async fn send_and_wait_for_channel(farm: &Farm, request: &JobRequest) -> (UnixStream, Channel) {
    let mut stream = UnixStream::connect(farm.socket()).await.unwrap();
    request
        .write(&mut TokenWriter::new(&mut stream))
        .await
        .unwrap();
    let mut reader = TokenReader::new(stream, Limits::default());
    let pick = Pick::read(&mut reader).await.unwrap();
    assert!(matches!(pick, Pick::Host { index: 0, .. }), "{pick:?}");
    let channel = Channel::read(&mut reader).await.unwrap();
    (reader.into_inner(), channel)
}

/// How many jobs the agent's monitor view shows (running and queued), or `None` if it
/// does not answer.
fn view_jobs(socket: &Path) -> Option<usize> {
    let socket = socket.to_path_buf();
    let run = async move {
        let mut stream = UnixStream::connect(&socket).await.ok()?;
        distfarm::protocol::agent::write_view_request(&mut TokenWriter::new(&mut stream))
            .await
            .ok()?;
        let view =
            distfarm::protocol::agent::read_view(&mut TokenReader::new(stream, Limits::default()))
                .await
                .ok()?;
        Some(view.jobs.len())
    };
    // Called from a blocking predicate: a small runtime of its own.
    std::thread::spawn(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(async {
                tokio::time::timeout(Duration::from_secs(10), run)
                    .await
                    .ok()?
            })
    })
    .join()
    .unwrap()
}

/// Connects to the agent, waiting while its listen queue is full (as a wrapper does).
async fn connect_when_accepted(socket: &Path) -> UnixStream {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        match UnixStream::connect(socket).await {
            Ok(stream) => return stream,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock && Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(5)).await
            }
            Err(e) => panic!("cannot connect to the agent at {}: {e}", socket.display()),
        }
    }
}

fn agent_pid(farm: &Farm) -> i32 {
    let pids = farm.agent_pids();
    assert_eq!(pids.len(), 1, "one agent runs: {pids:?}");
    pids[0]
}

fn open_fds(pid: i32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| d.count())
        .unwrap_or(0)
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// A process's resident size now and at its peak, from /proc/PID/status.
struct Memory {
    rss_kb: u64,
    hwm_kb: u64,
}

impl Memory {
    fn of(pid: i32) -> Memory {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
        let field = |name: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
                .unwrap_or_else(|| panic!("no {name} in /proc/{pid}/status"))
        };
        Memory {
            rss_kb: field("VmRSS:"),
            hwm_kb: field("VmHWM:"),
        }
    }
}

impl std::fmt::Display for Memory {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        write!(
            f,
            "VmRSS {} MB (peak {} MB)",
            self.rss_kb / 1024,
            self.hwm_kb / 1024
        )
    }
}

/// An agent with no descriptor left for another wrapper (its `ulimit -n` reached) waits for
/// jobs to end instead of retrying `accept` at once for ever (a core spent spinning), and
/// serves again when descriptors free.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_out_of_descriptors_waits_without_spinning_and_then_serves() {
    use std::os::unix::process::CommandExt;
    let farm = Farm::start("agent-nofile").await;
    std::fs::create_dir_all(farm.socket().parent().unwrap()).unwrap();
    // Started here, not by a wrapper, to give it a low descriptor limit.
    let mut agent = std::process::Command::new(crate::support::distfarm_bin());
    agent
        .args(["agent", "--socket"])
        .arg(farm.socket())
        .args(["--idle", "60", "--lock-dir"])
        .arg(farm.path("distcc_dir/lock"))
        .stdout(std::process::Stdio::piped())
        .stderr(std::fs::File::create(farm.path("agent-nofile.log")).unwrap());
    unsafe {
        agent.pre_exec(|| {
            nix::sys::resource::setrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE, 64, 64)
                .map_err(std::io::Error::from)
        });
    }
    let mut agent = agent.spawn().unwrap();
    let pid = agent.id() as i32;
    let mut ready = [0u8; 1];
    std::io::Read::read(agent.stdout.as_mut().unwrap(), &mut ready).unwrap();
    farm.hello_build(1, 1, &[]).await;

    // Idle peers take every descriptor the agent has, and more wait in its listen queue.
    let mut idle = Vec::new();
    for _ in 0..200 {
        idle.push(connect_when_accepted(&farm.socket()).await);
    }
    let saturated = wait_for(Duration::from_secs(10), || open_fds(pid) >= 60).await;
    assert!(saturated, "the agent holds {} descriptors", open_fds(pid));
    tokio::time::sleep(Duration::from_millis(500)).await;
    let cpu_before = cpu_ticks(pid);
    tokio::time::sleep(Duration::from_secs(3)).await;
    let spent = cpu_ticks(pid) - cpu_before;
    // Ten failed accepts a second cost nothing; a loop retrying at once takes whatever CPU
    // it can get (tens of ticks in 3 s even on a loaded machine).
    assert!(
        spent < 10,
        "the agent spent {spent} CPU ticks in 3 s while out of descriptors\n--- agent log\n{}",
        read_text_lossy(&farm.path("agent-nofile.log"))
    );

    drop(idle);
    let outputs = farm.hello_build(2, 2, &[]).await;
    assert!(outputs.iter().all(|(_, o)| *o == *hello_reference()));
    assert_eq!(farm.agent_pids(), vec![pid], "the same agent serves again");
    assert!(
        read_text_lossy(&farm.path("agent-nofile.log")).contains("ulimit -n"),
        "the agent says why it cannot take more wrappers"
    );
    crate::support::procs::kill(pid);
    let _ = agent.wait();
}

/// A live agent whose listen queue is full (a burst of wrappers, or an agent paused for a
/// moment) is waited for: the wrapper neither starts a second agent nor goes around it with
/// an SSH connection of its own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrapper_waits_for_an_agent_whose_queue_is_full() {
    use nix::sys::signal::{Signal, kill};
    use nix::unistd::Pid;
    let farm = Farm::start("agent-busy").await;
    farm.hello_build(1, 1, &[]).await;
    let pid = agent_pid(&farm);
    kill(Pid::from_raw(pid), Signal::SIGSTOP).unwrap();
    let resume = scopeguard_continue(pid);
    // Fill the listen queue of the paused agent until the kernel refuses more.
    let mut queued = Vec::new();
    loop {
        match UnixStream::connect(farm.socket()).await {
            Ok(stream) => queued.push(stream),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
            Err(e) => panic!("{e}"),
        }
        assert!(queued.len() < 20_000, "the listen queue never filled");
    }
    let cmd = farm.hello("busy.o", &[]);
    let wrapper = std::thread::spawn(move || cmd.output().unwrap());
    // Well past the 3 s a wrapper waits for a freshly started agent, with room for the
    // wrapper's own start on a loaded machine.
    tokio::time::sleep(Duration::from_secs(10)).await;
    drop(resume);
    drop(queued);
    let out = tokio::task::spawn_blocking(move || wrapper.join().unwrap())
        .await
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(read(&farm.path("out/busy.o")), *hello_reference());
    assert_eq!(
        farm.server.stats().connections(),
        1,
        "the job went through the agent's connection, not one of its own\n--- agent log\n{}",
        farm.agent_log()
    );
    assert_eq!(farm.agent_pids(), vec![pid]);
}

/// SIGCONT to `pid` when dropped, whatever the test did.
fn scopeguard_continue(pid: i32) -> impl Drop {
    struct Continue(i32);
    impl Drop for Continue {
        fn drop(&mut self) {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(self.0),
                nix::sys::signal::Signal::SIGCONT,
            );
        }
    }
    Continue(pid)
}

/// User and system CPU time of `pid`, in clock ticks.
fn cpu_ticks(pid: i32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let fields: Vec<&str> = stat[stat.rfind(')').unwrap() + 2..]
        .split_whitespace()
        .collect();
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after `pid (comm) `.
    fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap()
}

fn read_text_lossy(path: &Path) -> String {
    String::from_utf8_lossy(&std::fs::read(path).unwrap_or_default()).into_owned()
}
