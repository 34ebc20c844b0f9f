//! `--inetd`: serve exactly one job on stdin/stdout and return at once (distccd 3.4 waits out
//! a one-second poll here; we do not).

use super::connection::{self, Peer, ResultClass, ServerContext};
use super::stdio;

pub async fn serve_one(ctx: &ServerContext) -> std::io::Result<ResultClass> {
    let peer = match stdio::stdin_peer() {
        Some(addr) => Peer::Tcp(addr),
        None => Peer::NotSocket,
    };
    // With --allow, only TCP peers that match are served; without it (the sshd case) there
    // is no address to check and SSH has already authenticated the user.
    if !ctx.settings.access.is_empty() {
        let allowed = match peer {
            Peer::Tcp(addr) => ctx.settings.access.allows(addr.ip()),
            Peer::NotSocket => false,
        };
        if !allowed {
            tracing::warn!("client: {peer} denied by access list");
            return Ok(ResultClass::Refused);
        }
    }
    let stream = stdio::stdio()?;
    Ok(connection::serve(stream, peer, ctx).await)
}
