//! The DISTCC_HOSTS grammar (pure): `parse` turns host-list text into a [`HostList`], and
//! `choose`/`load` pick the text the way distcc 3.4 does (`hosts.c dcc_get_hostlist`).
//!
//! The parser follows distcc's hand-written scanner (`hosts.c dcc_parse_hosts`) token for
//! token, so every list distcc accepts means the same here, with three kinds of exception:
//!
//! * Where distcc turns a mistake into nonsense (`--localslots=0` becoming a TCP host of
//!   that name, `host/-3` giving minus three slots, `host:` giving port 0, `host=4` becoming
//!   a host literally named `host=4`), we stop with an error that names the token.
//! * Where distcc silently ignores text (`host/4x`, `localhost/4,lzo`, `host,lzofoo`), we
//!   accept the list as distcc does and record a warning in [`HostList::warnings`].
//! * Features we do not have (`,auth`, `+zeroconf`) are errors that say so, rather than
//!   hosts that can never work.
//!
//! Nothing here reads the environment or the file system: callers pass the values in.

use std::fmt;
use std::path::PathBuf;

/// distccd's well-known port.
pub const DEFAULT_PORT: u16 = 3632;
/// Slots of a remote host without `/N` ("a bit higher than the local limit to allow for some
/// files in transit", hosts.c).
pub const DEFAULT_REMOTE_SLOTS: u32 = 4;
/// Slots of a `localhost` entry without `/N`.
pub const DEFAULT_LOCALHOST_SLOTS: u32 = 2;
/// `--localslots`: local compiles of jobs that are not distributed, and fallbacks.
pub const DEFAULT_LOCAL_SLOTS: u32 = 4;
/// `--localslots_cpp`: local preprocessing before a remote job, and `-E` jobs.
pub const DEFAULT_LOCAL_CPP_SLOTS: u32 = 8;
/// The remote command an SSH host runs when the spec gives no `:COMMAND`.
pub const DEFAULT_SSH_COMMAND: &str = "distccd";
/// The origin name distcc uses for the environment variable in its messages.
pub const ENV_ORIGIN: &str = "$DISTCC_HOSTS";

/// A parsed host list, plus the list-wide settings that may appear in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostList {
    /// Hosts in the order given (see [`HostList::shuffle`] for `--randomize`).
    pub hosts: Vec<HostSpec>,
    /// `--randomize` was given: use the hosts in a per-process random order.
    pub randomize: bool,
    /// `--localslots=N` (default 4).
    pub local_slots: u32,
    /// `--localslots_cpp=N` (default 8).
    pub local_slots_cpp: u32,
    /// Text distcc would silently ignore; worth a log line, not a failure.
    pub warnings: Vec<String>,
}

/// One host entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostSpec {
    /// The token exactly as written (what `distcc --show-hosts` prints).
    pub text: String,
    pub kind: HostKind,
    /// How many jobs may run on this host at once (`/N`).
    pub limit: u32,
    /// `,lzo`: compress the job (protocol 2, or 3 with `cpp`).
    pub lzo: bool,
    /// `,cpp`: the server preprocesses (pump mode, protocol 3). Always with `lzo`.
    pub cpp: bool,
    /// `,down`: the entry is listed but never given work.
    pub down: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostKind {
    /// `localhost[/N]`: run the compiler here, no daemon.
    Local,
    /// `HOST[:PORT]`: a distccd over TCP. IPv6 addresses are stored without brackets.
    Tcp { host: String, port: u16 },
    /// `[USER]@HOST[:COMMAND]`: `ssh [-l USER] HOST COMMAND --inetd`.
    Ssh {
        user: Option<String>,
        host: String,
        command: Option<String>,
    },
}

impl HostSpec {
    /// The protocol distcc speaks to this host: 1 plain, 2 with `lzo`, 3 with `cpp,lzo`.
    pub fn protocol_version(&self) -> u32 {
        match (self.lzo, self.cpp) {
            (true, true) => 3,
            (true, false) => 2,
            // `cpp` without `lzo` is rejected by the parser, as in distcc.
            (false, _) => 1,
        }
    }

    /// The host name or address to connect to (`localhost` for the local entry).
    pub fn hostname(&self) -> &str {
        match &self.kind {
            HostKind::Local => "localhost",
            HostKind::Tcp { host, .. } | HostKind::Ssh { host, .. } => host,
        }
    }

    pub fn is_local(&self) -> bool {
        matches!(self.kind, HostKind::Local)
    }

    /// The command an SSH host runs (`distccd` unless the spec names one).
    pub fn ssh_command(&self) -> Option<&str> {
        match &self.kind {
            HostKind::Ssh { command, .. } => {
                Some(command.as_deref().unwrap_or(DEFAULT_SSH_COMMAND))
            }
            _ => None,
        }
    }

    /// The slot lock file name inside `<topdir>/lock` (`lock.c dcc_make_lock_filename`):
    /// `cpu_tcp_HOST_PORT_N`, `cpu_ssh_HOST_N` (no user), `cpu_localhost_N`.
    pub fn lock_name(&self, slot: u32) -> String {
        self.timefile_name("cpu", slot)
    }

    /// The backoff file name inside `<topdir>/lock` (`backoff.c`): the lock name scheme with
    /// prefix `backoff` and slot 0.
    pub fn backoff_name(&self) -> String {
        self.timefile_name("backoff", 0)
    }

    fn timefile_name(&self, prefix: &str, slot: u32) -> String {
        match &self.kind {
            HostKind::Local => format!("{prefix}_localhost_{slot}"),
            HostKind::Tcp { host, port } => format!("{prefix}_tcp_{host}_{port}_{slot}"),
            HostKind::Ssh { host, .. } => format!("{prefix}_ssh_{host}_{slot}"),
        }
    }
}

/// The lock file name of the local pseudo-hosts (`--localslots` and `--localslots_cpp` share
/// these files with a `localhost` entry, so their limits interact as in distcc).
pub fn local_lock_name(slot: u32) -> String {
    format!("cpu_localhost_{slot}")
}

impl Default for HostList {
    fn default() -> Self {
        HostList {
            hosts: Vec::new(),
            randomize: false,
            local_slots: DEFAULT_LOCAL_SLOTS,
            local_slots_cpp: DEFAULT_LOCAL_CPP_SLOTS,
            warnings: Vec::new(),
        }
    }
}

impl HostList {
    /// No host entries: distcc says "contained no hosts; can't distribute work" and compiles
    /// locally. The local slot settings still apply.
    pub fn is_empty(&self) -> bool {
        self.hosts.is_empty()
    }

    /// What `distcc -j` prints: the sum of every entry's limit (`,down` ones included).
    pub fn total_slots(&self) -> u64 {
        self.hosts.iter().map(|h| u64::from(h.limit)).sum()
    }

    /// What `distcc --show-hosts` prints, one line per entry.
    pub fn show_hosts(&self) -> impl Iterator<Item = &str> {
        self.hosts.iter().map(|h| h.text.as_str())
    }

    /// Apply `--randomize` (a no-op without it): reorder the hosts by a pseudo-random key
    /// derived from `seed`. distcc seeds `rand()` with its pid; callers pass the pid (or
    /// anything else that differs per process). The order is not glibc's, only as random.
    pub fn shuffle(&mut self, seed: u64) {
        if !self.randomize {
            return;
        }
        let mut state = seed;
        let mut keyed: Vec<(u64, HostSpec)> = self
            .hosts
            .drain(..)
            .map(|h| (splitmix64(&mut state), h))
            .collect();
        keyed.sort_by_key(|(k, _)| *k);
        self.hosts = keyed.into_iter().map(|(_, h)| h).collect();
    }
}

fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Why a host list was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HostsError {
    #[error("bad host specification \"{token}\" in {origin}: {problem}")]
    Syntax {
        origin: String,
        token: String,
        problem: Problem,
    },
    #[error(
        "no host list is set: DISTCC_HOSTS is unset and no hosts file could be read ({}); \
         set DISTCC_HOSTS or write one of those files",
        display_paths(tried)
    )]
    NotSet { tried: Vec<PathBuf> },
}

fn display_paths(paths: &[PathBuf]) -> String {
    if paths.is_empty() {
        return "none configured".to_string();
    }
    paths
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// What is wrong with one token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Problem {
    #[error("the slot limit must be a whole number of at least 1, as in HOST/4 (got \"{0}\")")]
    BadLimit(String),
    #[error("{option} needs a whole number of at least 1, as in {option}=4 (got \"{value}\")")]
    BadLocalSlots { option: &'static str, value: String },
    #[error("a host name is required (forms: HOST, HOST:PORT, USER@HOST, @HOST)")]
    MissingHostname,
    #[error("the port must be a number from 1 to 65535 (got \"{0}\")")]
    BadPort(String),
    #[error("an IPv6 address needs a closing ']', as in [::1]:3632")]
    UnclosedIpv6,
    #[error("IPv6 addresses in brackets only work for TCP hosts; for SSH use a host name")]
    Ipv6InSsh,
    #[error("'=' cannot appear in a host name; a slot limit is written HOST/4")]
    EqualsInHostname,
    #[error("unknown option \",{0}\" (known: lzo, cpp, down)")]
    UnknownOption(String),
    #[error(
        "GSS-API authentication (,auth) is not supported by distfarm; use an SSH host (@HOST) for an authenticated, encrypted connection"
    )]
    AuthNotSupported,
    #[error("pump mode (',cpp') requires compression (',lzo'): write ,cpp,lzo")]
    CppWithoutLzo,
    #[error("+zeroconf (mDNS discovery) is not supported by distfarm; list the hosts instead")]
    ZeroconfNotSupported,
    #[error("unknown list option (known: --randomize, --localslots=N, --localslots_cpp=N)")]
    UnknownListOption,
}

/// Where the host list text came from, and the text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostSource<'a> {
    /// `$DISTCC_HOSTS` or the file's path, for messages.
    pub origin: String,
    pub text: &'a str,
}

/// Pick the host list the way distcc does: the `DISTCC_HOSTS` value if the variable is set
/// (even if empty — that means "no hosts"); otherwise the first readable file of `files`, in
/// order (distcc's order: `<topdir>/hosts`, then `<sysconfdir>/distcc/hosts`). A file is
/// `(path, Some(contents))` when it could be read, `(path, None)` when it is missing or
/// unreadable. A readable but empty file is used (and yields no hosts), as in distcc.
pub fn choose<'a>(
    env: Option<&'a str>,
    files: &'a [(PathBuf, Option<String>)],
) -> Option<HostSource<'a>> {
    if let Some(text) = env {
        return Some(HostSource {
            origin: ENV_ORIGIN.to_string(),
            text,
        });
    }
    files.iter().find_map(|(path, contents)| {
        contents.as_deref().map(|text| HostSource {
            origin: path.display().to_string(),
            text,
        })
    })
}

/// [`choose`] then [`parse`]; no source at all is [`HostsError::NotSet`].
pub fn load(
    env: Option<&str>,
    files: &[(PathBuf, Option<String>)],
) -> Result<HostList, HostsError> {
    match choose(env, files) {
        Some(source) => parse(source.text, &source.origin),
        None => Err(HostsError::NotSet {
            tried: files.iter().map(|(p, _)| p.clone()).collect(),
        }),
    }
}

/// Token delimiters of distcc's scanner (`strcspn(where, " #\t\n\f\r")`).
const TOKEN_END: &[char] = &[' ', '#', '\t', '\n', '\x0c', '\r'];
/// Whitespace skipped between tokens (C `isspace`).
const SPACE: &[char] = &[' ', '\t', '\n', '\x0b', '\x0c', '\r'];

/// Parse a host list. `origin` names where the text came from (`$DISTCC_HOSTS` or a path)
/// and appears in errors and warnings. An empty list is not an error here: check
/// [`HostList::is_empty`].
pub fn parse(text: &str, origin: &str) -> Result<HostList, HostsError> {
    let mut list = HostList::default();
    let mut rest = text;
    loop {
        rest = rest.trim_start_matches(SPACE);
        if rest.is_empty() {
            break;
        }
        if let Some(comment) = rest.strip_prefix('#') {
            // A comment runs to the end of the line.
            rest = comment.find(['\n', '\r']).map_or("", |i| &comment[i..]);
            continue;
        }
        let len = rest.find(TOKEN_END).unwrap_or(rest.len());
        let (token, after) = rest.split_at(len);
        rest = after;
        let fail = |problem| HostsError::Syntax {
            origin: origin.to_string(),
            token: token.to_string(),
            problem,
        };
        let mut warn = |what: String| list_warning(origin, token, what);
        if token.starts_with("--") {
            let w = list_option(token, &mut list).map_err(fail)?;
            list.warnings.extend(w.map(&mut warn));
            continue;
        }
        if token == "+zeroconf" {
            return Err(fail(Problem::ZeroconfNotSupported));
        }
        let (spec, ignored) = host_token(token).map_err(fail)?;
        list.warnings.extend(ignored.map(&mut warn));
        list.hosts.push(spec);
    }
    Ok(list)
}

fn list_warning(origin: &str, token: &str, what: String) -> String {
    format!("{origin}: in \"{token}\": {what}")
}

/// `--randomize`, `--localslots[=/]N`, `--localslots_cpp[=/]N`. distcc matches these by
/// prefix; we do too, but warn about what it silently ignores.
fn list_option(token: &str, list: &mut HostList) -> Result<Option<String>, Problem> {
    if let Some(extra) = token.strip_prefix("--randomize") {
        list.randomize = true;
        return Ok((!extra.is_empty())
            .then(|| format!("ignoring \"{extra}\" after --randomize (as distcc does)")));
    }
    for (option, slot) in [
        ("--localslots_cpp", &mut list.local_slots_cpp),
        ("--localslots", &mut list.local_slots),
    ] {
        let Some(tail) = token.strip_prefix(option) else {
            continue;
        };
        let Some(value) = tail.strip_prefix(['=', '/']) else {
            // distcc consumes the token and changes nothing.
            return Ok(Some(format!(
                "{option} without =N changes nothing (ignored, as distcc does)"
            )));
        };
        // distcc turns a zero or non-numeric value into a TCP host named after the whole
        // token (and, for `--localslots_cpp=x`, silently drops it): a clear error instead.
        let bad = || Problem::BadLocalSlots {
            option,
            value: value.to_string(),
        };
        let (n, extra) = leading_number(value).ok_or_else(bad)?;
        if n == 0 {
            return Err(bad());
        }
        *slot = n;
        return Ok((!extra.is_empty())
            .then(|| format!("ignoring \"{extra}\" after {option} (as distcc does)")));
    }
    // distcc would make a TCP host named e.g. `--randomise`; no host name starts with `--`.
    Err(Problem::UnknownListOption)
}

/// The decimal number at the start of `s` (digits only: no sign, unlike distcc's `atoi`),
/// and what follows it. `None` if there are no digits or the value overflows.
fn leading_number(s: &str) -> Option<(u32, &str)> {
    let end = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    if end == 0 {
        return None;
    }
    Some((s[..end].parse().ok()?, &s[end..]))
}

/// One host token → the spec, and a warning if distcc would ignore part of it.
fn host_token(token: &str) -> Result<(HostSpec, Option<String>), Problem> {
    let mut spec = HostSpec {
        text: token.to_string(),
        kind: HostKind::Local,
        limit: DEFAULT_REMOTE_SLOTS,
        lzo: false,
        cpp: false,
        down: false,
    };
    // Classification as in hosts.c: `localhost` or `localhost/…` is local; any `@` makes an
    // SSH host; everything else (including `localhost:3632` and `localhost,lzo`) is TCP.
    let rest = if token == "localhost" || token.starts_with("localhost/") {
        spec.limit = DEFAULT_LOCALHOST_SLOTS;
        let (rest, _) = limit(&token["localhost".len()..], &mut spec.limit)?;
        if rest.starts_with(',') {
            let w = format!(
                "options are not accepted on localhost; ignoring \"{rest}\" (as distcc does)"
            );
            return Ok((spec, Some(w)));
        }
        rest
    } else if let Some((user, after_at)) = token.split_once('@') {
        let (host, rest) = take_until(after_at, &['/', ':', ',']);
        check_hostname(host)?;
        if host.starts_with('[') {
            return Err(Problem::Ipv6InSsh);
        }
        let (mut rest, _) = limit(rest, &mut spec.limit)?;
        let mut command = None;
        if let Some(cmd) = rest.strip_prefix(':') {
            // The command runs to the next ',' — a `/N` after it is part of the command.
            let (cmd, after) = take_until(cmd, &[',']);
            command = (!cmd.is_empty()).then(|| cmd.to_string());
            rest = after;
        }
        spec.kind = HostKind::Ssh {
            user: (!user.is_empty()).then(|| user.to_string()),
            host: host.to_string(),
            command,
        };
        options(rest, &mut spec)?
    } else {
        let (host, rest) = if let Some(v6) = token.strip_prefix('[') {
            let (addr, rest) = take_until(v6, &['/', ']', ',']);
            let rest = rest.strip_prefix(']').ok_or(Problem::UnclosedIpv6)?;
            (addr, rest)
        } else {
            take_until(token, &['/', ':', ','])
        };
        check_hostname(host)?;
        // distcc accepts the limit before the port, after it, or both (the last one wins).
        let (rest, first) = limit(rest, &mut spec.limit)?;
        let (mut rest, mut port) = (rest, DEFAULT_PORT);
        if let Some(p) = rest.strip_prefix(':') {
            let (digits, after) = take_until(p, &['/', ',']);
            // distcc's strtol takes "" (port 0), signs and out-of-range values.
            port = match digits.parse::<u16>() {
                Ok(n) if n > 0 && digits.bytes().all(|b| b.is_ascii_digit()) => n,
                _ => return Err(Problem::BadPort(digits.to_string())),
            };
            rest = after;
        }
        let (rest, second) = limit(rest, &mut spec.limit)?;
        spec.kind = HostKind::Tcp {
            host: host.to_string(),
            port,
        };
        let rest = options(rest, &mut spec)?;
        if first && second {
            let w = format!(
                "the slot limit is given twice; using the last one, {} (as distcc does)",
                spec.limit
            );
            return Ok((spec, Some(w)));
        }
        rest
    };
    let warning = (!rest.is_empty()).then(|| format!("ignoring \"{rest}\" (as distcc does)"));
    Ok((spec, warning))
}

fn take_until<'a>(s: &'a str, stops: &[char]) -> (&'a str, &'a str) {
    s.split_at(s.find(stops).unwrap_or(s.len()))
}

fn check_hostname(host: &str) -> Result<(), Problem> {
    if host.is_empty() {
        return Err(Problem::MissingHostname);
    }
    if host.contains('=') {
        // distcc makes `host=4` a host literally named "host=4", which can never resolve.
        return Err(Problem::EqualsInHostname);
    }
    Ok(())
}

/// An optional `/N` (`hosts.c dcc_parse_multiplier`); says whether one was there.
fn limit<'a>(s: &'a str, slots: &mut u32) -> Result<(&'a str, bool), Problem> {
    let Some(value) = s.strip_prefix('/') else {
        return Ok((s, false));
    };
    let bad = || Problem::BadLimit(format!("/{}", take_until(value, &[':', ',']).0));
    match leading_number(value) {
        Some((n, rest)) if n > 0 => {
            *slots = n;
            Ok((rest, true))
        }
        _ => Err(bad()),
    }
}

/// `{ "," OPTION }`, matched by prefix as distcc does (`hosts.c dcc_parse_options`).
fn options<'a>(mut s: &'a str, spec: &mut HostSpec) -> Result<&'a str, Problem> {
    while let Some(opt) = s.strip_prefix(',') {
        s = if let Some(r) = opt.strip_prefix("lzo") {
            spec.lzo = true;
            r
        } else if let Some(r) = opt.strip_prefix("down") {
            spec.down = true;
            r
        } else if let Some(r) = opt.strip_prefix("cpp") {
            spec.cpp = true;
            r
        } else if opt.starts_with("auth") {
            return Err(Problem::AuthNotSupported);
        } else {
            return Err(Problem::UnknownOption(
                take_until(opt, &[',']).0.to_string(),
            ));
        };
    }
    if spec.cpp && !spec.lzo {
        return Err(Problem::CppWithoutLzo);
    }
    Ok(s)
}

impl fmt::Display for HostSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(token: &str) -> HostSpec {
        let list = parse(token, ENV_ORIGIN).unwrap();
        assert_eq!(list.hosts.len(), 1, "{token}");
        list.hosts.into_iter().next().unwrap()
    }

    fn problem(text: &str) -> Problem {
        match parse(text, ENV_ORIGIN) {
            Err(HostsError::Syntax { problem, .. }) => problem,
            other => panic!("{text}: expected a syntax error, got {other:?}"),
        }
    }

    fn tcp(host: &str, port: u16) -> HostKind {
        HostKind::Tcp {
            host: host.into(),
            port,
        }
    }

    fn ssh(user: Option<&str>, host: &str, command: Option<&str>) -> HostKind {
        HostKind::Ssh {
            user: user.map(Into::into),
            host: host.into(),
            command: command.map(Into::into),
        }
    }

    #[test]
    fn manual_example_parses_like_distcc() {
        // `distcc --show-hosts` prints the four tokens verbatim; `distcc -j` prints 22.
        let text = "localhost/2 @bigman/16:/opt/bin/distccd oldmachine:4200/1 distant/3,lzo";
        let list = parse(text, ENV_ORIGIN).unwrap();
        let kinds: Vec<_> = list
            .hosts
            .iter()
            .map(|h| (h.kind.clone(), h.limit, h.lzo))
            .collect();
        assert_eq!(
            kinds,
            vec![
                (HostKind::Local, 2, false),
                (ssh(None, "bigman", Some("/opt/bin/distccd")), 16, false),
                (tcp("oldmachine", 4200), 1, false),
                (tcp("distant", DEFAULT_PORT), 3, true),
            ]
        );
        assert_eq!(
            list.show_hosts().collect::<Vec<_>>(),
            text.split(' ').collect::<Vec<_>>()
        );
        assert_eq!(list.total_slots(), 22);
        assert!(list.warnings.is_empty());
        assert_eq!(list.hosts[3].protocol_version(), 2);
    }

    #[test]
    fn defaults_are_four_slots_remote_two_localhost_and_port_3632() {
        assert_eq!(one("host").limit, 4);
        assert_eq!(one("host").kind, tcp("host", 3632));
        assert_eq!(one("localhost").limit, 2);
        assert_eq!(one("@host").limit, 4);
        let list = parse("host", ENV_ORIGIN).unwrap();
        assert_eq!(
            (list.local_slots, list.local_slots_cpp, list.randomize),
            (4, 8, false)
        );
    }

    #[test]
    fn localhost_takes_a_limit() {
        let h = one("localhost/6");
        assert_eq!((h.kind, h.limit), (HostKind::Local, 6));
    }

    #[test]
    fn localhost_with_port_or_options_is_a_tcp_host() {
        assert_eq!(one("localhost:3632").kind, tcp("localhost", 3632));
        let h = one("localhost,lzo");
        assert_eq!((h.kind, h.lzo), (tcp("localhost", 3632), true));
    }

    #[test]
    fn options_on_localhost_are_ignored_with_a_warning() {
        // distcc: `localhost/4,lzo` is a local entry with 4 slots (-j prints 4).
        let list = parse("localhost/4,lzo", ENV_ORIGIN).unwrap();
        assert_eq!(
            (
                list.hosts[0].kind.clone(),
                list.hosts[0].limit,
                list.hosts[0].lzo
            ),
            (HostKind::Local, 4, false)
        );
        assert_eq!(list.warnings.len(), 1);
        assert!(
            list.warnings[0].contains("localhost/4,lzo"),
            "{:?}",
            list.warnings
        );
    }

    #[test]
    fn tcp_limit_and_port_in_either_order() {
        let a = one("host:4000/3");
        let b = one("host/3:4000");
        assert_eq!((a.kind.clone(), a.limit), (tcp("host", 4000), 3));
        assert_eq!((b.kind, b.limit), (a.kind, 3));
    }

    #[test]
    fn tcp_limit_given_twice_uses_the_last_with_a_warning() {
        // distcc -j prints 5 for `h/2:3633/5`.
        let list = parse("h/2:3633/5", ENV_ORIGIN).unwrap();
        assert_eq!(list.hosts[0].limit, 5);
        assert_eq!(list.warnings.len(), 1);
    }

    #[test]
    fn ipv6_tcp_host_in_brackets() {
        let h = one("[::1]:3633/2,lzo");
        assert_eq!(
            (h.kind.clone(), h.limit, h.lzo),
            (tcp("::1", 3633), 2, true)
        );
        assert_eq!(one("[fe80::1]").kind, tcp("fe80::1", 3632));
        assert_eq!(h.lock_name(0), "cpu_tcp_::1_3633_0");
    }

    #[test]
    fn ipv6_without_closing_bracket_is_an_error() {
        assert_eq!(problem("[::1"), Problem::UnclosedIpv6);
        assert_eq!(problem("[::1/4]"), Problem::UnclosedIpv6);
    }

    #[test]
    fn bare_ipv6_address_has_no_hostname() {
        // distcc: "hostname is required in tcp host specification".
        assert_eq!(problem("::1"), Problem::MissingHostname);
    }

    #[test]
    fn ssh_forms() {
        assert_eq!(one("@host").kind, ssh(None, "host", None));
        assert_eq!(one("me@host").kind, ssh(Some("me"), "host", None));
        let h = one("me@host/8:/usr/local/bin/distccd,lzo");
        assert_eq!(
            (h.kind.clone(), h.limit, h.lzo),
            (
                ssh(Some("me"), "host", Some("/usr/local/bin/distccd")),
                8,
                true
            )
        );
        assert_eq!(h.ssh_command(), Some("/usr/local/bin/distccd"));
        assert_eq!(one("@host").ssh_command(), Some("distccd"));
        assert_eq!(one("@host,lzo").kind, ssh(None, "host", None));
    }

    #[test]
    fn ssh_limit_after_the_command_is_part_of_the_command() {
        // distcc -j prints 3 for `@h/3:cmd/4`.
        let h = one("@h/3:cmd/4");
        assert_eq!((h.kind, h.limit), (ssh(None, "h", Some("cmd/4")), 3));
    }

    #[test]
    fn ssh_empty_command_means_the_default() {
        assert_eq!(one("@h:").kind, ssh(None, "h", None));
    }

    #[test]
    fn ssh_without_hostname_is_an_error() {
        assert_eq!(problem("user@"), Problem::MissingHostname);
        assert_eq!(problem("@"), Problem::MissingHostname);
        assert_eq!(problem("@/4"), Problem::MissingHostname);
    }

    #[test]
    fn ssh_ipv6_brackets_are_refused() {
        assert_eq!(problem("@[::1]"), Problem::Ipv6InSsh);
    }

    #[test]
    fn options_lzo_cpp_down_and_protocol_versions() {
        assert_eq!(one("h").protocol_version(), 1);
        assert_eq!(one("h,lzo").protocol_version(), 2);
        let h = one("h,cpp,lzo");
        assert_eq!((h.cpp, h.lzo, h.protocol_version()), (true, true, 3));
        assert_eq!(one("h,lzo,cpp").protocol_version(), 3);
        let d = one("h/3,down");
        assert!(d.down && !d.lzo);
        assert_eq!(d.limit, 3);
        assert_eq!(one("@h/2:cmd,cpp,lzo,down").protocol_version(), 3);
    }

    #[test]
    fn cpp_without_lzo_is_an_error() {
        assert_eq!(problem("h,cpp"), Problem::CppWithoutLzo);
        assert_eq!(problem("@h,cpp"), Problem::CppWithoutLzo);
    }

    #[test]
    fn auth_option_is_refused_clearly() {
        assert_eq!(problem("h,auth"), Problem::AuthNotSupported);
        assert_eq!(problem("h,lzo,auth=principal"), Problem::AuthNotSupported);
        let msg = parse("h,auth", ENV_ORIGIN).unwrap_err().to_string();
        assert!(
            msg.contains("not supported")
                && msg.contains("h,auth")
                && msg.contains("$DISTCC_HOSTS"),
            "{msg}"
        );
    }

    #[test]
    fn unknown_option_and_trailing_comma_are_errors() {
        assert_eq!(problem("h,zzz"), Problem::UnknownOption("zzz".into()));
        assert_eq!(problem("h,lzo,"), Problem::UnknownOption(String::new()));
    }

    #[test]
    fn text_after_an_option_is_ignored_with_a_warning() {
        // distcc matches options by prefix: `h,lzofoo` is `h,lzo`.
        let list = parse("h,lzofoo", ENV_ORIGIN).unwrap();
        assert!(list.hosts[0].lzo);
        assert_eq!(list.warnings.len(), 1);
        // `host,down/3`: the `/3` is ignored (distcc -j prints 4).
        let list = parse("host,down/3", ENV_ORIGIN).unwrap();
        assert_eq!(list.hosts[0].limit, 4);
        assert_eq!(list.warnings.len(), 1);
    }

    #[test]
    fn text_after_a_limit_is_ignored_with_a_warning() {
        let list = parse("host/4x", ENV_ORIGIN).unwrap();
        assert_eq!(list.hosts[0].limit, 4);
        assert!(list.warnings[0].contains("\"x\""), "{:?}", list.warnings);
    }

    #[test]
    fn zero_limit_is_an_error() {
        assert_eq!(problem("host/0"), Problem::BadLimit("/0".into()));
        assert_eq!(problem("localhost/"), Problem::BadLimit("/".into()));
        assert_eq!(problem("@h/0:cmd"), Problem::BadLimit("/0".into()));
    }

    #[test]
    fn signed_or_huge_limit_is_an_error() {
        // distcc's atoi gives -3 slots for `host/-3` (-j prints -3) and reads `/+4:3633` as
        // 4 slots while silently dropping the port.
        assert_eq!(problem("host/-3"), Problem::BadLimit("/-3".into()));
        assert_eq!(problem("host/+4:3633"), Problem::BadLimit("/+4".into()));
        assert_eq!(
            problem("host/99999999999"),
            Problem::BadLimit("/99999999999".into())
        );
    }

    #[test]
    fn bad_ports_are_errors() {
        // distcc accepts `host:` (port 0), `host:-1` and `host:99999`; it refuses `host:12x`.
        assert_eq!(problem("host:"), Problem::BadPort(String::new()));
        assert_eq!(problem("host:-1"), Problem::BadPort("-1".into()));
        assert_eq!(problem("host:99999"), Problem::BadPort("99999".into()));
        assert_eq!(problem("host:0"), Problem::BadPort("0".into()));
        assert_eq!(problem("host:12x"), Problem::BadPort("12x".into()));
        assert_eq!(problem("host:+80"), Problem::BadPort("+80".into()));
    }

    #[test]
    fn equals_in_a_hostname_is_an_error() {
        // distcc makes TCP hosts named `localhost=4` and `host=4`.
        assert_eq!(problem("localhost=4"), Problem::EqualsInHostname);
        assert_eq!(problem("host=4"), Problem::EqualsInHostname);
    }

    #[test]
    fn missing_tcp_hostname_is_an_error() {
        assert_eq!(problem(":3632"), Problem::MissingHostname);
        assert_eq!(problem("/4"), Problem::MissingHostname);
        assert_eq!(problem(",lzo"), Problem::MissingHostname);
    }

    #[test]
    fn randomize_and_local_slots_are_list_options() {
        let list = parse(
            "--randomize --localslots=3 --localslots_cpp/12 a b",
            ENV_ORIGIN,
        )
        .unwrap();
        assert!(list.randomize);
        assert_eq!((list.local_slots, list.local_slots_cpp), (3, 12));
        assert_eq!(list.show_hosts().collect::<Vec<_>>(), ["a", "b"]);
        let list = parse("--localslots/5", ENV_ORIGIN).unwrap();
        assert_eq!(list.local_slots, 5);
        assert!(list.is_empty());
    }

    #[test]
    fn zero_local_slots_is_an_error_not_a_host() {
        // distcc 3.4 turns `--localslots=0` into a TCP host named "--localslots=0".
        let p = problem("--localslots=0");
        assert_eq!(
            p,
            Problem::BadLocalSlots {
                option: "--localslots",
                value: "0".into()
            }
        );
        assert!(matches!(
            problem("--localslots_cpp=abc h"),
            Problem::BadLocalSlots {
                option: "--localslots_cpp",
                ..
            }
        ));
    }

    #[test]
    fn list_options_without_value_warn_and_change_nothing() {
        let list = parse("--localslots --randomizeX h", ENV_ORIGIN).unwrap();
        assert_eq!(list.local_slots, 4);
        assert!(list.randomize);
        assert_eq!(list.warnings.len(), 2);
    }

    #[test]
    fn unknown_double_dash_token_is_an_error() {
        // distcc makes a TCP host named `--randomise`.
        assert_eq!(problem("--randomise h"), Problem::UnknownListOption);
    }

    #[test]
    fn zeroconf_is_refused_clearly() {
        assert_eq!(problem("+zeroconf"), Problem::ZeroconfNotSupported);
    }

    #[test]
    fn comments_whitespace_and_newlines() {
        let text = "# farm\n h1\th2\r\nh3 # the old one\n\x0c h4#trailing\n#last";
        let list = parse(text, "/etc/distcc/hosts").unwrap();
        assert_eq!(
            list.show_hosts().collect::<Vec<_>>(),
            ["h1", "h2", "h3", "h4"]
        );
        // `#` ends a token even without a space before it (distcc --show-hosts prints "foo").
        assert_eq!(one("foo#bar").kind, tcp("foo", 3632));
    }

    #[test]
    fn empty_or_comment_only_list_has_no_hosts() {
        assert!(parse("", ENV_ORIGIN).unwrap().is_empty());
        assert!(
            parse("  # only a comment\n", ENV_ORIGIN)
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn any_error_rejects_the_whole_list() {
        assert!(parse("good1 bad/0 good2", ENV_ORIGIN).is_err());
    }

    #[test]
    fn errors_name_the_token_and_origin() {
        let err = parse("a host/0 b", "/home/me/.distcc/hosts").unwrap_err();
        assert_eq!(
            err,
            HostsError::Syntax {
                origin: "/home/me/.distcc/hosts".into(),
                token: "host/0".into(),
                problem: Problem::BadLimit("/0".into())
            }
        );
        let msg = err.to_string();
        assert!(
            msg.contains("\"host/0\"") && msg.contains("/home/me/.distcc/hosts"),
            "{msg}"
        );
    }

    #[test]
    fn lock_and_backoff_names_match_distcc() {
        assert_eq!(one("box:3633").lock_name(2), "cpu_tcp_box_3633_2");
        assert_eq!(one("box").backoff_name(), "backoff_tcp_box_3632_0");
        assert_eq!(one("me@box/8").lock_name(7), "cpu_ssh_box_7");
        assert_eq!(one("@box").backoff_name(), "backoff_ssh_box_0");
        assert_eq!(one("localhost/4").lock_name(1), "cpu_localhost_1");
        assert_eq!(local_lock_name(5), "cpu_localhost_5");
    }

    #[test]
    fn show_hosts_and_jobs_count_down_hosts_too() {
        let list = parse("a/2,down b/3", ENV_ORIGIN).unwrap();
        assert_eq!(list.total_slots(), 5);
    }

    #[test]
    fn shuffle_reorders_only_with_randomize_and_is_deterministic_per_seed() {
        let text = "a b c d e f g h";
        let mut plain = parse(text, ENV_ORIGIN).unwrap();
        plain.shuffle(42);
        assert_eq!(plain.show_hosts().collect::<String>(), "abcdefgh");
        let mut r1 = parse(&format!("--randomize {text}"), ENV_ORIGIN).unwrap();
        let mut r2 = r1.clone();
        r1.shuffle(42);
        r2.shuffle(42);
        assert_eq!(r1, r2);
        let mut names: Vec<_> = r1.show_hosts().collect();
        assert_ne!(names.concat(), "abcdefgh");
        names.sort();
        assert_eq!(names.concat(), "abcdefgh");
    }

    #[test]
    fn choose_prefers_the_variable_even_when_empty() {
        let files = vec![(PathBuf::from("/d/hosts"), Some("filehost".to_string()))];
        let src = choose(Some(""), &files).unwrap();
        assert_eq!((src.origin.as_str(), src.text), ("$DISTCC_HOSTS", ""));
        assert!(load(Some(""), &files).unwrap().is_empty());
    }

    #[test]
    fn choose_falls_back_to_the_first_readable_file() {
        let files = vec![
            (PathBuf::from("/home/me/.distcc/hosts"), None),
            (
                PathBuf::from("/etc/distcc/hosts"),
                Some("sys1 sys2".to_string()),
            ),
        ];
        let src = choose(None, &files).unwrap();
        assert_eq!(
            (src.origin.as_str(), src.text),
            ("/etc/distcc/hosts", "sys1 sys2")
        );
        let files = vec![
            (PathBuf::from("/home/me/.distcc/hosts"), Some(String::new())),
            (PathBuf::from("/etc/distcc/hosts"), Some("sys1".to_string())),
        ];
        // A readable empty topdir file wins (and yields no hosts), as in distcc.
        assert!(load(None, &files).unwrap().is_empty());
    }

    #[test]
    fn no_source_at_all_is_not_set() {
        let files = vec![
            (PathBuf::from("/a/hosts"), None),
            (PathBuf::from("/etc/distcc/hosts"), None),
        ];
        let err = load(None, &files).unwrap_err();
        assert!(matches!(&err, HostsError::NotSet { tried } if tried.len() == 2));
        assert!(err.to_string().contains("/etc/distcc/hosts"));
    }
}
