//! Reverse mode: `distfarm offer [USER@]CLIENT…` lends this machine's CPUs to clients that
//! cannot reach it (NAT, firewalls). For each client it connects *out* to the client's sshd
//! with the same SSH stack as `@host` entries, asks for a remote forward of a loopback port
//! there (or, with `--socket`, a Unix socket only the client's user may reach), registers
//! `127.0.0.1:PORT/N` (`unix:PATH/N`) for the client's user, and serves every forwarded
//! connection with the in-process server (compiler policy, argument rules, confinement).
//!
//! | file | job |
//! |---|---|
//! | [`link`] | one client: connect, forward, register, serve, notice the loss, reconnect |
//! | [`registration`] | the offer's side of registration: the holder run over SSH |
//! | [`hold`] | the holder itself (`distfarm offers hold`, on the client) |
//! | [`registry`] | the client's `offers/` entries and hosts-file blocks; which are live |
//! | [`entry`] | the entry and block formats, the liveness check |
//!
//! Slots: every link serves with the same [`ServerContext`], whose job semaphore (FIFO, so
//! a busy client cannot starve another) is the one pool of `--slots` compiles.

pub mod entry;
pub mod hold;
pub mod link;
mod prefixed;
pub mod registration;
pub mod registry;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::server::ServerContext;
use crate::transport::ssh::SshSettings;

/// Where `--port` is looked for when not given: the first port of this range that the
/// client's sshd agrees to listen on (3632 and 3633 are distccd's own).
pub const PORT_RANGE: std::ops::RangeInclusive<u16> = 3640..=3699;

/// One client as written on the command line: `[USER@]CLIENT` (an ssh_config alias or a
/// host name).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Client {
    pub user: Option<String>,
    pub host: String,
}

impl Client {
    pub fn parse(text: &str) -> Option<Client> {
        let (user, host) = match text.rsplit_once('@') {
            Some((user, host)) => (Some(user.to_string()).filter(|u| !u.is_empty()), host),
            None => (None, text),
        };
        (!host.is_empty()).then(|| Client {
            user,
            host: host.to_string(),
        })
    }
}

impl fmt::Display for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.user {
            Some(user) => write!(f, "{user}@{}", self.host),
            None => f.write_str(&self.host),
        }
    }
}

/// Everything an offer needs, as plain values.
#[derive(Debug, Clone)]
pub struct OfferSettings {
    pub clients: Vec<Client>,
    /// Compiles at once, over all clients (also the `/N` of every entry).
    pub slots: usize,
    /// The client port; `None`: the first free one of [`PORT_RANGE`].
    pub port: Option<u16>,
    /// Forward a Unix socket in the client user's 0700 `$DISTCC_DIR/offers` instead of a
    /// port: only that user can send jobs (entry `unix:PATH/N`; distfarm clients only).
    pub socket: bool,
    /// Offer `,lzo` (protocol 2).
    pub lzo: bool,
    /// Also keep the entry in the client's distcc hosts file.
    pub hosts_file: bool,
    /// How distfarm is run on the client, for registration.
    pub client_command: String,
    pub ssh: SshSettings,
    /// How long a stopping offer lets running jobs finish.
    pub drain: Duration,
    /// How often the holder hears from us; it withdraws after three missed.
    pub heartbeat: Duration,
    /// The longest wait between reconnection attempts.
    pub max_backoff: Duration,
}

/// What a person watching an offer cares about, one line each.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    Connecting,
    Connected {
        to: String,
    },
    /// The entry is in place on the client (`registered`), or must be added by hand.
    Offered {
        host: String,
        registered: bool,
        why_not: Option<String>,
    },
    CannotConnect {
        why: String,
    },
    /// Connected, but the client would not listen for us.
    CannotOffer {
        why: String,
    },
    Lost {
        why: String,
    },
    Reconnecting {
        after: Duration,
    },
    Withdrawn,
}

impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Event::Connecting => f.write_str("connecting"),
            Event::Connected { to } => write!(f, "connected to {to}"),
            Event::Offered {
                host,
                registered: true,
                ..
            } => write!(f, "offered as {host}"),
            Event::Offered { host, why_not, .. } => write!(
                f,
                "offered as {host}, but not registered ({}): add `{host}` to the client's \
                 host list by hand (DISTCC_HOSTS or ~/.distcc/hosts)",
                why_not.as_deref().unwrap_or("no answer")
            ),
            Event::CannotConnect { why } => write!(f, "cannot connect: {why}"),
            Event::CannotOffer { why } => write!(f, "cannot offer: {why}"),
            Event::Lost { why } => write!(f, "lost: {why}"),
            Event::Reconnecting { after } => {
                write!(f, "reconnecting in {} s", after.as_secs().max(1))
            }
            Event::Withdrawn => f.write_str("withdrawn"),
        }
    }
}

/// Receives every event with the client it concerns.
pub type Events = Arc<dyn Fn(&Client, &Event) + Send + Sync>;

/// Offers to every client until `shutdown` is cancelled; then withdraws every entry, lets
/// running jobs finish (at most `settings.drain`) and returns.
pub async fn run(
    settings: OfferSettings,
    server: Arc<ServerContext>,
    events: Events,
    shutdown: CancellationToken,
) {
    let settings = Arc::new(settings);
    let links = tokio_util::task::TaskTracker::new();
    for client in &settings.clients {
        links.spawn(link::run(
            client.clone(),
            settings.clone(),
            server.clone(),
            events.clone(),
            shutdown.clone(),
        ));
    }
    links.close();
    links.wait().await;
}

/// A fresh random offer id (16 hex digits).
pub fn new_id() -> String {
    use std::io::Read;
    let mut bytes = [0u8; 8];
    let read = std::fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut bytes));
    if read.is_err() {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        bytes = ((nanos as u64) ^ (u64::from(std::process::id()) << 40)).to_le_bytes();
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clients_parse_with_and_without_user() {
        assert_eq!(
            Client::parse("me@box"),
            Some(Client {
                user: Some("me".into()),
                host: "box".into()
            })
        );
        assert_eq!(Client::parse("box").unwrap().to_string(), "box");
        assert_eq!(Client::parse("me@"), None);
    }

    #[test]
    fn keepalives_give_up_after_interval_times_count() {
        use link::keepalive;
        let s = Duration::from_secs;
        // russh gives up after (max + 1) intervals.
        let gives_up = |(interval, max): (Duration, usize)| interval * (max as u32 + 1);
        assert_eq!(keepalive(s(10), 3), (s(10), 2));
        assert_eq!(gives_up(keepalive(s(10), 3)), s(30));
        assert_eq!(gives_up(keepalive(s(1), 2)), s(2));
        assert_eq!(gives_up(keepalive(s(4), 1)), s(4));
        assert_eq!(gives_up(keepalive(s(4), 0)), s(4));
    }

    #[test]
    fn ids_are_hex() {
        let id = new_id();
        assert_eq!(id.len(), 16);
        assert!(entry::valid_id(&id));
    }
}
