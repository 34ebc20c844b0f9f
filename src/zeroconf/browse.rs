//! Watching `_distcc._tcp`: every server announced on the links this machine is on, by
//! instance, with what its TXT record says. We browse the whole type rather than our
//! compiler's subtype (as distcc's clients do) so that `distfarm doctor` can say why a
//! server is left out; the hosts file still lists only the matching ones.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use mdns_sd::{ServiceDaemon, ServiceEvent};

use super::{SERVICE_TYPE, ZeroconfError, txt::FoundServer};

pub struct Browser {
    daemon: ServiceDaemon,
    events: mdns_sd::Receiver<ServiceEvent>,
    servers: BTreeMap<String, FoundServer>,
}

/// What one wait brought.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// A server came, went or changed.
    Servers,
    /// Nothing new within the time.
    Nothing,
    /// mDNS stopped (its thread ended): nothing more will come.
    Stopped,
}

impl Browser {
    pub fn start() -> Result<Browser, ZeroconfError> {
        let daemon = ServiceDaemon::new().map_err(|e| ZeroconfError::Start(e.to_string()))?;
        let events = daemon
            .browse(SERVICE_TYPE)
            .map_err(|e| ZeroconfError::Browse(e.to_string()))?;
        Ok(Browser {
            daemon,
            events,
            servers: BTreeMap::new(),
        })
    }

    /// Waits up to `timeout` for the next event and applies it.
    pub fn wait(&mut self, timeout: Duration) -> Change {
        match self.events.recv_timeout(timeout) {
            Ok(event) => {
                if self.apply(event) {
                    Change::Servers
                } else {
                    Change::Nothing
                }
            }
            Err(mdns_sd::RecvTimeoutError::Timeout) => Change::Nothing,
            Err(mdns_sd::RecvTimeoutError::Disconnected) => Change::Stopped,
        }
    }

    /// Browses until `quiet` passes without news once something was found, or `limit`
    /// passes: what a one-off look (`distfarm doctor`) needs.
    pub fn gather(&mut self, limit: Duration, quiet: Duration) {
        let deadline = Instant::now() + limit;
        let mut last_news: Option<Instant> = None;
        loop {
            let now = Instant::now();
            let mut until = deadline;
            if let Some(last) = last_news {
                until = until.min(last + quiet);
            }
            if now >= until {
                return;
            }
            match self.wait(until - now) {
                Change::Servers => last_news = Some(Instant::now()),
                Change::Nothing => {}
                Change::Stopped => return,
            }
        }
    }

    /// The servers there now, by instance name.
    pub fn servers(&self) -> impl Iterator<Item = &FoundServer> {
        self.servers.values()
    }

    /// Takes `found` as there now (a fresh look saw it).
    pub fn confirm(&mut self, found: &FoundServer, fullname: &str) -> bool {
        if self.servers.get(fullname) == Some(found) {
            return false;
        }
        tracing::info!("zeroconf: {} is there (a fresh look)", found.name);
        self.servers.insert(fullname.to_string(), found.clone());
        true
    }

    /// Forgets a server (fresh looks no longer see it).
    pub fn forget(&mut self, fullname: &str) -> bool {
        let gone = self.servers.remove(fullname).is_some();
        if gone {
            tracing::info!(
                "zeroconf: {} no longer answers; left out",
                instance_name(fullname)
            );
        }
        gone
    }

    /// The servers there now, with their full DNS-SD names.
    pub fn servers_by_fullname(&self) -> impl Iterator<Item = (&String, &FoundServer)> {
        self.servers.iter()
    }

    pub fn stop(self) {
        if let Ok(stopped) = self.daemon.shutdown() {
            let _ = stopped.recv_timeout(Duration::from_secs(1));
        }
    }

    fn apply(&mut self, event: ServiceEvent) -> bool {
        tracing::debug!("zeroconf: {event:?}");
        match event {
            ServiceEvent::ServiceResolved(service) => {
                let name = instance_name(&service.fullname);
                let txt = service
                    .txt_properties
                    .iter()
                    .map(|p| (p.key(), p.val_str()));
                let addresses = service.addresses.iter().map(|a| a.to_ip_addr()).collect();
                let found = FoundServer::from_txt(&name, addresses, service.port, txt);
                let changed = self.servers.get(&service.fullname) != Some(&found);
                if changed {
                    tracing::info!(
                        "zeroconf: {name} at {} (port {}, {} slots, cc {} {})",
                        found
                            .address()
                            .map(|a| a.to_string())
                            .unwrap_or_else(|| "no usable address".into()),
                        found.port,
                        found.jobs,
                        found.cc_version.as_deref().unwrap_or("?"),
                        found.cc_machine.as_deref().unwrap_or("?"),
                    );
                    self.servers.insert(service.fullname.clone(), found);
                }
                changed
            }
            ServiceEvent::ServiceRemoved(_, fullname) => {
                let gone = self.servers.remove(&fullname).is_some();
                if gone {
                    tracing::info!("zeroconf: {} left", instance_name(&fullname));
                }
                gone
            }
            _ => false,
        }
    }
}

/// `distcc@box._distcc._tcp.local.` → `distcc@box`.
fn instance_name(fullname: &str) -> String {
    fullname
        .strip_suffix(SERVICE_TYPE)
        .map(|n| n.trim_end_matches('.'))
        .unwrap_or(fullname)
        .replace("\\.", ".")
}
