//! `distfarm serve --zeroconf`: the daemon announces itself as distccd does
//! (`zeroconf-reg.c`) — `distcc@<hostname>` of type `_distcc._tcp` with its compiler's
//! subtype — and withdraws the announcement (mDNS "goodbye") when it stops, so that browsers
//! drop it at once instead of when its records expire.

use std::net::IpAddr;
use std::time::Duration;

use mdns_sd::{DaemonEvent, IfKind, ServiceDaemon, ServiceInfo, UnregisterStatus};

use super::ZeroconfError;
use super::identity::CompilerIdentity;

/// How long a withdrawal may take (mdns-sd sends the goodbye at once; this bounds a stuck
/// daemon thread).
const WITHDRAW_TIMEOUT: Duration = Duration::from_secs(2);

/// What the server announces.
#[derive(Debug, Clone)]
pub struct AnnounceSettings {
    /// The machine's name: the instance is `distcc@<hostname>`, the address records are
    /// `<hostname>.local`.
    pub hostname: String,
    pub port: u16,
    /// The address the daemon listens on. `0.0.0.0` announces every IPv4 address of the
    /// machine and nothing over IPv6 (a client given an IPv6 address could not connect: a
    /// browser such as distcc's keeps one address per server, whichever came first); `::`
    /// every address; anything else that address alone.
    pub listen: IpAddr,
    pub cpus: usize,
    /// The daemon's slots (distccd's `--jobs`).
    pub jobs: usize,
    /// `None`: `cc` could not say; announced without `cc_*` keys and subtype, as distccd.
    pub identity: Option<CompilerIdentity>,
}

/// A live announcement; [`Announcement::withdraw`] ends it (dropping it without does too,
/// through mdns-sd's shutdown, but without waiting for the goodbye to go out).
pub struct Announcement {
    daemon: ServiceDaemon,
    fullname: String,
}

impl Announcement {
    pub fn start(settings: &AnnounceSettings) -> Result<Announcement, ZeroconfError> {
        let daemon = ServiceDaemon::new().map_err(|e| ZeroconfError::Start(e.to_string()))?;
        log_daemon_errors(&daemon);
        let name = format!("distcc@{}", settings.hostname);
        let ty = match &settings.identity {
            Some(identity) => identity.subtype(),
            None => {
                tracing::warn!(
                    "zeroconf: `cc` could not tell its version and machine: announcing without \
                     them; distcc clients (which browse by compiler) will not see this server"
                );
                super::SERVICE_TYPE.to_string()
            }
        };
        let host = format!("{}.local.", dns_host_label(&settings.hostname));
        let txt = super::txt::properties(settings.cpus, settings.jobs, settings.identity.as_ref());
        let failed = |e: mdns_sd::Error| ZeroconfError::Announce {
            name: name.clone(),
            reason: e.to_string(),
        };
        let listen = settings.listen;
        if listen.is_ipv4() {
            daemon.disable_interface(IfKind::IPv6).map_err(failed)?;
        }
        let addresses: Vec<IpAddr> = Some(listen)
            .filter(|a| !a.is_unspecified())
            .into_iter()
            .collect();
        let mut info = ServiceInfo::new(&ty, &name, &host, &addresses[..], settings.port, &txt[..])
            .map_err(failed)?;
        if listen.is_unspecified() {
            info = info.enable_addr_auto();
        } else {
            info.set_interfaces(vec![IfKind::Addr(listen)]);
        }
        let fullname = info.get_fullname().to_string();
        daemon.register(info).map_err(failed)?;
        tracing::info!(
            "zeroconf: announcing {name} ({}) on port {} with {} slots",
            ty.trim_end_matches('.'),
            settings.port,
            settings.jobs
        );
        Ok(Announcement { daemon, fullname })
    }

    /// Sends the goodbye and stops mDNS; waits at most [`WITHDRAW_TIMEOUT`].
    pub fn withdraw(self) {
        match self.daemon.unregister(&self.fullname) {
            Ok(done) => match done.recv_timeout(WITHDRAW_TIMEOUT) {
                Ok(UnregisterStatus::OK) => {
                    tracing::info!("zeroconf: withdrew {}", self.fullname)
                }
                Ok(other) => tracing::warn!("zeroconf: withdrawing {}: {other:?}", self.fullname),
                Err(e) => tracing::warn!("zeroconf: withdrawing {}: {e}", self.fullname),
            },
            Err(e) => tracing::warn!("zeroconf: cannot withdraw {}: {e}", self.fullname),
        }
        if let Ok(stopped) = self.daemon.shutdown() {
            let _ = stopped.recv_timeout(WITHDRAW_TIMEOUT);
        }
    }
}

/// mdns-sd reports trouble (no multicast, a name taken) through its monitor channel: into
/// the log, where an operator looks when clients do not find the server.
fn log_daemon_errors(daemon: &ServiceDaemon) {
    let Ok(events) = daemon.monitor() else {
        return;
    };
    std::thread::spawn(move || {
        // Ends when the daemon shuts down and closes the channel.
        while let Ok(event) = events.recv() {
            match event {
                DaemonEvent::Error(e) => tracing::warn!("zeroconf: {e}"),
                DaemonEvent::NameChange(change) => tracing::warn!(
                    "zeroconf: {} was taken on the network; announced as {} instead",
                    change.original,
                    change.new_name
                ),
                _ => {}
            }
        }
    });
}

/// The first label of the host name, as a `.local` name allows it.
fn dns_host_label(hostname: &str) -> String {
    let label = hostname.split('.').next().unwrap_or("");
    let label: String = label
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    if label.is_empty() {
        "distfarm".into()
    } else {
        label
    }
}
