//! `distfarm agent` (started by the first wrapper that needs it): logging to stderr, which
//! the wrapper turns into the agent's log, the account read once, and the agent's runtime.

use std::path::{Path, PathBuf};
use std::time::Duration;

pub fn main(socket: &Path, idle: Duration, lock_dir: Option<PathBuf>) -> i32 {
    crate::logging::init(tracing::Level::INFO, crate::logging::Sink::Stderr);
    let account = crate::config::Account::current();
    // One thread: the agent mostly waits and relays, and its CPU-bound work (include scans,
    // packing) runs on the blocking pool anyway; with worker threads, waking each other
    // cost a pump-mode build ~10 % of the agent's CPU (BENCHMARKS.md). Nothing else it does
    // may block: a wrapper's stderr is written without blocking (builds.rs).
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
        .block_on(crate::agent::serve(socket, lock_dir, idle, account))
}
