//! `distfarm serve` under load and abuse, on loopback: honest jobs at full rate (Lua 5.4's
//! sources, each answer compared byte for byte with a local `gcc -c` of the same preprocessed
//! input) while, at the same time, 1,000 connections sit idle, slow senders trickle a byte a
//! second, liars claim bodies of gigabytes and stop, clients vanish mid-request, mid-compile
//! and mid-answer, and pump-mode (protocol 3) trees of 100,000 entries arrive. Throughout,
//! the server's compilers are counted in /proc (never more than `--jobs`) and its peak RSS is
//! read (VmHWM); afterwards its descriptors, job directories and children are counted again
//! and a new honest job must be answered within a second.
//!
//! cargo build --release && cargo run --release --example server_load -- [--seconds 60]
//!     [--jobs 2] [--idle 1000] [--slow 40] [--liars 20] [--vanish 6] [--trees 1]
//!     [--tree-entries 100000] [--rss-bound-mb 128]
//!
//! Run as root the server drops to `distcc`/`nobody`; its TMPDIR is a 01777 directory here.
//! Each kind of client connects from its own loopback address (127.0.0.x), as separate
//! machines would: `--max-per-address` (default 128) applies to each.

use std::collections::HashSet;
use std::net::{Ipv4Addr, SocketAddr};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use distfarm::protocol::file_tree::{TreeEntry, write_tree};
use distfarm::protocol::{
    Limits, Request, RequestHeader, Response, TokenReader, TokenWriter, Version,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

/// What to throw at the server; every count can be changed on the command line.
#[derive(Debug, Clone)]
struct Load {
    seconds: u64,
    jobs: usize,
    idle: usize,
    slow: usize,
    liars: usize,
    vanish: usize,
    trees: usize,
    tree_entries: usize,
    rss_bound_mb: u64,
}

impl Load {
    fn from_args() -> Load {
        let mut load = Load {
            seconds: 60,
            jobs: 2,
            idle: 1000,
            slow: 40,
            liars: 20,
            vanish: 6,
            trees: 1,
            tree_entries: 100_000,
            rss_bound_mb: 128,
        };
        let args: Vec<String> = std::env::args().skip(1).collect();
        for pair in args.chunks(2) {
            let value = || -> u64 {
                pair.get(1)
                    .and_then(|v| v.parse().ok())
                    .unwrap_or_else(|| panic!("{} needs a number", pair[0]))
            };
            match pair[0].as_str() {
                "--seconds" => load.seconds = value(),
                "--jobs" => load.jobs = value() as usize,
                "--idle" => load.idle = value() as usize,
                "--slow" => load.slow = value() as usize,
                "--liars" => load.liars = value() as usize,
                "--vanish" => load.vanish = value() as usize,
                "--trees" => load.trees = value() as usize,
                "--tree-entries" => load.tree_entries = value() as usize,
                "--rss-bound-mb" => load.rss_bound_mb = value(),
                other => panic!("unknown option {other} (see the comment at the top of the file)"),
            }
        }
        load
    }
}

/// Counts of what happened, shared by every client task.
#[derive(Default)]
struct Counts {
    honest_ok: AtomicUsize,
    honest_failed: AtomicUsize,
    honest_mismatch: AtomicUsize,
    honest_max_ms: AtomicU64,
    idle_dropped: AtomicUsize,
    idle_open: AtomicUsize,
    idle_most_open: AtomicUsize,
    idle_connects_failed: AtomicUsize,
    slow_dropped: AtomicUsize,
    lies_told: AtomicUsize,
    vanished: AtomicUsize,
    trees_sent: AtomicUsize,
    trees_answered: AtomicUsize,
    tree_max_ms: AtomicU64,
}

/// One Lua unit: the request's command line, its preprocessed source and the object a local
/// gcc makes of that source.
struct Unit {
    name: String,
    argv: Vec<String>,
    source: Vec<u8>,
    reference: Vec<u8>,
}

const COMPILE_FLAGS: [&str; 2] = ["-O2", "-std=gnu99"];

fn main() {
    let load = Load::from_args();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let ok = runtime.block_on(run(load));
    std::process::exit(if ok { 0 } else { 1 });
}

async fn run(load: Load) -> bool {
    let distfarm = distfarm_binary();
    let work = tempfile::Builder::new()
        .prefix("server-load-")
        .tempdir()
        .expect("temp dir");
    let tmpdir = work.path().join("tmp");
    std::fs::create_dir(&tmpdir).unwrap();
    std::fs::set_permissions(work.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(&tmpdir, std::fs::Permissions::from_mode(0o1777)).unwrap();

    eprintln!("preparing Lua's sources (gcc -E, and gcc -c of each for the reference) …");
    let units = Arc::new(lua_units(&work.path().join("lua")));
    let (mut server, port) = start_server(
        &distfarm,
        &tmpdir,
        &work.path().join("server.log"),
        load.jobs,
    );
    let pid = server.id();
    let log = work.path().join("server.log");

    // One job first, so that what a server sets up once (gcc's plan) is not counted as a
    // leak; then the baseline.
    let counts = Arc::new(Counts::default());
    if !honest_job(port, &units[0], Version::V1, &counts).await {
        eprintln!("the first honest job failed:\n{}", read(&log));
        let _ = server.kill();
        return false;
    }
    let fds_before = fd_count(pid);
    println!(
        "distfarm serve --jobs {} (pid {pid}, port {port}); {} Lua units; baseline: {fds_before} descriptors",
        load.jobs,
        units.len()
    );

    let stop = Arc::new(AtomicBool::new(false));
    let sampler = tokio::spawn(sample(pid, stop.clone()));
    let mut tasks = Vec::new();
    let address = |n: u8| Ipv4Addr::new(127, 0, 0, n);
    // Honest clients: jobs + 2 of them, so that a job always waits for a slot.
    for worker in 0..load.jobs + 2 {
        let (units, counts, stop) = (units.clone(), counts.clone(), stop.clone());
        tasks.push(tokio::spawn(async move {
            let mut i = worker;
            while !stop.load(Ordering::Relaxed) {
                let version = if i % 2 == 0 { Version::V1 } else { Version::V2 };
                honest_job(port, &units[i % units.len()], version, &counts).await;
                i += load.jobs + 2;
            }
        }));
    }
    // Idle connections, 125 per address (under --max-per-address).
    for n in 0..load.idle {
        let (counts, stop) = (counts.clone(), stop.clone());
        let from = address(10 + (n / 125) as u8);
        tasks.push(tokio::spawn(async move {
            idle(port, from, &counts, &stop).await
        }));
    }
    for n in 0..load.slow {
        let (counts, stop) = (counts.clone(), stop.clone());
        let unit = units[n % units.len()].argv.clone();
        tasks.push(tokio::spawn(async move {
            slow_sender(port, address(30), n % 2 == 0, unit, &counts, &stop).await
        }));
    }
    for n in 0..load.liars {
        let (counts, stop) = (counts.clone(), stop.clone());
        tasks.push(tokio::spawn(async move {
            liar(port, address(31), n, &counts, &stop).await
        }));
    }
    for n in 0..load.vanish {
        let (units, counts, stop) = (units.clone(), counts.clone(), stop.clone());
        tasks.push(tokio::spawn(async move {
            vanisher(port, address(32), n, &units, &counts, &stop).await
        }));
    }
    let mut trees = Vec::new();
    for _ in 0..load.trees {
        let (counts, stop) = (counts.clone(), stop.clone());
        let entries = load.tree_entries;
        trees.push(tokio::spawn(async move {
            pump_trees(port, address(33), entries, &counts, &stop).await
        }));
    }

    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(load.seconds) {
        tokio::time::sleep(Duration::from_secs(5)).await;
        eprintln!(
            "{:>4} s: honest {} ok / {} failed, {} idle dropped, {} trees",
            started.elapsed().as_secs(),
            counts.honest_ok.load(Ordering::Relaxed),
            counts.honest_failed.load(Ordering::Relaxed),
            counts.idle_dropped.load(Ordering::Relaxed),
            counts.trees_answered.load(Ordering::Relaxed),
        );
    }
    stop.store(true, Ordering::Relaxed);
    // Abusers stop at once (their sockets close); pump trees and honest jobs finish the one
    // they are in (an aborted tree would still be read from the socket's buffers, file by
    // file, which tells nothing new).
    for task in &tasks {
        task.abort();
    }
    for task in tasks {
        let _ = task.await;
    }
    for task in trees {
        let _ = task.await;
    }
    let samples = sampler.await.expect("sampler");

    // After the storm: the server must be back where it started.
    // Data the abusers left in socket buffers is still read (an aborted pump tree is
    // written file by file) before those connections end.
    let settling = Instant::now();
    let settled = wait_until(Duration::from_secs(60), || {
        fd_count(pid) <= fds_before && job_dirs(&tmpdir) == 0 && children(pid).is_empty()
    })
    .await;
    let settle_ms = settling.elapsed().as_millis();
    let fds_after = fd_count(pid);
    let dirs_after = job_dirs(&tmpdir);
    let children_after = children(pid).len();
    let last = Instant::now();
    let last_ok = honest_job(port, &units[1], Version::V2, &counts).await;
    let last_ms = last.elapsed().as_millis();
    let peak_rss_mb = status_kb(pid, "VmHWM:") / 1024;
    let alive = server.try_wait().ok().flatten().is_none();

    let ok_jobs = counts.honest_ok.load(Ordering::Relaxed);
    let failed = counts.honest_failed.load(Ordering::Relaxed);
    let mismatched = counts.honest_mismatch.load(Ordering::Relaxed);
    let checks: Vec<(String, bool)> = vec![
        (format!("server alive after {} s", load.seconds), alive),
        (
            format!(
                "honest jobs: {ok_jobs} identical to local gcc, {failed} failed, {mismatched} different"
            ),
            ok_jobs > 0 && failed == 0 && mismatched == 0,
        ),
        (
            format!(
                "compilers at once: at most {} (--jobs {})",
                samples.most_jobs, load.jobs
            ),
            samples.most_jobs <= load.jobs,
        ),
        (
            format!(
                "peak RSS (VmHWM): {peak_rss_mb} MiB (bound {} MiB); most connections open: {}",
                load.rss_bound_mb, samples.most_fds
            ),
            peak_rss_mb <= load.rss_bound_mb,
        ),
        (
            format!("descriptors: {fds_before} before, {fds_after} after"),
            fds_after <= fds_before,
        ),
        (
            format!("job directories left: {dirs_after}"),
            dirs_after == 0,
        ),
        (
            format!("child processes left: {children_after}"),
            children_after == 0,
        ),
        (
            format!("a new honest job answered in {last_ms} ms"),
            last_ok && last_ms < 1000,
        ),
        (
            format!("back to its baseline {settle_ms} ms after the abusers left"),
            settled,
        ),
    ];
    println!("\nabuse during {} s:", load.seconds);
    let abuse = [
        (
            "idle connections (most open at once)",
            counts.idle_most_open.load(Ordering::Relaxed),
        ),
        (
            "idle connections dropped by the server",
            counts.idle_dropped.load(Ordering::Relaxed),
        ),
        (
            "idle connects that failed",
            counts.idle_connects_failed.load(Ordering::Relaxed),
        ),
        ("slow senders (a byte a second)", load.slow),
        (
            "slow senders dropped by the server",
            counts.slow_dropped.load(Ordering::Relaxed),
        ),
        (
            "lying lengths sent",
            counts.lies_told.load(Ordering::Relaxed),
        ),
        (
            "clients vanished mid-request/compile/answer",
            counts.vanished.load(Ordering::Relaxed),
        ),
        ("pump trees sent", counts.trees_sent.load(Ordering::Relaxed)),
        (
            "pump trees answered",
            counts.trees_answered.load(Ordering::Relaxed),
        ),
    ];
    for (what, n) in abuse {
        println!("  {what:<46} {n:>8}");
    }
    for (what, ms) in [
        ("slowest honest job (ms)", &counts.honest_max_ms),
        ("slowest pump tree answered (ms)", &counts.tree_max_ms),
    ] {
        println!("  {what:<46} {:>8}", ms.load(Ordering::Relaxed));
    }
    println!("\nchecks:");
    let mut all = true;
    for (what, passed) in &checks {
        println!("  [{}] {what}", if *passed { "ok" } else { "FAIL" });
        all &= passed;
    }
    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(pid.to_string())
        .status();
    let _ = tokio::task::spawn_blocking(move || server.wait()).await;
    if !all {
        let text = read(&log);
        let tail: Vec<&str> = text.lines().rev().take(40).collect();
        eprintln!("\nlast lines of the server's log:");
        for line in tail.iter().rev() {
            eprintln!("{line}");
        }
    }
    all
}

// ---------------------------------------------------------------------------------------
// The server
// ---------------------------------------------------------------------------------------

fn distfarm_binary() -> PathBuf {
    let exe = std::env::current_exe().expect("current exe");
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("target/<profile>");
    let distfarm = dir.join("distfarm");
    assert!(
        distfarm.exists(),
        "{} is missing: build it first (cargo build --release)",
        distfarm.display()
    );
    distfarm
}

fn start_server(distfarm: &Path, tmpdir: &Path, log: &Path, jobs: usize) -> (Child, u16) {
    for _ in 0..5 {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("a free port");
        let _ = std::fs::remove_file(log);
        let mut child = Command::new(distfarm)
            .args(["serve", "--no-detach", "--listen", "127.0.0.1", "-p"])
            .arg(port.to_string())
            .args(["--jobs", &jobs.to_string()])
            .arg("--log-file")
            .arg(log)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("TMPDIR", tmpdir)
            .env("LC_ALL", "C")
            .stdin(Stdio::null())
            .spawn()
            .expect("start distfarm serve");
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            let text = read(log);
            if text.contains(&format!("listening on 127.0.0.1:{port}")) {
                return (child, port);
            }
            if text.contains("cannot listen") || child.try_wait().ok().flatten().is_some() {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = child.kill();
        let _ = child.wait();
    }
    panic!("distfarm serve did not start:\n{}", read(log));
}

fn read(path: &Path) -> String {
    String::from_utf8_lossy(&std::fs::read(path).unwrap_or_default()).into_owned()
}

fn fd_count(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| d.count())
        .unwrap_or(0)
}

fn status_kb(pid: u32, field: &str) -> u64 {
    read(Path::new(&format!("/proc/{pid}/status")))
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse().ok())
        .unwrap_or(0)
}

fn job_dirs(tmpdir: &Path) -> usize {
    std::fs::read_dir(tmpdir).map(|d| d.count()).unwrap_or(0)
}

/// `(pid, ppid, pgid)` of every process.
fn process_table() -> Vec<(u32, u32, u32)> {
    let mut table = Vec::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let stat = read(&entry.path().join("stat"));
        let Some(close) = stat.rfind(')') else {
            continue;
        };
        // After the command: state, ppid, pgrp.
        let fields: Vec<&str> = stat[close + 1..].split_whitespace().collect();
        let number = |i: usize| fields.get(i).and_then(|f| f.parse().ok()).unwrap_or(0);
        if fields.first() != Some(&"Z") {
            table.push((pid, number(1), number(2)));
        }
    }
    table
}

/// The live processes below `root`, with their process groups.
fn children(root: u32) -> Vec<(u32, u32)> {
    let table = process_table();
    let mut found = Vec::new();
    let mut parents = vec![root];
    while let Some(parent) = parents.pop() {
        for &(pid, ppid, pgid) in &table {
            if ppid == parent {
                found.push((pid, pgid));
                parents.push(pid);
            }
        }
    }
    found
}

struct Samples {
    most_jobs: usize,
    most_fds: usize,
}

/// Every 50 ms until `stop`: how many jobs have programs running (each job's programs are
/// one process group of their own) and how many descriptors the server holds.
async fn sample(pid: u32, stop: Arc<AtomicBool>) -> Samples {
    let mut samples = Samples {
        most_jobs: 0,
        most_fds: 0,
    };
    while !stop.load(Ordering::Relaxed) {
        let jobs: HashSet<u32> = children(pid)
            .into_iter()
            .map(|(_, pgid)| pgid)
            .filter(|pgid| *pgid != pid)
            .collect();
        samples.most_jobs = samples.most_jobs.max(jobs.len());
        samples.most_fds = samples.most_fds.max(fd_count(pid));
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    samples
}

async fn wait_until(limit: Duration, mut done: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if done() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    done()
}

// ---------------------------------------------------------------------------------------
// Lua, preprocessed, and the local reference objects
// ---------------------------------------------------------------------------------------

fn lua_units(scratch: &Path) -> Vec<Unit> {
    std::fs::create_dir_all(scratch).unwrap();
    let root = lua_sources();
    let mut sources: Vec<PathBuf> = std::fs::read_dir(&root)
        .expect("Lua's sources")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "c"))
        .filter(|p| !p.ends_with("lua.c") && !p.ends_with("luac.c"))
        .collect();
    sources.sort();
    let mut units = Vec::new();
    for source in sources {
        let name = source.file_name().unwrap().to_string_lossy().into_owned();
        let stem = name.trim_end_matches(".c");
        let preprocessed = scratch.join(format!("{stem}.i"));
        let object = scratch.join(format!("{stem}.o"));
        run_ok(
            Command::new("gcc")
                .args(["-std=gnu99", "-DLUA_COMPAT_5_3", "-DLUA_USE_LINUX", "-E"])
                .arg(&name)
                .arg("-o")
                .arg(&preprocessed)
                .current_dir(&root),
        );
        run_ok(
            Command::new("gcc")
                .args(COMPILE_FLAGS)
                .arg("-c")
                .arg(&preprocessed)
                .arg("-o")
                .arg(&object),
        );
        let mut argv = vec!["gcc".to_string()];
        argv.extend(COMPILE_FLAGS.iter().map(|f| f.to_string()));
        argv.extend(["-c".into(), name.clone(), "-o".into(), format!("{stem}.o")]);
        units.push(Unit {
            name,
            argv,
            source: std::fs::read(&preprocessed).unwrap(),
            reference: std::fs::read(&object).unwrap(),
        });
    }
    assert!(!units.is_empty(), "no Lua sources in {}", root.display());
    units
}

fn run_ok(command: &mut Command) {
    let status = command.status().expect("run gcc");
    assert!(status.success(), "{command:?} failed");
}

/// The `lua-5.4.7` directory of the `lua-src` crate (a dev-dependency, so cargo has it).
fn lua_sources() -> PathBuf {
    let lock = read(&Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.lock"));
    let needle = "name = \"lua-src\"\nversion = \"";
    let start = lock.find(needle).expect("lua-src in Cargo.lock") + needle.len();
    let version = lock[start..].split('"').next().unwrap();
    let cargo_home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))
        .expect("CARGO_HOME or HOME");
    std::fs::read_dir(cargo_home.join("registry/src"))
        .into_iter()
        .flatten()
        .flatten()
        .map(|r| r.path().join(format!("lua-src-{version}/lua-5.4.7")))
        .find(|d| d.is_dir())
        .expect("lua-src's sources (run `cargo fetch`)")
}

// ---------------------------------------------------------------------------------------
// The clients
// ---------------------------------------------------------------------------------------

async fn connect_from(from: Ipv4Addr, port: u16) -> std::io::Result<TcpStream> {
    let socket = TcpSocket::new_v4()?;
    socket.bind(SocketAddr::new(from.into(), 0))?;
    socket
        .connect(SocketAddr::new(Ipv4Addr::LOCALHOST.into(), port))
        .await
}

async fn encode(header: RequestHeader, source: &[u8]) -> Vec<u8> {
    let request = Request {
        header,
        source: source.to_vec(),
    };
    let mut writer = TokenWriter::new(Vec::new());
    request.write(&mut writer).await.expect("encode");
    writer.into_inner()
}

fn header(version: Version, argv: &[String]) -> RequestHeader {
    RequestHeader::new(
        version,
        argv.iter().map(|a| a.as_bytes().to_vec()).collect(),
    )
}

async fn parse(bytes: &[u8], version: Version) -> Option<Response> {
    let mut reader = TokenReader::new(bytes, Limits::default());
    Response::read(&mut reader, version.number(), version)
        .await
        .ok()
}

/// One whole job from 127.0.0.1; true when its object is the local one.
async fn honest_job(port: u16, unit: &Unit, version: Version, counts: &Counts) -> bool {
    let started = Instant::now();
    let request = encode(header(version, &unit.argv), &unit.source).await;
    let answer = async {
        let mut stream = connect_from(Ipv4Addr::LOCALHOST, port).await?;
        stream.write_all(&request).await?;
        let mut bytes = Vec::new();
        stream.read_to_end(&mut bytes).await?;
        Ok::<_, std::io::Error>(bytes)
    };
    let bytes = match tokio::time::timeout(Duration::from_secs(120), answer).await {
        Ok(Ok(bytes)) => bytes,
        Ok(Err(e)) => {
            eprintln!("honest job {}: {e}", unit.name);
            counts.honest_failed.fetch_add(1, Ordering::Relaxed);
            return false;
        }
        Err(_) => {
            eprintln!("honest job {}: no answer within 120 s", unit.name);
            counts.honest_failed.fetch_add(1, Ordering::Relaxed);
            return false;
        }
    };
    let ms = started.elapsed().as_millis() as u64;
    counts.honest_max_ms.fetch_max(ms, Ordering::Relaxed);
    match parse(&bytes, version).await {
        Some(response) if response.status == 0 && response.object == unit.reference => {
            counts.honest_ok.fetch_add(1, Ordering::Relaxed);
            true
        }
        Some(response) if response.status == 0 => {
            eprintln!(
                "honest job {}: the object differs from local gcc's",
                unit.name
            );
            counts.honest_mismatch.fetch_add(1, Ordering::Relaxed);
            false
        }
        Some(response) => {
            eprintln!(
                "honest job {}: status {:#x}: {}",
                unit.name,
                response.status,
                String::from_utf8_lossy(&response.stderr)
            );
            counts.honest_failed.fetch_add(1, Ordering::Relaxed);
            false
        }
        None => {
            eprintln!(
                "honest job {}: no answer ({} bytes)",
                unit.name,
                bytes.len()
            );
            counts.honest_failed.fetch_add(1, Ordering::Relaxed);
            false
        }
    }
}

/// Connects and sends nothing; connects again when the server drops it.
async fn idle(port: u16, from: Ipv4Addr, counts: &Counts, stop: &AtomicBool) {
    while !stop.load(Ordering::Relaxed) {
        let Ok(mut stream) = connect_from(from, port).await else {
            counts.idle_connects_failed.fetch_add(1, Ordering::Relaxed);
            tokio::time::sleep(Duration::from_secs(1)).await;
            continue;
        };
        let open = counts.idle_open.fetch_add(1, Ordering::Relaxed) + 1;
        counts.idle_most_open.fetch_max(open, Ordering::Relaxed);
        // Counted as closed also when the task is aborted at the end.
        struct Open<'a>(&'a AtomicUsize);
        impl Drop for Open<'_> {
            fn drop(&mut self) {
                self.0.fetch_sub(1, Ordering::Relaxed);
            }
        }
        let _open = Open(&counts.idle_open);
        let mut byte = [0u8; 1];
        let _ = stream.read(&mut byte).await;
        counts.idle_dropped.fetch_add(1, Ordering::Relaxed);
    }
}

/// Sends a request a byte a second: its command line (`header_first` false), or its command
/// line at once and then its source.
async fn slow_sender(
    port: u16,
    from: Ipv4Addr,
    header_first: bool,
    argv: Vec<String>,
    counts: &Counts,
    stop: &AtomicBool,
) {
    let source = b"int x;\n".repeat(10_000);
    let request = encode(header(Version::V1, &argv), &source).await;
    while !stop.load(Ordering::Relaxed) {
        let Ok(stream) = connect_from(from, port).await else {
            tokio::time::sleep(Duration::from_secs(1)).await;
            continue;
        };
        let (mut read_half, mut write_half) = stream.into_split();
        let at_once = if header_first {
            request.len() - source.len()
        } else {
            0
        };
        let trickle = async {
            write_half.write_all(&request[..at_once]).await?;
            for byte in &request[at_once..] {
                write_half.write_all(std::slice::from_ref(byte)).await?;
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            Ok::<_, std::io::Error>(())
        };
        let mut answer = Vec::new();
        tokio::select! {
            _ = trickle => {}
            _ = read_half.read_to_end(&mut answer) => {}
        }
        counts.slow_dropped.fetch_add(1, Ordering::Relaxed);
    }
}

/// Claims a body of gigabytes (or just under the server's limit), sends a little, stops,
/// and waits for the server to give up (or for 10 s).
async fn liar(port: u16, from: Ipv4Addr, n: usize, counts: &Counts, stop: &AtomicBool) {
    let argv: Vec<String> = ["gcc", "-c", "lie.c", "-o", "lie.o"]
        .map(String::from)
        .to_vec();
    let mut round = n;
    while !stop.load(Ordering::Relaxed) {
        let mut bytes = encode(header(Version::V1, &argv), b"").await;
        // Without its empty DOTI: the lie follows.
        bytes.truncate(bytes.len() - 12);
        let lie: &[u8] = match round % 4 {
            0 => b"DOTIffffffff",       // 4 GiB
            1 => b"DOTI1f000000",       // 496 MiB, under the limit
            2 => b"ARGC7fffffff",       // arguments without end
            _ => b"DOTI00100000int x;", // 1 MiB, then silence
        };
        if round % 4 == 2 {
            bytes = b"DIST00000001".to_vec();
        }
        bytes.extend_from_slice(lie);
        round += 1;
        let Ok(mut stream) = connect_from(from, port).await else {
            tokio::time::sleep(Duration::from_secs(1)).await;
            continue;
        };
        if stream.write_all(&bytes).await.is_ok() {
            counts.lies_told.fetch_add(1, Ordering::Relaxed);
        }
        let mut answer = Vec::new();
        let _ =
            tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut answer)).await;
    }
}

/// Leaves mid-request, mid-compile and mid-answer in turn, sometimes with a reset.
async fn vanisher(
    port: u16,
    from: Ipv4Addr,
    n: usize,
    units: &[Unit],
    counts: &Counts,
    stop: &AtomicBool,
) {
    let mut round = n;
    while !stop.load(Ordering::Relaxed) {
        let unit = &units[round % units.len()];
        let request = encode(header(Version::V1, &unit.argv), &unit.source).await;
        let Ok(socket) = TcpSocket::new_v4() else {
            continue;
        };
        // A small receive buffer, so that the server is still writing when we leave.
        let _ = socket.set_recv_buffer_size(4096);
        if socket.bind(SocketAddr::new(from.into(), 0)).is_err() {
            continue;
        }
        let Ok(mut stream) = socket
            .connect(SocketAddr::new(Ipv4Addr::LOCALHOST.into(), port))
            .await
        else {
            tokio::time::sleep(Duration::from_secs(1)).await;
            continue;
        };
        match round % 3 {
            0 => {
                let _ = stream.write_all(&request[..request.len() / 2]).await;
            }
            1 => {
                let _ = stream.write_all(&request).await;
                tokio::time::sleep(Duration::from_millis(50 + (round as u64 % 5) * 40)).await;
            }
            _ => {
                let _ = stream.write_all(&request).await;
                let mut first = [0u8; 64];
                let _ =
                    tokio::time::timeout(Duration::from_secs(60), stream.read_exact(&mut first))
                        .await;
            }
        }
        if round.is_multiple_of(2) {
            // A reset, not a goodbye (no wait on drop with a zero linger).
            let _ = socket2::SockRef::from(&stream).set_linger(Some(Duration::ZERO));
        }
        drop(stream);
        counts.vanished.fetch_add(1, Ordering::Relaxed);
        round += 1;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Protocol 3 requests whose trees hold `entries` files (and a source that includes one).
async fn pump_trees(port: u16, from: Ipv4Addr, entries: usize, counts: &Counts, stop: &AtomicBool) {
    let mut tree = Vec::with_capacity(entries);
    tree.push(TreeEntry::File {
        name: b"/load/src/main.c".to_vec(),
        content: b"#include \"d0/h0.h\"\nint main(void) { return H0; }\n".to_vec(),
    });
    for i in 0..entries.saturating_sub(1) {
        tree.push(TreeEntry::File {
            name: format!("/load/src/d{}/h{i}.h", i / 1000).into_bytes(),
            content: format!("#define H{i} {}\n", i % 7).into_bytes(),
        });
    }
    let argv: Vec<Vec<u8>> = ["gcc", "-O2", "-c", "main.c", "-o", "main.o"]
        .iter()
        .map(|a| a.as_bytes().to_vec())
        .collect();
    let mut writer = TokenWriter::new(Vec::new());
    RequestHeader::pump(b"/load/src".to_vec(), argv)
        .write(&mut writer)
        .expect("header");
    write_tree(&mut writer, &tree).expect("tree");
    writer.flush().await.expect("encode");
    let request = writer.into_inner();
    while !stop.load(Ordering::Relaxed) {
        let Ok(mut stream) = connect_from(from, port).await else {
            tokio::time::sleep(Duration::from_secs(1)).await;
            continue;
        };
        counts.trees_sent.fetch_add(1, Ordering::Relaxed);
        let started = Instant::now();
        let exchange = async {
            stream.write_all(&request).await?;
            let mut answer = Vec::new();
            stream.read_to_end(&mut answer).await?;
            Ok::<_, std::io::Error>(answer)
        };
        if let Ok(Ok(answer)) = tokio::time::timeout(Duration::from_secs(300), exchange).await
            && parse(&answer, Version::V3).await.is_some()
        {
            counts.trees_answered.fetch_add(1, Ordering::Relaxed);
            let ms = started.elapsed().as_millis() as u64;
            counts.tree_max_ms.fetch_max(ms, Ordering::Relaxed);
        }
    }
}
