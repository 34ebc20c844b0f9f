//! `distfarm mon --server HOST[:PORT]`: a `distfarm serve --stats`'s per-client counters,
//! fetched from its statistics port (`GET /clients`; only clients its `--allow` list admits
//! get an answer) and shown as a table or JSON.

use std::fmt::Write;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::units::{bytes, duration};
use crate::protocol::farm_view::ServerClients;
use crate::transport::tcp;

/// distccd's `--stats-port` default.
pub const DEFAULT_STATS_PORT: u16 = 3633;
const TIMEOUT: Duration = Duration::from_secs(10);

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
}

/// `HOST`, `HOST:PORT`, `[V6]:PORT` → (host, port).
pub fn parse_target(text: &str) -> (String, u16) {
    if let Some(rest) = text.strip_prefix('[')
        && let Some((host, port)) = rest.split_once("]:")
        && let Ok(port) = port.parse()
    {
        return (host.to_string(), port);
    }
    match text.rsplit_once(':') {
        Some((host, port)) if !host.contains(':') => match port.parse() {
            Ok(port) => (host.to_string(), port),
            Err(_) => (text.to_string(), DEFAULT_STATS_PORT),
        },
        _ => (
            text.trim_matches(['[', ']']).to_string(),
            DEFAULT_STATS_PORT,
        ),
    }
}

pub async fn fetch(host: &str, port: u16) -> Result<ServerClients, ServerViewError> {
    let target = format!("{host}:{port}");
    let exchange = async {
        let mut stream = tcp::connect_within(host, port, TIMEOUT)
            .await
            .map_err(|failure| ServerViewError::Connect {
                target: target.clone(),
                detail: failure.to_string(),
            })?;
        let _ = stream.write_all(b"GET /clients HTTP/1.0\r\n\r\n").await;
        let mut answer = Vec::new();
        let _ = stream.read_to_end(&mut answer).await;
        Ok(answer)
    };
    let answer = tokio::time::timeout(TIMEOUT, exchange)
        .await
        .map_err(|_| ServerViewError::NoAnswer {
            target: target.clone(),
        })??;
    let text = String::from_utf8_lossy(&answer);
    let Some((_, body)) = text.split_once("\n\n") else {
        return Err(ServerViewError::NoAnswer { target });
    };
    serde_json::from_str(body).map_err(|e| ServerViewError::Unreadable {
        target,
        detail: e.to_string(),
    })
}

pub fn render(target: &str, clients: &ServerClients) -> String {
    let mut out = String::new();
    if clients.clients.is_empty() {
        let _ = writeln!(out, "{target}: no client has sent a job yet.");
        return out;
    }
    let _ = writeln!(
        out,
        "{:<40} {:>6} {:>6} {:>6} {:>6} {:>7} {:>9} {:>9} {:>8}",
        "CLIENT", "JOBS", "OK", "ERRORS", "FAILED", "REFUSED", "RECEIVED", "SENT", "TIME"
    );
    for c in &clients.clients {
        let refused: u64 = c.refusals.iter().map(|(_, n)| n).sum();
        let _ = writeln!(
            out,
            "{:<40} {:>6} {:>6} {:>6} {:>6} {:>7} {:>9} {:>9} {:>8}",
            c.client,
            c.jobs,
            c.compiled,
            c.compile_errors,
            c.failures,
            refused,
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
    fn targets_take_an_optional_port() {
        assert_eq!(parse_target("box"), ("box".into(), 3633));
        assert_eq!(parse_target("box:4000"), ("box".into(), 4000));
        assert_eq!(parse_target("[::1]:4000"), ("::1".into(), 4000));
        assert_eq!(parse_target("::1"), ("::1".into(), 3633));
    }
}
