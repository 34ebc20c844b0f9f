//! The part of a version 3 (pump mode) request that plain modes do not have: the client's
//! files, written into a fresh job root as they arrive (so a large tree never sits in
//! memory), with the client's working directory mirrored there.

use std::path::PathBuf;

use tokio::io::AsyncRead;

use super::cache::TreeDigest;
use super::job_root::JobRoot;
use super::refusal::Refusal;
use crate::protocol::file_tree::{read_count, read_entry};
use crate::protocol::{ProtocolError, TokenReader};

/// Why a tree was not taken.
pub enum TreeError {
    /// The client broke the protocol or went away.
    Protocol(ProtocolError),
    /// An entry the server will not write (outside the root, through a link, too large).
    Refused(Refusal),
}

/// Reads `NFIL` and its entries into a root made in `job_dir`; returns the root and the
/// mirrored working directory, where the compiler will run. Each entry is added to `digest`
/// when there is one (for the result cache's key).
pub async fn read_tree<R: AsyncRead + Unpin>(
    reader: &mut TokenReader<R>,
    cwd: &[u8],
    job_dir: &std::path::Path,
    mut digest: Option<&mut TreeDigest>,
) -> Result<(JobRoot, PathBuf), TreeError> {
    let limit = reader.limits().max_decompressed;
    let mut root = JobRoot::create(job_dir, limit).map_err(|e| {
        TreeError::Refused(Refusal::new(
            "the job",
            format!("cannot create its root in {}: {e}", job_dir.display()),
        ))
    })?;
    let workdir = root.mirror_dir(cwd).map_err(TreeError::Refused)?;
    let count = read_count(reader).await.map_err(TreeError::Protocol)?;
    for _ in 0..count {
        let entry = read_entry(reader).await.map_err(TreeError::Protocol)?;
        root.add(&entry).map_err(TreeError::Refused)?;
        if let Some(digest) = digest.as_deref_mut() {
            digest.add(&entry);
        }
    }
    Ok((root, workdir))
}
