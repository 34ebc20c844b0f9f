//! `distfarm mon --live`: the full-screen view.

use std::time::Duration;

use super::farm::Sources;

pub const DEFAULT_REFRESH: Duration = Duration::from_millis(250);

pub async fn run(_sources: &Sources, _refresh: Duration) -> i32 {
    eprintln!("distfarm mon --live: not implemented yet");
    1
}
