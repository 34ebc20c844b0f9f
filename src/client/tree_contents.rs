//! Where a pump-mode job's file contents are: kept by the agent that scanned (which writes
//! them into the job's connection itself when handed its socket), or here (a wrapper that
//! scanned by itself, or whose agent did not answer).

use std::os::fd::BorrowedFd;

use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::net::UnixStream;

use crate::fd_passing;
use crate::protocol::agent_scan::{TreeAnswer, TreeRequest};
use crate::protocol::file_tree::{self, TreeEntry};
use crate::protocol::packed_tree::OutgoingEntry;
use crate::protocol::{Limits, ProtocolError, TokenReader, TokenWriter};

pub enum TreeContents {
    /// Read and packed here.
    Here(Vec<OutgoingEntry>),
    /// Kept by the agent for as long as this connection to it (the scan's) stays open.
    InAgent(tokio::sync::Mutex<UnixStream>),
}

impl std::fmt::Debug for TreeContents {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TreeContents::Here(entries) => write!(f, "Here({} entries)", entries.len()),
            TreeContents::InAgent(_) => f.write_str("InAgent"),
        }
    }
}

impl TreeContents {
    /// Sends what `request` names on the job's connection, after what `writer` holds:
    /// through `writer`, or, when the agent keeps the contents and `socket` is the
    /// connection's own descriptor, written by the agent straight into it. Returns the bytes
    /// the agent wrote that way (which `writer` never saw).
    pub async fn send<W: AsyncWrite + Unpin>(
        &self,
        request: TreeRequest,
        writer: &mut TokenWriter<W>,
        socket: Option<BorrowedFd<'_>>,
        limits: Limits,
    ) -> Result<u64, ProtocolError> {
        let agent = match self {
            TreeContents::Here(entries) => {
                request.write_from(writer, entries)?;
                return Ok(0);
            }
            TreeContents::InAgent(agent) => agent,
        };
        // What the agent writes must follow what is already on its way.
        writer.flush().await?;
        let mut agent = agent.lock().await;
        let packets = request.encode()?;
        match socket {
            Some(socket) => fd_passing::send_with_fd(&mut agent, &packets, socket).await?,
            None => agent.write_all(&packets).await?,
        }
        match TreeAnswer::read(&mut TokenReader::new(&mut *agent, limits)).await? {
            TreeAnswer::Written(n) => Ok(n.into()),
            TreeAnswer::Bytes(bytes) => {
                writer.raw(&bytes);
                Ok(0)
            }
            TreeAnswer::Failed(why) => {
                Err(std::io::Error::other(format!("the agent: {why}")).into())
            }
        }
    }

    /// Every entry with its content, as a protocol-3 server would read them: for an
    /// engine's input root (`engine_pump`), which the wrapper hands to the agent whole.
    pub async fn entries(&self, limits: Limits) -> Result<Vec<TreeEntry>, ProtocolError> {
        let mut writer = TokenWriter::new(Vec::new());
        self.send(TreeRequest::Whole, &mut writer, None, limits)
            .await?;
        writer.flush().await?;
        let bytes = std::mem::take(writer.get_mut());
        let mut reader = TokenReader::new(&bytes[..], limits);
        let count = file_tree::read_count(&mut reader).await?;
        let mut entries = Vec::with_capacity(count as usize);
        for _ in 0..count {
            entries.push(file_tree::read_entry(&mut reader).await?);
        }
        Ok(entries)
    }
}
