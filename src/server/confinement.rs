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
    if wanted == Wanted::Unconfined {
        tracing::warn!(
            "compilers run UNCONFINED as asked (--unconfined or DISTFARM_CONFINE=0): they may \
             read any file this server's user can and write wherever it may; only the text \
             check of the assembly they generate stands"
        );
        return Ok(ConfinementMode::Unconfined);
    }
    let landlock = match wanted {
        Wanted::Auto | Wanted::Landlock => landlock_works(tmpdir),
        _ => Err("not tried (--confinement namespaces)".to_string()),
    };
    if let Ok(abi) = landlock {
        tracing::info!("compilers run confined with Landlock (ABI {abi})");
        return Ok(ConfinementMode::Landlock);
    }
    let landlock_why = landlock.unwrap_err();
    if wanted == Wanted::Landlock {
        return Err(format!(
            "--confinement landlock: Landlock does not work here: {landlock_why}"
        ));
    }
    match mount_jail::works(tmpdir) {
        Ok(()) => {
            tracing::info!(
                "compilers run confined in a mount namespace{} that shows them only the system \
                 directories, their installation and their job directory (Landlock: \
                 {landlock_why})",
                if nix::unistd::Uid::effective().is_root() {
                    ""
                } else {
                    " (in a user namespace)"
                }
            );
            Ok(ConfinementMode::Namespaces)
        }
        Err(why) if wanted == Wanted::Namespaces => Err(format!(
            "--confinement namespaces: a mount namespace does not work here: {why}"
        )),
        Err(why) => Err(format!(
            "no confinement for compilers works here, so this server will not start. \
             Landlock: {landlock_why}. Mount namespace: {why} (unprivileged user namespaces \
             may be disabled: sysctl kernel.unprivileged_userns_clone, \
             user.max_user_namespaces, an AppArmor restriction, or a container's system-call \
             filter). Unconfined, a compiler can read any file this server's user can read \
             into its answer and write wherever that user may. To run compilers unconfined \
             anyway, start with --unconfined (or DISTFARM_CONFINE=0)."
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
