//! Fresh looks: every few seconds the background browser browses again with an empty cache
//! and compares. A server that crashed (or whose machine went away) sent no goodbye, and its
//! records would stay in mdns-sd's cache for their TTL — 75 minutes for the PTR record; its
//! RFC 6762 reconfirmation (`verify`) did not drop them reliably in our namespace tests. A
//! server missing from two fresh looks in a row is left out; one a fresh look sees is listed
//! (so a server that comes back with the very records still cached is listed again).

use std::collections::{BTreeMap, HashMap};
use std::sync::mpsc::{Receiver, TryRecvError};
use std::time::{Duration, Instant};

use super::browse::Browser;
use super::txt::FoundServer;

/// How often a fresh look starts.
const EVERY: Duration = Duration::from_secs(10);
/// How long it listens: two query rounds, since a responder answers a record at most once
/// a second (another browser's query may have just used that up).
const LISTEN: Duration = Duration::from_millis(2500);
/// Fresh looks in a row that must miss a server before it is left out.
const MISSES_TO_FORGET: u32 = 2;

type Look = Result<BTreeMap<String, FoundServer>, String>;

pub struct Rechecks {
    next_at: Instant,
    running: Option<Receiver<Look>>,
    misses: HashMap<String, u32>,
}

impl Default for Rechecks {
    fn default() -> Self {
        Rechecks {
            next_at: Instant::now() + EVERY,
            running: None,
            misses: HashMap::new(),
        }
    }
}

impl Rechecks {
    /// Starts a fresh look when one is due; applies one that finished to `browser`.
    /// Whether the browser's servers changed.
    pub fn tick(&mut self, browser: &mut Browser) -> bool {
        if let Some(running) = &self.running {
            return match running.try_recv() {
                Ok(Ok(seen)) => {
                    self.running = None;
                    self.apply(&seen, browser)
                }
                Ok(Err(e)) => {
                    self.running = None;
                    tracing::warn!("zeroconf: a fresh look failed: {e}");
                    false
                }
                Err(TryRecvError::Empty) => false,
                Err(TryRecvError::Disconnected) => {
                    self.running = None;
                    false
                }
            };
        }
        if Instant::now() >= self.next_at {
            self.next_at = Instant::now() + EVERY;
            let (tx, rx) = std::sync::mpsc::channel();
            std::thread::spawn(move || {
                let _ = tx.send(fresh_look());
            });
            self.running = Some(rx);
        }
        false
    }

    fn apply(&mut self, seen: &BTreeMap<String, FoundServer>, browser: &mut Browser) -> bool {
        let mut changed = false;
        for (fullname, found) in seen {
            self.misses.remove(fullname);
            changed |= browser.confirm(found, fullname);
        }
        let known: Vec<String> = browser
            .servers_by_fullname()
            .map(|(name, _)| name.clone())
            .filter(|name| !seen.contains_key(name))
            .collect();
        for fullname in known {
            let misses = self.misses.entry(fullname.clone()).or_insert(0);
            *misses += 1;
            if *misses >= MISSES_TO_FORGET {
                self.misses.remove(&fullname);
                changed |= browser.forget(&fullname);
            }
        }
        changed
    }
}

fn fresh_look() -> Look {
    let mut browser = Browser::start().map_err(|e| e.to_string())?;
    browser.gather(LISTEN, LISTEN);
    let seen = browser
        .servers_by_fullname()
        .map(|(name, found)| (name.clone(), found.clone()))
        .collect();
    browser.stop();
    Ok(seen)
}
