//! Confines the compilers a server runs with Landlock (Linux 5.13 and later): a compiler,
//! its passes and its assembler may read and run only the system's directories (`/usr`,
//! `/lib*`, `/bin`, `/sbin`, `/opt`, the dynamic loader's files, the Nix, Guix and
//! Homebrew trees) and the compiler's own installation, and may write only in the job
//! directory. So no assembler directive, however it is spelled (an `.incbin` built by a
//! gas macro, split by a comment, behind a label), can put `/etc/passwd` or a user's files
//! into an answer, and no compiler can write outside its job. The textual check of the
//! generated assembly (`assembly_check`) stays as a first, clearer refusal. Where the kernel
//! has no Landlock, the same places are shown to compilers by a mount namespace instead
//! (`mount_jail`); which one a server uses is decided at start (`confinement`).
//!
//! The rules are built with the `landlock` crate, whose best-effort compatibility does the
//! version juggling: Landlock itself is a hard requirement (without it there is no
//! `Confinement`), truncation is
//! denied where the kernel knows it (ABI 3), and a rule on a file keeps only the rights a
//! file can have. The rules are built in the server, before any fork. What a child runs
//! between fork and exec, where it must not allocate or take a lock, is only
//! `RulesetCreated::restrict_self` on a descriptor duplicated before the fork: in landlock
//! 0.4.8 (pinned in Cargo.lock) that is `prctl(PR_SET_NO_NEW_PRIVS)`, `landlock_restrict_self`
//! and `close`, with no allocation, and an error is handed back as the `io::Error` it holds
//! rather than formatted. A new version of the crate must be read for that again.

use std::path::{Path, PathBuf};

use landlock::{
    ABI, Access, AccessFs, BitFlags, CompatLevel, Compatible, LandlockStatus, PathBeneath, PathFd,
    RestrictSelf, RestrictSelfError, Ruleset, RulesetAttr, RulesetCreated, RulesetCreatedAttr,
    RulesetError, RulesetStatus, make_bitflags,
};
use nix::errno::Errno;

use crate::config::CcacheEnv;

/// Reading and running programs: execute, read file, read directory.
const READ_AND_RUN: BitFlags<AccessFs> = make_bitflags!(AccessFs::{Execute | ReadFile | ReadDir});

/// Reading only: configuration directories.
const READ_ONLY: BitFlags<AccessFs> = make_bitflags!(AccessFs::{ReadFile | ReadDir});

/// Where every compiler may read and run programs.
const SYSTEM: &[&str] = &[
    "/usr",
    "/lib",
    "/lib32",
    "/lib64",
    "/libx32",
    "/bin",
    "/sbin",
    "/opt",
    "/etc/ld.so.cache",
    "/etc/ld.so.conf",
    "/etc/ld.so.conf.d",
    "/etc/ld.so.preload",
    // clang's default configuration files (clang 16 and later look here).
    "/etc/clang",
    // Toolchains whose programs and libraries live in a shared, read-only tree.
    "/nix/store",
    "/gnu/store",
    "/home/linuxbrew/.linuxbrew",
];

/// Whether `path` (absolute, without `.` or `..`) lies in the system directories every
/// confined compiler may read anyway.
pub fn is_system_path(path: &Path) -> bool {
    SYSTEM.iter().any(|dir| path.starts_with(dir))
}

/// The rights a ruleset handles, so that each one not granted is denied: all of ABI 1
/// (execute, write, read file, read dir, remove dir and file, make char/dir/reg/sock/fifo/
/// block/sym) and truncation (ABI 3: `truncate(2)`, `O_TRUNC`), which the crate drops where
/// the kernel does not know it.
fn handled() -> BitFlags<AccessFs> {
    AccessFs::from_all(ABI::V1) | AccessFs::Truncate
}

/// The Landlock ABI version of the running kernel, 0 without Landlock. For what the server
/// says at start; whether compilers are confined is decided by `works`.
pub fn abi_version() -> i64 {
    // Without flags and with `no_new_privs(false)` this only reports what the crate found
    // when it asked the kernel for its version: nothing is restricted.
    let status = RestrictSelf::default().no_new_privs(false).apply();
    match status.map(|s| s.landlock) {
        Ok(LandlockStatus::Available {
            effective_abi,
            kernel_abi,
        }) => kernel_abi.map_or(effective_abi as i64, i64::from),
        _ => 0,
    }
}

/// The rules of one job, ready to be entered by its compilers.
#[derive(Debug)]
pub struct Confinement {
    ruleset: RulesetCreated,
}

impl Confinement {
    /// Rules for compiling in `job_dir` with `compiler` and the other `programs` a job runs
    /// (distfarm itself when it guards the assembler), and, when the compiler is ccache, the
    /// places `ccache` names; `None` where the kernel has no Landlock (or refuses the job
    /// directory's rule), and then the job's programs do not start (see `confinement`).
    pub fn for_job(
        job_dir: &Path,
        compiler: &Path,
        programs: &[&Path],
        ccache: &CcacheEnv,
    ) -> Option<Confinement> {
        let ruleset = Ruleset::default()
            .set_compatibility(CompatLevel::HardRequirement)
            .handle_access(AccessFs::from_all(ABI::V1))
            .ok()?
            .set_compatibility(CompatLevel::BestEffort)
            .handle_access(AccessFs::Truncate)
            .ok()?
            .create()
            .ok()?;
        let mut confinement = Confinement { ruleset };
        let mut job_dir_allowed = false;
        for (path, rights) in allowed_places(job_dir, compiler, programs, ccache) {
            // Only the job directory is a must: a job cannot run without it.
            let allowed = confinement.allow(&path, rights.landlock());
            job_dir_allowed |= allowed && path == job_dir;
        }
        job_dir_allowed.then_some(confinement)
    }

    /// Lets the confined process use `path` (and, for a directory, all below it) with
    /// `rights` (on a file, those a file can have). A path that does not exist is skipped;
    /// `false` if the kernel refused.
    fn allow(&mut self, path: &Path, rights: BitFlags<AccessFs>) -> bool {
        let Ok(parent) = PathFd::new(path) else {
            return true; // nothing there to allow
        };
        (&mut self.ruleset)
            .add_rule(PathBeneath::new(parent, rights))
            .is_ok()
    }

    /// What a child runs between fork and exec: enters the rules (see the module comment
    /// for why that is safe there). Each command gets its own duplicate of the ruleset's
    /// descriptor, made here, before the fork.
    pub fn enter_in_child(
        &self,
    ) -> std::io::Result<impl FnMut() -> std::io::Result<()> + Send + Sync + 'static> {
        let mut ruleset = Some(self.ruleset.try_clone()?);
        Ok(move || {
            // Each fork has its own copy of this closure, so each child finds it here.
            let ruleset = ruleset.take().ok_or(Errno::EBADF)?;
            match ruleset.restrict_self() {
                Ok(status) if status.ruleset != RulesetStatus::NotEnforced => Ok(()),
                Ok(_) => Err(Errno::EPERM.into()),
                Err(RulesetError::RestrictSelf(
                    RestrictSelfError::SetNoNewPrivsCall { source, .. }
                    | RestrictSelfError::RestrictSelfCall { source, .. },
                )) => Err(source),
                Err(_) => Err(Errno::EPERM.into()),
            }
        })
    }
}

/// What a confined program may do in one of the places it may reach. Both confinements
/// (Landlock here, the mount namespace of `mount_jail`) are built from the same list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Rights {
    /// Read files and list directories (configuration).
    Read,
    /// Read, and run programs (the system, the compiler's installation).
    ReadAndRun,
    /// Everything, writing included (the job directory, `/dev/null`, ccache's cache).
    Everything,
}

impl Rights {
    fn landlock(self) -> BitFlags<AccessFs> {
        match self {
            Rights::Read => READ_ONLY,
            Rights::ReadAndRun => READ_AND_RUN,
            Rights::Everything => handled(),
        }
    }
}

/// The places the programs of one job may reach, and how: the system directories, the
/// compiler's installation, the other `programs` the job runs, what ccache needs when the
/// compiler is ccache, `/dev/null`, and the job directory. Places that do not exist are
/// left for the caller to skip.
pub fn allowed_places(
    job_dir: &Path,
    compiler: &Path,
    programs: &[&Path],
    ccache: &CcacheEnv,
) -> Vec<(PathBuf, Rights)> {
    let mut places: Vec<(PathBuf, Rights)> = SYSTEM
        .iter()
        .map(|dir| (PathBuf::from(dir), Rights::ReadAndRun))
        .collect();
    let mut found: Vec<(PathBuf, Rights)> = installation(compiler)
        .into_iter()
        .map(|prefix| (prefix, Rights::ReadAndRun))
        .collect();
    found.extend(
        programs
            .iter()
            .map(|program| (program.to_path_buf(), Rights::ReadAndRun)),
    );
    found.extend(wrapper_state(compiler, ccache));
    // Nothing found from the compiler's place may open the directory the other jobs live
    // in (a compiler installed as TMPDIR/x/gcc would otherwise have all of TMPDIR as its
    // installation prefix).
    let shared = job_dir.parent();
    found.retain(|(place, _)| shared.is_none_or(|shared| !shared.starts_with(place)));
    places.extend(found);
    places.push(("/dev/null".into(), Rights::Everything));
    places.push((job_dir.to_path_buf(), Rights::Everything));
    places
}

/// What a compiler wrapper in front of the compiler must reach besides: ccache (a
/// `gcc` link to it on the server's `DISTCCD_PATH`) reads its configuration and writes its
/// cache, which it would otherwise fail to do on every job. The cache directory is created
/// here if it is missing, since a confined ccache could not create it.
fn wrapper_state(compiler: &Path, env: &CcacheEnv) -> Vec<(PathBuf, Rights)> {
    let is_ccache = compiler
        .canonicalize()
        .ok()
        .and_then(|real| real.file_name().map(|n| n == "ccache"))
        .unwrap_or(false);
    if !is_ccache {
        return Vec::new();
    }
    let mut found = Vec::new();
    if let Some(cache) = ccache_dir(env) {
        let _ = std::fs::create_dir_all(&cache);
        found.push((cache, Rights::Everything));
    }
    if let Some(home) = &env.home {
        found.push((home.join(".ccache"), Rights::Everything)); // the old default, if any
        found.push((home.join(".config/ccache"), Rights::Read));
    }
    if let Some(config) = &env.xdg_config_home {
        found.push((config.join("ccache"), Rights::Read));
    }
    found.push(("/etc/ccache.conf".into(), Rights::Read));
    found
}

/// ccache's cache directory: `CCACHE_DIR`, else `$XDG_CACHE_HOME/ccache`, else
/// `~/.cache/ccache`.
fn ccache_dir(env: &CcacheEnv) -> Option<PathBuf> {
    env.cache_dir
        .clone()
        .or_else(|| env.xdg_cache_home.as_ref().map(|d| d.join("ccache")))
        .or_else(|| env.home.as_ref().map(|h| h.join(".cache/ccache")))
}

/// Whether a confined program can actually start here: a container's system-call filter
/// may let the rules be built and still refuse to enter them, which would fail every job.
pub fn works(tmpdir: &Path) -> bool {
    use std::os::unix::process::CommandExt;
    let Ok(dir) = tempfile::Builder::new()
        .prefix("distfarm-probe-")
        .tempdir_in(tmpdir)
    else {
        return false;
    };
    let Some(confinement) = Confinement::for_job(
        dir.path(),
        Path::new("/bin/true"),
        &[],
        &CcacheEnv::default(),
    ) else {
        return false;
    };
    let Ok(enter) = confinement.enter_in_child() else {
        return false;
    };
    let mut command = std::process::Command::new("/bin/true");
    // SAFETY: the hook neither allocates nor locks (see the module comment).
    unsafe {
        command.pre_exec(enter);
    }
    command.status().is_ok_and(|s| s.success())
}

/// The installation a compiler outside the system directories needs: its own directory and
/// the prefix above it (`/home/b/x-tools/aarch64/bin/gcc` → `…/aarch64`), where gcc keeps
/// `cc1` and its libraries.
fn installation(compiler: &Path) -> Vec<PathBuf> {
    let Ok(real) = compiler.canonicalize() else {
        return Vec::new();
    };
    let bin = real.parent().map(Path::to_path_buf);
    let prefix = bin
        .as_deref()
        .and_then(Path::parent)
        .filter(|p| p.parent().is_some()) // never "/" itself
        .map(Path::to_path_buf);
    bin.into_iter().chain(prefix).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_compiler_installed_in_tmpdir_opens_its_own_directory_not_tmpdir() {
        let tmpdir = tempfile::tempdir().unwrap();
        let tmpdir = tmpdir.path().canonicalize().unwrap();
        std::fs::create_dir(tmpdir.join("x")).unwrap();
        std::fs::write(tmpdir.join("x/gcc"), "").unwrap();
        let job = tmpdir.join("distfarm_1_job");
        let places = allowed_places(&job, &tmpdir.join("x/gcc"), &[], &CcacheEnv::default());
        let paths: Vec<&PathBuf> = places.iter().map(|(p, _)| p).collect();
        assert!(paths.contains(&&tmpdir.join("x")), "{paths:?}");
        assert!(paths.contains(&&job), "{paths:?}");
        assert!(!paths.contains(&&tmpdir), "TMPDIR itself opened: {paths:?}");
        // A conventional layout still gets its prefix.
        std::fs::create_dir_all(tmpdir.join("tools/bin")).unwrap();
        std::fs::write(tmpdir.join("tools/bin/gcc"), "").unwrap();
        let places = allowed_places(
            &job,
            &tmpdir.join("tools/bin/gcc"),
            &[],
            &CcacheEnv::default(),
        );
        assert!(places.iter().any(|(p, _)| *p == tmpdir.join("tools")));
    }

    #[test]
    fn ccache_keeps_its_cache_where_ccache_itself_looks() {
        let env = CcacheEnv {
            home: Some("/h".into()),
            cache_dir: Some("/c".into()),
            xdg_cache_home: Some("/x".into()),
            xdg_config_home: None,
        };
        assert_eq!(ccache_dir(&env), Some("/c".into()));
        let env = CcacheEnv {
            cache_dir: None,
            ..env
        };
        assert_eq!(ccache_dir(&env), Some("/x/ccache".into()));
        let env = CcacheEnv {
            xdg_cache_home: None,
            ..env
        };
        assert_eq!(ccache_dir(&env), Some("/h/.cache/ccache".into()));
        assert_eq!(ccache_dir(&CcacheEnv::default()), None);
    }
}
