//! Where a pump-mode job's include scan runs: in the agent, whose scanner keeps its caches
//! from job to job (a build's headers are lexed once, not once per file) and which keeps the
//! files packed for the wire (compressed once per version) and writes them into the job's
//! connection itself; here, with a fresh scanner and reading every file, when the agent is
//! disabled or does not answer.

use std::path::Path;
use std::sync::Arc;

use super::agent_link;
use super::tree_contents::TreeContents;
use crate::config::{ClientEnv, SshEnv};
use crate::include_scan::{GiveUp, ScanEnv, Scanner};
use crate::protocol::agent_scan::{ScanAnswer, ScanRequest};
use crate::protocol::closure_tree;
use crate::protocol::hashed_tree::Listing;
use crate::protocol::packed_tree::PackedFile;

/// The tree `argv` run in `cwd` needs (the files it may open, and what mirrors their
/// paths), or why the scanner cannot tell.
pub async fn tree(
    env: &ClientEnv,
    ssh: &SshEnv,
    cwd: &Path,
    argv: &[String],
    scan_env: ScanEnv,
) -> Result<(Listing, TreeContents), GiveUp> {
    let request = ScanRequest {
        cwd: cwd.to_path_buf(),
        argv: argv.to_vec(),
        path: scan_env.path.clone(),
        search_variables: scan_env.search_variables.clone(),
    };
    if ssh.agent_enabled
        && let Some(stream) = agent_link::reach(env, ssh).await
    {
        match agent_link::scan(stream, &request).await {
            Ok((ScanAnswer::Found(listing), agent)) => {
                return Ok((listing, TreeContents::InAgent(agent.into())));
            }
            Ok((ScanAnswer::GaveUp(reason), _)) => return Err(GiveUp::new(reason)),
            Err(e) => tracing::debug!("the agent did not scan ({e}); scanning here"),
        }
    }
    tokio::task::spawn_blocking(move || {
        let closure = Scanner::for_one_scan().closure_in(&request.cwd, &request.argv, &scan_env)?;
        let packed = closure
            .files
            .iter()
            .map(|path| match std::fs::read(path) {
                Ok(content) => Ok(Arc::new(PackedFile::of(&content))),
                Err(e) => Err(GiveUp::new(format!("cannot read {}: {e}", path.display()))),
            })
            .collect::<Result<Vec<_>, _>>()?;
        let entries = closure_tree::entries(&closure, &packed);
        Ok((Listing::of(&entries), TreeContents::Here(entries)))
    })
    .await
    .unwrap_or_else(|e| Err(GiveUp::new(format!("the scan failed: {e}"))))
}
