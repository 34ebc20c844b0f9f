//! A pump-mode tree as a client sends it: each file's content already packed for the wire
//! (LZO-compressed, as `FILE` bodies travel, with its SHA-256 for `protocol::hashed_tree`).
//! The agent packs each header once and hands the packed copy to every job that includes it,
//! so a wrapper neither reads nor compresses the build's headers again and again (distcc's
//! include server keeps compressed copies for the same reason).

use std::sync::Arc;

use tokio::io::AsyncWrite;

use super::file_tree::TreeEntry;
use super::hashed_tree::{ContentHash, content_hash};
use super::token::HEADER_LEN;
use super::{ProtocolError, TokenWriter, lzo};

/// One file's content as it travels.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackedFile {
    /// SHA-256 of the content.
    pub hash: ContentHash,
    /// The `FILE` body: LZO1X-1 of the content; empty for an empty file (distcc sends length
    /// 0 and no body then).
    pub lzo: Vec<u8>,
}

impl PackedFile {
    pub fn of(content: &[u8]) -> PackedFile {
        PackedFile {
            hash: content_hash(content),
            lzo: if content.is_empty() {
                Vec::new()
            } else {
                lzo::compress(content)
            },
        }
    }
}

/// One entry of an outgoing tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutgoingEntry {
    File {
        name: Vec<u8>,
        packed: Arc<PackedFile>,
    },
    Link {
        name: Vec<u8>,
        target: Vec<u8>,
    },
}

impl OutgoingEntry {
    /// The entry of a tree read whole (tests, and a wrapper without its agent).
    pub fn pack(entry: &TreeEntry) -> OutgoingEntry {
        match entry {
            TreeEntry::File { name, content } => OutgoingEntry::File {
                name: name.clone(),
                packed: Arc::new(PackedFile::of(content)),
            },
            TreeEntry::Link { name, target } => OutgoingEntry::Link {
                name: name.clone(),
                target: target.clone(),
            },
        }
    }

    pub fn name(&self) -> &[u8] {
        match self {
            OutgoingEntry::File { name, .. } | OutgoingEntry::Link { name, .. } => name,
        }
    }
}

/// Writes `NFIL` and every entry, exactly as `file_tree::write_tree` would for the same
/// contents.
pub fn write_tree<W: AsyncWrite + Unpin>(
    writer: &mut TokenWriter<W>,
    entries: &[OutgoingEntry],
) -> Result<(), ProtocolError> {
    let body = |entry: &OutgoingEntry| match entry {
        OutgoingEntry::File { packed, .. } => packed.lzo.len(),
        OutgoingEntry::Link { target, .. } => target.len(),
    };
    writer.reserve(
        entries
            .iter()
            .map(|e| 2 * HEADER_LEN + e.name().len() + body(e))
            .sum::<usize>()
            + HEADER_LEN,
    );
    writer.int(b"NFIL", entries.len() as u32);
    for entry in entries {
        writer.string(b"NAME", entry.name())?;
        match entry {
            OutgoingEntry::File { packed, .. } => writer.string(b"FILE", &packed.lzo)?,
            OutgoingEntry::Link { target, .. } => writer.string(b"LINK", target)?,
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::file_tree;

    #[tokio::test]
    async fn a_packed_tree_is_byte_for_byte_the_tree_written_from_contents() {
        let header = b"#define A 1\n".repeat(40);
        let plain = vec![
            TreeEntry::File {
                name: b"/p/a.h".to_vec(),
                content: header.clone(),
            },
            TreeEntry::File {
                name: b"/p/forcing_technique_271828".to_vec(),
                content: vec![],
            },
            TreeEntry::Link {
                name: b"/usr/include".to_vec(),
                target: b"../../usr/include".to_vec(),
            },
        ];
        let packed: Vec<OutgoingEntry> = plain.iter().map(OutgoingEntry::pack).collect();
        let mut a = TokenWriter::new(Vec::new());
        file_tree::write_tree(&mut a, &plain).unwrap();
        a.flush().await.unwrap();
        let mut b = TokenWriter::new(Vec::new());
        write_tree(&mut b, &packed).unwrap();
        b.flush().await.unwrap();
        assert_eq!(a.into_inner(), b.into_inner());
    }
}
