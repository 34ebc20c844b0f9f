//! The machine's processes, read from /proc: find the ones a test's wrappers started (an
//! auto-started agent lives in its own process group, out of reach of `Cmd`'s timeout), and
//! kill one by pid.

use std::path::Path;
use std::time::{Duration, Instant};

/// One line of the process table.
pub struct Process {
    pub pid: i32,
    pub ppid: i32,
    pub comm: String,
    pub args: Vec<String>,
}

/// Every process of the machine, from /proc.
pub fn processes() -> Vec<Process> {
    let mut all = Vec::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // `pid (comm) state ppid …`; comm may hold spaces and parentheses.
        let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
            continue;
        };
        let comm = stat[open + 1..close].to_string();
        let ppid = stat[close + 1..]
            .split_whitespace()
            .nth(1)
            .and_then(|p| p.parse().ok())
            .unwrap_or(0);
        let args = std::fs::read(entry.path().join("cmdline"))
            .unwrap_or_default()
            .split(|b| *b == 0)
            .filter(|a| !a.is_empty())
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect();
        all.push(Process {
            pid,
            ppid,
            comm,
            args,
        });
    }
    all
}

/// The processes under `root` (children, their children, …), from one reading of `all`.
pub fn descendants(root: i32, all: &[Process]) -> Vec<&Process> {
    let mut found = Vec::new();
    let mut parents = vec![root];
    while let Some(parent) = parents.pop() {
        for p in all.iter().filter(|p| p.ppid == parent) {
            found.push(p);
            parents.push(p.pid);
        }
    }
    found
}

/// Running `distfarm agent --socket <socket>` processes. (A zombie has an empty command line:
/// it is not counted.)
pub fn agent_pids(socket: &Path) -> Vec<i32> {
    agent_pids_where(|path| path == socket)
}

/// The agents whose socket lies under `dir`: those of every `DISTCC_DIR` a test made there.
pub fn agent_pids_under(dir: &Path) -> Vec<i32> {
    agent_pids_where(|path| path.starts_with(dir))
}

fn agent_pids_where(socket_matches: impl Fn(&Path) -> bool) -> Vec<i32> {
    processes()
        .into_iter()
        .filter(|p| {
            p.args
                .windows(3)
                .any(|w| w[0] == "agent" && w[1] == "--socket" && socket_matches(Path::new(&w[2])))
        })
        .map(|p| p.pid)
        .collect()
}

/// The processes running as `uid` (the owner of their `/proc` entry).
pub fn pids_of_user(uid: u32) -> Vec<i32> {
    use std::os::unix::fs::MetadataExt;
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let pid = entry.file_name().to_string_lossy().parse::<i32>().ok()?;
            (entry.metadata().ok()?.uid() == uid).then_some(pid)
        })
        .collect()
}

/// SIGKILL to one process we started (or that serves our test), then wait until it is gone.
pub fn kill(pid: i32) {
    let target = nix::unistd::Pid::from_raw(pid);
    let _ = nix::sys::signal::kill(target, nix::sys::signal::Signal::SIGKILL);
    // Gone, or a zombie waiting for a parent that is not us. (No panic: runs in `Drop`.)
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        let gone = std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .map(|s| {
                s.rsplit(')')
                    .next()
                    .is_some_and(|r| r.trim_start().starts_with('Z'))
            })
            .unwrap_or(true);
        if gone {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The process holding an `fcntl` lock on `path`, from /proc/locks (`N: POSIX ADVISORY WRITE
/// PID MAJ:MIN:INODE START END`).
pub fn fcntl_lock_holder(path: &Path) -> Option<i32> {
    use std::os::unix::fs::MetadataExt;
    let inode = std::fs::metadata(path).ok()?.ino();
    let locks = std::fs::read_to_string("/proc/locks").ok()?;
    locks.lines().find_map(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let (kind, pid, file) = (fields.get(1)?, fields.get(4)?, fields.get(5)?);
        let on_inode = file.rsplit(':').next()?.parse::<u64>().ok()? == inode;
        (*kind == "POSIX" && on_inode).then(|| pid.parse().ok())?
    })
}
