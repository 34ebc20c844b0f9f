//! The agent's include scans: one scanner for all of a user's builds, so a header read for
//! one job is not lexed again for the next (its caches check each file's inode, size and
//! mtime, and a missing header's directory mtime, so files changed mid-build are seen); and
//! each file to ship packed for the wire, from the agent's cache of packed files. The wrapper
//! gets the tree's listing; the contents stay here and are written into the job's
//! connection when the wrapper asks ([`super::tree_writer`]).

use tokio::net::UnixStream;

use super::packed_files::PackedFiles;
use super::tree_writer;
use crate::include_scan::{ScanEnv, Scanner};
use crate::protocol::agent_scan::{ScanAnswer, ScanRequest};
use crate::protocol::closure_tree;
use crate::protocol::hashed_tree::Listing;
use crate::protocol::packed_tree::OutgoingEntry;
use crate::protocol::{ProtocolError, TokenWriter};

/// Scans off the async threads, answers the wrapper with the tree's listing, then writes
/// the tree where the wrapper asks until it hangs up.
pub async fn answer(
    scanner: std::sync::Arc<Scanner>,
    packed_files: std::sync::Arc<PackedFiles>,
    request: ScanRequest,
    stream: &mut UnixStream,
) -> Result<(), ProtocolError> {
    let scanned = tokio::task::spawn_blocking(move || tree(&scanner, &packed_files, request))
        .await
        .unwrap_or_else(|e| Err(format!("the agent's scan failed: {e}")));
    let entries = match scanned {
        Ok(entries) => entries,
        Err(why) => {
            return ScanAnswer::GaveUp(why)
                .write(&mut TokenWriter::new(&mut *stream))
                .await;
        }
    };
    ScanAnswer::Found(Listing::of(&entries))
        .write(&mut TokenWriter::new(&mut *stream))
        .await?;
    tree_writer::serve(stream, &entries).await
}

/// The tree the request's compile needs, every file packed, or why there is none.
fn tree(
    scanner: &Scanner,
    packed_files: &PackedFiles,
    request: ScanRequest,
) -> Result<Vec<OutgoingEntry>, String> {
    let env = ScanEnv {
        path: request.path,
        search_variables: request.search_variables,
    };
    let (closure, seen) = scanner
        .closure_seen(&request.cwd, &request.argv, &env)
        .map_err(|why| why.reason)?;
    let packed = closure
        .files
        .iter()
        .zip(seen)
        .map(|(path, stamp)| {
            packed_files
                .get(path, stamp)
                .map_err(|e| format!("cannot read {}: {e}", path.display()))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(closure_tree::entries(&closure, &packed))
}
