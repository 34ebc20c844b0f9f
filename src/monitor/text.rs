//! `distfarm mon`'s plain-text picture: a table of hosts, the queue, the running jobs.

use std::fmt::Write;

use super::farm::FarmView;
use super::units::{bytes, cut, duration};
use crate::protocol::farm_view::HostView;

/// The whole picture as lines of text (ending with a newline).
pub fn render(view: &FarmView) -> String {
    let mut out = String::new();
    if let Some(note) = &view.note {
        let _ = writeln!(out, "{note}: nothing to show.");
        return out;
    }
    match &view.agent {
        Some(agent) => {
            let _ = writeln!(
                out,
                "agent {} (up {}), {} running, {} queued",
                agent.pid,
                duration(agent.uptime_ms),
                view.jobs.iter().filter(|j| j.phase != "queued").count(),
                view.queued
            );
        }
        None => {
            let _ = writeln!(
                out,
                "no agent; jobs from the state files in {}/state",
                view.distcc_dir
            );
        }
    }
    if !view.hosts.is_empty() {
        let _ = writeln!(
            out,
            "{:<30} {:>7} {:>6} {:>5} {:>5} {:>8} {:>7} {:>9} {:>9}  END",
            "HOST", "BUSY", "DONE", "FAIL", "REFU", "BACKOFF", "MEDIAN", "SENT", "RECEIVED"
        );
        for host in &view.hosts {
            out += &host_line(host);
        }
    }
    let _ = writeln!(out, "queue: {}", view.queued);
    if !view.jobs.is_empty() {
        let _ = writeln!(
            out,
            "{:>7}  {:<10}  {:<30} {:<24} {:>4} {:>8}",
            "PID", "PHASE", "FILE", "HOST", "SLOT", "ELAPSED"
        );
        for job in &view.jobs {
            let _ = writeln!(
                out,
                "{:>7}  {:<10}  {:<30} {:<24} {:>4} {:>8}",
                job.pid,
                job.phase,
                cut(&job.file, 30),
                cut(job.host.as_deref().unwrap_or("-"), 24),
                job.slot.map_or("-".into(), |s| s.to_string()),
                duration(job.elapsed_ms)
            );
        }
    }
    out
}

fn host_line(h: &HostView) -> String {
    let backoff = h.backoff_left_ms.map_or("-".into(), duration);
    let median = h.median_job_ms.map_or("-".into(), duration);
    format!(
        "{:<30} {:>7} {:>6} {:>5} {:>5} {:>8} {:>7} {:>9} {:>9}  {}\n",
        cut(&h.spec, 30),
        format!("{}/{}", h.busy, h.limit),
        h.done,
        h.failed,
        h.refused,
        backoff,
        median,
        bytes(h.bytes_sent),
        bytes(h.bytes_received),
        h.remote_end.as_deref().unwrap_or("-")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_to_show_says_why() {
        let view = FarmView {
            note: Some("no agent is running and no job has a state file in /d/state".into()),
            ..FarmView::empty_for_tests()
        };
        assert_eq!(
            render(&view),
            "no agent is running and no job has a state file in /d/state: nothing to show.\n"
        );
    }
}
