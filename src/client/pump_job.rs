//! The pump-mode parts of one job: the tree it sends (scanned once, in the agent when there
//! is one) and the exchange that sends it, or an engine's input root made of it.

use std::sync::Arc;

use super::attempt::JobStream;
use super::distribute::{Tries, Wrapper};
use super::engine_pump::{self, PumpInputs};
use super::job::CompileJob;
use super::pump::{self, NotPumped, PumpTree};
use super::pump_scan;
use super::remote::{self, RemoteError};
use crate::exit_code::ExitCode;
use crate::include_scan::ScanEnv;
use crate::monitor::{Phase, StateFile};
use crate::protocol::closure_tree;
use crate::protocol::{Limits, Response};
use crate::transport::counted::ByteCounts;

impl Wrapper<'_> {
    /// The pump-mode request for this job, scanned once: `None` when the job is
    /// preprocessed here instead. When the host list `asked` for pump mode, that comes with
    /// one warning naming the file and the reason, and `DISTCC_FALLBACK=0` makes it an error
    /// (`Err` is then the job's exit); a tree distfarm chose to send by itself (`-g` between
    /// distfarm ends) falls back quietly.
    pub(super) async fn pump_tree(
        &self,
        job: &CompileJob,
        tries: &mut Tries,
        asked: bool,
    ) -> Result<Option<Arc<PumpTree>>, i32> {
        if tries.pump.is_none() {
            let scanned = self.scan(job).await;
            if let (Err(why), false) = (&scanned, asked) {
                tracing::debug!("{} goes preprocessed: {why}", job.input);
            } else if let Err(why) = &scanned {
                self.not_pumped(job, why)?;
            }
            tries.pump = Some(scanned.map(Arc::new));
        }
        Ok(tries.pump.as_ref().and_then(|p| p.as_ref().ok()).cloned())
    }

    /// A job the host list asked to pump goes preprocessed after all: one warning naming the
    /// file and `why`, counted; with `DISTCC_FALLBACK=0` an error instead (`Err`: the exit).
    fn not_pumped(&self, job: &CompileJob, why: &NotPumped) -> Result<(), i32> {
        if !self.env.fallback {
            eprintln!(
                "distfarm[{}] ERROR: pump mode cannot be used for {}: {why}, and fallbacks \
                 are disabled (DISTCC_FALLBACK=0)",
                std::process::id(),
                job.input
            );
            return Err(ExitCode::DistccFailed.code());
        }
        tracing::warn!(
            "pump mode not used for {}: {why}; preprocessing locally",
            job.input
        );
        self.reporter.pump_demoted(why.to_string());
        Ok(())
    }

    /// The input root and argv of this job for an engine's `,cpp` entry: `None` when it goes
    /// preprocessed (the scan gave up, or the engine's root cannot hold what it found), with
    /// the same warning, count and `DISTCC_FALLBACK=0` rule as for a distcc `,cpp` host. The
    /// scanned files come whole from the agent (or the wrapper's own scan): they go on to the
    /// engine as blobs.
    pub(super) async fn engine_pump_inputs(
        &self,
        job: &CompileJob,
        tries: &mut Tries,
    ) -> Result<Option<PumpInputs>, i32> {
        let Some(tree) = self.pump_tree(job, tries, true).await? else {
            return Ok(None);
        };
        let limits = Limits {
            io_timeout: self.env.io_timeout,
            ..Limits::default()
        };
        let inputs = match tree.contents.entries(limits).await {
            Ok(entries) => closure_tree::mirrored(entries)
                .map_err(NotPumped::NotForEngine)
                .and_then(|mirrored| engine_pump::inputs(job, &tree.cwd, &mirrored)),
            Err(e) => Err(NotPumped::NotForEngine(format!(
                "the scanned files did not arrive from the agent: {e}"
            ))),
        };
        match inputs {
            Ok(inputs) => Ok(Some(inputs)),
            Err(why) => {
                self.not_pumped(job, &why)?;
                // Told once: the job goes on in plain mode.
                tries.pump_failed = true;
                Ok(None)
            }
        }
    }

    /// The include scan (in the agent when there is one) and the files it found.
    pub(super) async fn scan(&self, job: &CompileJob) -> Result<PumpTree, NotPumped> {
        if let Some(why) = pump::unpumpable(job) {
            return Err(why);
        }
        let cwd = std::env::current_dir().map_err(|e| NotPumped::NoCwd(e.to_string()))?;
        let argv = pump::pump_argv(job);
        let env = ScanEnv {
            path: self.path.clone(),
            search_variables: self.env.include_path_vars.clone(),
        };
        let (listing, contents) = pump_scan::tree(self.env, &self.ssh, &cwd, &argv, env).await?;
        Ok(PumpTree {
            cwd,
            argv,
            listing,
            contents,
        })
    }

    /// Sends the tree (by content hash when the far end keeps headers) and reads the answer.
    pub(super) async fn compile_pumped(
        &self,
        connected: JobStream,
        tree: &PumpTree,
        state: Option<&StateFile>,
        bytes: &ByteCounts,
    ) -> Result<Response, RemoteError> {
        if let Some(state) = state {
            state.phase(Phase::Send);
        }
        let limits = Limits {
            io_timeout: self.env.io_timeout,
            ..Limits::default()
        };
        let response = remote::compile_tree(connected, tree, limits, bytes).await?;
        if let Some(state) = state {
            state.phase(Phase::Receive);
        }
        Ok(response)
    }
}
