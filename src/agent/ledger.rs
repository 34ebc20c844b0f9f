//! The agent's record of the farm, for `distfarm mon`: the jobs it carries now (with their
//! phase as far as the agent sees it), per-host counters from the wrappers' reports, and the
//! builds those reports belong to (see builds.rs).

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use super::builds::Builds;
use super::scheduler::Scheduler;
use crate::protocol::farm_view::{AgentView, HostView, JobReport, JobView, Outcome};

/// How many answered jobs per host the median job time (and channel-open time) is taken over.
const TIMES_KEPT: usize = 64;

pub struct Ledger {
    started: Instant,
    book: Mutex<Book>,
    pub builds: Builds,
}

#[derive(Default)]
struct Book {
    next_job: u64,
    running: BTreeMap<u64, RunningJob>,
    /// By host-list entry.
    hosts: BTreeMap<String, HostRecord>,
}

struct RunningJob {
    pid: u32,
    file: String,
    host: Option<String>,
    slot: Option<u32>,
    phase: &'static str,
    started: Instant,
}

#[derive(Default)]
struct HostRecord {
    name: String,
    transport: String,
    remote_end: Option<String>,
    limit: u32,
    done: u64,
    compile_errors: u64,
    failed: u64,
    refused: u64,
    times: VecDeque<u64>,
    /// Microseconds each of the last jobs waited for its channel to open.
    channel_opens: VecDeque<u64>,
    bytes_sent: u64,
    bytes_received: u64,
    last_problem: Option<String>,
}

/// A job the agent carries; dropping it takes the job off the monitor.
pub struct JobEntry {
    ledger: Arc<Ledger>,
    id: u64,
}

impl Default for Ledger {
    fn default() -> Self {
        Ledger {
            started: Instant::now(),
            book: Mutex::default(),
            builds: Builds::default(),
        }
    }
}

impl Ledger {
    fn book(&self) -> std::sync::MutexGuard<'_, Book> {
        self.book.lock().expect("ledger lock")
    }

    /// A wrapper's job arrived: it waits for a slot.
    pub fn job_arrived(self: &Arc<Self>, pid: u32, file: &str) -> JobEntry {
        let mut book = self.book();
        book.next_job += 1;
        let id = book.next_job;
        book.running.insert(
            id,
            RunningJob {
                pid,
                file: file.to_string(),
                host: None,
                slot: None,
                phase: "queued",
                started: Instant::now(),
            },
        );
        JobEntry {
            ledger: self.clone(),
            id,
        }
    }

    /// A host the agent schedules: its name, transport and `/N` as the job request gives them.
    pub fn know_host(&self, spec: &str, name: &str, transport: &str, limit: u32) {
        let mut book = self.book();
        let host = book.hosts.entry(spec.to_string()).or_default();
        host.name = name.to_string();
        host.transport = transport.to_string();
        host.limit = limit;
    }

    /// What answers at the far end of `spec`'s connection.
    pub fn remote_end(&self, spec: &str, end: &str) {
        if let Some(host) = self.book().hosts.get_mut(spec) {
            host.remote_end = Some(end.to_string());
        }
    }

    /// The agent opened a job's channel on `spec`'s connection in `took`.
    pub fn channel_opened(&self, spec: &str, took: std::time::Duration) {
        if let Some(host) = self.book().hosts.get_mut(spec) {
            keep_last(&mut host.channel_opens, took.as_micros() as u64);
        }
    }

    /// A wrapper's report: the host's counters, and its build's.
    pub fn report(&self, report: &JobReport) {
        if let (Some(spec), Some(name)) = (&report.host, &report.host_name) {
            let mut book = self.book();
            let host = book.hosts.entry(spec.clone()).or_default();
            host.name = name.clone();
            if let Some(transport) = &report.transport {
                host.transport = transport.clone();
                if transport == "tcp" {
                    // (`distfarm mon` tells an offer's entry from the offers registry.)
                    host.remote_end.get_or_insert_with(|| "tcp".into());
                }
            }
            host.limit = host.limit.max(report.limit);
            host.bytes_sent += report.bytes_sent;
            host.bytes_received += report.bytes_received;
            match report.outcome {
                Outcome::Compiled | Outcome::CompileError => {
                    host.done += 1;
                    if report.outcome == Outcome::CompileError {
                        host.compile_errors += 1;
                    }
                    keep_last(&mut host.times, report.time_ms);
                }
                Outcome::Failed => {
                    host.failed += 1;
                    host.last_problem = report.reason.clone();
                }
                Outcome::Refused => {
                    host.refused += 1;
                    host.last_problem = report.reason.clone();
                }
                Outcome::Local => {}
            }
        }
        self.builds.report(report);
    }

    /// Everything `distfarm mon` shows, with busy slots and backoff from `scheduler`.
    pub fn view(&self, scheduler: &Scheduler) -> AgentView {
        let book = self.book();
        let slots = scheduler.host_states();
        let hosts = book
            .hosts
            .iter()
            .map(|(spec, h)| {
                let (busy, backoff_left) = slots.get(spec).copied().unwrap_or_default();
                HostView {
                    spec: spec.clone(),
                    name: h.name.clone(),
                    transport: h.transport.clone(),
                    remote_end: h.remote_end.clone(),
                    limit: h.limit,
                    busy,
                    done: h.done,
                    compile_errors: h.compile_errors,
                    failed: h.failed,
                    refused: h.refused,
                    backoff_left_ms: backoff_left.map(|d| d.as_millis() as u64),
                    median_job_ms: median(&h.times),
                    median_channel_open_us: median(&h.channel_opens),
                    bytes_sent: h.bytes_sent,
                    bytes_received: h.bytes_received,
                    last_problem: h.last_problem.clone(),
                }
            })
            .collect();
        let jobs: Vec<JobView> = book
            .running
            .values()
            .map(|j| JobView {
                pid: j.pid,
                phase: j.phase.to_string(),
                file: j.file.clone(),
                host: j.host.as_ref().map(|spec| {
                    book.hosts
                        .get(spec)
                        .map_or(spec.clone(), |h| h.name.clone())
                }),
                slot: j.slot,
                elapsed_ms: j.started.elapsed().as_millis() as u64,
                seen_by: "agent".into(),
            })
            .collect();
        AgentView {
            pid: std::process::id(),
            uptime_ms: self.started.elapsed().as_millis() as u64,
            queued: jobs.iter().filter(|j| j.phase == "queued").count() as u32,
            hosts,
            jobs,
            builds: self.builds.finished(),
        }
    }
}

/// Appends `value`, keeping the last [`TIMES_KEPT`].
fn keep_last(values: &mut VecDeque<u64>, value: u64) {
    values.push_back(value);
    if values.len() > TIMES_KEPT {
        values.pop_front();
    }
}

fn median(times: &VecDeque<u64>) -> Option<u64> {
    let mut sorted: Vec<u64> = times.iter().copied().collect();
    sorted.sort_unstable();
    sorted.get(sorted.len() / 2).copied()
}

impl JobEntry {
    /// The job has its host and slot and is connecting.
    pub fn placed(&self, spec: &str, slot: Option<u32>) {
        if let Some(job) = self.ledger.book().running.get_mut(&self.id) {
            job.host = Some(spec.to_string());
            job.slot = slot;
            job.phase = "connect";
        }
    }

    /// The channel is open: the job's bytes flow (the wrapper's state file tells the
    /// finer phase).
    pub fn running(&self) {
        if let Some(job) = self.ledger.book().running.get_mut(&self.id) {
            job.phase = "send";
        }
    }
}

impl Drop for JobEntry {
    fn drop(&mut self) {
        self.ledger.book().running.remove(&self.id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_odd_and_even_counts() {
        assert_eq!(median(&VecDeque::from([5, 1, 3])), Some(3));
        assert_eq!(median(&VecDeque::from([4, 1, 3, 2])), Some(3));
        assert_eq!(median(&VecDeque::new()), None);
    }
}
