//! Confines the compilers a server runs with Landlock (Linux 5.13 and later): a compiler,
//! its passes and its assembler may read and run only the system's directories (`/usr`,
//! `/lib*`, `/bin`, `/sbin`, `/opt`, the dynamic loader's files, the Nix, Guix and
//! Homebrew trees) and the compiler's own installation, and may write only in the job
//! directory. So no assembler directive, however it is spelled (an `.incbin` built by a
//! gas macro, split by a comment, behind a label), can put `/etc/passwd` or a user's files
//! into an answer, and no compiler can write outside its job. The textual check of the
//! generated assembly (`assembly_check`) stays as a first, clearer refusal; where the kernel
//! has no Landlock it is the only guard, and the server says so when it starts.

use std::ffi::CString;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// Landlock ABI 1 file-system rights: execute, write, read file, read dir, remove dir and
/// file, make char/dir/reg/sock/fifo/block/sym.
const ALL_V1: u64 = (1 << 13) - 1;
const EXECUTE: u64 = 1 << 0;
const WRITE_FILE: u64 = 1 << 1;
const READ_FILE: u64 = 1 << 2;
const READ_DIR: u64 = 1 << 3;
/// ABI 3: truncating a file by path (`truncate(2)`, `O_TRUNC`).
const TRUNCATE: u64 = 1 << 14;
/// Rights that only make sense on a regular file (`landlock_add_rule` refuses others there).
const FILE_RIGHTS: u64 = EXECUTE | WRITE_FILE | READ_FILE | TRUNCATE;
const READ_AND_RUN: u64 = EXECUTE | READ_FILE | READ_DIR;
const RULE_PATH_BENEATH: libc::c_int = 1;
const CREATE_RULESET_VERSION: u32 = 1;

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

#[repr(C)]
struct RulesetAttr {
    handled_access_fs: u64,
}

#[repr(C, packed)]
struct PathBeneathAttr {
    allowed_access: u64,
    parent_fd: i32,
}

/// The Landlock ABI version of the running kernel, 0 without Landlock.
pub fn abi_version() -> i64 {
    // SAFETY: the documented way to ask for the version: no attribute, size 0.
    let version = unsafe {
        libc::syscall(
            libc::SYS_landlock_create_ruleset,
            std::ptr::null::<RulesetAttr>(),
            0usize,
            CREATE_RULESET_VERSION,
        )
    };
    version.max(0)
}

/// The rules of one job, ready to be entered by its compilers.
#[derive(Debug)]
pub struct Confinement {
    ruleset: OwnedFd,
}

impl Confinement {
    /// Rules for compiling in `job_dir` with `compiler` and the other `programs` a job runs
    /// (distfarm itself when it guards the assembler); `None` where the kernel has no
    /// Landlock (or refuses a rule), and then compilers run unconfined.
    pub fn for_job(job_dir: &Path, compiler: &Path, programs: &[&Path]) -> Option<Confinement> {
        let abi = abi_version();
        if abi < 1 {
            return None;
        }
        // The rights this kernel knows; each one not granted below is denied.
        let handled = if abi >= 3 { ALL_V1 | TRUNCATE } else { ALL_V1 };
        let attr = RulesetAttr {
            handled_access_fs: handled,
        };
        // SAFETY: a valid attribute of the size we pass.
        let fd = unsafe {
            libc::syscall(
                libc::SYS_landlock_create_ruleset,
                &attr as *const RulesetAttr,
                std::mem::size_of::<RulesetAttr>(),
                0u32,
            )
        };
        if fd < 0 {
            return None;
        }
        // SAFETY: the kernel just gave us this descriptor.
        let ruleset = unsafe { OwnedFd::from_raw_fd(fd as RawFd) };
        let confinement = Confinement { ruleset };
        for dir in SYSTEM {
            confinement.allow(Path::new(dir), READ_AND_RUN);
        }
        for prefix in installation(compiler) {
            confinement.allow(&prefix, READ_AND_RUN);
        }
        for program in programs {
            confinement.allow(program, READ_AND_RUN);
        }
        for (dir, rights) in wrapper_state(compiler) {
            confinement.allow(&dir, rights & handled);
        }
        confinement.allow(Path::new("/dev/null"), handled & FILE_RIGHTS);
        confinement.allow(job_dir, handled).then_some(confinement)
    }

    /// Lets the confined process use `path` (and, for a directory, all below it) with
    /// `rights`. A path that does not exist is skipped; `false` if the kernel refused.
    fn allow(&self, path: &Path, rights: u64) -> bool {
        let Ok(name) = CString::new(path.as_os_str().as_bytes()) else {
            return false;
        };
        // SAFETY: a NUL-terminated path; O_PATH opens nothing for reading.
        let fd = unsafe { libc::open(name.as_ptr(), libc::O_PATH | libc::O_CLOEXEC) };
        if fd < 0 {
            return true; // nothing there to allow
        }
        // SAFETY: we own the descriptor just opened.
        let parent = unsafe { OwnedFd::from_raw_fd(fd) };
        let rights = if path.is_dir() {
            rights
        } else {
            rights & FILE_RIGHTS
        };
        let rule = PathBeneathAttr {
            allowed_access: rights,
            parent_fd: parent.as_raw_fd(),
        };
        // SAFETY: a valid ruleset descriptor and rule.
        let added = unsafe {
            libc::syscall(
                libc::SYS_landlock_add_rule,
                self.ruleset.as_raw_fd(),
                RULE_PATH_BENEATH,
                &rule as *const PathBeneathAttr,
                0u32,
            )
        };
        added == 0
    }

    /// What a child runs between fork and exec (async-signal-safe: two system calls).
    pub fn enter_in_child(&self) -> impl FnMut() -> std::io::Result<()> + Send + Sync + 'static {
        let ruleset = self.ruleset.as_raw_fd();
        move || {
            // SAFETY: plain system calls on a descriptor the parent keeps open.
            unsafe {
                if libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0
                    || libc::syscall(libc::SYS_landlock_restrict_self, ruleset, 0u32) != 0
                {
                    return Err(std::io::Error::last_os_error());
                }
            }
            Ok(())
        }
    }
}

/// What a compiler wrapper in front of the compiler must reach besides: ccache (a
/// `gcc` link to it on the server's `DISTCCD_PATH`) reads its configuration and writes its
/// cache, which it would otherwise fail to do on every job. The cache directory is created
/// here if it is missing, since a confined ccache could not create it.
fn wrapper_state(compiler: &Path) -> Vec<(std::path::PathBuf, u64)> {
    let is_ccache = compiler
        .canonicalize()
        .ok()
        .and_then(|real| real.file_name().map(|n| n == "ccache"))
        .unwrap_or(false);
    if !is_ccache {
        return Vec::new();
    }
    let env = |name: &str| {
        std::env::var_os(name)
            .filter(|v| !v.is_empty())
            .map(std::path::PathBuf::from)
    };
    let home = env("HOME");
    let cache = env("CCACHE_DIR")
        .or_else(|| env("XDG_CACHE_HOME").map(|d| d.join("ccache")))
        .or_else(|| home.as_ref().map(|h| h.join(".cache/ccache")));
    let mut found = Vec::new();
    if let Some(cache) = cache {
        let _ = std::fs::create_dir_all(&cache);
        found.push((cache, ALL_V1 | TRUNCATE));
    }
    if let Some(home) = &home {
        found.push((home.join(".ccache"), ALL_V1 | TRUNCATE)); // the old default, if any
        found.push((home.join(".config/ccache"), READ_FILE | READ_DIR));
    }
    if let Some(config) = env("XDG_CONFIG_HOME") {
        found.push((config.join("ccache"), READ_FILE | READ_DIR));
    }
    found.push(("/etc/ccache.conf".into(), READ_FILE));
    found
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
    let Some(confinement) = Confinement::for_job(dir.path(), Path::new("/bin/true"), &[]) else {
        return false;
    };
    let mut command = std::process::Command::new("/bin/true");
    // SAFETY: the hook makes only async-signal-safe system calls.
    unsafe {
        command.pre_exec(confinement.enter_in_child());
    }
    command.status().is_ok_and(|s| s.success())
}

/// The installation a compiler outside the system directories needs: its own directory and
/// the prefix above it (`/home/b/x-tools/aarch64/bin/gcc` → `…/aarch64`), where gcc keeps
/// `cc1` and its libraries.
fn installation(compiler: &Path) -> Vec<std::path::PathBuf> {
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
    use std::os::unix::process::CommandExt;

    /// Runs `sh -c script` confined to a fresh job directory; returns (status, stderr).
    fn confined(script: &str, job: &Path) -> (bool, String) {
        let confinement = Confinement::for_job(job, Path::new("/bin/sh"), &[]).expect("Landlock");
        let mut command = std::process::Command::new("/bin/sh");
        command.arg("-c").arg(script).current_dir(job);
        // SAFETY: the hook only makes async-signal-safe system calls.
        unsafe {
            command.pre_exec(confinement.enter_in_child());
        }
        let out = command.output().unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    #[test]
    fn the_start_probe_finds_confinement_where_the_kernel_has_landlock() {
        let tmp = tempfile::tempdir().unwrap();
        assert_eq!(works(tmp.path()), abi_version() > 0);
        assert_eq!(
            std::fs::read_dir(tmp.path()).unwrap().count(),
            0,
            "probe left files"
        );
    }

    #[test]
    fn a_confined_compiler_reads_the_system_and_its_job_but_nothing_else() {
        let job = tempfile::tempdir().unwrap();
        if abi_version() < 1 {
            // What such a kernel gets: no confinement, which the server says at start.
            assert!(Confinement::for_job(job.path(), Path::new("/bin/sh"), &[]).is_none());
            return;
        }
        let secret = tempfile::tempdir().unwrap();
        std::fs::write(secret.path().join("secret"), "s3cret").unwrap();
        let (ok, err) = confined(
            "cat /usr/include/stdio.h > out && cat out > /dev/null",
            job.path(),
        );
        assert!(ok, "system headers and the job directory: {err}");
        let (ok, _) = confined(
            &format!("cat {}/secret", secret.path().display()),
            job.path(),
        );
        assert!(!ok, "a file outside the allowed places was read");
        let (ok, _) = confined("cat /etc/passwd", job.path());
        assert!(!ok, "/etc/passwd was read");
        let (ok, _) = confined(
            &format!("echo x > {}/planted", secret.path().display()),
            job.path(),
        );
        assert!(
            !ok && !secret.path().join("planted").exists(),
            "wrote outside the job"
        );
        // truncate(2) by path, which opens nothing (coreutils' truncate opens for writing).
        let (ok, _) = confined(
            &format!(
                "perl -e 'truncate(\"{}/secret\", 0) or exit 1'",
                secret.path().display()
            ),
            job.path(),
        );
        let intact = std::fs::read_to_string(secret.path().join("secret")).unwrap() == "s3cret";
        // Landlock knows truncation from ABI 3 on; before that, only opening for writing.
        assert!(
            abi_version() < 3 || (!ok && intact),
            "truncated a file outside the job"
        );
    }
}
