//! `distfarm agent` (started by the first wrapper that needs it): logging to stderr, which
//! the wrapper turns into the agent's log, the account read once, and the agent's runtime.

use std::path::{Path, PathBuf};
use std::time::Duration;

pub fn main(socket: &Path, idle: Duration, lock_dir: Option<PathBuf>) -> i32 {
    crate::logging::init(tracing::Level::INFO, crate::logging::Sink::Stderr);
    let account = crate::config::Account::current();
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
        .block_on(crate::agent::serve(socket, lock_dir, idle, account))
}
