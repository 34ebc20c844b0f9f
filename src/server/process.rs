//! What a daemon does to itself before serving: lower its priority, give up root, detach,
//! and record its pid.

use std::path::{Path, PathBuf};

use nix::unistd::{Gid, Uid, User};

#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error("cannot switch to user {user:?}: {source}")]
    Setuid { user: String, source: nix::Error },
    #[error("still running as root after dropping privileges; refusing to serve")]
    StillRoot,
    #[error("cannot detach into the background: {0}")]
    Detach(nix::Error),
    #[error("cannot write pid file {path}: {source}")]
    PidFile {
        path: PathBuf,
        source: std::io::Error,
    },
}

pub fn lower_priority(increment: i32) {
    if increment == 0 {
        return;
    }
    // SAFETY: nice() only changes this process's scheduling priority.
    let result = unsafe {
        *nix::libc::__errno_location() = 0;
        nix::libc::nice(increment)
    };
    if result == -1 && nix::errno::Errno::last_raw() != 0 {
        tracing::warn!(
            "cannot change priority by {increment}: {}",
            nix::errno::Errno::last()
        );
    }
}

/// Like distccd: a server started as root always becomes `--user`, else `distcc`, else
/// `nobody`, else uid/gid 65534. Not root: nothing to do (a `--user` is ignored with a warning).
pub fn drop_root(user: Option<&str>) -> Result<(), SetupError> {
    if !Uid::effective().is_root() {
        if let Some(user) = user {
            tracing::warn!("--user {user} ignored: not running as root");
        }
        return Ok(());
    }
    let candidates: Vec<&str> = match user {
        Some(user) => vec![user],
        None => vec!["distcc", "nobody"],
    };
    let account = candidates
        .iter()
        .find_map(|name| User::from_name(name).ok().flatten());
    let (name, uid, gid) = match account {
        Some(account) => (account.name, account.uid, account.gid),
        None if user.is_some() => {
            return Err(SetupError::Setuid {
                user: user.unwrap_or_default().to_string(),
                source: nix::Error::ENOENT,
            });
        }
        None => (
            "65534".to_string(),
            Uid::from_raw(65534),
            Gid::from_raw(65534),
        ),
    };
    let fail = |source| SetupError::Setuid {
        user: name.clone(),
        source,
    };
    nix::unistd::setgroups(&[gid]).map_err(fail)?;
    nix::unistd::setgid(gid).map_err(fail)?;
    nix::unistd::setuid(uid).map_err(fail)?;
    if Uid::effective().is_root() {
        return Err(SetupError::StillRoot);
    }
    // Nothing this server runs may gain privileges again (a failure leaves it as distccd).
    let _ = nix::sys::prctl::set_no_new_privs();
    tracing::info!("running as user {name} (uid {uid})");
    Ok(())
}

/// Forks into the background with a new session and stdio on /dev/null. Must run before any
/// threads (the tokio runtime) exist.
pub fn detach() -> Result<(), SetupError> {
    #[allow(deprecated)]
    nix::unistd::daemon(true, false).map_err(SetupError::Detach)
}

/// Removes the pid file when dropped.
pub struct PidFile(PathBuf);

impl PidFile {
    pub fn write(path: &Path) -> Result<PidFile, SetupError> {
        std::fs::write(path, format!("{}\n", std::process::id())).map_err(|source| {
            SetupError::PidFile {
                path: path.to_path_buf(),
                source,
            }
        })?;
        Ok(PidFile(path.to_path_buf()))
    }
}

impl Drop for PidFile {
    /// Removes the file only while it is still the regular file this process wrote: a
    /// `--pid-file /dev/null`, or a file another server has taken over since, is left alone.
    fn drop(&mut self) {
        let ours = format!("{}\n", std::process::id());
        let still_ours = std::fs::symlink_metadata(&self.0).is_ok_and(|m| m.is_file())
            && std::fs::read(&self.0).is_ok_and(|text| text == ours.as_bytes());
        if still_ours {
            let _ = std::fs::remove_file(&self.0);
        }
    }
}
