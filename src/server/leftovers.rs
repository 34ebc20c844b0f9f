//! Job directories a server killed without warning (SIGKILL, a crash, the machine's power)
//! left in its `TMPDIR`, removed by the next server that starts there.
//!
//! `TMPDIR` is shared (`/tmp`): other servers (session servers of SSH clients, offers,
//! another daemon) may be using their own job directories in it at the same moment. So a
//! directory is removed only when its name says which server made it
//! (`distfarm_<pid>_<random>`), that process no longer exists, it is a real directory (not a
//! link) and it belongs to the user this server runs as.

use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// The prefix of this process's job directories.
pub fn prefix() -> String {
    format!("{PREFIX}{}_", std::process::id())
}

const PREFIX: &str = "distfarm_";

/// Removes the job directories of dead servers of this user from `tmpdir`; returns how
/// many it removed.
pub fn remove(tmpdir: &Path) -> usize {
    let Ok(entries) = std::fs::read_dir(tmpdir) else {
        return 0;
    };
    let uid = nix::unistd::Uid::effective().as_raw();
    let mut removed = 0;
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name.to_str().and_then(server_pid) else {
            continue;
        };
        let path = entry.path();
        let ours = std::fs::symlink_metadata(&path).is_ok_and(|m| m.is_dir() && m.uid() == uid);
        if !ours || pid == std::process::id() || is_running(pid) {
            continue;
        }
        // remove_dir_all does not follow links inside the directory.
        match std::fs::remove_dir_all(&path) {
            Ok(()) => removed += 1,
            Err(e) => tracing::warn!("cannot remove {}: {e}", path.display()),
        }
    }
    if removed > 0 {
        tracing::info!(
            "removed {removed} job directories left in {} by servers that are gone",
            tmpdir.display()
        );
    }
    removed
}

/// The pid in a job directory's name `distfarm_<pid>_<random>`.
fn server_pid(name: &str) -> Option<u32> {
    let rest = name.strip_prefix(PREFIX)?;
    let (pid, random) = rest.split_once('_')?;
    (!random.is_empty()).then_some(())?;
    pid.parse().ok()
}

fn is_running(pid: u32) -> bool {
    let Ok(pid) = i32::try_from(pid) else {
        return false;
    };
    // ESRCH: no such process. EPERM: one exists (of another user), so it may be a server.
    !matches!(
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None),
        Err(nix::errno::Errno::ESRCH)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_names_with_a_pid_and_a_random_part_count() {
        assert_eq!(server_pid("distfarm_123_AbC"), Some(123));
        assert_eq!(server_pid("distfarm_AbCdEf"), None);
        assert_eq!(server_pid("distfarm_123_"), None);
        assert_eq!(server_pid("other_123_x"), None);
    }

    #[test]
    fn directories_of_dead_servers_go_and_the_rest_stay() {
        let tmp = tempfile::tempdir().unwrap();
        // A pid that cannot be running: above the kernel's largest (4194304).
        let dead = tmp.path().join("distfarm_4999999_x1");
        std::fs::create_dir_all(dead.join("root/usr")).unwrap();
        let mine = tmp.path().join(format!("{}x2", prefix()));
        std::fs::create_dir(&mine).unwrap();
        let other = tmp.path().join("distfarm_x3");
        std::fs::create_dir(&other).unwrap();
        let target = tmp.path().join("target");
        std::fs::create_dir(&target).unwrap();
        let link = tmp.path().join("distfarm_4999998_x4");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        assert_eq!(remove(tmp.path()), 1);
        assert!(!dead.exists());
        assert!(mine.exists() && other.exists() && target.exists() && link.exists());
    }
}
