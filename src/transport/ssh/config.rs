//! The ssh configuration, read the way OpenSSH reads it, turned into one plain
//! [`ResolvedHost`] per host alias (jump hosts included).
//!
//! ssh2-config does the parsing; this file adds what it leaves out: the keywords it only hands
//! back as raw strings (`StrictHostKeyChecking`, `UserKnownHostsFile`, `IdentitiesOnly`,
//! `ServerAliveCountMax`, ...), `%` tokens, lowercased host matching, `ProxyJump` chains, and
//! `Match` blocks, which it would apply to the wrong host (they are translated when they
//! mean `Host`, otherwise skipped with a warning).

use std::path::{Path, PathBuf};
use std::time::Duration;

use ssh2_config::{HostParams, ParseRule, SshConfig};

use super::SshError;

pub const DEFAULT_PORT: u16 = 22;
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// A dead link is noticed after about interval × (count + 1) = 60 s of silence.
pub const DEFAULT_KEEPALIVE_INTERVAL: Duration = Duration::from_secs(15);
pub const DEFAULT_KEEPALIVE_MAX: usize = 3;
/// `ProxyJump` chains deeper than this are treated as a loop.
const MAX_JUMP_DEPTH: usize = 8;
const SYSTEM_CONFIG: &str = "/etc/ssh/ssh_config";

/// What the caller knows about the local account. Nothing here comes from the environment
/// inside `transport`: `config.rs` reads `DISTFARM_SSH_CONFIG` and `SSH_AUTH_SOCK`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SshSettings {
    /// An explicit configuration file (`DISTFARM_SSH_CONFIG`, like `ssh -F`): only it is read.
    /// `None`: `~/.ssh/config`, then `/etc/ssh/ssh_config`, as OpenSSH does.
    pub config_file: Option<PathBuf>,
    /// The account's home from the password database (`~`), not `$HOME`.
    pub home: PathBuf,
    /// `SSH_AUTH_SOCK`, if any.
    pub agent_socket: Option<PathBuf>,
    /// The local account name: the default remote user and `%u`.
    pub user: String,
}

/// `StrictHostKeyChecking`. `ask` (OpenSSH's default) means `yes` here: we never prompt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StrictHostKeyChecking {
    /// Only hosts in known_hosts.
    Yes,
    /// Learn truly unknown hosts (append to known_hosts); a changed key is refused.
    AcceptNew,
    /// Accept unknown hosts with a loud warning (and learn them, as OpenSSH does). A changed
    /// or revoked key is still refused.
    No,
}

/// One host, every option settled. Jump hosts are resolved the same way, each under its
/// own name.
#[derive(Debug, Clone, PartialEq)]
pub struct ResolvedHost {
    /// The name the user wrote (lowercased, as OpenSSH matches it).
    pub alias: String,
    /// Where to connect (`HostName`, or the alias).
    pub host_name: String,
    pub port: u16,
    /// The remote user.
    pub user: String,
    /// `IdentityFile`s in order, `~` and `%` tokens expanded.
    pub identity_files: Vec<PathBuf>,
    /// True when `identity_files` are OpenSSH's defaults (missing ones are skipped silently).
    pub identity_files_default: bool,
    pub identities_only: bool,
    /// `UserKnownHostsFile`s; the first one learns new hosts.
    pub known_hosts: Vec<PathBuf>,
    /// `GlobalKnownHostsFile`s, read only.
    pub global_known_hosts: Vec<PathBuf>,
    /// `HostKeyAlias`: the name looked up in known_hosts instead of `host_name`.
    pub host_key_alias: Option<String>,
    /// `HashKnownHosts`: learned lines are hashed.
    pub hash_known_hosts: bool,
    pub strict: StrictHostKeyChecking,
    pub connect_timeout: Duration,
    /// `ServerAliveInterval`; `None` when set to 0.
    pub keepalive_interval: Option<Duration>,
    /// `ServerAliveCountMax`.
    pub keepalive_max: usize,
    /// The hops before this host, first hop first, already flattened.
    pub proxy_jump: Vec<ResolvedHost>,
    pub compression: bool,
    /// The agent to use (`IdentityAgent`, else `SSH_AUTH_SOCK`); `None`: no agent.
    pub agent_socket: Option<PathBuf>,
    /// The configuration file that was read (for messages).
    pub config_file: PathBuf,
    /// Things in the configuration we could not honour (also logged).
    pub warnings: Vec<String>,
}

impl ResolvedHost {
    /// The name looked up in known_hosts: `HostKeyAlias`, else `HostName`, lowercased.
    pub fn known_hosts_name(&self) -> String {
        self.host_key_alias
            .as_deref()
            .unwrap_or(&self.host_name)
            .to_lowercase()
    }

    /// `user@host:port`, for messages.
    pub fn description(&self) -> String {
        format!("{}@{}:{}", self.user, self.host_name, self.port)
    }
}

/// Resolves `alias` (a host as the user wrote it) with the ssh configuration.
/// `user_override` and `port_override` win over the file, like `ssh -l` and `ssh -p`.
pub fn resolve(
    alias: &str,
    user_override: Option<&str>,
    port_override: Option<u16>,
    settings: &SshSettings,
) -> Result<ResolvedHost, SshError> {
    let loaded = Loaded::load(settings)?;
    for warning in &loaded.warnings {
        tracing::warn!("{warning}");
    }
    loaded.resolve(alias, user_override, port_override, settings, 0, true)
}

/// [`resolve`] with the configuration text already in hand (`path` names it in messages):
/// the parse and the resolution without the file reads. An `Include` in `text` is still
/// read from disk, as ssh2-config does.
pub fn resolve_text(
    text: &str,
    path: &Path,
    alias: &str,
    user_override: Option<&str>,
    port_override: Option<u16>,
    settings: &SshSettings,
) -> Result<ResolvedHost, SshError> {
    let (converted, warnings) = convert_match_blocks(text, path);
    let loaded = Loaded::parse(path.to_path_buf(), converted, warnings, settings)?;
    loaded.resolve(alias, user_override, port_override, settings, 0, true)
}

struct Loaded {
    config: SshConfig,
    path: PathBuf,
    warnings: Vec<String>,
}

impl Loaded {
    fn load(settings: &SshSettings) -> Result<Loaded, SshError> {
        let (path, text) = match &settings.config_file {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|e| SshError::Config {
                    path: path.clone(),
                    detail: format!(
                        "cannot read it ({e}); fix DISTFARM_SSH_CONFIG or create the file"
                    ),
                })?;
                (path.clone(), text)
            }
            None => {
                let path = settings.home.join(".ssh/config");
                (path.clone(), read_if_present(&path)?)
            }
        };
        let (mut converted, mut warnings) = convert_match_blocks(&text, &path);
        if settings.config_file.is_none() {
            // The system file comes last, so the user's values win ("first value wins"); its
            // options before any `Host` apply to every host, hence the `Host *`.
            let system = Path::new(SYSTEM_CONFIG);
            let system_text = read_if_present(system)?;
            if !system_text.is_empty() {
                let (system_converted, system_warnings) =
                    convert_match_blocks(&system_text, system);
                converted.push_str("\nHost *\n");
                converted.push_str(&system_converted);
                warnings.extend(system_warnings);
            }
        }
        Loaded::parse(path, converted, warnings, settings)
    }

    /// Parses configuration text whose `Match` blocks were already converted.
    fn parse(
        path: PathBuf,
        text: String,
        warnings: Vec<String>,
        settings: &SshSettings,
    ) -> Result<Loaded, SshError> {
        let config = SshConfig::default()
            .home_dir(&settings.home)
            .parse(
                &mut text.as_bytes(),
                ParseRule::ALLOW_UNKNOWN_FIELDS | ParseRule::ALLOW_UNSUPPORTED_FIELDS,
            )
            .map_err(|e| SshError::Config {
                path: path.clone(),
                detail: format!("cannot parse it: {e}"),
            })?;
        // `Match` lines left now come from `Include`d files, which we do not pre-process;
        // ssh2-config would apply their bodies to the preceding `Host` block.
        let included_match = config.get_hosts().iter().any(|h| {
            h.params
                .ignored_fields
                .keys()
                .any(|k| k.eq_ignore_ascii_case("match"))
        });
        if included_match {
            return Err(SshError::Config {
                path,
                detail: "a file it includes has a `Match` block, which distfarm cannot \
                         evaluate; move the options into `Host` blocks or point \
                         DISTFARM_SSH_CONFIG at a file without `Match`"
                    .into(),
            });
        }
        Ok(Loaded {
            config,
            path,
            warnings,
        })
    }

    fn resolve(
        &self,
        alias: &str,
        user_override: Option<&str>,
        port_override: Option<u16>,
        settings: &SshSettings,
        depth: usize,
        follow_proxy_jump: bool,
    ) -> Result<ResolvedHost, SshError> {
        let config_error = |detail: String| SshError::Config {
            path: self.path.clone(),
            detail,
        };
        if depth > MAX_JUMP_DEPTH {
            return Err(config_error(format!(
                "ProxyJump chains through more than {MAX_JUMP_DEPTH} hosts at {alias:?}; is there a loop?"
            )));
        }
        let alias = alias.to_lowercase();
        let p = self.config.query(&alias);
        let raw = |name: &str| raw_field(&p, name);
        let mut tokens = Tokens {
            alias: alias.clone(),
            host_name: alias.clone(),
            port: 0,
            remote_user: String::new(),
            local_user: settings.user.clone(),
            home: settings.home.clone(),
        };
        let host_name = match &p.host_name {
            Some(h) => tokens.expand(h),
            None => alias.clone(),
        };
        tokens.host_name = host_name.clone();
        let port = port_override.or(p.port).unwrap_or(DEFAULT_PORT);
        tokens.port = port;
        let user = user_override
            .map(str::to_string)
            .or_else(|| p.user.as_deref().map(|u| tokens.expand(u)))
            .unwrap_or_else(|| settings.user.clone());
        tokens.remote_user = user.clone();

        let (identity_files, identity_files_default) = match &p.identity_file {
            Some(files) if !files.is_empty() => (
                files
                    .iter()
                    .map(|f| tokens.path(&f.to_string_lossy()))
                    .collect(),
                false,
            ),
            _ => (
                ["id_ed25519", "id_ecdsa", "id_rsa"]
                    .iter()
                    .map(|f| settings.home.join(".ssh").join(f))
                    .collect(),
                true,
            ),
        };
        let known_hosts = match raw("userknownhostsfile") {
            Some(files) if !files.is_empty() => files.iter().map(|f| tokens.path(f)).collect(),
            _ => vec![
                settings.home.join(".ssh/known_hosts"),
                settings.home.join(".ssh/known_hosts2"),
            ],
        };
        let global_known_hosts = match raw("globalknownhostsfile") {
            Some(files) if !files.is_empty() => files.iter().map(|f| tokens.path(f)).collect(),
            _ => vec![
                PathBuf::from("/etc/ssh/ssh_known_hosts"),
                PathBuf::from("/etc/ssh/ssh_known_hosts2"),
            ],
        };
        let strict = match first(raw("stricthostkeychecking")) {
            None => StrictHostKeyChecking::Yes,
            Some(v) => match v.to_lowercase().as_str() {
                "yes" | "ask" | "true" => StrictHostKeyChecking::Yes,
                "accept-new" => StrictHostKeyChecking::AcceptNew,
                "no" | "off" | "false" => StrictHostKeyChecking::No,
                other => {
                    return Err(config_error(format!(
                        "StrictHostKeyChecking {other:?} for {alias}: expected yes, accept-new or no"
                    )));
                }
            },
        };
        let yes_no = |name: &str| -> Result<bool, SshError> {
            match first(raw(name)) {
                None => Ok(false),
                Some(v) => match v.to_lowercase().as_str() {
                    "yes" | "true" => Ok(true),
                    "no" | "false" => Ok(false),
                    other => Err(config_error(format!(
                        "{name} {other:?} for {alias}: expected yes or no"
                    ))),
                },
            }
        };
        let identities_only = yes_no("identitiesonly")?;
        let hash_known_hosts = yes_no("hashknownhosts")?;
        let host_key_alias = first(raw("hostkeyalias")).map(|a| tokens.expand(a));
        let connect_timeout = p
            .connect_timeout
            .filter(|t| !t.is_zero())
            .unwrap_or(DEFAULT_CONNECT_TIMEOUT);
        let keepalive_interval = match p.server_alive_interval {
            Some(t) if t.is_zero() => None,
            Some(t) => Some(t),
            None => Some(DEFAULT_KEEPALIVE_INTERVAL),
        };
        let keepalive_max = match first(raw("serveralivecountmax")) {
            None => DEFAULT_KEEPALIVE_MAX,
            Some(v) => v.parse::<usize>().map_err(|_| {
                config_error(format!(
                    "ServerAliveCountMax {v:?} for {alias}: expected a number"
                ))
            })?,
        };
        let agent_socket = match first(raw("identityagent")) {
            None => settings.agent_socket.clone(),
            Some(v) if v.eq_ignore_ascii_case("none") => None,
            Some(v) if v == "SSH_AUTH_SOCK" || v == "$SSH_AUTH_SOCK" => {
                settings.agent_socket.clone()
            }
            Some(v) if v.starts_with('$') => {
                return Err(config_error(format!(
                    "IdentityAgent {v} for {alias}: environment variables other than \
                     SSH_AUTH_SOCK are not supported; write the socket path"
                )));
            }
            Some(v) => Some(tokens.path(v)),
        };

        let mut proxy_jump = Vec::new();
        let jumps = p
            .proxy_jump
            .clone()
            .unwrap_or_default()
            .into_iter()
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>();
        let no_jump = jumps.is_empty() || jumps[0].eq_ignore_ascii_case("none");
        if follow_proxy_jump && !no_jump {
            for (i, spec) in jumps.iter().enumerate() {
                let (jump_user, jump_host, jump_port) = parse_jump(spec).map_err(|detail| {
                    config_error(format!("ProxyJump {spec:?} for {alias}: {detail}"))
                })?;
                // Only the first hop keeps its own ProxyJump: `-J a,b` reaches b through a.
                let mut hop = self.resolve(
                    &jump_host,
                    jump_user.as_deref(),
                    jump_port,
                    settings,
                    depth + 1,
                    i == 0,
                )?;
                if i == 0 {
                    proxy_jump.append(&mut hop.proxy_jump);
                }
                proxy_jump.push(hop);
            }
        }
        if no_jump
            && let Some(command) = first(raw("proxycommand"))
            && !command.eq_ignore_ascii_case("none")
        {
            return Err(config_error(format!(
                "{alias} uses ProxyCommand, which distfarm's built-in SSH does not run; \
                 use ProxyJump, or set DISTFARM_SSH_CONFIG to a file without it"
            )));
        }

        Ok(ResolvedHost {
            alias,
            host_name,
            port,
            user,
            identity_files,
            identity_files_default,
            identities_only,
            known_hosts,
            global_known_hosts,
            host_key_alias,
            hash_known_hosts,
            strict,
            connect_timeout,
            keepalive_interval,
            keepalive_max,
            proxy_jump,
            compression: p.compression.unwrap_or(false),
            agent_socket,
            config_file: self.path.clone(),
            warnings: self.warnings.clone(),
        })
    }
}

fn read_if_present(path: &Path) -> Result<String, SshError> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(text),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(String::new()),
        Err(e) => Err(SshError::Config {
            path: path.to_path_buf(),
            detail: format!("cannot read it: {e}"),
        }),
    }
}

/// A keyword ssh2-config does not interpret, as its raw arguments.
fn raw_field<'a>(p: &'a HostParams, name: &str) -> Option<&'a Vec<String>> {
    p.unsupported_fields.get(name).or_else(|| {
        p.ignored_fields
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    })
}

fn first(args: Option<&Vec<String>>) -> Option<&str> {
    args.and_then(|a| a.first()).map(String::as_str)
}

/// `%` tokens as OpenSSH expands them in paths and names.
struct Tokens {
    alias: String,
    host_name: String,
    port: u16,
    remote_user: String,
    local_user: String,
    home: PathBuf,
}

impl Tokens {
    fn expand(&self, text: &str) -> String {
        let mut out = String::with_capacity(text.len());
        let mut chars = text.chars();
        while let Some(c) = chars.next() {
            if c != '%' {
                out.push(c);
                continue;
            }
            match chars.next() {
                Some('%') => out.push('%'),
                Some('h') => out.push_str(&self.host_name),
                Some('n') => out.push_str(&self.alias),
                Some('p') => out.push_str(&self.port.to_string()),
                Some('r') => out.push_str(&self.remote_user),
                Some('u') => out.push_str(&self.local_user),
                Some('d') => out.push_str(&self.home.to_string_lossy()),
                Some(other) => {
                    out.push('%');
                    out.push(other);
                }
                None => out.push('%'),
            }
        }
        out
    }

    /// A path argument: tokens, then a leading `~` (the account's home).
    fn path(&self, text: &str) -> PathBuf {
        let text = self.expand(text);
        if text == "~" {
            self.home.clone()
        } else if let Some(rest) = text.strip_prefix("~/") {
            self.home.join(rest)
        } else {
            PathBuf::from(text)
        }
    }
}

/// `[user@]host[:port]`, `[user@][v6addr]:port` or `ssh://[user@]host[:port]`.
fn parse_jump(spec: &str) -> Result<(Option<String>, String, Option<u16>), String> {
    let s = spec.strip_prefix("ssh://").unwrap_or(spec);
    let (user, rest) = match s.rsplit_once('@') {
        Some((u, r)) if !u.is_empty() => (Some(u.to_string()), r),
        Some(_) => return Err("empty user name".into()),
        None => (None, s),
    };
    let parse_port = |p: &str| {
        p.parse::<u16>()
            .map_err(|_| format!("{p:?} is not a port number"))
    };
    let (host, port) = if let Some(bracketed) = rest.strip_prefix('[') {
        let (host, after) = bracketed
            .split_once(']')
            .ok_or_else(|| "unclosed '['".to_string())?;
        match after.strip_prefix(':') {
            Some(p) => (host.to_string(), Some(parse_port(p)?)),
            None if after.is_empty() => (host.to_string(), None),
            None => return Err(format!("unexpected {after:?} after ']'")),
        }
    } else {
        match rest.rsplit_once(':') {
            Some((h, p)) if !h.contains(':') => (h.to_string(), Some(parse_port(p)?)),
            _ => (rest.to_string(), None),
        }
    };
    if host.is_empty() {
        return Err("no host name".into());
    }
    Ok((user, host, port))
}

/// Rewrites `Match` blocks: `Match all` → `Host *`, `Match originalhost P[,P]` → `Host P P`;
/// any other `Match` block is blanked out with a warning (we cannot evaluate `exec`, `user`,
/// `host` after canonicalisation ...). Line numbers are kept.
fn convert_match_blocks(text: &str, path: &Path) -> (String, Vec<String>) {
    let mut out = String::with_capacity(text.len() + 16);
    let mut warnings = Vec::new();
    let mut skipping = false;
    for (n, line) in text.lines().enumerate() {
        let trimmed = line.trim_start();
        let keyword_end = trimmed
            .find(|c: char| c.is_whitespace() || c == '=')
            .unwrap_or(trimmed.len());
        let (keyword, args) = trimmed.split_at(keyword_end);
        let args = args.trim_start_matches(|c: char| c.is_whitespace() || c == '=');
        if keyword.eq_ignore_ascii_case("host") {
            skipping = false;
        } else if keyword.eq_ignore_ascii_case("match") {
            let criteria: Vec<&str> = args.split_whitespace().collect();
            skipping = false;
            match criteria.as_slice() {
                [all] if all.eq_ignore_ascii_case("all") => out.push_str("Host *"),
                [kind, patterns] if kind.eq_ignore_ascii_case("originalhost") => {
                    out.push_str("Host ");
                    out.push_str(&patterns.replace(',', " "));
                }
                _ => {
                    warnings.push(format!(
                        "{}:{}: `{}` is not supported (only `Match all` and `Match originalhost \
                         PATTERNS` are); the options in this block are ignored",
                        path.display(),
                        n + 1,
                        trimmed.trim_end()
                    ));
                    skipping = true;
                }
            }
            out.push('\n');
            continue;
        }
        if !skipping {
            out.push_str(line);
        }
        out.push('\n');
    }
    (out, warnings)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jump_specs_parse_like_openssh() {
        assert_eq!(parse_jump("bastion"), Ok((None, "bastion".into(), None)));
        assert_eq!(
            parse_jump("me@bastion:2222"),
            Ok((Some("me".into()), "bastion".into(), Some(2222)))
        );
        assert_eq!(
            parse_jump("ssh://me@[::1]:2200"),
            Ok((Some("me".into()), "::1".into(), Some(2200)))
        );
        assert_eq!(parse_jump("fe80::1"), Ok((None, "fe80::1".into(), None)));
        assert!(parse_jump("host:port").is_err());
        assert!(parse_jump("@host").is_err());
    }

    #[test]
    fn match_blocks_become_host_blocks_or_are_skipped() {
        let text = "Host a\n  User ua\nMatch host b exec true\n  User ub\nMatch all\n  Port 2\n\
                    Match originalhost x,y\n  Port 3\nHost c\n  User uc\n";
        let (out, warnings) = convert_match_blocks(text, Path::new("cfg"));
        assert_eq!(
            out,
            "Host a\n  User ua\n\n\nHost *\n  Port 2\nHost x y\n  Port 3\nHost c\n  User uc\n"
        );
        assert_eq!(warnings.len(), 1);
        assert!(
            warnings[0].starts_with("cfg:3: `Match host b exec true`"),
            "{warnings:?}"
        );
    }

    #[test]
    fn tokens_expand_in_paths() {
        let t = Tokens {
            alias: "b".into(),
            host_name: "b.example".into(),
            port: 2222,
            remote_user: "r".into(),
            local_user: "l".into(),
            home: "/home/l".into(),
        };
        assert_eq!(
            t.path("~/.ssh/%h-%p-%r-%u-%n_%%"),
            PathBuf::from("/home/l/.ssh/b.example-2222-r-l-b_%")
        );
        assert_eq!(t.path("%d/x%z"), PathBuf::from("/home/l/x%z"));
    }
}
