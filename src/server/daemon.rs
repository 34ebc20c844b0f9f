//! The TCP daemon: accept, check the allow-list, hand each connection to its own task.

use std::future::Future;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_util::task::TaskTracker;

use super::connection::{self, HeaderWait, Peer, ServerContext};
use super::per_address::PerAddress;

/// Serves connections on `listener` until `shutdown` resolves, then waits for running jobs
/// (at most `--stop-timeout`).
pub async fn serve(
    listener: TcpListener,
    ctx: Arc<ServerContext>,
    shutdown: impl Future<Output = ()>,
) {
    let settings = &ctx.settings;
    let allowed: Vec<String> = settings
        .access
        .entries()
        .iter()
        .map(|c| c.to_string())
        .collect();
    tracing::info!(
        "listening on {} for clients from {}; {} jobs at once",
        listener
            .local_addr()
            .map(|a| a.to_string())
            .unwrap_or_default(),
        allowed.join(", "),
        settings.jobs
    );
    // Connections beyond this wait in the kernel's backlog rather than in our memory.
    let connections = Arc::new(Semaphore::new(settings.max_connections.max(1)));
    let per_address = PerAddress::new(settings.max_per_address);
    let mut waiting = Waiting::default();
    let tracker = TaskTracker::new();
    tokio::pin!(shutdown);
    loop {
        let permit = match connections.clone().try_acquire_owned() {
            Ok(permit) => permit,
            Err(_) => {
                // Full: the oldest connection still without a command line goes, so that
                // idle connections cannot keep honest clients in the backlog. (If every
                // connection is in a job, new clients wait in the backlog.)
                waiting.evict_oldest();
                tokio::select! {
                    permit = connections.clone().acquire_owned() => permit.expect("never closed"),
                    _ = &mut shutdown => break,
                }
            }
        };
        let (stream, addr) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    // EMFILE and friends: back off briefly instead of spinning.
                    tracing::warn!("accept failed: {e}");
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                    continue;
                }
            },
            _ = &mut shutdown => break,
        };
        ctx.stats.accepted();
        if !ctx.settings.access.allows(addr.ip()) {
            tracing::warn!(
                "client: {addr} denied by access list (allowed: {})",
                allowed.join(", ")
            );
            continue;
        }
        let Some(address_slot) = per_address.admit(addr.ip()) else {
            tracing::warn!(
                "client: {addr} closed: {} already holds {} connections (--max-per-address)",
                addr.ip(),
                per_address.limit()
            );
            continue;
        };
        let _ = stream.set_nodelay(true);
        let wait = HeaderWait {
            go: ctx.stopping.child_token(),
            ..Default::default()
        };
        waiting.add(wait.clone(), settings.max_connections);
        let ctx = ctx.clone();
        tracker.spawn(async move {
            connection::serve_unless_told(stream, Peer::Tcp(addr), &ctx, &wait).await;
            drop((permit, address_slot));
        });
    }
    // New clients are refused from now on (connection refused: they go to another server),
    // clients that have not sent their request yet are dropped, and running jobs finish.
    drop(listener);
    ctx.stopping.cancel();
    tracker.close();
    if tokio::time::timeout(settings.stop_timeout, tracker.wait())
        .await
        .is_err()
    {
        tracing::warn!(
            "{} connections still running after {} s (--stop-timeout): exiting, their \
             compilers are killed",
            tracker.len(),
            settings.stop_timeout.as_secs()
        );
    }
}

/// Connections in the order they came, for evicting the oldest one still without a command
/// line when the server is full.
#[derive(Default)]
struct Waiting {
    queue: std::collections::VecDeque<HeaderWait>,
}

impl Waiting {
    fn add(&mut self, wait: HeaderWait, max_connections: usize) {
        // Those past their command line are dropped now and then, so the queue stays about
        // as long as the connections held.
        if self.queue.len() > 2 * max_connections {
            self.queue.retain(|w| !w.is_past());
        }
        self.queue.push_back(wait);
    }

    fn evict_oldest(&mut self) {
        while let Some(oldest) = self.queue.pop_front() {
            if !oldest.is_past() && !oldest.go.is_cancelled() {
                oldest.go.cancel();
                return;
            }
        }
    }
}
