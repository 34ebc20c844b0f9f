//! The environment, read once, into plain values. Nothing else reads environment variables.

use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

/// distcc's boolean rule (`dcc_getenv_bool`): exactly "1" is true, exactly "0" is false,
/// anything else is the default.
pub fn env_bool(value: Option<&str>, default: bool) -> bool {
    match value {
        Some("1") => true,
        Some("0") => false,
        _ => default,
    }
}

#[derive(Debug, thiserror::Error)]
#[error("DISTCC_IO_TIMEOUT={0:?} is not a whole number of seconds greater than 0")]
pub struct BadIoTimeout(pub String);

/// `DISTCC_IO_TIMEOUT`: seconds, > 0, default 300.
pub fn io_timeout(value: Option<&str>) -> Result<Duration, BadIoTimeout> {
    match value {
        None | Some("") => Ok(Duration::from_secs(300)),
        Some(text) => text
            .parse::<u64>()
            .ok()
            .filter(|s| *s > 0)
            .map(Duration::from_secs)
            .ok_or_else(|| BadIoTimeout(text.to_string())),
    }
}

/// What distccd reads from its environment.
#[derive(Debug, Clone)]
pub struct ServerEnv {
    pub tmpdir: PathBuf,
    pub save_temps: bool,
    pub io_timeout: Duration,
    /// `DISTCCD_PATH` if set, else `PATH`: where compilers are found and what they inherit.
    pub compiler_path: Option<OsString>,
}

impl ServerEnv {
    pub fn from_env() -> Result<ServerEnv, BadIoTimeout> {
        let var = |name| std::env::var(name).ok();
        Ok(ServerEnv {
            tmpdir: std::env::var_os("TMPDIR")
                .filter(|t| !t.is_empty())
                .map(PathBuf::from)
                .unwrap_or_else(|| "/tmp".into()),
            save_temps: env_bool(var("DISTCC_SAVE_TEMPS").as_deref(), false),
            io_timeout: io_timeout(var("DISTCC_IO_TIMEOUT").as_deref())?,
            compiler_path: std::env::var_os("DISTCCD_PATH").or_else(|| std::env::var_os("PATH")),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn booleans_follow_distcc() {
        assert!(env_bool(Some("1"), false));
        assert!(!env_bool(Some("0"), true));
        assert!(env_bool(Some("yes"), true));
        assert!(!env_bool(Some("yes"), false));
        assert!(!env_bool(None, false));
    }

    #[test]
    fn io_timeout_must_be_positive() {
        assert_eq!(io_timeout(None).unwrap(), Duration::from_secs(300));
        assert_eq!(io_timeout(Some("5")).unwrap(), Duration::from_secs(5));
        assert!(io_timeout(Some("0")).is_err());
        assert!(io_timeout(Some("x")).is_err());
    }
}
