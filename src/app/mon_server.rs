//! `distfarm mon --server HOST`: a server's per-client counters.

use std::time::Duration;

use crate::config::{ClientEnv, SshEnv};

pub async fn main(
    host: &str,
    _env: &ClientEnv,
    _ssh: &SshEnv,
    _json: bool,
    _interval: Option<Duration>,
) -> i32 {
    eprintln!("distfarm mon --server {host}: not implemented yet");
    1
}
