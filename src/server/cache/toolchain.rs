//! The compiler's identity, for the key: the file the server runs (its path, real path,
//! inode, size, modification and change times), what `--version` says, and the same file
//! identity of the programs it runs for a compile (`cc1`, `cc1plus`, `as`), which a package
//! upgrade may replace without touching the driver.
//!
//! `--version` and `-print-prog-name` run once per compiler file (its path and identity):
//! a replaced or touched compiler is asked again. The helpers' own identity is read at every
//! job, since they can change under an unchanged driver.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::file_identity::file_identity;
use super::key::KeyBytes;
use crate::server::child::{confinement, job_command};
use crate::server::settings::ServerSettings;

/// A probe that takes longer than this is not a compiler worth caching for.
const PROBE_TIMEOUT: Duration = Duration::from_secs(20);

/// The programs a compile runs besides the driver, as gcc names them.
const HELPERS: [&str; 3] = ["cc1", "cc1plus", "as"];

#[derive(Default)]
pub(super) struct Toolchains {
    /// Compiler file identity → what its probe found; `None`: it cannot be probed.
    probes: Mutex<HashMap<Vec<u8>, Option<Arc<Probe>>>>,
}

struct Probe {
    /// `--version`'s status, stdout and stderr.
    version: Vec<u8>,
    /// Where the helpers are: an absolute path, or what the compiler printed when it is not.
    helpers: Vec<Result<PathBuf, Vec<u8>>>,
}

impl Toolchains {
    /// The identity bytes of `compiler`; `None` when it cannot be read or probed.
    pub(super) async fn identity(
        &self,
        compiler: &Path,
        job_dir: &Path,
        settings: &ServerSettings,
    ) -> Option<Vec<u8>> {
        let file = file_identity(compiler).ok()?;
        let known = self.probes.lock().unwrap().get(&file).cloned();
        let probe = match known {
            Some(probe) => probe?,
            None => {
                let probe = probe(compiler, job_dir, settings).await.map(Arc::new);
                if probe.is_none() {
                    tracing::info!(
                        "cache: {} could not be asked its version; its jobs are not cached",
                        compiler.display()
                    );
                }
                self.probes
                    .lock()
                    .unwrap()
                    .insert(file.clone(), probe.clone());
                probe?
            }
        };
        let mut key = KeyBytes::default();
        key.field("compiler", &file)
            .field("version", &probe.version);
        for (name, helper) in HELPERS.iter().zip(&probe.helpers) {
            match helper {
                Ok(path) => key.field(name, &file_identity(path).unwrap_or_default()),
                Err(printed) => key.field(name, printed),
            };
        }
        Some(key.into_bytes())
    }
}

async fn probe(compiler: &Path, job_dir: &Path, settings: &ServerSettings) -> Option<Probe> {
    let version = run(compiler, &["--version"], job_dir, settings).await?;
    if !version.0 {
        return None;
    }
    let mut helpers = Vec::new();
    for helper in HELPERS {
        let (_, printed) = run(
            compiler,
            &[&format!("-print-prog-name={helper}")],
            job_dir,
            settings,
        )
        .await?;
        let name = String::from_utf8_lossy(&printed).trim().to_string();
        let found = if name.starts_with('/') {
            Some(PathBuf::from(&name))
        } else {
            settings
                .child_path
                .as_deref()
                .and_then(|path| crate::executables::find_on_path(&name, path))
        };
        helpers.push(found.ok_or(printed));
    }
    Some(Probe {
        version: version.1,
        helpers,
    })
}

/// Runs `compiler args` as a job's programs run (confined, the job's `PATH`); its success
/// and what it printed (stdout, then stderr).
async fn run(
    compiler: &Path,
    args: &[&str],
    job_dir: &Path,
    settings: &ServerSettings,
) -> Option<(bool, Vec<u8>)> {
    let confinement = confinement(job_dir, compiler, settings);
    let mut command =
        job_command(compiler, job_dir, job_dir, confinement.as_ref(), settings).ok()?;
    command
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let output = tokio::time::timeout(PROBE_TIMEOUT, command.output())
        .await
        .ok()?
        .ok()?;
    let mut printed = output.stdout;
    printed.extend_from_slice(&output.stderr);
    Some((output.status.success(), printed))
}
