//! `distfarm doctor`: every host in the list looked at the way a job would reach it —
//! reachable, logged in, host key pinned, what server answers and its version, and whether
//! each compiler this machine uses is there with the same version and target — plus the
//! native CPU flags a build picks up. Every problem carries the next step to take.
//!
//! | file | job |
//! |---|---|
//! | `doctor` | the checks per host, the report's data |
//! | `doctor_compilers` | which compilers, asked here and over SSH, compared |
//! | `doctor_flags` | `-march=native` & co. in CFLAGS, CXXFLAGS and make.conf |
//! | `doctor_report` | the report as text lines or JSON |
//! | `doctor_zeroconf` | what `+zeroconf` sees on the network, and why a server is not used |

use std::sync::Arc;
use std::time::Duration;

use super::doctor_compilers::{self as compilers, Identity, LocalCompiler};
use super::doctor_flags::NativeFlag;
use crate::hosts::{HostKind, HostSpec, RemoteEnd};
use crate::transport::ssh::{self, SshError, SshSettings, known_hosts};

/// How long a remote command (`distccd --version`, the compiler script) may take.
const REMOTE_COMMAND_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a TCP host may take to accept.
const TCP_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug, Clone)]
pub struct DoctorSettings {
    pub hosts: Vec<HostSpec>,
    pub ssh: SshSettings,
    pub compilers: Vec<LocalCompiler>,
}

/// A problem and what to do about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub what: String,
    pub next: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompilerCheck {
    pub name: String,
    pub here: Identity,
    /// `None`: not there.
    pub there: Option<Identity>,
    pub same: bool,
}

#[derive(Debug, Clone, Default)]
pub struct HostReport {
    /// The entry as written in the host list.
    pub host: String,
    /// `local`, `tcp`, `ssh`, `unix` or `grpc`.
    pub kind: &'static str,
    /// `None` where the question does not apply (or was never reached).
    pub reachable: Option<bool>,
    pub authenticated: Option<bool>,
    pub host_key_pinned: Option<bool>,
    /// The server's own first line of `--version`, or what is known of it.
    pub server: Option<String>,
    pub compilers: Vec<CompilerCheck>,
    /// Why the compilers were not compared, when they were not.
    pub compilers_unchecked: Option<String>,
    pub problems: Vec<Problem>,
}

#[derive(Debug, Clone, Default)]
pub struct Report {
    pub hosts: Vec<HostReport>,
    pub native_flags: Vec<NativeFlag>,
    /// Problems that belong to no host (no host list, native flags that keep jobs local).
    pub problems: Vec<Problem>,
    /// What zeroconf sees, when the host list has `+zeroconf`.
    pub zeroconf: Option<super::doctor_zeroconf::ZeroconfReport>,
}

impl Report {
    pub fn ok(&self) -> bool {
        self.problems.is_empty() && self.hosts.iter().all(|h| h.problems.is_empty())
    }

    pub fn problem_count(&self) -> usize {
        self.problems.len() + self.hosts.iter().map(|h| h.problems.len()).sum::<usize>()
    }
}

/// Checks every host at once; the reports come back in the list's order.
pub async fn check_hosts(settings: DoctorSettings) -> Vec<HostReport> {
    let settings = Arc::new(settings);
    let mut tasks = tokio::task::JoinSet::new();
    for index in 0..settings.hosts.len() {
        let settings = settings.clone();
        tasks.spawn(async move { (index, check_host(&settings.hosts[index], &settings).await) });
    }
    let mut reports: Vec<Option<HostReport>> = vec![None; settings.hosts.len()];
    while let Some(done) = tasks.join_next().await {
        if let Ok((index, report)) = done {
            reports[index] = Some(report);
        }
    }
    reports.into_iter().flatten().collect()
}

async fn check_host(spec: &HostSpec, settings: &DoctorSettings) -> HostReport {
    let mut report = HostReport {
        host: spec.text.clone(),
        ..HostReport::default()
    };
    match &spec.kind {
        HostKind::Local => {
            report.kind = "local";
            report.reachable = Some(true);
            report.server = Some("this machine (no server)".into());
            report.compilers_unchecked = Some("jobs run here".into());
        }
        HostKind::Tcp { host, port } => {
            report.kind = "tcp";
            check_tcp(host, *port, &mut report).await;
        }
        HostKind::Ssh { user, host, remote } => {
            report.kind = "ssh";
            check_ssh(spec, user.as_deref(), host, remote, settings, &mut report).await;
        }
        HostKind::Unix { path } => {
            report.kind = "unix";
            check_socket(path, &mut report).await;
        }
        HostKind::Grpc(endpoint) => {
            report.kind = "grpc";
            check_grpc(endpoint, &mut report).await;
        }
    }
    report
}

async fn check_socket(path: &str, report: &mut HostReport) {
    report.compilers_unchecked =
        Some("a socket entry (an offer) runs no command but a compile".into());
    match crate::transport::unix_socket::connect(std::path::Path::new(path)).await {
        Ok(_) => {
            report.reachable = Some(true);
            report.server = Some(format!("a server accepts on {path}"));
        }
        Err(e) => {
            report.reachable = Some(false);
            report.problems.push(Problem {
                what: e.to_string(),
                next: "is the offer (`distfarm offer --socket`) still running?                        `distfarm --show-hosts` drops entries of offers that are gone"
                    .into(),
            });
        }
    }
}

/// A Remote Execution API endpoint: only whether its port answers, for now (the engine's
/// workers, not this machine, hold the compilers).
async fn check_grpc(endpoint: &crate::hosts::GrpcEndpoint, report: &mut HostReport) {
    report.compilers_unchecked = Some(
        "a Remote Execution API engine's workers are chosen by the job's platform properties \
         (compiler version and target among them), not asked beforehand"
            .into(),
    );
    let (host, port) = (&endpoint.host, endpoint.port);
    match crate::transport::tcp::connect_within(host, port, TCP_TIMEOUT).await {
        Ok(_) => {
            report.reachable = Some(true);
            report.server = Some(format!("something accepts on port {port} (not yet asked)"));
        }
        Err(e) => {
            report.reachable = Some(false);
            report.problems.push(Problem {
                what: format!("cannot connect to {host} port {port}: {e}"),
                next: "check the engine's address and port in the distfarm-only host list \
                       (DISTFARM_HOSTS or $DISTCC_DIR/distfarm-hosts), and the firewall"
                    .into(),
            });
        }
    }
}

async fn check_tcp(host: &str, port: u16, report: &mut HostReport) {
    report.compilers_unchecked = Some(
        "over TCP distcc's protocol runs no command but a compile, so the compilers cannot be \
         asked; list the host as @HOST (SSH) to have them checked"
            .into(),
    );
    match crate::transport::tcp::connect_within(host, port, TCP_TIMEOUT).await {
        Ok(_) => {
            report.reachable = Some(true);
            report.server = Some(format!(
                "a server accepts on port {port} (over TCP it tells no name or version)"
            ));
        }
        Err(e) => {
            report.reachable = Some(false);
            report.problems.push(Problem {
                what: format!("cannot connect to {host} port {port}: {e}"),
                next: format!(
                    "start distccd (or distfarm serve) on {host} and let this machine in \
                     (--allow), or check the name, the port and the firewall"
                ),
            });
        }
    }
}

async fn check_ssh(
    spec: &HostSpec,
    user: Option<&str>,
    alias: &str,
    remote: &RemoteEnd,
    settings: &DoctorSettings,
    report: &mut HostReport,
) {
    let resolved = match ssh::resolve(alias, user, None, &settings.ssh) {
        Ok(resolved) => resolved,
        Err(e) => {
            report.problems.push(Problem {
                what: e.to_string(),
                next: "fix the ssh configuration named above".into(),
            });
            return;
        }
    };
    let conn = match ssh::connect(&resolved, &settings.ssh).await {
        Ok(conn) => conn,
        Err(e) => {
            connect_problem(e, spec, &resolved, report);
            return;
        }
    };
    report.reachable = Some(true);
    report.authenticated = Some(true);
    report.host_key_pinned = Some(true);
    check_server(&conn, remote, alias, report).await;
    check_compilers(&conn, &settings.compilers, spec, alias, report).await;
    conn.disconnect().await;
}

/// What a failed connection says about the host, and what to do next.
fn connect_problem(
    e: SshError,
    spec: &HostSpec,
    host: &ssh::ResolvedHost,
    report: &mut HostReport,
) {
    let lookup = known_hosts::lookup_name(&host.known_hosts_name(), host.port);
    let next = match &e {
        SshError::UnknownHostKey { .. } => {
            report.reachable = Some(true);
            report.host_key_pinned = Some(false);
            format!(
                "check the fingerprint with the host's administrator, then pin it: log in once \
                 with `ssh {}` and answer yes, or for a service account run `distfarm keys \
                 --for ACCOUNT --accept-new {}`",
                host.alias,
                spec.text.trim_start_matches('@')
            )
        }
        SshError::ChangedHostKey { .. } | SshError::RevokedHostKey { .. } => {
            report.reachable = Some(true);
            report.host_key_pinned = Some(false);
            format!(
                "find out from the host's administrator why its key changed; only then remove \
                 the old one (`ssh-keygen -R '{lookup}'`) and pin the new one"
            )
        }
        SshError::Auth { .. } | SshError::EncryptedKey { .. } => {
            report.reachable = Some(true);
            report.host_key_pinned = Some(true);
            report.authenticated = Some(false);
            format!(
                "install your public key on the host (`ssh-copy-id {}`), or for a service \
                 account run `distfarm keys --for ACCOUNT {}`",
                host.alias,
                spec.text.trim_start_matches('@')
            )
        }
        SshError::Connect { .. } | SshError::Timeout { .. } | SshError::Disconnected { .. } => {
            report.reachable = Some(false);
            format!(
                "check that {} is up and sshd listens on port {} (HostName and Port in the ssh \
                 config{})",
                host.host_name,
                host.port,
                if host.proxy_jump.is_empty() {
                    ""
                } else {
                    ", and the ProxyJump hosts"
                }
            )
        }
        _ => "fix what the message names".into(),
    };
    report.problems.push(Problem {
        what: e.to_string(),
        next,
    });
}

async fn check_server(
    conn: &ssh::SshConnection,
    remote: &RemoteEnd,
    alias: &str,
    report: &mut HostReport,
) {
    match remote {
        RemoteEnd::Program(command) => {
            let asked = tokio::time::timeout(
                REMOTE_COMMAND_TIMEOUT,
                conn.run(&format!("{command} --version"), b""),
            )
            .await;
            let first_line = match &asked {
                Ok(Ok((stdout, exit))) if exit.success() => String::from_utf8_lossy(stdout)
                    .lines()
                    .next()
                    .unwrap_or("")
                    .trim()
                    .to_string(),
                _ => String::new(),
            };
            if first_line.is_empty() {
                let why = match asked {
                    Ok(Ok((_, exit))) => format!(
                        "exit status {:?}{}",
                        exit.status,
                        if exit.stderr.is_empty() {
                            String::new()
                        } else {
                            format!(": {}", String::from_utf8_lossy(&exit.stderr).trim())
                        }
                    ),
                    Ok(Err(e)) => e.to_string(),
                    Err(_) => format!("no answer in {} s", REMOTE_COMMAND_TIMEOUT.as_secs()),
                };
                report.problems.push(Problem {
                    what: format!("`{command} --version` does not run on {alias} ({why})"),
                    next: format!(
                        "install distcc or distfarm on {alias} (with a distccd link to \
                         distfarm), or name the server's path in the host entry: \
                         @{alias}:/path/to/distccd"
                    ),
                });
            } else {
                report.server = Some(first_line);
            }
        }
        RemoteEnd::Daemon { host, port } => match conn.direct_tcpip(host, *port).await {
            Ok(_) => {
                report.server = Some(format!(
                    "a server accepts on {host}:{port} through the connection (it tells no \
                     name or version)"
                ))
            }
            Err(e) => report.problems.push(Problem {
                what: format!("nothing answers on {host}:{port} as seen from {alias}: {e}"),
                next: format!(
                    "start distccd (or distfarm serve) on {alias} listening on {host}:{port}"
                ),
            }),
        },
    }
}

async fn check_compilers(
    conn: &ssh::SshConnection,
    local: &[LocalCompiler],
    spec: &HostSpec,
    alias: &str,
    report: &mut HostReport,
) {
    if local.is_empty() {
        report.compilers_unchecked = Some("this machine has no compiler on PATH".into());
        return;
    }
    let names: Vec<&str> = local.iter().map(|c| c.name.as_str()).collect();
    let script = compilers::remote_script(&names);
    let answer =
        tokio::time::timeout(REMOTE_COMMAND_TIMEOUT, conn.run("sh", script.as_bytes())).await;
    let stdout = match answer {
        Ok(Ok((stdout, _))) => String::from_utf8_lossy(&stdout).into_owned(),
        Ok(Err(e)) => {
            report.compilers_unchecked = Some(format!("the compilers could not be asked: {e}"));
            report.problems.push(Problem {
                what: format!("cannot run `sh` on {alias} to ask the compilers: {e}"),
                next: "check that the remote account has a working shell".into(),
            });
            return;
        }
        Err(_) => {
            report.compilers_unchecked = Some("the compilers did not answer in time".into());
            report.problems.push(Problem {
                what: format!(
                    "the compilers on {alias} did not answer in {} s",
                    REMOTE_COMMAND_TIMEOUT.as_secs()
                ),
                next: "run `gcc -dumpfullversion` there by hand to see what hangs".into(),
            });
            return;
        }
    };
    let there = compilers::parse_remote(&stdout);
    for compiler in local {
        let remote = there
            .iter()
            .find(|(name, _)| *name == compiler.name)
            .and_then(|(_, identity)| identity.clone());
        let same = remote
            .as_ref()
            .is_some_and(|r| compilers::same(&compiler.identity, r));
        let here = &compiler.identity;
        match &remote {
            None => report.problems.push(Problem {
                what: format!(
                    "{} ({} for {}) is not on {alias}",
                    compiler.name, here.version, here.machine
                ),
                next: format!(
                    "install {} {} on {alias}, or expect jobs for {} to fail there and \
                     run locally",
                    compiler.name, here.version, compiler.name
                ),
            }),
            Some(r) if !same => report.problems.push(Problem {
                what: format!(
                    "{} is {} for {} on {alias} but {} for {} here: its objects would differ \
                     from local ones",
                    compiler.name, r.version, r.machine, here.version, here.machine
                ),
                next: format!(
                    "install {} {} for {} on {alias} (first on the server's PATH), or take {} \
                     out of the host list",
                    compiler.name, here.version, here.machine, spec.text
                ),
            }),
            Some(_) => {}
        }
        report.compilers.push(CompilerCheck {
            name: compiler.name.clone(),
            here: here.clone(),
            there: remote,
            same,
        });
    }
}

/// Native flags that keep jobs local are problems; the others only a note.
pub fn native_flag_problems(flags: &[NativeFlag]) -> Vec<Problem> {
    flags
        .iter()
        .filter(|f| f.with_debug_info)
        .map(|f| Problem {
            what: format!(
                "{}: {} with debug info (-g): distfarm compiles such jobs here, as distcc does",
                f.origin, f.flag
            ),
            next: match &f.explicit {
                Some(explicit) => format!(
                    "replace {} in {} with: {}",
                    f.flag,
                    f.origin,
                    explicit.join(" ")
                ),
                None => format!(
                    "replace {} in {} with the explicit -march/-mtune your CPU needs",
                    f.flag, f.origin
                ),
            },
        })
        .collect()
}
