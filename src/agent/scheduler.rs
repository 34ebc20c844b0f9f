//! One view of every slot on every SSH host, shared by all wrappers of this user: a job waits
//! in a queue (woken when a slot frees, never polling) for the least-busy usable host among
//! its candidates. Hosts whose transport failed are skipped until their backoff ends.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::Notify;

#[derive(Default)]
struct HostState {
    busy: u32,
    backed_off_until: Option<Instant>,
}

#[derive(Default)]
pub struct Scheduler {
    hosts: Mutex<HashMap<String, HostState>>,
    freed: Notify,
}

/// A held slot on host `key`; dropping it frees the slot and wakes waiting jobs.
pub struct Slot {
    scheduler: Arc<Scheduler>,
    key: String,
}

/// One candidate host: its identity and how many jobs it takes at once.
pub struct Candidate<'a> {
    pub key: &'a str,
    pub limit: u32,
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
                Pick::Chosen(index) => {
                    let key = candidates[index].key.to_string();
                    return Some((
                        index,
                        Slot {
                            scheduler: self.clone(),
                            key,
                        },
                    ));
                }
                Pick::AllBackedOff => return None,
                Pick::Busy => freed.await,
            }
        }
    }

    fn try_pick(&self, candidates: &[Candidate<'_>]) -> Pick {
        let now = Instant::now();
        let mut hosts = self.hosts.lock().expect("scheduler lock");
        let mut best: Option<(usize, u32)> = None;
        let mut usable = false;
        for (index, candidate) in candidates.iter().enumerate() {
            let state = hosts.entry(candidate.key.to_string()).or_default();
            if state.backed_off_until.is_some_and(|until| until > now) {
                continue;
            }
            usable = true;
            // Breadth first: the least busy host wins, earlier hosts on ties (distcc's order).
            if state.busy < candidate.limit && best.is_none_or(|(_, busy)| state.busy < busy) {
                best = Some((index, state.busy));
            }
        }
        match best {
            Some((index, _)) => {
                hosts
                    .get_mut(candidates[index].key)
                    .expect("just inserted")
                    .busy += 1;
                Pick::Chosen(index)
            }
            None if usable => Pick::Busy,
            None => Pick::AllBackedOff,
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

    /// Jobs running now, over all hosts.
    pub fn busy(&self) -> u32 {
        self.hosts
            .lock()
            .expect("scheduler lock")
            .values()
            .map(|h| h.busy)
            .sum()
    }
}

enum Pick {
    Chosen(usize),
    Busy,
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
            state.busy = state.busy.saturating_sub(1);
        }
        self.scheduler.freed.notify_waiters();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cands<'a>(list: &[(&'a str, u32)]) -> Vec<Candidate<'a>> {
        list.iter()
            .map(|(key, limit)| Candidate { key, limit: *limit })
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
