//! `distfarm mon --server TARGET`: a distfarm server's per-client counters, shown as a
//! table or JSON. TARGET is either
//!
//! - an SSH host entry in the host-list grammar (`@host`, `user@host`, `@host:COMMAND`,
//!   `@host:tcp:PORT`): reached as its jobs are, and answered by the distfarm servers there
//!   (remote_exec/counters.rs) — the SSH login is the authorisation; or
//! - `HOST[:PORT]`: a `distfarm serve --stats`'s statistics port over plain TCP
//!   (`GET /clients`), answered only to clients its `--allow` list admits.

use std::fmt::Write;
use std::time::Duration;

use super::units::{bytes, duration};
use crate::hosts::{self, HostKind, RemoteEnd};
use crate::protocol::client_counters::{self, AskError};
use crate::protocol::farm_view::ServerClients;
use crate::remote_exec::counters::{self, CountersError};
use crate::transport::ssh::SshSettings;
use crate::transport::tcp;

/// distccd's `--stats-port` default.
pub const DEFAULT_STATS_PORT: u16 = 3633;
const TIMEOUT: Duration = Duration::from_secs(10);

/// Where the counters are asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A statistics port over TCP.
    Stats { host: String, port: u16 },
    /// An SSH host entry, and the statistics port of the daemon there.
    Ssh {
        user: Option<String>,
        host: String,
        end: RemoteEnd,
        stats_port: Option<u16>,
    },
}

/// Why the counters could not be had.
#[derive(Debug, thiserror::Error)]
pub enum ServerViewError {
    #[error("cannot reach the statistics port {target}: {detail}")]
    Connect { target: String, detail: String },
    #[error(
        "{target} sent no counters (is it distfarm serve --stats, and does its --allow list \
         admit this machine?)"
    )]
    NoAnswer { target: String },
    #[error("{target} answered something else than the counters: {detail}")]
    Unreadable { target: String, detail: String },
    #[error("{text:?} is not an SSH host entry: {detail}")]
    BadEntry { text: String, detail: String },
    #[error(transparent)]
    Ssh(Box<CountersError>),
}

impl Target {
    /// An entry with `@` is an SSH host in the host-list grammar; anything else is
    /// `HOST`, `HOST:PORT` or `[V6]:PORT`, a statistics port. `stats_port` (`--stats-port`)
    /// is the port of a `HOST` without one, and of the daemon on an SSH host.
    pub fn parse(text: &str, stats_port: Option<u16>) -> Result<Target, ServerViewError> {
        if !text.contains('@') {
            let (host, port) = parse_stats_target(text);
            let port = port.or(stats_port).unwrap_or(DEFAULT_STATS_PORT);
            return Ok(Target::Stats { host, port });
        }
        let bad = |detail: String| ServerViewError::BadEntry {
            text: text.to_string(),
            detail,
        };
        let list = hosts::parse(text, "--server").map_err(|e| bad(e.to_string()))?;
        let one = list.hosts.len() == 1 && list.zeroconf.is_none();
        match list.hosts.into_iter().next().map(|h| h.kind) {
            Some(HostKind::Ssh { user, host, remote }) if one => Ok(Target::Ssh {
                user,
                host,
                end: remote,
                stats_port,
            }),
            _ => Err(bad("give one entry such as @host or user@host".to_string())),
        }
    }

    /// How the target is named in the table's heading.
    pub fn describe(&self) -> String {
        match self {
            Target::Stats { host, port } => format!("{host}:{port}"),
            Target::Ssh { user, host, .. } => match user {
                Some(user) => format!("{user}@{host}"),
                None => format!("@{host}"),
            },
        }
    }
}

/// `HOST`, `HOST:PORT`, `[V6]:PORT` → (host, port if given).
fn parse_stats_target(text: &str) -> (String, Option<u16>) {
    if let Some(rest) = text.strip_prefix('[')
        && let Some((host, port)) = rest.split_once("]:")
        && let Ok(port) = port.parse()
    {
        return (host.to_string(), Some(port));
    }
    match text.rsplit_once(':') {
        Some((host, port)) if !host.contains(':') => match port.parse() {
            Ok(port) => (host.to_string(), Some(port)),
            Err(_) => (text.to_string(), None),
        },
        _ => (text.trim_matches(['[', ']']).to_string(), None),
    }
}

/// The target's counters; `ssh` is how SSH connections are made (as for jobs).
pub async fn fetch(target: &Target, ssh: &SshSettings) -> Result<ServerClients, ServerViewError> {
    match target {
        Target::Stats { host, port } => fetch_stats(host, *port).await,
        Target::Ssh {
            user,
            host,
            end,
            stats_port,
        } => counters::fetch(host, user.as_deref(), end, *stats_port, ssh)
            .await
            .map_err(|e| ServerViewError::Ssh(Box::new(e))),
    }
}

async fn fetch_stats(host: &str, port: u16) -> Result<ServerClients, ServerViewError> {
    let target = format!("{host}:{port}");
    let stream = tcp::connect_within(host, port, TIMEOUT)
        .await
        .map_err(|failure| ServerViewError::Connect {
            target: target.clone(),
            detail: failure.to_string(),
        })?;
    let answer = tokio::time::timeout(TIMEOUT, client_counters::ask(stream))
        .await
        .unwrap_or(Err(AskError::NoAnswer));
    answer.map_err(|e| match e {
        AskError::NoAnswer => ServerViewError::NoAnswer { target },
        AskError::Unreadable(detail) => ServerViewError::Unreadable { target, detail },
    })
}

pub fn render(target: &str, clients: &ServerClients) -> String {
    let mut out = String::new();
    if !clients.servers.is_empty() {
        let _ = writeln!(out, "{target}: {}", clients.servers.join(", "));
    }
    if clients.clients.is_empty() {
        let _ = writeln!(out, "{target}: no client has sent a job yet.");
        return out;
    }
    let _ = writeln!(
        out,
        "{:<40} {:>6} {:>6} {:>6} {:>6} {:>7} {:>6} {:>9} {:>9} {:>8}",
        "CLIENT", "JOBS", "OK", "ERRORS", "FAILED", "REFUSED", "CACHED", "RECEIVED", "SENT", "TIME"
    );
    for c in &clients.clients {
        let refused: u64 = c.refusals.iter().map(|(_, n)| n).sum();
        let _ = writeln!(
            out,
            "{:<40} {:>6} {:>6} {:>6} {:>6} {:>7} {:>6} {:>9} {:>9} {:>8}",
            c.client,
            c.jobs,
            c.compiled,
            c.compile_errors,
            c.failures,
            refused,
            c.cache_hits,
            bytes(c.bytes_received),
            bytes(c.bytes_sent),
            duration(c.compile_ms)
        );
        for (why, n) in &c.refusals {
            let _ = writeln!(out, "    refused {n}×: {why}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_without_at_are_statistics_ports_with_an_optional_port() {
        let stats = |host: &str, port| Target::Stats {
            host: host.into(),
            port,
        };
        assert_eq!(Target::parse("box", None).unwrap(), stats("box", 3633));
        assert_eq!(Target::parse("box:4000", None).unwrap(), stats("box", 4000));
        assert_eq!(
            Target::parse("[::1]:4000", None).unwrap(),
            stats("::1", 4000)
        );
        assert_eq!(Target::parse("::1", None).unwrap(), stats("::1", 3633));
        assert_eq!(
            Target::parse("box", Some(5000)).unwrap(),
            stats("box", 5000)
        );
        assert_eq!(
            Target::parse("box:4000", Some(5000)).unwrap(),
            stats("box", 4000)
        );
    }

    #[test]
    fn targets_with_at_are_ssh_entries_of_the_host_grammar() {
        let ssh = |user: Option<&str>, end: RemoteEnd| Target::Ssh {
            user: user.map(String::from),
            host: "box".into(),
            end,
            stats_port: None,
        };
        let program = |p: &str| RemoteEnd::Program(p.into());
        assert_eq!(
            Target::parse("@box", None).unwrap(),
            ssh(None, program("distccd"))
        );
        assert_eq!(
            Target::parse("bob@box", None).unwrap(),
            ssh(Some("bob"), program("distccd"))
        );
        assert_eq!(
            Target::parse("@box/8:/opt/bin/distccd", None).unwrap(),
            ssh(None, program("/opt/bin/distccd"))
        );
        assert_eq!(
            Target::parse("@box:tcp:3632", None).unwrap(),
            ssh(
                None,
                RemoteEnd::Daemon {
                    host: "127.0.0.1".into(),
                    port: 3632
                }
            )
        );
        assert_eq!(
            Target::parse("bob@box", None).unwrap().describe(),
            "bob@box"
        );
        for bad in ["@box @other", "@", "@box,auth"] {
            assert!(
                matches!(
                    Target::parse(bad, None),
                    Err(ServerViewError::BadEntry { .. })
                ),
                "{bad}"
            );
        }
    }
}
