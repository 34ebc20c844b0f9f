//! The rest of a pump-mode scan's connection: the agent keeps the tree it found and, each
//! time the wrapper asks, writes the whole tree (any protocol-3 server) or the contents a
//! distfarm server asked for straight into the job's connection, which the wrapper hands
//! over with the request. A wrapper whose stream cannot be handed over (a russh channel of
//! its own) gets the bytes back instead.

use tokio::net::UnixStream;

use crate::fd_passing;
use crate::protocol::agent_scan::{TreeAnswer, TreeRequest};
use crate::protocol::packed_tree::OutgoingEntry;
use crate::protocol::token::HEADER_LEN;
use crate::protocol::{Limits, ProtocolError, TokenReader, TokenWriter};

/// Serves the wrapper's tree requests until it hangs up.
pub async fn serve(
    stream: &mut UnixStream,
    entries: &[OutgoingEntry],
) -> Result<(), ProtocolError> {
    loop {
        let mut header = [0u8; HEADER_LEN];
        let Some(socket) = fd_passing::recv_with_fd(stream, &mut header).await? else {
            return Ok(());
        };
        let request = {
            let mut reader = TokenReader::new(&mut *stream, Limits::default());
            TreeRequest::read_after(&header, &mut reader).await?
        };
        let answer = match (encode(entries, &request), socket) {
            (Err(e), _) => TreeAnswer::Failed(e.to_string()),
            (Ok(bytes), None) => TreeAnswer::Bytes(bytes),
            (Ok(bytes), Some(socket)) => {
                // The wrapper waits for this; if it hangs up meanwhile (it gave up on the
                // job), the write is abandoned with it.
                tokio::select! {
                    written = fd_passing::write_all_to(socket, &bytes) => match written {
                        Ok(()) => TreeAnswer::Written(u32::try_from(bytes.len()).unwrap_or(u32::MAX)),
                        Err(e) => TreeAnswer::Failed(format!("cannot send the tree: {e}")),
                    },
                    _ = fd_passing::peer_gone_or_talking(stream) => return Ok(()),
                }
            }
        };
        answer.write(&mut TokenWriter::new(&mut *stream)).await?;
    }
}

/// The packets `request` asks for.
fn encode(entries: &[OutgoingEntry], request: &TreeRequest) -> Result<Vec<u8>, ProtocolError> {
    let mut w = TokenWriter::new(Vec::new());
    request.write_from(&mut w, entries)?;
    Ok(w.into_buffer())
}
