//! The file tree of a version 3 (pump mode) request: `NFIL n`, then n entries, each a `NAME`
//! (an absolute client path, never compressed) followed by `FILE` (the file's content,
//! LZO-compressed; length 0 for an empty file) or `LINK` (a symlink's target, as text).
//! Entries are read one at a time so that a server can write each one out as it arrives
//! instead of holding the whole tree in memory.

use tokio::io::{AsyncRead, AsyncWrite};

use super::{ProtocolError, TokenReader, TokenWriter};

/// One entry of the tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TreeEntry {
    /// A regular file and its (uncompressed) content.
    File { name: Vec<u8>, content: Vec<u8> },
    /// A symbolic link and its target, as `readlink` gives it.
    Link { name: Vec<u8>, target: Vec<u8> },
}

impl TreeEntry {
    pub fn name(&self) -> &[u8] {
        match self {
            TreeEntry::File { name, .. } | TreeEntry::Link { name, .. } => name,
        }
    }
}

/// Reads `NFIL`, refusing a count over the reader's `max_files` before any entry is read.
pub async fn read_count<R: AsyncRead + Unpin>(
    reader: &mut TokenReader<R>,
) -> Result<u32, ProtocolError> {
    let count = reader.read_int("NFIL").await?;
    check_count("NFIL", count, reader.limits().max_files)
}

/// A tree's entry count (`NFIL`, `NHSH`), refused over `limit` before any entry is read.
pub fn check_count(token: &'static str, count: u32, limit: u32) -> Result<u32, ProtocolError> {
    if count > limit {
        return Err(ProtocolError::TooLong {
            token,
            len: count.into(),
            limit: limit.into(),
        });
    }
    Ok(count)
}

/// Reads one `NAME` and the `FILE` or `LINK` that follows it.
pub async fn read_entry<R: AsyncRead + Unpin>(
    reader: &mut TokenReader<R>,
) -> Result<TreeEntry, ProtocolError> {
    let name = reader.read_string("NAME").await?;
    let (token, len) = reader.read_any().await?;
    match &token {
        b"FILE" => {
            let content = reader.read_bulk_body("FILE", len, true).await?;
            Ok(TreeEntry::File { name, content })
        }
        b"LINK" => {
            let target = reader
                .read_body("LINK", len, reader.limits().max_arg_len)
                .await?;
            Ok(TreeEntry::Link { name, target })
        }
        _ => Err(ProtocolError::WrongToken {
            expected: "FILE or LINK",
            got: String::from_utf8_lossy(&token).into_owned(),
        }),
    }
}

/// Writes `NFIL` and every entry (bodies LZO-compressed, as protocol 3 wants).
pub fn write_tree<W: AsyncWrite + Unpin>(
    writer: &mut TokenWriter<W>,
    entries: &[TreeEntry],
) -> Result<(), ProtocolError> {
    writer.int(b"NFIL", entries.len() as u32);
    for entry in entries {
        write_entry(writer, entry)?;
    }
    Ok(())
}

pub fn write_entry<W: AsyncWrite + Unpin>(
    writer: &mut TokenWriter<W>,
    entry: &TreeEntry,
) -> Result<(), ProtocolError> {
    match entry {
        TreeEntry::File { name, content } => {
            writer.string(b"NAME", name)?;
            writer.bulk(b"FILE", content, true)
        }
        TreeEntry::Link { name, target } => {
            writer.string(b"NAME", name)?;
            writer.string(b"LINK", target)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::Limits;

    #[tokio::test]
    async fn files_and_links_round_trip() {
        let entries = vec![
            TreeEntry::File {
                name: b"/p/src/main.c".to_vec(),
                content: b"#include \"a.h\"\nint main(void) { return A; }\n".repeat(20),
            },
            TreeEntry::File {
                name: b"/p/inc/forcing_technique_271828".to_vec(),
                content: vec![],
            },
            TreeEntry::Link {
                name: b"/usr/include".to_vec(),
                target: b"../../../usr/include".to_vec(),
            },
        ];
        let mut w = TokenWriter::new(Vec::new());
        write_tree(&mut w, &entries).unwrap();
        w.flush().await.unwrap();
        let bytes = w.into_inner();
        assert!(bytes.starts_with(b"NFIL00000003NAME0000000d/p/src/main.cFILE"));
        let mut r = TokenReader::new(&bytes[..], Limits::default());
        assert_eq!(read_count(&mut r).await.unwrap(), 3);
        for entry in &entries {
            assert_eq!(&read_entry(&mut r).await.unwrap(), entry);
        }
    }

    #[tokio::test]
    async fn a_count_over_the_limit_is_refused_before_any_entry() {
        let mut r = TokenReader::new(&b"NFILffffffff"[..], Limits::default());
        assert!(matches!(
            read_count(&mut r).await,
            Err(ProtocolError::TooLong { token: "NFIL", .. })
        ));
    }

    #[tokio::test]
    async fn an_entry_that_is_neither_file_nor_link_is_refused() {
        let mut r = TokenReader::new(&b"NAME00000002/xDOTI00000000"[..], Limits::default());
        assert!(matches!(
            read_entry(&mut r).await,
            Err(ProtocolError::WrongToken { .. })
        ));
    }
}
