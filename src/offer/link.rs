//! One client: connect out, forward a loopback port (or, with `--socket`, a Unix socket in
//! the user's private directory) there, register, serve every forwarded
//! connection, and when the link is lost (keepalives, or the connection closing) start
//! again with a capped backoff — until the offer is stopped, which withdraws the entry and
//! lets running jobs finish.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_util::sync::CancellationToken;

use super::prefixed::Prefixed;
use super::registration::{self, Registration, Request};
use super::{Client, Event, Events, OfferSettings, PORT_RANGE};
use crate::forward::RemoteForward;
use crate::server::{Peer, ServerContext, connection};
use crate::transport::ssh::{
    self, DEFAULT_KEEPALIVE_INTERVAL, DEFAULT_KEEPALIVE_MAX, ForwardedConnection, SshConnection,
    SshError,
};

/// Without `ServerAliveInterval` in the ssh config, a dead link is noticed within
/// 10 s × `ServerAliveCountMax` (3): 30 s (see [`keepalive`]).
const OFFER_KEEPALIVE_INTERVAL: Duration = Duration::from_secs(10);
/// The first wait before reconnecting; doubled up to `max_backoff`.
const FIRST_BACKOFF: Duration = Duration::from_secs(1);
/// A link that stayed up this long starts the backoff over.
const STABLE: Duration = Duration::from_secs(60);

/// How one connection ended.
enum Ended {
    Withdrawn,
    Lost(String),
    Failed(String),
    /// Connected, but the forward or the socket's place could not be had.
    NotOffered(String),
}

/// Offers to `client` until `shutdown`; reconnects whenever the link is lost.
pub async fn run(
    client: Client,
    settings: Arc<OfferSettings>,
    server: Arc<ServerContext>,
    events: Events,
    shutdown: CancellationToken,
) {
    let say = |event: Event| events(&client, &event);
    let mut backoff = FIRST_BACKOFF;
    let mut last_port = settings.port;
    loop {
        say(Event::Connecting);
        let started = Instant::now();
        // A fresh id per registration: a holder of the last link that is slow to go cannot
        // remove the new entry.
        let id = super::new_id();
        let ended = session(
            &client,
            &settings,
            &server,
            &id,
            &mut last_port,
            &say,
            &shutdown,
        )
        .await;
        match ended {
            Ended::Withdrawn => {
                say(Event::Withdrawn);
                return;
            }
            Ended::Lost(why) => say(Event::Lost { why }),
            Ended::Failed(why) => say(Event::CannotConnect { why }),
            Ended::NotOffered(why) => say(Event::CannotOffer { why }),
        }
        if started.elapsed() >= STABLE {
            backoff = FIRST_BACKOFF;
        }
        say(Event::Reconnecting { after: backoff });
        tokio::select! {
            _ = tokio::time::sleep(backoff) => {}
            _ = shutdown.cancelled() => {
                say(Event::Withdrawn);
                return;
            }
        }
        backoff = (backoff * 2).min(settings.max_backoff);
    }
}

/// One connection, from connect to its end.
async fn session(
    client: &Client,
    settings: &OfferSettings,
    server: &Arc<ServerContext>,
    id: &str,
    last_port: &mut Option<u16>,
    say: &impl Fn(Event),
    shutdown: &CancellationToken,
) -> Ended {
    let conn = tokio::select! {
        conn = connect(client, settings) => match conn {
            Ok(conn) => conn,
            Err(e) => return Ended::Failed(e.to_string()),
        },
        _ = shutdown.cancelled() => return Ended::Withdrawn,
    };
    say(Event::Connected {
        to: conn.description(),
    });
    let (mut forward, mut holder, request_host) = if settings.socket {
        match offer_socket(&conn, settings, id).await {
            Ok((forward, holder, host)) => {
                say(Event::Offered {
                    host,
                    registered: true,
                    why_not: None,
                });
                (forward, Some(holder), None)
            }
            Err(why) => {
                conn.disconnect().await;
                return Ended::NotOffered(why);
            }
        }
    } else {
        let forward = match forward(&conn, settings.port, *last_port).await {
            Ok(forward) => forward,
            Err(why) => {
                conn.disconnect().await;
                return Ended::NotOffered(why);
            }
        };
        *last_port = Some(forward.port());
        let host = format!("127.0.0.1:{}{}", forward.port(), entry_suffix(settings));
        (forward, None, Some(host))
    };
    let request = request_host.as_deref().map(|host| Request {
        command: &settings.client_command,
        host,
        socket: false,
        id,
        hosts_file: settings.hosts_file,
        heartbeat_timeout: settings.heartbeat * 3,
    });
    if let Some(request) = &request {
        holder = match registration::register(&conn, request).await {
            Registration::Held(holder) => {
                say(Event::Offered {
                    host: request.host.to_string(),
                    registered: true,
                    why_not: None,
                });
                Some(holder)
            }
            Registration::NotHeld(why) => {
                say(Event::Offered {
                    host: request.host.to_string(),
                    registered: false,
                    why_not: Some(why),
                });
                None
            }
        };
    }
    let was_held = holder.is_some();

    let jobs = tokio_util::task::TaskTracker::new();
    let mut heartbeat = tokio::time::interval(settings.heartbeat);
    heartbeat.tick().await;
    let lost = loop {
        tokio::select! {
            incoming = forward.accept() => match incoming {
                Some(incoming) => {
                    jobs.spawn(serve_one(incoming, server.clone()));
                }
                None => break "the SSH connection closed".to_string(),
            },
            _ = heartbeat.tick() => {
                if conn.is_closed() {
                    break "the SSH connection closed".to_string();
                }
                let alive = match holder.as_mut() {
                    Some(h) => h.beat().await,
                    None => !was_held,
                };
                if !alive {
                    // The holder went away while the link stayed: register again. A
                    // socket's holder owned the socket's place: start over for a new one.
                    let Some(request) = &request else {
                        break "the holder on the client went away".to_string();
                    };
                    holder = match registration::register(&conn, request).await {
                        Registration::Held(h) => Some(h),
                        Registration::NotHeld(why) => {
                            tracing::debug!("{client}: registering again failed: {why}");
                            None
                        }
                    };
                }
            },
            _ = shutdown.cancelled() => {
                if let Some(holder) = holder.take() {
                    holder.withdraw().await;
                }
                // No new jobs; the running ones may finish.
                let _ = tokio::time::timeout(Duration::from_secs(5), forward.cancel()).await;
                jobs.close();
                if tokio::time::timeout(settings.drain, jobs.wait()).await.is_err() {
                    tracing::warn!("{client}: jobs still running after {:?}; stopping them", settings.drain);
                }
                conn.disconnect().await;
                return Ended::Withdrawn;
            }
        }
    };
    Ended::Lost(lost)
}

/// `/N[,lzo]`: what every entry of this offer ends with.
fn entry_suffix(settings: &OfferSettings) -> String {
    format!(
        "/{}{}",
        settings.slots,
        if settings.lzo { ",lzo" } else { "" }
    )
}

/// `--socket`: the holder places the socket in its private directory and names it, sshd is
/// asked to listen there, and the holder records `unix:PATH/N`. Without a holder there is
/// no private place to put the socket, so no offer.
async fn offer_socket(
    conn: &SshConnection,
    settings: &OfferSettings,
    id: &str,
) -> Result<(RemoteForward, registration::Holder, String), String> {
    let suffix = entry_suffix(settings);
    let request = Request {
        command: &settings.client_command,
        host: &suffix,
        socket: true,
        id,
        hosts_file: false,
        heartbeat_timeout: settings.heartbeat * 3,
    };
    let (mut holder, path) = registration::start_socket(conn, &request)
        .await
        .map_err(|why| {
            format!(
                "--socket needs distfarm on the client to place the socket in a private \
                 directory, and it did not answer ({why})"
            )
        })?;
    let forward = match RemoteForward::request_socket(conn, &path).await {
        Ok(forward) => forward,
        Err(e) => {
            holder.withdraw().await;
            return Err(e.to_string());
        }
    };
    let host = holder
        .confirm_socket(request.command)
        .await
        .map_err(|why| format!("the holder did not record {path}: {why}"))?;
    Ok((forward, holder, host))
}

/// Connects as `ssh` would (config, known_hosts, agent or keys), noticing a dead link within
/// `ServerAliveInterval × ServerAliveCountMax`: 30 s unless the config says otherwise.
async fn connect(client: &Client, settings: &OfferSettings) -> Result<SshConnection, SshError> {
    let mut host = ssh::resolve(&client.host, client.user.as_deref(), None, &settings.ssh)?;
    if host.keepalive_interval == Some(DEFAULT_KEEPALIVE_INTERVAL)
        && host.keepalive_max == DEFAULT_KEEPALIVE_MAX
    {
        host.keepalive_interval = Some(OFFER_KEEPALIVE_INTERVAL);
    }
    if let Some(interval) = host.keepalive_interval {
        (host.keepalive_interval, host.keepalive_max) = {
            let (interval, max) = keepalive(interval, host.keepalive_max);
            (Some(interval), max)
        };
    }
    ssh::connect(&host, &settings.ssh).await
}

/// russh's keepalive settings that give up on a silent link after `interval × count_max`.
/// russh (like OpenSSH's own client) gives up when its timer fires once more after `max`
/// unanswered keepalives, i.e. after (max + 1) intervals; and a `max` of 0 never gives up,
/// where `ServerAliveCountMax 0` means at the first silence.
pub fn keepalive(interval: Duration, count_max: usize) -> (Duration, usize) {
    match count_max {
        0 | 1 => (interval / 2, 1),
        n => (interval, n - 1),
    }
}

/// A loopback listener on the client: `fixed` if given, else the port used last time, else
/// the first of [`PORT_RANGE`] the client's sshd agrees to.
async fn forward(
    conn: &SshConnection,
    fixed: Option<u16>,
    last: Option<u16>,
) -> Result<RemoteForward, String> {
    if let Some(port) = fixed {
        return RemoteForward::request(conn, "127.0.0.1", port)
            .await
            .map_err(|e| e.to_string());
    }
    let ports = last
        .into_iter()
        .chain(PORT_RANGE.filter(|p| Some(*p) != last));
    for port in ports {
        match RemoteForward::request(conn, "127.0.0.1", port).await {
            Ok(forward) => return Ok(forward),
            Err(SshError::Channel { .. }) => continue, // in use there
            Err(e) => return Err(e.to_string()),
        }
    }
    Err(format!(
        "the client's sshd would listen on none of 127.0.0.1:{}–{}; give a free one with --port",
        PORT_RANGE.start(),
        PORT_RANGE.end()
    ))
}

/// One forwarded connection, served as distccd serves a TCP client. A connection that
/// closes before sending anything is a client's liveness check and is not logged.
async fn serve_one(incoming: ForwardedConnection, server: Arc<ServerContext>) {
    let mut stream = incoming.stream;
    let mut first = [0u8; 1];
    let read = tokio::time::timeout(server.settings.header_timeout, stream.read(&mut first)).await;
    let n = match read {
        Ok(Ok(n)) if n > 0 => n,
        _ => return,
    };
    let peer = format!("{}:{}", incoming.originator, incoming.originator_port)
        .parse()
        .map(Peer::Tcp)
        .unwrap_or(Peer::NotSocket);
    let mut stream = Prefixed::new(first[..n].to_vec(), stream);
    connection::serve(&mut stream, peer, &server).await;
    // The answer may still sit in the channel's buffers: end our side and wait for the
    // client to close its, so that an offer stopping right after this job (SIGINT, drain)
    // does not cut the connection under the answer.
    let _ = stream.shutdown().await;
    let mut rest = [0u8; 256];
    let _ = tokio::time::timeout(ANSWER_DELIVERY, async {
        while matches!(stream.read(&mut rest).await, Ok(n) if n > 0) {}
    })
    .await;
}

/// How long a served connection waits for its client to hang up after the answer.
const ANSWER_DELIVERY: Duration = Duration::from_secs(30);
