//! The confinement for kernels without Landlock (before 5.13, the LSM left out, some
//! containers): every program of a job starts in a mount namespace of its own — inside a
//! user namespace when the server is not root, which is what lets an unprivileged server
//! make one — whose root is an empty tmpfs holding only the places `sandbox::allowed_places`
//! lists, each bound at its own path: the system directories and the compiler's
//! installation read-only, `/dev/null` and the job directory writable; the root itself is
//! made read-only. Nothing else exists there: no `/etc/passwd`, no `/home`, and no `/proc`
//! (a `/proc/PID/root` of one of the server's processes would lead back to the real root).
//! A compiler cannot name a file it cannot see, however its assembler is told to.
//!
//! Everything is prepared in the server, before the fork: the paths as `CString`s, each
//! mount's flags (a read-only bind keeps the flags of the mount it comes from: inside a user
//! namespace the kernel refuses to drop them), the uid and gid maps as bytes. What a child
//! runs between fork and exec, where it must not allocate or take a lock, is `Jail::enter`:
//! system calls through `nix` on `&CStr` (which it hands to the kernel as they are) and
//! `libc`, with a stack buffer for the working directory, and an error returned as the
//! `Errno` it is. Each program then execs with no capabilities left (the bounding set is
//! emptied, `no_new_privs` set), so it cannot undo a mount or make new ones.

use std::ffi::{CStr, CString};
use std::path::Path;

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::mount::{MntFlags, MsFlags, mount, umount2};
use nix::sched::{CloneFlags, unshare};
use nix::sys::stat::Mode;
use nix::unistd::{Uid, chdir, mkdir, pivot_root, symlinkat};

use super::mount_plan::{Kind, Place, c_path, plan};
use super::sandbox::{Rights, allowed_places};
use crate::config::CcacheEnv;

/// The directory in each job directory on which a program's new root is mounted (in its
/// own namespace only: outside, it stays empty and goes with the job directory).
const ROOT_DIR: &str = ".jail-root";

/// The new root of one job's programs, ready to be entered.
#[derive(Debug)]
pub struct Jail {
    /// Where the tmpfs that becomes `/` is mounted before the switch.
    root: CString,
    /// What is made in it, parents before children.
    places: Vec<Place>,
    /// `None` when the server is root and needs no user namespace.
    maps: Option<UserMaps>,
}

/// The contents of `/proc/self/uid_map` and `gid_map`: the server's own ids, mapped to
/// themselves, so that the job's files stay the server's.
#[derive(Debug)]
struct UserMaps {
    uid: Vec<u8>,
    gid: Vec<u8>,
}

impl Jail {
    /// The new root for compiling in `job_dir` with `compiler` and the other `programs` a
    /// job runs, and what ccache needs when the compiler is ccache (as Landlock allows).
    pub fn for_job(
        job_dir: &Path,
        compiler: &Path,
        programs: &[&Path],
        ccache: &CcacheEnv,
    ) -> std::io::Result<Jail> {
        let root = job_dir.join(ROOT_DIR);
        match std::fs::create_dir(&root) {
            Err(e) if e.kind() != std::io::ErrorKind::AlreadyExists => return Err(e),
            _ => {}
        }
        let mut wanted = allowed_places(job_dir, compiler, programs, ccache);
        // The compiler is started by the name it was given (ccache goes by it), which may
        // be a link in a directory of its own.
        if let Some(dir) = compiler.parent().filter(|_| compiler.is_absolute()) {
            wanted.push((dir.to_path_buf(), Rights::ReadAndRun));
        }
        // Where the kernel says the job directory is (its `getcwd`), if that differs.
        if let Ok(real) = job_dir.canonicalize() {
            wanted.push((real, Rights::Everything));
        }
        let places = plan(wanted)
            .iter()
            .map(|place| place.in_root(&root))
            .collect::<std::io::Result<_>>()?;
        let maps = (!Uid::effective().is_root()).then(|| UserMaps {
            uid: format!("{0} {0} 1\n", Uid::effective()).into_bytes(),
            gid: format!("{0} {0} 1\n", nix::unistd::Gid::effective()).into_bytes(),
        });
        Ok(Jail {
            root: c_path(&root)?,
            places,
            maps,
        })
    }

    /// What a child runs between fork and exec, in the working directory its program is to
    /// have (in the job directory): enters the new root and gives up every capability.
    /// See the module comment for why this is safe there.
    pub fn enter(&self) -> Result<(), Errno> {
        let mut cwd_buf = [0u8; 4096];
        // SAFETY: the buffer is valid for its length; getcwd writes a terminated string.
        if unsafe { nix::libc::getcwd(cwd_buf.as_mut_ptr().cast(), cwd_buf.len()) }.is_null() {
            return Err(Errno::last());
        }
        let cwd = CStr::from_bytes_until_nul(&cwd_buf).map_err(|_| Errno::ENAMETOOLONG)?;
        match &self.maps {
            Some(maps) => {
                unshare(CloneFlags::CLONE_NEWUSER | CloneFlags::CLONE_NEWNS)?;
                // A server that gave up root is not dumpable, and its /proc/self files then
                // belong to root: it could not write its own maps.
                set_dumpable()?;
                write_file(c"/proc/self/setgroups", b"deny")?;
                write_file(c"/proc/self/uid_map", &maps.uid)?;
                write_file(c"/proc/self/gid_map", &maps.gid)?;
            }
            None => unshare(CloneFlags::CLONE_NEWNS)?,
        }
        // Nothing mounted here may show outside, nor the other way round.
        mount(
            NONE,
            c"/",
            NONE,
            MsFlags::MS_REC | MsFlags::MS_PRIVATE,
            NONE,
        )?;
        mount(
            Some(c"tmpfs"),
            self.root.as_c_str(),
            Some(c"tmpfs"),
            MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
            Some(c"mode=0755,size=1m"),
        )?;
        for place in &self.places {
            place.make()?;
        }
        // The old root goes entirely: stacked under the new one, then detached.
        chdir(self.root.as_c_str())?;
        pivot_root(c".", c".")?;
        umount2(c".", MntFlags::MNT_DETACH)?;
        mount(
            NONE,
            c"/",
            NONE,
            MsFlags::MS_BIND
                | MsFlags::MS_REMOUNT
                | MsFlags::MS_RDONLY
                | MsFlags::MS_NOSUID
                | MsFlags::MS_NODEV,
            NONE,
        )?;
        // The working directory set before still points into the old root.
        chdir(cwd)?;
        drop_capabilities()
    }
}

/// An absent optional path for `mount`.
const NONE: Option<&CStr> = None;

impl Place {
    /// Makes this place in the new root (in the child).
    fn make(&self) -> Result<(), Errno> {
        for dir in &self.parents {
            make_dir(dir)?;
        }
        match &self.kind {
            Kind::Symlink { contents } => {
                match symlinkat(contents.as_c_str(), None, self.target.as_c_str()) {
                    Ok(()) | Err(Errno::EEXIST) => Ok(()),
                    Err(e) => Err(e),
                }
            }
            Kind::Bind {
                source,
                is_dir,
                read_only,
            } => {
                if *is_dir {
                    make_dir(&self.target)?;
                } else {
                    // Already there when it lies in a place bound before: then the mount
                    // below is all that counts.
                    if let Ok(fd) = nix::fcntl::open(
                        self.target.as_c_str(),
                        OFlag::O_CREAT | OFlag::O_RDONLY | OFlag::O_CLOEXEC,
                        Mode::from_bits_truncate(0o644),
                    ) {
                        let _ = nix::unistd::close(fd);
                    }
                }
                let recursive = if read_only.is_some() {
                    MsFlags::MS_REC
                } else {
                    MsFlags::empty()
                };
                mount(
                    Some(source.as_c_str()),
                    self.target.as_c_str(),
                    NONE,
                    MsFlags::MS_BIND | recursive,
                    NONE,
                )?;
                if let Some(flags) = read_only {
                    mount(
                        NONE,
                        self.target.as_c_str(),
                        NONE,
                        MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY | *flags,
                        NONE,
                    )?;
                }
                Ok(())
            }
        }
    }
}

fn make_dir(dir: &CStr) -> Result<(), Errno> {
    match mkdir(dir, Mode::from_bits_truncate(0o755)) {
        Ok(()) | Err(Errno::EEXIST) => Ok(()),
        Err(e) => Err(e),
    }
}

/// Writes `bytes` to the file `path` in one `write`, as the kernel wants its id maps.
fn write_file(path: &CStr, bytes: &[u8]) -> Result<(), Errno> {
    let fd = nix::fcntl::open(path, OFlag::O_WRONLY | OFlag::O_CLOEXEC, Mode::empty())?;
    // SAFETY: `fd` was just opened here and is closed below, after its last use.
    let written = nix::unistd::write(unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) }, bytes);
    let _ = nix::unistd::close(fd);
    match written {
        Ok(n) if n == bytes.len() => Ok(()),
        Ok(_) => Err(Errno::EIO),
        Err(e) => Err(e),
    }
}

fn set_dumpable() -> Result<(), Errno> {
    // SAFETY: prctl with integer arguments only.
    Errno::result(unsafe { nix::libc::prctl(nix::libc::PR_SET_DUMPABLE, 1, 0, 0, 0) }).map(drop)
}

/// Empties the bounding set (the program then execs with no capabilities, even as root),
/// clears the ambient ones, and sets `no_new_privs` (no set-uid program gives any back).
fn drop_capabilities() -> Result<(), Errno> {
    use nix::libc::{PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, PR_CAPBSET_DROP, prctl};
    for cap in 0..64 {
        // SAFETY: prctl with integer arguments only.
        if unsafe { prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) } != 0 {
            match Errno::last() {
                Errno::EINVAL => break, // past the last capability this kernel knows
                e => return Err(e),
            }
        }
    }
    // SAFETY: prctl with integer arguments only. Older kernels without ambient
    // capabilities have none to clear.
    let _ = unsafe { prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) };
    // SAFETY: prctl with integer arguments only.
    Errno::result(unsafe { prctl(nix::libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) }).map(drop)
}

/// Whether a program can start in a jail here, and if not, why: user namespaces may be
/// disabled (`kernel.unprivileged_userns_clone=0`, `user.max_user_namespaces=0`, an
/// AppArmor rule) or a container's system-call filter may refuse `unshare` or `mount`.
pub fn works(tmpdir: &Path) -> Result<(), String> {
    use std::os::unix::process::CommandExt;
    let dir = tempfile::Builder::new()
        .prefix("distfarm-probe-")
        .tempdir_in(tmpdir)
        .map_err(|e| format!("cannot make a directory in {}: {e}", tmpdir.display()))?;
    let jail = Jail::for_job(
        dir.path(),
        Path::new("/bin/true"),
        &[],
        &CcacheEnv::default(),
    )
    .map_err(|e| e.to_string())?;
    let mut command = std::process::Command::new("/bin/true");
    command.current_dir(dir.path());
    // SAFETY: `enter` neither allocates nor locks (see the module comment).
    unsafe {
        command.pre_exec(move || jail.enter().map_err(Into::into));
    }
    match command.status() {
        Ok(status) if status.success() => Ok(()),
        Ok(status) => Err(format!("a confined /bin/true failed: {status}")),
        Err(e) => Err(format!("a confined program could not start: {e}")),
    }
}
