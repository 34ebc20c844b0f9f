//! Pump mode on the client (hosts with `,cpp,lzo`, protocol 3): instead of preprocessing,
//! find the files the compile may open (the include scanner) and send them with the
//! command, for the server to preprocess. What goes on the wire is what distcc 3.4's pump
//! client sends ([`crate::protocol::closure_tree`]), so the real `distccd` and
//! `distfarm serve` both take it.

use std::path::PathBuf;

use super::job::CompileJob;
use super::tree_contents::TreeContents;
use crate::include_scan::GiveUp;
use crate::protocol::hashed_tree::Listing;

/// A pump-mode request's body: the working directory, the command, the files — named by
/// the listing (each entry with its content's hash or its link target), their contents
/// kept here or by the agent.
#[derive(Debug)]
pub struct PumpTree {
    pub cwd: PathBuf,
    pub argv: Vec<String>,
    pub listing: Listing,
    pub contents: TreeContents,
}

/// Why this job is preprocessed here after all (one warning names the file and this).
#[derive(Debug, Clone, thiserror::Error)]
pub enum NotPumped {
    #[error("its input is already preprocessed")]
    Preprocessed,
    #[error("{0}")]
    Scan(#[from] GiveUp),
    #[error("the working directory is unknown: {0}")]
    NoCwd(String),
    /// An engine's input root cannot hold this job as scanned (`engine_pump`).
    #[error("{0}")]
    NotForEngine(String),
}

/// The argv a pump-mode server gets: the whole compile command (it preprocesses, so nothing
/// is stripped), with `-MT OUTPUT` when a `.d` file is wanted and no target was named, so the
/// server's `.d` names the client's object (distcc's `dcc_get_dotd_info`).
pub fn pump_argv(job: &CompileJob) -> Vec<String> {
    let mut argv = job.argv.clone();
    if let Some(deps) = &job.dependencies
        && !deps.target_given
    {
        argv.extend(["-MT".to_string(), job.output.clone()]);
    }
    argv
}

/// Why `job` cannot be pumped whatever its includes are.
pub fn unpumpable(job: &CompileJob) -> Option<NotPumped> {
    job.preprocessed.then_some(NotPumped::Preprocessed)
}
