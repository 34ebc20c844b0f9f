//! Waiting for a build's driver (make, ninja …) to exit without looking again and again: a
//! pidfd becomes readable when its process ends. An agent that polled `/proc` five times a
//! second spent about 5 ms of CPU a second on it for as long as a build ran (each wake-up of
//! the runtime costs that much on a virtual machine); this wakes it once.

use std::os::fd::{FromRawFd, OwnedFd, RawFd};
use std::time::Duration;

use tokio::io::Interest;
use tokio::io::unix::AsyncFd;

/// How often a driver is looked at where no pidfd can be had (Linux before 5.3).
const POLL: Duration = Duration::from_secs(1);

/// Resolves when process `pid`, started at `start` (clock ticks since boot), has exited; at
/// once if that pid is gone or names another process already.
pub async fn exited(pid: u32, start: u64) {
    match open(pid) {
        // Opened before this look, so the pidfd cannot name a process that took the pid
        // after ours ended.
        Some(pidfd) if crate::proc_stat::is_alive(pid, start) => {
            // SAFETY: an OwnedFd stays open, and the same descriptor, until the AsyncFd
            // drops it.
            match unsafe { AsyncFd::register_with_interest(pidfd, Interest::READABLE) } {
                Ok(pidfd) => {
                    let _ = pidfd.readable().await;
                }
                Err(_) => poll(pid, start).await,
            }
        }
        Some(_) => {}
        None => poll(pid, start).await,
    }
}

fn open(pid: u32) -> Option<OwnedFd> {
    let pid = nix::libc::pid_t::try_from(pid).ok()?;
    // SAFETY: pidfd_open takes a pid and flags and returns a new descriptor or -1.
    let fd = unsafe { nix::libc::syscall(nix::libc::SYS_pidfd_open, pid, 0) };
    // SAFETY: a non-negative result is a descriptor this process now owns.
    (fd >= 0).then(|| unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

async fn poll(pid: u32, start: u64) {
    while crate::proc_stat::is_alive(pid, start) {
        tokio::time::sleep(POLL).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_driver_is_seen_to_exit_when_it_exits_and_not_before() {
        let mut child = std::process::Command::new("sleep")
            .arg("0.5")
            .spawn()
            .unwrap();
        let pid = child.id();
        let start = crate::proc_stat::read(pid).unwrap().start;
        let waiting = tokio::time::timeout(Duration::from_millis(200), exited(pid, start));
        assert!(waiting.await.is_err(), "it still runs");
        let reaper = std::thread::spawn(move || child.wait());
        tokio::time::timeout(Duration::from_secs(5), exited(pid, start))
            .await
            .expect("seen to exit");
        reaper.join().unwrap().unwrap();
    }

    #[tokio::test]
    async fn another_process_under_the_same_pid_counts_as_exited() {
        let me = std::process::id();
        let start = crate::proc_stat::read(me).unwrap().start;
        tokio::time::timeout(Duration::from_secs(1), exited(me, start + 1))
            .await
            .expect("not our driver: at once");
    }
}
