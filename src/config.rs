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

/// How long an SSH session server lingers after its connection closed, by default: as long
/// as the agent stays up without jobs.
pub const DEFAULT_SESSION_LINGER_SECS: u64 = 600;

/// What distccd reads from its environment.
#[derive(Debug, Clone)]
pub struct ServerEnv {
    pub tmpdir: PathBuf,
    pub save_temps: bool,
    pub io_timeout: Duration,
    /// `DISTCCD_PATH` if set, else `PATH`: where compilers are found and what they inherit.
    pub compiler_path: Option<OsString>,
    /// Unless `DISTFARM_CONFINE=0` (the same as `--unconfined`): compilers run confined
    /// (see server/confinement.rs).
    pub confine: bool,
    /// `DISTCC_CMDLIST`: the file listing the only commands the server runs (an empty value
    /// counts as unset).
    pub command_list: Option<PathBuf>,
    /// `DISTCC_CMDLIST_NUMWORDS`: how many trailing path words must match (default 1).
    pub command_list_words: i64,
    /// Where a ccache in front of the compilers keeps its cache and configuration.
    pub ccache: CcacheEnv,
    /// `DISTFARM_SESSION_LINGER`: seconds an SSH session server keeps serving after its
    /// connection closed, for the client's next connection (default 600; 0: exit with it).
    pub session_linger: Duration,
}

/// What ccache reads from the environment to find its cache and configuration, so that a
/// confined ccache (a `gcc` link to it on `DISTCCD_PATH`) may reach them (see
/// server/sandbox.rs). Empty values count as unset.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CcacheEnv {
    /// `HOME`.
    pub home: Option<PathBuf>,
    /// `CCACHE_DIR`.
    pub cache_dir: Option<PathBuf>,
    /// `XDG_CACHE_HOME`.
    pub xdg_cache_home: Option<PathBuf>,
    /// `XDG_CONFIG_HOME`.
    pub xdg_config_home: Option<PathBuf>,
}

impl CcacheEnv {
    fn from_env() -> CcacheEnv {
        let path = |name| {
            std::env::var_os(name)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        };
        CcacheEnv {
            home: path("HOME"),
            cache_dir: path("CCACHE_DIR"),
            xdg_cache_home: path("XDG_CACHE_HOME"),
            xdg_config_home: path("XDG_CONFIG_HOME"),
        }
    }
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
            confine: env_bool(var("DISTFARM_CONFINE").as_deref(), true),
            command_list: std::env::var_os("DISTCC_CMDLIST")
                .filter(|l| !l.is_empty())
                .map(PathBuf::from),
            command_list_words: var("DISTCC_CMDLIST_NUMWORDS")
                .map(|v| atoi(&v))
                .unwrap_or(1),
            ccache: CcacheEnv::from_env(),
            session_linger: Duration::from_secs(
                var("DISTFARM_SESSION_LINGER")
                    .and_then(|v| v.trim().parse().ok())
                    .unwrap_or(DEFAULT_SESSION_LINGER_SECS),
            ),
        })
    }
}

/// C's `atoi`, which distccd uses for `DISTCC_CMDLIST_NUMWORDS`: leading blanks, a sign,
/// the digits that follow; 0 when there are none.
pub fn atoi(text: &str) -> i64 {
    let text = text.trim_start();
    let (sign, rest) = match text.as_bytes().first() {
        Some(b'-') => (-1, &text[1..]),
        Some(b'+') => (1, &text[1..]),
        _ => (1, text),
    };
    let digits: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
    digits.parse::<i64>().map(|n| sign * n).unwrap_or(0)
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
    fn atoi_reads_leading_digits_like_c() {
        assert_eq!(atoi("3"), 3);
        assert_eq!(atoi(" 2words"), 2);
        assert_eq!(atoi("-1"), -1);
        assert_eq!(atoi("x"), 0);
        assert_eq!(atoi(""), 0);
    }

    #[test]
    fn io_timeout_must_be_positive() {
        assert_eq!(io_timeout(None).unwrap(), Duration::from_secs(300));
        assert_eq!(io_timeout(Some("5")).unwrap(), Duration::from_secs(5));
        assert!(io_timeout(Some("0")).is_err());
        assert!(io_timeout(Some("x")).is_err());
    }
}

/// What the compiler wrapper reads from its environment (distcc 3.4's client variables).
#[derive(Debug, Clone, Default)]
pub struct ClientEnv {
    /// `DISTCC_HOSTS`, if the variable exists (an empty value means "no hosts").
    pub hosts: Option<String>,
    /// `DISTFARM_HOSTS`, if the variable exists: the distfarm-only host list (forms plain
    /// distcc refuses, such as `grpc://`), read instead of `$DISTCC_DIR/distfarm-hosts`.
    pub distfarm_hosts: Option<String>,
    /// `$DISTCC_DIR`, else `$HOME/.distcc`.
    pub distcc_dir: PathBuf,
    pub verbose: bool,
    pub log_file: Option<PathBuf>,
    pub fallback: bool,
    pub backoff_period: Duration,
    pub io_timeout: Duration,
    pub pause_time: Duration,
    pub save_temps: bool,
    pub skip_local_retry: bool,
    pub tmpdir: PathBuf,
    pub path: Option<OsString>,
    /// `_DISTCC_SAFEGUARD`: how deep we already are in wrappers calling wrappers.
    pub safeguard: u32,
    /// `DISTCC_SSH`: the program (and words) that reach `@host` entries, one per job.
    pub distcc_ssh: Option<String>,
    /// Unless `DISTCC_NO_REWRITE_CROSS` is set: `gcc` → `<triple>-gcc` and the like.
    pub rewrite_cross: bool,
    /// Unless `DISTFARM_OFFERS=0`: live offers (`distfarm offer`) follow the user's hosts.
    pub offers: bool,
    /// `CPATH`, `C_INCLUDE_PATH`, `CPLUS_INCLUDE_PATH`, `OBJC_INCLUDE_PATH`,
    /// `OBJCPLUS_INCLUDE_PATH` where set: they add include directories, so pump mode steps
    /// aside for them (as distcc's does).
    pub include_path_vars: Vec<(String, OsString)>,
    /// `DISTFARM_SUMMARY=1`: the agent prints one line about each build when it ends.
    pub summary: bool,
    /// `DISTFARM_BUILD_ID`: names the build this job belongs to, instead of the make or
    /// ninja process above the wrapper (see client/build_id.rs).
    pub build_id: Option<String>,
    /// Unless `DISTFARM_CPP_PLANS=0`: a gcc job's preprocessor runs `cc1 -E` directly from
    /// the plan the driver gave once for its command shape (see client/cpp_plans.rs).
    pub cpp_plans: bool,
    /// The variables set among those that may change what gcc's driver plans for the
    /// preprocessor or what the preprocessor reads: part of a plan's key.
    pub cpp_plan_env: Vec<(String, OsString)>,
}

/// Variables that may change the driver's preprocessor plan, or what `cc1 -E` reads
/// (which a plan then runs with the same values): where the driver finds its programs,
/// include directories, dependency output, the locale, a debug-compare run.
const CPP_PLAN_VARS: [&str; 17] = [
    "GCC_EXEC_PREFIX",
    "COMPILER_PATH",
    "LIBRARY_PATH",
    "GCC_COMPARE_DEBUG",
    "CPATH",
    "C_INCLUDE_PATH",
    "CPLUS_INCLUDE_PATH",
    "OBJC_INCLUDE_PATH",
    "OBJCPLUS_INCLUDE_PATH",
    "DEPENDENCIES_OUTPUT",
    "SUNPRO_DEPENDENCIES",
    "SOURCE_DATE_EPOCH",
    "LANG",
    "LC_ALL",
    "LC_CTYPE",
    "LC_MESSAGES",
    "LANGUAGE",
];

/// The variables by which the compiler finds more include directories.
const INCLUDE_PATH_VARS: [&str; 5] = [
    "CPATH",
    "C_INCLUDE_PATH",
    "CPLUS_INCLUDE_PATH",
    "OBJC_INCLUDE_PATH",
    "OBJCPLUS_INCLUDE_PATH",
];

impl ClientEnv {
    pub fn from_env() -> Result<ClientEnv, BadIoTimeout> {
        let var = |name| std::env::var(name).ok();
        let distcc_dir = std::env::var_os("DISTCC_DIR")
            .filter(|d| !d.is_empty())
            .map(PathBuf::from)
            .unwrap_or_else(|| home_dir().join(".distcc"));
        // Absolute, because the agent started from here runs elsewhere.
        let distcc_dir = std::path::absolute(&distcc_dir).unwrap_or(distcc_dir);
        Ok(ClientEnv {
            hosts: var("DISTCC_HOSTS"),
            distfarm_hosts: var("DISTFARM_HOSTS"),
            distcc_dir,
            verbose: env_bool(var("DISTCC_VERBOSE").as_deref(), false),
            log_file: std::env::var_os("DISTCC_LOG")
                .filter(|l| !l.is_empty())
                .map(PathBuf::from),
            fallback: env_bool(var("DISTCC_FALLBACK").as_deref(), true),
            backoff_period: Duration::from_secs(
                var("DISTCC_BACKOFF_PERIOD")
                    .and_then(|v| v.trim().parse().ok())
                    .unwrap_or(60),
            ),
            io_timeout: io_timeout(var("DISTCC_IO_TIMEOUT").as_deref())?,
            pause_time: Duration::from_millis(
                var("DISTCC_PAUSE_TIME_MSEC")
                    .and_then(|v| v.trim().parse().ok())
                    .unwrap_or(1000),
            ),
            save_temps: env_bool(var("DISTCC_SAVE_TEMPS").as_deref(), false),
            // distcc tests presence only: DISTCC_SKIP_LOCAL_RETRY=0 also counts as set.
            skip_local_retry: std::env::var_os("DISTCC_SKIP_LOCAL_RETRY").is_some(),
            tmpdir: std::env::var_os("TMPDIR")
                .filter(|t| !t.is_empty())
                .map(PathBuf::from)
                .unwrap_or_else(|| "/tmp".into()),
            path: std::env::var_os("PATH"),
            safeguard: var("_DISTCC_SAFEGUARD")
                .and_then(|v| v.parse().ok())
                .unwrap_or(0),
            distcc_ssh: var("DISTCC_SSH"),
            // distcc tests presence only.
            rewrite_cross: std::env::var_os("DISTCC_NO_REWRITE_CROSS").is_none(),
            offers: env_bool(var("DISTFARM_OFFERS").as_deref(), true),
            include_path_vars: INCLUDE_PATH_VARS
                .iter()
                .filter_map(|name| Some((name.to_string(), std::env::var_os(name)?)))
                .collect(),
            summary: env_bool(var("DISTFARM_SUMMARY").as_deref(), false),
            build_id: var("DISTFARM_BUILD_ID").filter(|id| !id.is_empty()),
            cpp_plans: env_bool(var("DISTFARM_CPP_PLANS").as_deref(), true),
            cpp_plan_env: CPP_PLAN_VARS
                .iter()
                .filter_map(|name| Some((name.to_string(), std::env::var_os(name)?)))
                .collect(),
        })
    }
}

/// `$HOME`, else the account's home from the password database.
fn home_dir() -> PathBuf {
    std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map(PathBuf::from)
        .or_else(|| {
            nix::unistd::User::from_uid(nix::unistd::Uid::current())
                .ok()
                .flatten()
                .map(|u| u.dir)
        })
        .unwrap_or_else(|| PathBuf::from("/"))
}

/// Where the agent for this user and `DISTCC_DIR` listens: `$DISTCC_DIR/agent/sock`, or,
/// when that path is too long for a unix socket, a per-user directory in `/tmp` named by a
/// hash of `DISTCC_DIR`. The directory is 0700 either way.
pub fn agent_socket_path(distcc_dir: &std::path::Path) -> PathBuf {
    use std::hash::{Hash, Hasher};
    let preferred = distcc_dir.join("agent").join("sock");
    // sun_path holds 108 bytes including the terminating NUL.
    if preferred.as_os_str().len() < 100 {
        return preferred;
    }
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    distcc_dir.hash(&mut hasher);
    PathBuf::from(format!("/tmp/distfarm-{}", nix::unistd::Uid::effective()))
        .join(format!("{:016x}.sock", hasher.finish()))
}

/// What the agent and a direct SSH connection need from the environment.
#[derive(Debug, Clone, Default)]
pub struct SshEnv {
    /// `DISTFARM_SSH_CONFIG`: an ssh_config to use instead of `~/.ssh/config`.
    pub config_file: Option<String>,
    /// `SSH_AUTH_SOCK`.
    pub auth_sock: Option<String>,
    /// `DISTFARM_AGENT=0` disables the agent (every job connects by itself).
    pub agent_enabled: bool,
    /// `DISTFARM_AGENT_IDLE`: seconds without jobs before the agent exits.
    pub agent_idle: Duration,
    /// Whose `~/.ssh` and login name a connection uses.
    pub account: Account,
}

impl SshEnv {
    pub fn from_env() -> SshEnv {
        let var = |name| std::env::var(name).ok().filter(|v: &String| !v.is_empty());
        SshEnv {
            config_file: var("DISTFARM_SSH_CONFIG"),
            auth_sock: var("SSH_AUTH_SOCK"),
            agent_enabled: env_bool(var("DISTFARM_AGENT").as_deref(), true),
            agent_idle: Duration::from_secs(
                var("DISTFARM_AGENT_IDLE")
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(600),
            ),
            account: Account::current(),
        }
    }

    /// The SSH settings of a connection made by this process.
    pub fn settings(&self) -> crate::transport::ssh::SshSettings {
        self.account
            .ssh_settings(self.config_file.as_deref(), self.auth_sock.as_deref())
    }
}

/// The local account as OpenSSH sees it, read once: its home from the password database and
/// its login name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Account {
    pub home: PathBuf,
    pub name: String,
}

impl Account {
    /// The effective user's entry, looked up once: its home directory (OpenSSH reads
    /// `~/.ssh` from there, not from `$HOME`: Portage points `HOME` at a per-package
    /// directory) and its login name, the default remote user.
    pub fn current() -> Account {
        let user = nix::unistd::User::from_uid(nix::unistd::Uid::effective())
            .ok()
            .flatten();
        Account {
            home: user
                .as_ref()
                .map(|u| u.dir.clone())
                .unwrap_or_else(home_dir),
            name: user
                .map(|u| u.name)
                .or_else(|| std::env::var("USER").ok())
                .unwrap_or_else(|| "root".into()),
        }
    }

    /// What an SSH connection of this account needs: the user's ssh config and agent.
    pub fn ssh_settings(
        &self,
        config_file: Option<&str>,
        auth_sock: Option<&str>,
    ) -> crate::transport::ssh::SshSettings {
        crate::transport::ssh::SshSettings {
            config_file: config_file.map(PathBuf::from),
            home: self.home.clone(),
            agent_socket: auth_sock.map(PathBuf::from),
            user: self.name.clone(),
        }
    }
}

/// The host list from `DISTCC_HOSTS`, `$DISTCC_DIR/hosts` or `/etc/distcc/hosts`, followed
/// by the distfarm-only list (`DISTFARM_HOSTS`, else `$DISTCC_DIR/distfarm-hosts`: the forms
/// plain distcc refuses, such as `grpc://`), then the live offers of `$DISTCC_DIR/offers/`
/// (unless `DISTFARM_OFFERS=0`, which also leaves out the offers' blocks in the hosts
/// file). Dead offers are removed on the way.
pub fn load_hosts(env: &ClientEnv) -> Result<crate::hosts::HostList, crate::hosts::HostsError> {
    use crate::offer::{entry, registry};
    // First: it removes dead offers' blocks from the hosts file read next.
    let offers = if env.offers {
        registry::live_entries(&env.distcc_dir)
    } else {
        Vec::new()
    };
    let files: Vec<(PathBuf, Option<String>)> = [
        env.distcc_dir.join("hosts"),
        PathBuf::from("/etc/distcc/hosts"),
    ]
    .into_iter()
    .map(|p| {
        let text = std::fs::read_to_string(&p).ok().map(|text| {
            if env.offers {
                text
            } else {
                entry::block_ids(&text)
                    .iter()
                    .fold(text.clone(), |t, id| entry::without_block(&t, id))
            }
        });
        (p, text)
    })
    .collect();
    let distfarm_file = env.distcc_dir.join("distfarm-hosts");
    let distfarm_text = std::fs::read_to_string(&distfarm_file).ok();
    let distfarm = crate::hosts::load_distfarm(
        env.distfarm_hosts.as_deref(),
        &(distfarm_file, distfarm_text),
    )?;
    let mut list = match crate::hosts::load(env.hosts.as_deref(), &files) {
        Ok(list) => list,
        // The distfarm-only list alone is a list.
        Err(crate::hosts::HostsError::NotSet { .. }) if distfarm.is_some() => {
            crate::hosts::HostList {
                origin: distfarm
                    .as_ref()
                    .map(|d| d.origin.clone())
                    .unwrap_or_default(),
                ..Default::default()
            }
        }
        Err(crate::hosts::HostsError::NotSet { .. }) if !offers.is_empty() => {
            crate::hosts::HostList {
                origin: env.distcc_dir.join("offers").display().to_string(),
                ..Default::default()
            }
        }
        Err(e) => return Err(e),
    };
    for warning in &list.warnings {
        tracing::warn!("{warning}");
    }
    if list.zeroconf.is_some() {
        list.insert_discovered(zeroconf_hosts(env));
    }
    if let Some(distfarm) = distfarm {
        for warning in &distfarm.warnings {
            tracing::warn!("{warning}");
        }
        list.append(distfarm);
    }
    if list.randomize {
        list.shuffle(u64::from(std::process::id()));
    }
    for offer in offers {
        if list.hosts.iter().any(|h| h.text == offer.host) {
            continue; // also in the hosts file's block
        }
        let origin = format!("offer {}", offer.id);
        match crate::hosts::parse(&offer.host, &origin) {
            Ok(parsed) => list.hosts.extend(parsed.hosts),
            Err(e) => tracing::warn!("ignoring {origin}: {e}"),
        }
    }
    Ok(list)
}

/// The servers `+zeroconf` stands for (`zeroconf/discovered.rs`): plain TCP entries
/// `ADDR:PORT/JOBS`. Trouble is logged and means none: the rest of the list still works.
fn zeroconf_hosts(env: &ClientEnv) -> Vec<crate::hosts::HostSpec> {
    use crate::zeroconf::discovered::{AgentPlace, Discovery, hosts_text};
    let ssh = SshEnv::from_env();
    let discovery = Discovery {
        distcc_dir: env.distcc_dir.clone(),
        program: std::env::current_exe().unwrap_or_else(|_| PathBuf::from("distfarm")),
        path: env.path.clone(),
        agent: ssh.agent_enabled.then(|| AgentPlace {
            socket: agent_socket_path(&env.distcc_dir),
            lock_dir: env.distcc_dir.join("lock"),
            idle: ssh.agent_idle,
        }),
    };
    let (text, file) = match hosts_text(&discovery) {
        Ok(found) => found,
        Err(e) => {
            tracing::warn!("+zeroconf: {e}; no discovered servers");
            return Vec::new();
        }
    };
    let origin = format!("{} (+zeroconf)", file.display());
    match crate::hosts::parse(&text, &origin) {
        Ok(found) => found.hosts,
        Err(e) => {
            tracing::warn!("{e}; no discovered servers");
            Vec::new()
        }
    }
}

/// What `distfarm config` (`distcc-config`) needs to know.
#[derive(Debug, Clone)]
pub struct ConfigEnv {
    /// `DISTCC_HOSTS`, if set.
    pub hosts: Option<String>,
    /// `DISTCC_DIR`, only when set: it decides where the host list is written.
    pub distcc_dir: Option<PathBuf>,
    pub home: PathBuf,
    pub is_root: bool,
}

impl ConfigEnv {
    pub fn from_env() -> ConfigEnv {
        ConfigEnv {
            hosts: std::env::var("DISTCC_HOSTS").ok(),
            distcc_dir: std::env::var_os("DISTCC_DIR")
                .filter(|d| !d.is_empty())
                .map(PathBuf::from),
            home: home_dir(),
            is_root: nix::unistd::Uid::effective().is_root(),
        }
    }
}

/// `PATH`: where this process looks for programs.
pub fn search_path() -> std::ffi::OsString {
    std::env::var_os("PATH").unwrap_or_default()
}

/// What `distfarm doctor` reads besides the client's and SSH's environment: the compiler
/// flags a build picks up.
#[derive(Debug, Clone, Default)]
pub struct DoctorEnv {
    pub cflags: Option<String>,
    pub cxxflags: Option<String>,
}

impl DoctorEnv {
    pub fn from_env() -> DoctorEnv {
        DoctorEnv {
            cflags: std::env::var("CFLAGS").ok(),
            cxxflags: std::env::var("CXXFLAGS").ok(),
        }
    }
}
