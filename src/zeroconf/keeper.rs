//! The browser, run by the agent (or, with the agent disabled, by `distfarm
//! zeroconf-browser`) for the first client that needs it: holds the browser lock, keeps the
//! hosts file equal to the matching servers on the network, and stops once no client has
//! read the file for [`cache::IDLE_LIMIT`] — distcc's `daemon_proc`, so that each job reads
//! a file instead of browsing.

use std::path::Path;
use std::time::{Duration, Instant, SystemTime};

use super::browse::{Browser, Change};
use super::cache::{self, HostsFile};
use super::identity::CompilerIdentity;
use super::recheck::Rechecks;

/// The longest a client waits for the first list (distcc sleeps 1 s unconditionally). A
/// responder answers a query at most once a second per record (RFC 6762 §6), so a query
/// right after another browser's may be answered only at our second one, a second later.
pub const FIRST_LIST_LIMIT: Duration = Duration::from_millis(1500);
/// Once a server was found, this long without news ends the first gathering early.
const FIRST_LIST_QUIET: Duration = Duration::from_millis(250);
/// How often the idle rule is checked while nothing happens.
const IDLE_CHECK: Duration = Duration::from_secs(1);

/// Runs until idle. `ready` is called once the first list is written (at once when another
/// browser already holds the lock: its file is current).
pub fn run(
    dir: &Path,
    identity: Result<CompilerIdentity, String>,
    ready: &mut dyn FnMut(),
) -> Result<(), String> {
    let say_ready = |ready: &mut dyn FnMut()| ready();
    let show = |e: std::io::Error, what: &str| format!("{}: {what}: {e}", dir.display());
    let Some(_lock) = cache::take_browser_lock(dir).map_err(|e| show(e, "lock"))? else {
        tracing::info!("zeroconf: another browser keeps {}", dir.display());
        say_ready(ready);
        return Ok(());
    };
    let mut hosts = HostsFile::open(dir).map_err(|e| show(e, "hosts file"))?;
    // A list left by an earlier browser may name servers gone since: start empty, as distcc.
    hosts.write(&[]).map_err(|e| show(e, "hosts file"))?;
    let identity = match identity {
        Ok(identity) => {
            tracing::info!(
                "zeroconf: listing servers with cc {} for {}",
                identity.version,
                identity.machine
            );
            Some(identity)
        }
        Err(e) => {
            // distcc then browses the bare service type, i.e. takes every server.
            tracing::warn!("zeroconf: {e}; listing every server, whatever its compiler");
            None
        }
    };
    let mut browser = Browser::start().map_err(|e| e.to_string())?;
    let started = SystemTime::now();
    let start = Instant::now();
    let mut ready_said = false;
    let mut last_news: Option<Instant> = None;
    // A server that crashed is left out within about 25 s (see recheck.rs).
    let mut rechecks = Rechecks::default();
    loop {
        if rechecks.tick(&mut browser) {
            write(&mut hosts, &browser, identity.as_ref(), dir);
        }
        let wait = if ready_said {
            IDLE_CHECK
        } else {
            let mut until = start + FIRST_LIST_LIMIT;
            if let Some(last) = last_news {
                until = until.min(last + FIRST_LIST_QUIET);
            }
            until.saturating_duration_since(Instant::now())
        };
        match browser.wait(wait) {
            Change::Servers => {
                last_news = Some(Instant::now());
                write(&mut hosts, &browser, identity.as_ref(), dir);
            }
            Change::Nothing => {}
            Change::Stopped => {
                browser.stop();
                return Err("mDNS stopped".into());
            }
        }
        if !ready_said {
            let now = Instant::now();
            let quiet = last_news.is_some_and(|last| now >= last + FIRST_LIST_QUIET);
            if quiet || now >= start + FIRST_LIST_LIMIT {
                say_ready(ready);
                ready_said = true;
            }
        }
        if hosts.unread_for(started) > cache::IDLE_LIMIT {
            tracing::info!("zeroconf: the list was not read for a while; exiting");
            browser.stop();
            return Ok(());
        }
    }
}

fn write(
    hosts: &mut HostsFile,
    browser: &Browser,
    identity: Option<&CompilerIdentity>,
    dir: &Path,
) {
    if let Err(e) = hosts.write(&lines(browser, identity)) {
        tracing::error!("{}: writing the hosts file: {e}", dir.display());
    }
}

/// The hosts file's lines: the servers whose compiler is ours, in instance-name order.
fn lines(browser: &Browser, identity: Option<&CompilerIdentity>) -> Vec<String> {
    browser
        .servers()
        .filter(|s| match identity {
            Some(ours) => s.verdict(ours) == super::txt::Verdict::Used,
            None => true,
        })
        .filter_map(|s| s.host_entry())
        .collect()
}
