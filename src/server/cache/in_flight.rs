//! Identical jobs arriving together compile once: the first claims the key, the others wait
//! until it is done (its answer stored, or its compile come to nothing) and look again.

use std::collections::HashMap;
use std::sync::Mutex;

use tokio::sync::watch;

#[derive(Default)]
pub(super) struct InFlight {
    /// Keys being compiled, each with a receiver that wakes when its leader is dropped.
    running: Mutex<HashMap<[u8; 32], watch::Receiver<()>>>,
}

pub(super) enum Claim<'a> {
    /// This job compiles the key; the others wait until the guard is dropped.
    Leader(LeaderGuard<'a>),
    /// Another job compiles it: `changed()` returns (with an error) once that one is done.
    Wait(watch::Receiver<()>),
}

pub(super) struct LeaderGuard<'a> {
    in_flight: &'a InFlight,
    hash: [u8; 32],
    // Dropped after the map entry is gone: waiters that wake find the key free.
    _done: watch::Sender<()>,
}

impl InFlight {
    pub(super) fn claim(&self, hash: &[u8; 32]) -> Claim<'_> {
        let mut running = self.running.lock().unwrap();
        if let Some(done) = running.get(hash) {
            return Claim::Wait(done.clone());
        }
        let (done, waiting) = watch::channel(());
        running.insert(*hash, waiting);
        Claim::Leader(LeaderGuard {
            in_flight: self,
            hash: *hash,
            _done: done,
        })
    }
}

impl Drop for LeaderGuard<'_> {
    fn drop(&mut self) {
        self.in_flight.running.lock().unwrap().remove(&self.hash);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_second_claim_waits_until_the_leader_is_dropped() {
        let in_flight = InFlight::default();
        let Claim::Leader(leader) = in_flight.claim(&[1; 32]) else {
            panic!("the first claim leads");
        };
        let Claim::Wait(mut done) = in_flight.claim(&[1; 32]) else {
            panic!("the second claim waits");
        };
        assert!(matches!(in_flight.claim(&[2; 32]), Claim::Leader(_)));
        drop(leader);
        assert!(done.changed().await.is_err(), "woken by the leader's end");
        assert!(matches!(in_flight.claim(&[1; 32]), Claim::Leader(_)));
    }
}
