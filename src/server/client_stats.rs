//! Per-client-address counters: jobs, failures, refusals with their reasons, bytes and
//! compile time. `--stats` answers them as JSON at `GET /clients` (stats_http.rs) and a session
//! server on its counters socket (session.rs), for `distfarm mon --server`.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use super::connection::{Peer, ResultClass};
use crate::protocol::farm_view::{ClientCounters, ServerClients};

#[derive(Debug, Default)]
pub struct ClientStats {
    by_client: Mutex<BTreeMap<String, Counters>>,
}

#[derive(Debug, Default)]
struct Counters {
    jobs: u64,
    compiled: u64,
    compile_errors: u64,
    failures: u64,
    refusals: BTreeMap<String, u64>,
    cache_hits: u64,
    bytes_received: u64,
    bytes_sent: u64,
    compile_ms: u64,
}

/// How one connection went, for its client's counters.
pub struct Served<'a> {
    pub class: ResultClass,
    /// Why it was refused, when it was.
    pub refusal: Option<&'a str>,
    /// Answered from the result cache.
    pub cache_hit: bool,
    pub bytes_received: u64,
    pub bytes_sent: u64,
    pub time: Duration,
}

impl ClientStats {
    pub fn record(&self, peer: Peer, served: Served<'_>) {
        let client = match peer {
            Peer::Tcp(addr) => addr.ip().to_canonical().to_string(),
            Peer::NotSocket => "ssh".to_string(),
        };
        let mut all = self.by_client.lock().expect("client stats lock");
        let c = all.entry(client).or_default();
        c.jobs += 1;
        c.cache_hits += u64::from(served.cache_hit);
        c.bytes_received += served.bytes_received;
        c.bytes_sent += served.bytes_sent;
        c.compile_ms += served.time.as_millis() as u64;
        match served.class {
            ResultClass::CompileOk => c.compiled += 1,
            ResultClass::CompileError => c.compile_errors += 1,
            ResultClass::Refused => {
                let why = served.refusal.unwrap_or("refused").to_string();
                *c.refusals.entry(why).or_default() += 1;
            }
            ResultClass::CompileTimeout
            | ResultClass::ClientDisconnect
            | ResultClass::BadRequest
            | ResultClass::Other => c.failures += 1,
        }
    }

    pub fn snapshot(&self) -> ServerClients {
        let all = self.by_client.lock().expect("client stats lock");
        let clients = all
            .iter()
            .map(|(client, c)| {
                let mut refusals: Vec<(String, u64)> =
                    c.refusals.iter().map(|(k, v)| (k.clone(), *v)).collect();
                refusals.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
                ClientCounters {
                    client: client.clone(),
                    jobs: c.jobs,
                    compiled: c.compiled,
                    compile_errors: c.compile_errors,
                    failures: c.failures,
                    refusals,
                    cache_hits: c.cache_hits,
                    bytes_received: c.bytes_received,
                    bytes_sent: c.bytes_sent,
                    compile_ms: c.compile_ms,
                }
            })
            .collect();
        ServerClients {
            version: 1,
            servers: Vec::new(),
            clients,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn served(class: ResultClass, refusal: Option<&str>) -> Served<'_> {
        Served {
            class,
            refusal,
            cache_hit: false,
            bytes_received: 100,
            bytes_sent: 10,
            time: Duration::from_millis(5),
        }
    }

    #[test]
    fn each_address_has_its_counters_and_refusals_their_reasons() {
        let stats = ClientStats::default();
        let a = Peer::Tcp("10.0.0.1:4000".parse().unwrap());
        let b = Peer::Tcp("[::ffff:10.0.0.2]:4000".parse().unwrap());
        stats.record(a, served(ResultClass::CompileOk, None));
        stats.record(
            a,
            served(ResultClass::Refused, Some("sh is not a compiler")),
        );
        stats.record(
            a,
            served(ResultClass::Refused, Some("sh is not a compiler")),
        );
        stats.record(b, served(ResultClass::BadRequest, None));
        stats.record(Peer::NotSocket, served(ResultClass::CompileError, None));
        let snap = stats.snapshot();
        let one = &snap.clients[0];
        assert_eq!(one.client, "10.0.0.1");
        assert_eq!((one.jobs, one.compiled, one.failures), (3, 1, 0));
        assert_eq!(one.refusals, vec![("sh is not a compiler".to_string(), 2)]);
        assert_eq!(
            (one.bytes_received, one.bytes_sent, one.compile_ms),
            (300, 30, 15)
        );
        assert_eq!(snap.clients[1].client, "10.0.0.2");
        assert_eq!(snap.clients[1].failures, 1);
        assert_eq!(snap.clients[2].client, "ssh");
        assert_eq!(snap.clients[2].compile_errors, 1);
    }
}
