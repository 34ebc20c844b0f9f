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
//! * Features we do not have (`,auth`) are errors that say so, rather than hosts that can
//!   never work.
//!
//! `unix:PATH[/N][,lzo]` is distfarm's own form (a server on a local Unix socket, as
//! `distfarm offer --socket` registers it); distcc refuses it (its port would be empty).
//!
//! `grpc://HOST:PORT[/N][,OPTION…]` and `grpcs://…` (a Remote Execution API endpoint, see
//! `hosts_grpc.rs`) are distfarm's own too, and accepted only by [`parse_distfarm`]: the
//! distfarm-only list (`DISTFARM_HOSTS`, `$DISTCC_DIR/distfarm-hosts`) that plain distcc
//! never reads, so a distcc sharing `DISTCC_HOSTS` or `$DISTCC_DIR/hosts` never sees a form
//! that would make it refuse the whole list.
//!
//! `+zeroconf` marks where the servers found by mDNS go ([`HostList::zeroconf`]); filling
//! them in is `config::load_hosts`'s job (see `zeroconf/`).
//!
//! Nothing here reads the environment or the file system: callers pass the values in.

use std::fmt;
use std::path::PathBuf;

#[path = "hosts_grpc.rs"]
pub mod grpc;
pub use grpc::GrpcEndpoint;

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
/// The origin name of the distfarm-only list's variable.
pub const DISTFARM_ENV_ORIGIN: &str = "$DISTFARM_HOSTS";

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
    /// Where the list came from (`$DISTCC_HOSTS` or a file's path), for messages.
    pub origin: String,
    /// `+zeroconf` was given: the discovered servers go before `hosts[i]` (at the end when
    /// `i == hosts.len()`), where the token stood.
    pub zeroconf: Option<usize>,
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
        remote: RemoteEnd,
    },
    /// `unix:PATH[/N][,OPTIONS]` (distfarm's form, what `distfarm offer --socket` registers):
    /// a server listening on a Unix socket of this machine. Plain distcc has no such form.
    Unix { path: String },
    /// `grpc://HOST:PORT[/N][,OPTIONS]` or `grpcs://…` (distfarm's form, only in the
    /// distfarm-only list): a Remote Execution API endpoint; each job is an Action.
    Grpc(Box<GrpcEndpoint>),
}

/// What answers at the far end of an SSH entry. Which way a job then reaches it (a session
/// server, a process per job, a forwarded channel) is `remote_exec`'s decision.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum RemoteEnd {
    /// `:COMMAND` (`distccd` when none is given): a server program the remote runs.
    Program(String),
    /// `:tcp:PORT` or `:tcp:HOST:PORT` (distfarm's form): a daemon reached through the
    /// connection, like `ssh -L`; `HOST` is as the remote sees it (default `127.0.0.1`).
    Daemon { host: String, port: u16 },
}

impl RemoteEnd {
    /// A `:COMMAND` as written: `tcp:…` names a daemon, anything else a program.
    fn parse(command: Option<&str>) -> Result<RemoteEnd, Problem> {
        let Some(command) = command.filter(|c| !c.is_empty()) else {
            return Ok(RemoteEnd::Program(DEFAULT_SSH_COMMAND.to_string()));
        };
        let Some(target) = command.strip_prefix("tcp:") else {
            return Ok(RemoteEnd::Program(command.to_string()));
        };
        let (host, port) = target.rsplit_once(':').unwrap_or(("127.0.0.1", target));
        let port = port
            .parse()
            .ok()
            .filter(|&p| p != 0)
            .ok_or_else(|| Problem::BadPort(port.to_string()))?;
        if host.is_empty() {
            return Err(Problem::MissingHostname);
        }
        Ok(RemoteEnd::Daemon {
            host: host.to_string(),
            port,
        })
    }
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
            HostKind::Unix { path } => path,
            HostKind::Grpc(endpoint) => &endpoint.host,
        }
    }

    pub fn is_local(&self) -> bool {
        matches!(self.kind, HostKind::Local)
    }

    /// A Remote Execution API engine (`grpc://`), which returns every output a compile
    /// declares, where a distcc host returns only the object.
    pub fn is_engine(&self) -> bool {
        matches!(self.kind, HostKind::Grpc(_))
    }

    /// Whether its jobs go as source and headers (pump mode): a distcc host with
    /// `,cpp,lzo`, or an engine entry with `,cpp`.
    pub fn pumps(&self) -> bool {
        match &self.kind {
            HostKind::Grpc(endpoint) => endpoint.pump,
            _ => self.protocol_version() == 3,
        }
    }

    /// What answers at the far end of an SSH entry.
    pub fn ssh_remote(&self) -> Option<&RemoteEnd> {
        match &self.kind {
            HostKind::Ssh { remote, .. } => Some(remote),
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
            // A file name cannot hold the path's slashes.
            HostKind::Unix { path } => {
                format!("{prefix}_unix_{}_{slot}", path.replace('/', "_"))
            }
            HostKind::Grpc(endpoint) => {
                format!("{prefix}_grpc_{}_{}_{slot}", endpoint.host, endpoint.port)
            }
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
            origin: String::new(),
            zeroconf: None,
        }
    }
}

impl HostList {
    /// No host entries: distcc says "contained no hosts; can't distribute work" and compiles
    /// locally. The local slot settings still apply.
    pub fn is_empty(&self) -> bool {
        self.hosts.is_empty()
    }

    /// distcc's words for an empty list.
    pub fn why_empty(&self) -> String {
        format!("{} contained no hosts; can't distribute work", self.origin)
    }

    /// What `distcc -j` prints: the sum of every entry's limit (`,down` ones included).
    pub fn total_slots(&self) -> u64 {
        self.hosts.iter().map(|h| u64::from(h.limit)).sum()
    }

    /// What `distcc --show-hosts` prints, one line per entry.
    pub fn show_hosts(&self) -> impl Iterator<Item = &str> {
        self.hosts.iter().map(|h| h.text.as_str())
    }

    /// Puts the servers `+zeroconf` found where the token stood (nothing without one).
    pub fn insert_discovered(&mut self, discovered: Vec<HostSpec>) {
        if let Some(at) = self.zeroconf {
            let at = at.min(self.hosts.len());
            self.hosts.splice(at..at, discovered);
        }
    }

    /// Appends the distfarm-only list's hosts (after the distcc list's, which keeps its
    /// list-wide settings); an entry written the same way in both is kept once.
    pub fn append(&mut self, other: HostList) {
        self.warnings.extend(other.warnings);
        for host in other.hosts {
            if !self.hosts.iter().any(|h| h.text == host.text) {
                self.hosts.push(host);
            }
        }
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
        "no hostlist is set; can't distribute work (DISTCC_HOSTS is unset and no hosts file \
         could be read: {}; set DISTCC_HOSTS or write one of those files)",
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
    #[error("unknown list option (known: --randomize, --localslots=N, --localslots_cpp=N)")]
    UnknownListOption,
    #[error("a socket entry names a socket file, as in unix:/run/user/1000/distfarm.sock/4")]
    BadSocketPath,
    #[error(
        "{0} entries are distfarm's own: list them in DISTFARM_HOSTS or \
         $DISTCC_DIR/distfarm-hosts, which plain distcc never reads (it would refuse this whole \
         list)"
    )]
    DistfarmOnly(&'static str),
    #[error(
        "{0} belongs in the distcc host list (DISTCC_HOSTS or $DISTCC_DIR/hosts); the \
         distfarm-only list holds host entries only"
    )]
    DistccOnly(&'static str),
    #[error(
        "a grpc:// entry needs its port, as in grpc://buildbarn.example:8980/16 \
         (grpcs:// defaults to 443)"
    )]
    GrpcNeedsPort,
    #[error(
        "unknown option \",{0}\" for a grpc entry (known: instance=NAME, key-file=PATH, \
         key-header=NAME, tls-ca=PATH, tls-cert=PATH, tls-key=PATH, prop=NAME=VALUE, cpp, down)"
    )]
    GrpcUnknownOption(String),
    #[error("\",{option}\" needs {expected}")]
    GrpcOptionValue {
        option: String,
        expected: &'static str,
    },
    #[error("\",{0}=\" is given twice; give it once")]
    GrpcOptionTwice(String),
    #[error(
        "\",{0}\" is a distcc protocol option; a grpc entry speaks the Remote Execution API, \
         which has no use for it: remove it"
    )]
    GrpcDistccOption(String),
    #[error(
        "the key header must be a lowercase gRPC metadata name (letters, digits, '-', '_', \
         '.'; not ending in -bin), as in key-header=x-buildbuddy-api-key (got \"{0}\")"
    )]
    BadKeyHeader(String),
    #[error(
        "key-header=NAME names the header that carries the key read from key-file=PATH: \
         give key-file too"
    )]
    KeyHeaderWithoutFile,
    #[error("a client certificate needs both tls-cert=PATH and tls-key=PATH")]
    CertWithoutKey,
    #[error(
        "tls-ca, tls-cert and tls-key need a TLS connection: write grpcs:// (grpc:// is \
         plain text)"
    )]
    TlsOptionWithoutTls,
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

/// The distfarm-only list: the `DISTFARM_HOSTS` value if the variable is set (even if empty),
/// otherwise `file` (`$DISTCC_DIR/distfarm-hosts`) when it could be read; `None` when neither
/// is there. Parsed by [`parse_distfarm`].
pub fn load_distfarm(
    env: Option<&str>,
    file: &(PathBuf, Option<String>),
) -> Result<Option<HostList>, HostsError> {
    let source = match (env, &file.1) {
        (Some(text), _) => (DISTFARM_ENV_ORIGIN.to_string(), text),
        (None, Some(text)) => (file.0.display().to_string(), text.as_str()),
        (None, None) => return Ok(None),
    };
    parse_distfarm(source.1, &source.0).map(Some)
}

/// Which list a text is: distcc's (also read by plain distcc) or distfarm's own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dialect {
    /// `DISTCC_HOSTS` and the hosts files: what distcc accepts, plus `unix:`.
    Distcc,
    /// `DISTFARM_HOSTS` and `$DISTCC_DIR/distfarm-hosts`: host entries of every form,
    /// `grpc://` and `grpcs://` included; no list options.
    Distfarm,
}

/// Token delimiters of distcc's scanner (`strcspn(where, " #\t\n\f\r")`).
const TOKEN_END: &[char] = &[' ', '#', '\t', '\n', '\x0c', '\r'];
/// Whitespace skipped between tokens (C `isspace`).
const SPACE: &[char] = &[' ', '\t', '\n', '\x0b', '\x0c', '\r'];

/// Parse a host list. `origin` names where the text came from (`$DISTCC_HOSTS` or a path)
/// and appears in errors and warnings. An empty list is not an error here: check
/// [`HostList::is_empty`].
pub fn parse(text: &str, origin: &str) -> Result<HostList, HostsError> {
    parse_as(text, origin, Dialect::Distcc)
}

/// Parse the distfarm-only list (`DISTFARM_HOSTS`, `$DISTCC_DIR/distfarm-hosts`): host
/// entries of every form, `grpc://` and `grpcs://` among them. List options and
/// `+zeroconf` belong in the distcc list and are refused here.
pub fn parse_distfarm(text: &str, origin: &str) -> Result<HostList, HostsError> {
    parse_as(text, origin, Dialect::Distfarm)
}

fn parse_as(text: &str, origin: &str, dialect: Dialect) -> Result<HostList, HostsError> {
    let mut list = HostList {
        origin: origin.to_string(),
        ..HostList::default()
    };
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
        if dialect == Dialect::Distfarm && (token.starts_with("--") || token == "+zeroconf") {
            let what = if token.starts_with("--") {
                "a list option"
            } else {
                "+zeroconf"
            };
            return Err(fail(Problem::DistccOnly(what)));
        }
        if dialect == Dialect::Distcc && grpc::is_grpc(token) {
            return Err(fail(Problem::DistfarmOnly("grpc:// and grpcs://")));
        }
        if token.starts_with("--") {
            let w = list_option(token, &mut list).map_err(fail)?;
            list.warnings.extend(w.map(&mut warn));
            continue;
        }
        // Exact, as distcc's `ZEROCONF_MAGIC` (`+zeroconfX` is a host name there too).
        if token == "+zeroconf" {
            if list.zeroconf.is_some() {
                // distcc would list every discovered server twice.
                list.warnings.push(warn(
                    "+zeroconf given twice; its servers are listed once".into(),
                ));
            } else {
                list.zeroconf = Some(list.hosts.len());
            }
            continue;
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
    // `unix:/…` only: `unix:3632` stays a TCP host named `unix`, as in distcc.
    let socket = token
        .strip_prefix(UNIX_PREFIX)
        .filter(|s| s.starts_with('/'));
    // Only the distfarm-only list gets here with one (`parse_as`).
    if grpc::is_grpc(token) {
        let (endpoint, limit, down) = grpc::parse(token)?;
        spec.kind = HostKind::Grpc(Box::new(endpoint));
        spec.limit = limit.unwrap_or(DEFAULT_REMOTE_SLOTS);
        spec.down = down;
        return Ok((spec, None));
    }
    let rest = if let Some(socket) = socket {
        let (path, rest) = socket_path(socket, &mut spec.limit)?;
        spec.kind = HostKind::Unix {
            path: path.to_string(),
        };
        options(rest, &mut spec)?
    } else if token == "localhost" || token.starts_with("localhost/") {
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
            command = Some(cmd);
            rest = after;
        }
        spec.kind = HostKind::Ssh {
            user: (!user.is_empty()).then(|| user.to_string()),
            host: host.to_string(),
            remote: RemoteEnd::parse(command)?,
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

/// Socket entries start with this (distcc itself would refuse `unix:/…` for its empty port).
pub const UNIX_PREFIX: &str = "unix:";

/// `/PATH[/N]` up to the first `,`: the path, and the rest from that `,`. The limit is a
/// last path component made of digits only, so a socket whose own name is a number must be
/// written with its limit (`unix:/dir/7/4`).
fn socket_path<'a>(s: &'a str, slots: &mut u32) -> Result<(&'a str, &'a str), Problem> {
    let (spec, rest) = take_until(s, &[',']);
    let path = match spec.rsplit_once('/') {
        Some((path, n)) if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) => {
            limit(&spec[path.len()..], slots)?;
            path
        }
        _ => spec,
    };
    if path.is_empty() || path.ends_with('/') {
        return Err(Problem::BadSocketPath);
    }
    Ok((path, rest))
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
#[path = "hosts_tests.rs"]
mod tests;
