//! The agent's include scans: one scanner for all of a user's builds, so a header read for
//! one job is not lexed again for the next (its caches check each file's inode, size and
//! mtime, and a missing header's directory mtime, so files changed mid-build are seen); and
//! each file to ship goes back packed for the wire, from the agent's cache of packed files.

use tokio::net::UnixStream;

use super::packed_files::PackedFiles;
use crate::include_scan::{ScanEnv, Scanner};
use crate::protocol::agent_scan::{ScanAnswer, ScanRequest};
use crate::protocol::{ProtocolError, TokenWriter};

/// Scans off the async threads and answers the wrapper, with every file to ship packed.
pub async fn answer(
    scanner: std::sync::Arc<Scanner>,
    packed_files: std::sync::Arc<PackedFiles>,
    request: ScanRequest,
    stream: &mut UnixStream,
) -> Result<(), ProtocolError> {
    let answer = tokio::task::spawn_blocking(move || {
        let env = ScanEnv {
            path: request.path,
            search_variables: request.search_variables,
        };
        let closure = match scanner.closure_in(&request.cwd, &request.argv, &env) {
            Ok(closure) => closure,
            Err(why) => return ScanAnswer::GaveUp(why.reason),
        };
        let packed: Result<Vec<_>, _> = closure
            .files
            .iter()
            .map(|path| {
                packed_files
                    .get(path)
                    .map_err(|e| format!("cannot read {}: {e}", path.display()))
            })
            .collect();
        match packed {
            Ok(packed) => ScanAnswer::Found(closure, packed),
            Err(why) => ScanAnswer::GaveUp(why),
        }
    })
    .await
    .unwrap_or_else(|e| ScanAnswer::GaveUp(format!("the agent's scan failed: {e}")));
    answer.write(&mut TokenWriter::new(stream)).await
}
