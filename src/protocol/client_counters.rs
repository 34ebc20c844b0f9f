//! The per-client counters exchange: a `GET /clients` request and the JSON answer
//! ([`ServerClients`]), as a daemon's statistics port and a session server's counters socket
//! both speak it, and the one document several servers' counters merge into.
//!
//! The answer is HTTP/1.0 in form (a status line, headers, an empty line, the body) so that
//! `curl http://box:3633/clients` works against a daemon.

use std::collections::BTreeMap;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::farm_view::{ClientCounters, ServerClients};

/// What a server recognises the request by (anything else on a statistics port gets
/// distccd's page).
pub const REQUEST_PREFIX: &[u8] = b"GET /clients";
/// The whole request a client sends.
const REQUEST: &[u8] = b"GET /clients HTTP/1.0\r\n\r\n";

/// Why no counters came back.
#[derive(Debug, thiserror::Error)]
pub enum AskError {
    /// The far end closed without an answer (an access list said no, or it is not a
    /// distfarm server).
    #[error("no answer")]
    NoAnswer,
    #[error("an answer that is not the counters: {0}")]
    Unreadable(String),
}

/// The answer to a request: the counters as an HTTP/1.0 response.
pub fn answer(counters: &ServerClients) -> String {
    let body = serde_json::to_string(counters).expect("plain data serializes");
    format!("HTTP/1.0 200 OK\nContent-Type: application/json\nConnection: close\n\n{body}\n")
}

/// Sends the request on `stream` and reads the counters from the answer. The caller puts a
/// time limit around it.
pub async fn ask<S: AsyncRead + AsyncWrite + Unpin>(
    mut stream: S,
) -> Result<ServerClients, AskError> {
    // A server that closes at once (access denied) makes the write fail: the read says so.
    let _ = stream.write_all(REQUEST).await;
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer).await;
    let text = String::from_utf8_lossy(&answer);
    let body = text
        .split_once("\r\n\r\n")
        .or_else(|| text.split_once("\n\n"))
        .map(|(_, body)| body)
        .ok_or(AskError::NoAnswer)?;
    serde_json::from_str(body).map_err(|e| AskError::Unreadable(e.to_string()))
}

/// Several servers' counters as one document: the same client's counters added up, and
/// every server named in `servers`.
pub fn merge(documents: Vec<ServerClients>) -> ServerClients {
    let mut by_client: BTreeMap<String, ClientCounters> = BTreeMap::new();
    let mut servers = Vec::new();
    for doc in documents {
        servers.extend(doc.servers);
        for c in doc.clients {
            let sum = by_client.entry(c.client.clone()).or_default();
            sum.client = c.client;
            sum.jobs += c.jobs;
            sum.compiled += c.compiled;
            sum.compile_errors += c.compile_errors;
            sum.failures += c.failures;
            sum.cache_hits += c.cache_hits;
            sum.bytes_received += c.bytes_received;
            sum.bytes_sent += c.bytes_sent;
            sum.compile_ms += c.compile_ms;
            for (why, n) in c.refusals {
                match sum.refusals.iter_mut().find(|(w, _)| *w == why) {
                    Some((_, total)) => *total += n,
                    None => sum.refusals.push((why, n)),
                }
            }
        }
    }
    let clients = by_client
        .into_values()
        .map(|mut c| {
            c.refusals
                .sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
            c
        })
        .collect();
    ServerClients {
        version: 1,
        servers,
        clients,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counters(client: &str, jobs: u64, refusals: &[(&str, u64)]) -> ClientCounters {
        ClientCounters {
            client: client.into(),
            jobs,
            compiled: jobs,
            bytes_received: 10 * jobs,
            refusals: refusals.iter().map(|(w, n)| (w.to_string(), *n)).collect(),
            ..Default::default()
        }
    }

    #[test]
    fn merged_counters_add_up_per_client_and_name_every_server() {
        let one = ServerClients {
            version: 1,
            servers: vec!["session server a".into()],
            clients: vec![counters("ssh", 2, &[("x", 1)])],
        };
        let two = ServerClients {
            version: 1,
            servers: vec!["daemon 127.0.0.1:3633".into()],
            clients: vec![
                counters("127.0.0.1", 1, &[]),
                counters("ssh", 3, &[("y", 2), ("x", 2)]),
            ],
        };
        let all = merge(vec![one, two]);
        assert_eq!(all.servers, ["session server a", "daemon 127.0.0.1:3633"]);
        assert_eq!(all.clients.len(), 2);
        let ssh = &all.clients[1];
        assert_eq!(
            (ssh.client.as_str(), ssh.jobs, ssh.bytes_received),
            ("ssh", 5, 50)
        );
        assert_eq!(
            ssh.refusals,
            vec![("x".to_string(), 3), ("y".to_string(), 2)]
        );
    }

    #[tokio::test]
    async fn an_answer_is_read_back_and_silence_is_no_answer() {
        let doc = merge(vec![ServerClients {
            version: 1,
            servers: vec![],
            clients: vec![counters("ssh", 1, &[])],
        }]);
        let (client, mut server) = tokio::io::duplex(4096);
        let text = answer(&doc);
        let serve = async move {
            let mut request = [0u8; 64];
            let n = server.read(&mut request).await.unwrap();
            assert!(request[..n].starts_with(REQUEST_PREFIX));
            server.write_all(text.as_bytes()).await.unwrap();
        };
        let (got, ()) = tokio::join!(ask(client), serve);
        assert_eq!(got.unwrap(), doc);

        let (client, server) = tokio::io::duplex(64);
        drop(server);
        assert!(matches!(ask(client).await, Err(AskError::NoAnswer)));
    }
}
