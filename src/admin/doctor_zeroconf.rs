//! The doctor's look at zeroconf, when the host list has `+zeroconf`: every server
//! announcing `_distcc._tcp` on this machine's networks, and for each whether jobs go there
//! or why not (another compiler version or target, no compiler announced).

use std::time::Duration;

use super::doctor::Problem;
use crate::zeroconf::browse::Browser;
use crate::zeroconf::identity::CompilerIdentity;
use crate::zeroconf::txt::Verdict;

/// How long the doctor listens at most. Responders answer a record at most once a second,
/// so a server that has just answered someone else shows up at our second query.
const LISTEN_LIMIT: Duration = Duration::from_secs(3);
/// Once something was seen, this long without news ends the look.
const LISTEN_QUIET: Duration = Duration::from_millis(1200);

#[derive(Debug, Clone)]
pub struct ZeroconfReport {
    /// This machine's `cc`, which servers must match, or why it could not say.
    pub compiler: Result<CompilerIdentity, String>,
    pub servers: Vec<SeenServer>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeenServer {
    /// `distcc@host`.
    pub name: String,
    /// The host entry it becomes, `ADDR:PORT/JOBS`.
    pub entry: Option<String>,
    /// `distfarm 0.1.0`, `distcc 3.4`, or nothing said.
    pub software: Option<String>,
    /// `12 for x86_64-linux-gnu`, or `?`.
    pub compiler: String,
    /// `None`: used.
    pub not_used: Option<String>,
}

/// Browses for a few seconds. `Err` when mDNS cannot start here.
pub fn look(compiler: Result<CompilerIdentity, String>) -> Result<ZeroconfReport, String> {
    let mut browser = Browser::start().map_err(|e| e.to_string())?;
    browser.gather(LISTEN_LIMIT, LISTEN_QUIET);
    let servers = browser
        .servers()
        .map(|found| SeenServer {
            name: found.name.clone(),
            entry: found.host_entry(),
            software: found.software.clone(),
            compiler: format!(
                "{} for {}",
                found.cc_version.as_deref().unwrap_or("?"),
                found.cc_machine.as_deref().unwrap_or("?")
            ),
            not_used: match &compiler {
                Ok(ours) => found.verdict(ours).reason(),
                // The browser then takes every server (as distcc).
                Err(_) => Verdict::Used.reason(),
            },
        })
        .collect();
    browser.stop();
    Ok(ZeroconfReport { compiler, servers })
}

/// What is wrong with what zeroconf sees: nothing announced, or nothing usable.
pub fn problems(report: &ZeroconfReport) -> Vec<Problem> {
    let mut problems = Vec::new();
    if let Err(e) = &report.compiler {
        problems.push(Problem {
            what: format!("+zeroconf: {e}, so servers cannot be matched to this compiler"),
            next: "install gcc (or put a `cc` on PATH) as the build uses it".into(),
        });
    }
    if report.servers.is_empty() {
        problems.push(Problem {
            what: "+zeroconf: no server announces _distcc._tcp on this machine's networks".into(),
            next: "start the servers with `distfarm serve --zeroconf` (or distccd --zeroconf); \
                   mDNS needs multicast between the machines (UDP port 5353)"
                .into(),
        });
    } else if report.servers.iter().all(|s| s.not_used.is_some()) {
        problems.push(Problem {
            what: "+zeroconf: servers are announced, but none has this machine's compiler".into(),
            next: "install the same gcc version on the servers, or list them by hand with the \
                   compiler named (distfarm gcc-12 …)"
                .into(),
        });
    }
    problems
}
