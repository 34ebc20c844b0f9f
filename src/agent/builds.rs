//! Builds as the agent sees them through the wrappers' reports, and the one summary line
//! `DISTFARM_SUMMARY=1` asks for when a build ends.
//!
//! A build is the process that runs the compiles — make, ninja … (client/build_id.rs) — and
//! it has ended when that process has exited: every wrapper of it has reported by then (a
//! wrapper waits for the agent to take its report before it exits). A build named by
//! `DISTFARM_BUILD_ID`, or whose wrappers have no known build tool above them, ends after
//! [`QUIET_END`] without a report instead. The line goes to the build process's standard
//! error (opened when its first report arrives) and to the agent's log.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::io::Write;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::monitor::units::bytes;
use crate::protocol::farm_view::{BuildId, BuildSummary, JobReport, Outcome, is_build_tool};

/// A build without a driver process to watch ends this long after its last report.
pub const QUIET_END: Duration = Duration::from_secs(3);
/// Finished builds kept for `distfarm mon`.
const FINISHED_KEPT: usize = 16;

#[derive(Default)]
pub struct Builds {
    inner: std::sync::Arc<Mutex<Inner>>,
    /// Told when a build opens or its driver exits: the watcher looks again.
    changed: std::sync::Arc<tokio::sync::Notify>,
}

#[derive(Default)]
struct Inner {
    open: HashMap<BuildId, Build>,
    finished: VecDeque<BuildSummary>,
}

struct Build {
    started: Instant,
    last_report: Instant,
    summary: bool,
    /// The driver's standard error, where the summary goes.
    stderr: Option<std::fs::File>,
    /// No driver process to watch: the build ends when quiet.
    ends_when_quiet: bool,
    /// The task waiting for its driver's exit ([`super::driver_exit`]), stopped when the
    /// build ends first (it went quiet under a shell that lives on).
    driver_waiter: Option<tokio::task::AbortHandle>,
    /// Its driver has exited (it may not have been reaped yet, so `/proc` may still show it).
    driver_exited: bool,
    remote: u64,
    local: u64,
    hosts: BTreeMap<String, u64>,
    wait_ms: u64,
    bytes_sent: u64,
    bytes_received: u64,
    fallbacks: BTreeMap<String, u64>,
    local_reasons: BTreeMap<String, u64>,
    pump_demotions: BTreeMap<String, u64>,
}

impl Builds {
    pub fn report(&self, report: &JobReport) {
        let mut inner = self.inner.lock().expect("builds lock");
        if !inner.open.contains_key(&report.build) {
            self.changed.notify_one();
        }
        let build = inner
            .open
            .entry(report.build.clone())
            .or_insert_with(|| Build {
                started: Instant::now(),
                last_report: Instant::now(),
                summary: false,
                stderr: None,
                ends_when_quiet: !is_build_tool(&report.build.name),
                driver_waiter: None,
                driver_exited: false,
                remote: 0,
                local: 0,
                hosts: BTreeMap::new(),
                wait_ms: 0,
                bytes_sent: 0,
                bytes_received: 0,
                fallbacks: BTreeMap::new(),
                local_reasons: BTreeMap::new(),
                pump_demotions: BTreeMap::new(),
            });
        build.last_report = Instant::now();
        if report.summary && !build.summary {
            build.summary = true;
            build.stderr = open_stderr_of(report.stderr_of);
        }
        build.wait_ms += report.wait_ms;
        build.bytes_sent += report.bytes_sent;
        build.bytes_received += report.bytes_received;
        if let Some(why) = &report.pump_demoted {
            *build.pump_demotions.entry(why.clone()).or_default() += 1;
        }
        let reason = report.reason.clone().unwrap_or_default();
        match report.outcome {
            Outcome::Compiled | Outcome::CompileError => {
                build.remote += 1;
                let name = report.host_name.clone().unwrap_or_default();
                *build.hosts.entry(name).or_default() += 1;
            }
            Outcome::Local if report.fallback => {
                build.local += 1;
                *build.fallbacks.entry(reason).or_default() += 1;
            }
            Outcome::Local => {
                build.local += 1;
                *build.local_reasons.entry(reason).or_default() += 1;
            }
            // An attempt, not the end of a job: the job goes on elsewhere.
            Outcome::Failed | Outcome::Refused => {}
        }
    }

    /// Ends builds as they end: when a driver exits (waited for, not polled) and when a
    /// build that ends by going quiet has been quiet for [`QUIET_END`]. Nothing wakes the
    /// agent between those moments.
    pub async fn watch(&self) {
        loop {
            self.end_finished();
            let next_quiet_end = self.watch_drivers();
            let changed = self.changed.notified();
            match next_quiet_end {
                Some(at) => {
                    tokio::select! {
                        _ = tokio::time::sleep_until(at.into()) => {}
                        _ = changed => {}
                    }
                }
                None => changed.await,
            }
        }
    }

    /// Starts waiting for the drivers of open builds not yet waited for; returns when the
    /// first build that ends by going quiet will have been quiet long enough.
    fn watch_drivers(&self) -> Option<Instant> {
        let mut inner = self.inner.lock().expect("builds lock");
        let mut next = None::<Instant>;
        for (id, build) in inner.open.iter_mut() {
            if id.pid != 0 && build.driver_waiter.is_none() {
                let (id, builds, changed) = (id.clone(), self.inner.clone(), self.changed.clone());
                let waiter = tokio::spawn(async move {
                    super::driver_exit::exited(id.pid, id.start).await;
                    if let Some(build) = builds.lock().expect("builds lock").open.get_mut(&id) {
                        build.driver_exited = true;
                    }
                    changed.notify_one();
                });
                build.driver_waiter = Some(waiter.abort_handle());
            }
            if id.pid == 0 || build.ends_when_quiet {
                let at = build.last_report + QUIET_END;
                next = Some(next.map_or(at, |n| n.min(at)));
            }
        }
        next
    }

    /// Ends the builds whose driver has exited (or that went quiet): their summary lines
    /// are printed and kept for `distfarm mon`.
    pub fn end_finished(&self) {
        let mut inner = self.inner.lock().expect("builds lock");
        let ended: Vec<BuildId> = inner
            .open
            .iter()
            .filter(|(id, b)| {
                let quiet = b.last_report.elapsed() >= QUIET_END;
                let driver_gone = || b.driver_exited || !driver_alive(id);
                if id.pid == 0 {
                    quiet
                } else if b.ends_when_quiet {
                    quiet || driver_gone()
                } else {
                    driver_gone()
                }
            })
            .map(|(id, _)| id.clone())
            .collect();
        for id in ended {
            let mut build = inner.open.remove(&id).expect("listed above");
            if let Some(waiter) = build.driver_waiter.take() {
                waiter.abort();
            }
            let summary = summarize(&id, &build);
            tracing::info!("{}", summary.line);
            if build.summary
                && let Some(stderr) = &mut build.stderr
            {
                let _ = writeln!(stderr, "{}", summary.line);
            }
            inner.finished.push_back(summary);
            if inner.finished.len() > FINISHED_KEPT {
                inner.finished.pop_front();
            }
        }
    }

    pub fn finished(&self) -> Vec<BuildSummary> {
        let inner = self.inner.lock().expect("builds lock");
        inner.finished.iter().cloned().collect()
    }
}

/// Whether the build's driver is still the process it was (a pid may be reused).
fn driver_alive(id: &BuildId) -> bool {
    crate::proc_stat::is_alive(id.pid, id.start)
}

/// Opened for appending, so that a log file the build writes to is never overwritten; and
/// without blocking, so that a pipe nobody reads (or a full one) costs the summary line, never
/// the agent's thread.
fn open_stderr_of(pid: u32) -> Option<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    if pid == 0 {
        return None;
    }
    std::fs::OpenOptions::new()
        .append(true)
        .custom_flags(nix::fcntl::OFlag::O_NONBLOCK.bits())
        .open(format!("/proc/{pid}/fd/2"))
        .map_err(|e| tracing::debug!("agent: cannot open the stderr of build process {pid}: {e}"))
        .ok()
}

fn most_first(counts: &BTreeMap<String, u64>) -> Vec<(String, u64)> {
    let mut list: Vec<(String, u64)> = counts.iter().map(|(k, v)| (k.clone(), *v)).collect();
    list.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    list
}

fn summarize(id: &BuildId, b: &Build) -> BuildSummary {
    let hosts = most_first(&b.hosts);
    let fallbacks = most_first(&b.fallbacks);
    let local_reasons = most_first(&b.local_reasons);
    let wall_ms = b.last_report.duration_since(b.started).as_millis() as u64;
    let mut summary = BuildSummary {
        pid: id.pid,
        name: id.name.clone(),
        jobs: b.remote + b.local,
        remote: b.remote,
        local: b.local,
        hosts,
        wait_ms: b.wait_ms,
        bytes_sent: b.bytes_sent,
        bytes_received: b.bytes_received,
        fallbacks,
        local_reasons,
        pump_demotions: most_first(&b.pump_demotions),
        wall_ms,
        line: String::new(),
    };
    summary.line = summary_line(&summary);
    summary
}

/// `distfarm: make[4242]: 12 jobs, 10 remote (box1 6, box2 4), 2 local; fallbacks: 1
/// (box2: connection refused); waited 0.3 s for slots; sent 1.2 MB, received 0.4 MB`
pub fn summary_line(s: &BuildSummary) -> String {
    let who = if s.pid == 0 {
        s.name.clone()
    } else {
        format!("{}[{}]", s.name, s.pid)
    };
    let mut line = format!("distfarm: {who}: {} jobs, {} remote", s.jobs, s.remote);
    if !s.hosts.is_empty() {
        line += &format!(" ({})", counted(&s.hosts));
    }
    line += &format!(", {} local", s.local);
    if !s.local_reasons.is_empty() {
        line += &format!(" ({})", counted(&s.local_reasons));
    }
    let fallbacks: u64 = s.fallbacks.iter().map(|(_, n)| n).sum();
    line += &format!("; fallbacks: {fallbacks}");
    if !s.fallbacks.is_empty() {
        line += &format!(" ({})", counted(&s.fallbacks));
    }
    if !s.pump_demotions.is_empty() {
        let n: u64 = s.pump_demotions.iter().map(|(_, n)| n).sum();
        line += &format!("; not in pump mode: {n} ({})", counted(&s.pump_demotions));
    }
    line += &format!(
        "; waited {:.1} s for slots; sent {}, received {}",
        s.wait_ms as f64 / 1000.0,
        bytes(s.bytes_sent),
        bytes(s.bytes_received)
    );
    line
}

fn counted(list: &[(String, u64)]) -> String {
    list.iter()
        .map(|(what, n)| format!("{what} {n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_line_names_hosts_local_reasons_and_fallbacks() {
        let s = BuildSummary {
            pid: 7,
            name: "make".into(),
            jobs: 5,
            remote: 3,
            local: 2,
            hosts: vec![("box1".into(), 2), ("box2".into(), 1)],
            wait_ms: 1500,
            bytes_sent: 3 << 20,
            bytes_received: 2048,
            fallbacks: vec![("box3: connection refused".into(), 1)],
            local_reasons: vec![("-E".into(), 1)],
            ..BuildSummary::default()
        };
        assert_eq!(
            summary_line(&s),
            "distfarm: make[7]: 5 jobs, 3 remote (box1 2, box2 1), 2 local (-E 1); \
             fallbacks: 1 (box3: connection refused 1); waited 1.5 s for slots; sent 3.0 MB, \
             received 2.0 KB"
        );
    }
}
