//! Choosing where a job runs, with distcc's slot files: slot 0 of every usable host before
//! slot 1 of any ("breadth first"), earlier hosts first, hosts in backoff skipped, and a
//! pause between rounds when everything is busy.

use std::path::Path;
use std::time::Duration;

use crate::hosts::{HostList, HostSpec, local_lock_name};
use crate::lock_files::{self as lock, SlotLock};

/// Where the job goes, holding the slot until dropped.
#[derive(Debug)]
pub enum Choice {
    Remote {
        host: HostSpec,
        slot: u32,
        lock: SlotLock,
    },
    /// The `localhost` entry won: compile here under its slot.
    Localhost { slot: u32, lock: SlotLock },
    /// No host is usable (none listed, all down, or all in backoff or already tried).
    NoHost,
}

/// Usable hosts: not `,down`, not in backoff, not tried already by this job.
pub fn candidates<'a>(
    list: &'a HostList,
    lock_dir: &Path,
    backoff: Duration,
    tried: &[String],
) -> Vec<&'a HostSpec> {
    list.hosts
        .iter()
        .filter(|h| !h.down && !tried.contains(&h.text))
        .filter(|h| h.is_local() || !lock::is_backed_off(lock_dir, &h.backoff_name(), backoff))
        .collect()
}

/// Waits for a free slot among `hosts`. Never gives up while a candidate exists, like distcc.
pub async fn pick(
    hosts: &[&HostSpec],
    lock_dir: &Path,
    pause: Duration,
) -> std::io::Result<Choice> {
    let Some(widest) = hosts.iter().map(|h| h.limit).max() else {
        return Ok(Choice::NoHost);
    };
    loop {
        for slot in 0..widest {
            for host in hosts.iter().filter(|h| slot < h.limit) {
                if let Some(lock) = lock::try_lock(lock_dir, &host.lock_name(slot))? {
                    return Ok(if host.is_local() {
                        Choice::Localhost { slot, lock }
                    } else {
                        Choice::Remote {
                            host: (*host).clone(),
                            slot,
                            lock,
                        }
                    });
                }
            }
        }
        tokio::time::sleep(pause.max(Duration::from_millis(10))).await;
    }
}

/// A local slot (`--localslots`, or `--localslots_cpp` for preprocessing), shared with the
/// `localhost` entry's files as in distcc.
pub async fn local_slot(
    limit: u32,
    lock_dir: &Path,
    pause: Duration,
) -> std::io::Result<(u32, SlotLock)> {
    loop {
        for slot in 0..limit.max(1) {
            if let Some(lock) = lock::try_lock(lock_dir, &local_lock_name(slot))? {
                return Ok((slot, lock));
            }
        }
        tokio::time::sleep(pause.max(Duration::from_millis(10))).await;
    }
}
