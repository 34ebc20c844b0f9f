//! The agent's include scans: one scanner for all of a user's builds, so a header read for
//! one job is not lexed again for the next (its caches check each file's inode, size and
//! mtime, and a missing header's directory mtime, so files changed mid-build are seen).

use tokio::net::UnixStream;

use crate::include_scan::{ScanEnv, Scanner};
use crate::protocol::agent_scan::{ScanAnswer, ScanRequest};
use crate::protocol::{ProtocolError, TokenWriter};

/// Scans off the async threads and answers the wrapper.
pub async fn answer(
    scanner: std::sync::Arc<Scanner>,
    request: ScanRequest,
    stream: &mut UnixStream,
) -> Result<(), ProtocolError> {
    let answer = tokio::task::spawn_blocking(move || {
        let env = ScanEnv {
            path: request.path,
            search_variables: request.search_variables,
        };
        match scanner.closure_in(&request.cwd, &request.argv, &env) {
            Ok(closure) => ScanAnswer::Found(closure),
            Err(why) => ScanAnswer::GaveUp(why.reason),
        }
    })
    .await
    .unwrap_or_else(|e| ScanAnswer::GaveUp(format!("the agent's scan failed: {e}")));
    answer.write(&mut TokenWriter::new(stream)).await
}
