//! When a job is compiled here instead: the one warning (or, with `DISTCC_FALLBACK=0`, the
//! error) that says why, and the local compile under a `--localslots` slot.

use std::path::Path;

use super::distribute::Wrapper;
use super::job::CompileJob;
use super::pick;
use crate::exit_code::ExitCode;
use crate::hosts::HostList;
use crate::lock_files as lock;
use crate::monitor::{Phase, StateFile};

/// Why a job is compiled here instead, for the one warning the user sees.
pub struct Fallback {
    pub host: Option<String>,
    pub reason: String,
    pub exit: ExitCode,
}

impl Fallback {
    /// A problem on this machine (lock or state directories), not with any host.
    pub fn local_problem(reason: String) -> Self {
        Fallback {
            host: None,
            reason,
            exit: ExitCode::IoError,
        }
    }
}

impl Wrapper<'_> {
    /// Names the hosts that are unusable right now and why, for the fallback warning.
    pub(super) fn why_no_host(&self, hosts: &HostList, lock_dir: &Path) -> String {
        let mut down = Vec::new();
        let mut backed_off = Vec::new();
        for host in hosts.hosts.iter().filter(|h| !h.is_local()) {
            if host.down {
                down.push(host.text.as_str());
            } else if lock::is_backed_off(lock_dir, &host.backoff_name(), self.env.backoff_period) {
                backed_off.push(host.text.as_str());
            }
        }
        let mut parts = Vec::new();
        if !backed_off.is_empty() {
            parts.push(format!(
                "{} failed within the last {} s (DISTCC_BACKOFF_PERIOD) and {} skipped",
                backed_off.join(", "),
                self.env.backoff_period.as_secs(),
                if backed_off.len() == 1 { "is" } else { "are" }
            ));
        }
        if !down.is_empty() {
            parts.push(format!("{} marked ,down", down.join(", ")));
        }
        if parts.is_empty() {
            "no usable host".into()
        } else {
            parts.join("; ")
        }
    }

    /// Says why in distcc 3.4's words (scripts and people grep for them), then distfarm's
    /// detail: "failed to distribute FILE to HOST, running locally instead: REASON".
    pub(super) async fn fall_back(&self, job: &CompileJob, why: Fallback) -> i32 {
        let on = why
            .host
            .as_ref()
            .map(|h| format!(" to {h}"))
            .unwrap_or_default();
        if !self.env.fallback {
            eprintln!(
                "distfarm[{}] ERROR: failed to distribute {}{on} and fallbacks are disabled (DISTCC_FALLBACK=0): {}",
                std::process::id(),
                job.input,
                why.reason
            );
            return why.exit.code();
        }
        tracing::warn!(
            "failed to distribute {}{on}, running locally instead: {}",
            job.input,
            why.reason
        );
        let reason = match &why.host {
            Some(host) => format!("{host}: {}", why.reason),
            None => why.reason.clone(),
        };
        self.reporter.local(&job.input, reason, true).await;
        self.run_locally(&job.argv).await
    }

    /// A local compile under a `--localslots` slot.
    pub(super) async fn run_locally(&self, command: &[String]) -> i32 {
        let local_slots = self.hosts.as_ref().map(|h| h.local_slots).unwrap_or(4);
        let _slot = match lock::lock_dir(&self.env.distcc_dir) {
            Ok(dir) => pick::local_slot(local_slots, &dir, self.env.pause_time)
                .await
                .ok(),
            Err(_) => None,
        };
        let mut state = StateFile::new(&self.env.distcc_dir, source_of(command)).ok();
        if let (Some(state), Some((slot, _))) = (&mut state, &_slot) {
            state.set_host("localhost", *slot as usize);
            state.phase(Phase::Compile);
        }
        self.run_here(command)
    }

    pub(super) fn run_here(&self, command: &[String]) -> i32 {
        match super::local::run(
            &self.compiler,
            &command[1..],
            self.path.as_ref(),
            self.env.safeguard,
        ) {
            Ok(code) => code,
            Err(e) => {
                eprintln!(
                    "distfarm[{}] ERROR: failed to exec {}: {e}",
                    std::process::id(),
                    self.compiler.display()
                );
                ExitCode::CompilerMissing.code()
            }
        }
    }
}

/// The source file a command line names (the first), or "".
pub(super) fn source_of(command: &[String]) -> &str {
    command
        .iter()
        .skip(1)
        .find(|a| super::source::is_source(a))
        .map(String::as_str)
        .unwrap_or("")
}
