//! One view of every slot on every SSH host, shared by all wrappers of this user: a job waits
//! in a queue (woken when a slot frees, never polling) for the least-busy usable host among
//! its candidates. Hosts whose transport failed are skipped until their backoff ends.
//!
//! Each slot also holds distcc's lock file (`cpu_ssh_HOST_N`), so distcc clients sharing the
//! `DISTCC_DIR` see the agent's jobs and the agent skips slots they hold. Only while such an
//! outside holder blocks every free slot does a waiting job re-check on a timer.

use std::collections::{BTreeSet, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::Notify;

use crate::lock_files::{self, SlotLock};

/// How often a job re-checks slots that another program's lock keeps busy.
const OUTSIDE_LOCK_RECHECK: Duration = Duration::from_millis(200);

#[derive(Default)]
struct HostState {
    /// Slot numbers in use by the agent's own jobs.
    used: BTreeSet<u32>,
    backed_off_until: Option<Instant>,
}

#[derive(Default)]
pub struct Scheduler {
    hosts: Mutex<HashMap<String, HostState>>,
    freed: Notify,
    /// `$DISTCC_DIR/lock`, when slots are mirrored in distcc's lock files.
    lock_dir: Option<PathBuf>,
}

/// A held slot on host `key`; dropping it frees the slot (and its lock file) and wakes
/// waiting jobs.
pub struct Slot {
    scheduler: Arc<Scheduler>,
    key: String,
    pub number: u32,
    _lock: Option<SlotLock>,
}

/// One candidate host: its identity, how many jobs it takes at once, and its slot lock
/// file name for slot 0..limit (`cpu_ssh_HOST_N`).
pub struct Candidate<'a> {
    pub key: &'a str,
    pub limit: u32,
    pub lock_name: &'a (dyn Fn(u32) -> String + Sync),
}

impl Scheduler {
    pub fn with_lock_dir(lock_dir: Option<PathBuf>) -> Self {
        Scheduler {
            lock_dir,
            ..Scheduler::default()
        }
    }
}

impl Scheduler {
    /// Waits for a slot. Returns the index of the chosen candidate, or `None` when every
    /// candidate is in backoff (nothing to wait for).
    pub async fn acquire(self: &Arc<Self>, candidates: &[Candidate<'_>]) -> Option<(usize, Slot)> {
        loop {
            let freed = self.freed.notified();
            tokio::pin!(freed);
            freed.as_mut().enable();
            match self.try_pick(candidates) {
                Pick::Chosen {
                    index,
                    number,
                    lock,
                } => {
                    let key = candidates[index].key.to_string();
                    return Some((
                        index,
                        Slot {
                            scheduler: self.clone(),
                            key,
                            number,
                            _lock: lock,
                        },
                    ));
                }
                Pick::AllBackedOff => return None,
                Pick::Busy {
                    outside_locks: false,
                } => freed.await,
                Pick::Busy {
                    outside_locks: true,
                } => {
                    let _ = tokio::time::timeout(OUTSIDE_LOCK_RECHECK, freed).await;
                }
            }
        }
    }

    fn try_pick(&self, candidates: &[Candidate<'_>]) -> Pick {
        let now = Instant::now();
        let mut hosts = self.hosts.lock().expect("scheduler lock");
        let mut order: Vec<(usize, usize)> = Vec::new();
        let mut usable = false;
        for (index, candidate) in candidates.iter().enumerate() {
            let state = hosts.entry(candidate.key.to_string()).or_default();
            if state.backed_off_until.is_some_and(|until| until > now) {
                continue;
            }
            usable = true;
            if (state.used.len() as u32) < candidate.limit {
                order.push((state.used.len(), index));
            }
        }
        if !usable {
            return Pick::AllBackedOff;
        }
        // Breadth first: the least busy host wins, earlier hosts on ties (distcc's order).
        order.sort();
        let mut outside_locks = false;
        for (_, index) in order {
            let candidate = &candidates[index];
            let state = hosts.get_mut(candidate.key).expect("inserted above");
            for number in (0..candidate.limit).filter(|n| !state.used.contains(n)) {
                match self.lock_slot(&(candidate.lock_name)(number)) {
                    Some(lock) => {
                        state.used.insert(number);
                        return Pick::Chosen {
                            index,
                            number,
                            lock,
                        };
                    }
                    None => outside_locks = true,
                }
            }
        }
        Pick::Busy { outside_locks }
    }

    /// Whether a free slot can be taken: always without a lock directory (`Some(None)`);
    /// with one, only if no other program holds its lock file (`Some(Some(lock))`).
    fn lock_slot(&self, name: &str) -> Option<Option<SlotLock>> {
        let Some(dir) = &self.lock_dir else {
            return Some(None);
        };
        match lock_files::try_lock(dir, name) {
            Ok(Some(lock)) => Some(Some(lock)),
            Ok(None) => None,
            // A lock directory we cannot use must not stop the farm: schedule without it.
            Err(e) => {
                tracing::warn!(
                    "agent: cannot use lock file {}: {e}",
                    dir.join(name).display()
                );
                Some(None)
            }
        }
    }

    /// The host's transport failed: skip it for `period`.
    pub fn back_off(&self, key: &str, period: Duration) {
        if period.is_zero() {
            return;
        }
        let mut hosts = self.hosts.lock().expect("scheduler lock");
        hosts.entry(key.to_string()).or_default().backed_off_until = Some(Instant::now() + period);
    }

    pub fn clear_backoff(&self, key: &str) {
        if let Some(state) = self.hosts.lock().expect("scheduler lock").get_mut(key) {
            state.backed_off_until = None;
        }
    }

    /// Per host: slots in use and the backoff time left, for the monitor.
    pub fn host_states(&self) -> HashMap<String, (u32, Option<Duration>)> {
        let now = Instant::now();
        self.hosts
            .lock()
            .expect("scheduler lock")
            .iter()
            .map(|(key, h)| {
                let left = h
                    .backed_off_until
                    .and_then(|until| until.checked_duration_since(now))
                    .filter(|d| !d.is_zero());
                (key.clone(), (h.used.len() as u32, left))
            })
            .collect()
    }

    /// Jobs running now, over all hosts.
    pub fn busy(&self) -> u32 {
        self.hosts
            .lock()
            .expect("scheduler lock")
            .values()
            .map(|h| h.used.len() as u32)
            .sum()
    }
}

enum Pick {
    Chosen {
        index: usize,
        number: u32,
        lock: Option<SlotLock>,
    },
    Busy {
        outside_locks: bool,
    },
    AllBackedOff,
}

impl Drop for Slot {
    fn drop(&mut self) {
        if let Some(state) = self
            .scheduler
            .hosts
            .lock()
            .expect("scheduler lock")
            .get_mut(&self.key)
        {
            state.used.remove(&self.number);
        }
        self.scheduler.freed.notify_waiters();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_lock(_: u32) -> String {
        String::new()
    }

    fn cands<'a>(list: &[(&'a str, u32)]) -> Vec<Candidate<'a>> {
        list.iter()
            .map(|(key, limit)| Candidate {
                key,
                limit: *limit,
                lock_name: &no_lock,
            })
            .collect()
    }

    #[tokio::test]
    async fn breadth_first_over_hosts() {
        let s = Arc::new(Scheduler::default());
        let c = cands(&[("a", 2), ("b", 2)]);
        let (i1, _s1) = s.acquire(&c).await.unwrap();
        let (i2, _s2) = s.acquire(&c).await.unwrap();
        let (i3, _s3) = s.acquire(&c).await.unwrap();
        assert_eq!((i1, i2, i3), (0, 1, 0));
    }

    #[tokio::test]
    async fn a_waiting_job_starts_when_a_slot_frees() {
        let s = Arc::new(Scheduler::default());
        let c = cands(&[("a", 1)]);
        let (_, first) = s.acquire(&c).await.unwrap();
        let s2 = s.clone();
        let waiter = tokio::spawn(async move {
            let c = cands(&[("a", 1)]);
            s2.acquire(&c).await.map(|(i, _)| i)
        });
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!waiter.is_finished(), "the only slot is taken");
        drop(first);
        let got = tokio::time::timeout(Duration::from_secs(2), waiter)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(got, Some(0));
    }

    #[tokio::test]
    async fn backed_off_hosts_are_skipped_and_all_backed_off_is_none() {
        let s = Arc::new(Scheduler::default());
        s.back_off("a", Duration::from_secs(60));
        let c = cands(&[("a", 4), ("b", 4)]);
        assert_eq!(s.acquire(&c).await.unwrap().0, 1);
        s.back_off("b", Duration::from_secs(60));
        assert!(s.acquire(&c).await.is_none());
        s.clear_backoff("a");
        assert_eq!(s.acquire(&c).await.unwrap().0, 0);
    }
}
