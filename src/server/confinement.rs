//! Which confinement a server's compilers run in, chosen once at start, and the one each
//! job's programs enter. Landlock (`sandbox`) where it works; else a mount namespace
//! (`mount_jail`) that shows the same places and nothing else; else none, which a server
//! accepts only when told so: a compiler run unconfined can read every file the server's
//! user can (an `.incbin` of it in the answer) and write wherever that user may.

use std::path::Path;
use std::sync::Arc;

use super::mount_jail::{self, Jail};
use super::sandbox::{self, Confinement};
use crate::config::CcacheEnv;

/// The confinement a server runs its compilers in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfinementMode {
    Landlock,
    /// A mount namespace (in a user namespace unless the server is root).
    Namespaces,
    Unconfined,
}

/// What the operator asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wanted {
    /// The best that works here, refusing to start if none does.
    Auto,
    /// This one, refusing to start if it does not work.
    Landlock,
    Namespaces,
    /// None (`--unconfined`, `DISTFARM_CONFINE=0`).
    Unconfined,
}

/// Tries what was asked for, starting confined programs in `tmpdir` as jobs would, and
/// says which confinement compilers will run in; `Err` says why the server must not start.
/// Run as the user that serves: a namespace that root can make, another user may not.
pub fn choose(wanted: Wanted, tmpdir: &Path) -> Result<ConfinementMode, String> {
    let (mode, said) = decide(
        wanted,
        || landlock_works(tmpdir),
        || mount_jail::works(tmpdir),
    )?;
    if mode == ConfinementMode::Unconfined {
        tracing::warn!("{said}");
    } else {
        tracing::info!("{said}");
    }
    Ok(mode)
}

/// The choice `choose` makes from what the probes find (Landlock's ABI, or why it does not
/// work; whether a mount namespace does), with what the server says at start about it.
/// A probe runs only when its answer matters.
pub fn decide(
    wanted: Wanted,
    landlock: impl FnOnce() -> Result<i64, String>,
    namespaces: impl FnOnce() -> Result<(), String>,
) -> Result<(ConfinementMode, String), String> {
    const SHOWN: &str = "that shows them only the system directories, their installation and \
        their job directory";
    let landlock_why = match wanted {
        Wanted::Unconfined => {
            return Ok((
                ConfinementMode::Unconfined,
                "compilers run UNCONFINED as asked (--unconfined or DISTFARM_CONFINE=0): they \
                 may read any file this server's user can and write wherever it may; only the \
                 text check of the assembly they generate stands"
                    .to_string(),
            ));
        }
        Wanted::Namespaces => None,
        Wanted::Auto | Wanted::Landlock => match landlock() {
            Ok(abi) => {
                return Ok((
                    ConfinementMode::Landlock,
                    format!("compilers run confined with Landlock (ABI {abi})"),
                ));
            }
            Err(why) if wanted == Wanted::Landlock => {
                return Err(format!(
                    "--confinement landlock: Landlock does not work here: {why}"
                ));
            }
            Err(why) => Some(why),
        },
    };
    match (namespaces(), landlock_why) {
        (Ok(()), None) => Ok((
            ConfinementMode::Namespaces,
            format!(
                "compilers run confined in a mount namespace {SHOWN} (--confinement namespaces)"
            ),
        )),
        (Ok(()), Some(landlock_why)) => Ok((
            ConfinementMode::Namespaces,
            format!(
                "compilers run confined in a mount namespace {SHOWN}, since Landlock does not \
                 work here: {landlock_why}"
            ),
        )),
        (Err(why), None) => Err(format!(
            "--confinement namespaces: a mount namespace does not work here: {why}"
        )),
        (Err(why), Some(landlock_why)) => Err(format!(
            "no confinement for compilers works here, so this server will not start. \
             Landlock: {landlock_why}. Mount namespace: {why}. Unconfined, a compiler could \
             read any file this server's user can read into its answer and write wherever \
             that user may. To run compilers unconfined anyway, start with --unconfined (or \
             DISTFARM_CONFINE=0)."
        )),
    }
}

/// Landlock's ABI if a program confined by it starts here, else why not.
fn landlock_works(tmpdir: &Path) -> Result<i64, String> {
    let abi = sandbox::abi_version();
    if abi == 0 {
        Err("this kernel has none (Linux 5.13 or later with the landlock LSM enabled)".into())
    } else if !sandbox::works(tmpdir) {
        Err(format!(
            "ABI {abi} is there but a confined program could not start (a container's \
             system-call filter?)"
        ))
    } else {
        Ok(abi)
    }
}

/// The confinement the programs of one job enter.
#[derive(Debug)]
pub enum JobConfinement {
    Landlock(Confinement),
    Namespaces(Arc<Jail>),
    /// The server's confinement could not be prepared for this job: its programs do not
    /// start, rather than start unconfined.
    Unavailable(String),
}

impl JobConfinement {
    /// For compiling in `job_dir` with `compiler` and the other `programs` a job runs,
    /// under `mode`; `None` when compilers run unconfined.
    pub fn for_job(
        mode: ConfinementMode,
        job_dir: &Path,
        compiler: &Path,
        programs: &[&Path],
        ccache: &CcacheEnv,
    ) -> Option<JobConfinement> {
        Some(match mode {
            ConfinementMode::Unconfined => return None,
            ConfinementMode::Landlock => {
                match Confinement::for_job(job_dir, compiler, programs, ccache) {
                    Some(confinement) => JobConfinement::Landlock(confinement),
                    None => JobConfinement::Unavailable("the kernel refused its rules".into()),
                }
            }
            ConfinementMode::Namespaces => {
                match Jail::for_job(job_dir, compiler, programs, ccache) {
                    Ok(jail) => JobConfinement::Namespaces(Arc::new(jail)),
                    Err(e) => JobConfinement::Unavailable(e.to_string()),
                }
            }
        })
    }

    /// Makes `command` enter this confinement between fork and exec (the command must
    /// have its working directory set: the job's programs run in the job directory).
    pub fn apply(&self, command: &mut std::process::Command) -> std::io::Result<()> {
        use std::os::unix::process::CommandExt;
        match self {
            JobConfinement::Landlock(confinement) => {
                let enter = confinement.enter_in_child()?;
                // SAFETY: the hook neither allocates nor locks (see server/sandbox.rs).
                unsafe {
                    command.pre_exec(enter);
                }
            }
            JobConfinement::Namespaces(jail) => {
                let jail = jail.clone();
                // SAFETY: `enter` neither allocates nor locks (see server/mount_jail.rs).
                unsafe {
                    command.pre_exec(move || jail.enter().map_err(Into::into));
                }
            }
            JobConfinement::Unavailable(why) => {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::PermissionDenied,
                    format!("cannot confine the job's programs: {why}"),
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn landlock_missing() -> Result<i64, String> {
        Err("this kernel has none".into())
    }

    fn no_namespaces() -> Result<(), String> {
        Err("unshare: EPERM".into())
    }

    #[test]
    fn landlock_is_chosen_where_it_works_and_namespaces_are_not_even_tried() {
        let (mode, said) = decide(Wanted::Auto, || Ok(6), || panic!("tried")).unwrap();
        assert_eq!(mode, ConfinementMode::Landlock);
        assert!(said.contains("Landlock (ABI 6)"), "{said}");
    }

    #[test]
    fn without_landlock_a_mount_namespace_is_chosen_and_the_server_says_why() {
        let (mode, said) = decide(Wanted::Auto, landlock_missing, || Ok(())).unwrap();
        assert_eq!(mode, ConfinementMode::Namespaces);
        assert!(
            said.contains("mount namespace") && said.contains("has none"),
            "{said}"
        );
    }

    #[test]
    fn with_no_confinement_at_all_the_server_refuses_and_names_the_way_out() {
        let why = decide(Wanted::Auto, landlock_missing, no_namespaces).unwrap_err();
        for needle in ["will not start", "has none", "EPERM", "--unconfined"] {
            assert!(why.contains(needle), "{needle:?} missing from: {why}");
        }
    }

    #[test]
    fn a_forced_confinement_is_the_only_one_tried_and_refuses_if_it_fails() {
        let (mode, _) = decide(Wanted::Namespaces, || panic!("tried"), || Ok(())).unwrap();
        assert_eq!(mode, ConfinementMode::Namespaces);
        let why = decide(Wanted::Namespaces, || panic!("tried"), no_namespaces).unwrap_err();
        assert!(why.starts_with("--confinement namespaces"), "{why}");
        let why = decide(Wanted::Landlock, landlock_missing, || panic!("tried")).unwrap_err();
        assert!(why.starts_with("--confinement landlock"), "{why}");
    }

    #[test]
    fn unconfined_as_asked_tries_nothing_and_says_so() {
        let (mode, said) =
            decide(Wanted::Unconfined, || panic!("tried"), || panic!("tried")).unwrap();
        assert_eq!(mode, ConfinementMode::Unconfined);
        assert!(said.contains("UNCONFINED"), "{said}");
    }
}
