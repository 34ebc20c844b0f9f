//! distfarm ↔ distfarm: a pump-mode tree sent by content. A build sends the same headers
//! with every job, and the same job again in the next build; a distfarm session server
//! keeps what it was sent, so the client names the whole listing (every `NAME` with its
//! content's SHA-256 or its link target) by one hash, sends the listing only when the server
//! does not know it, and ships only the contents the server asks for.
//!
//! ```text
//! client → server   (DIST 3 … CDIR as in protocol 3)
//!                   NHSH n   LSTH <SHA-256 of the listing>
//! server → client   LIST 0                            (unknown listing: send it)
//! client → server   HLST <the listing, LZO>           (n × NAME then HASH <32 bytes> or LINK)
//! server → client   MISS k   k × HASH <32 bytes>      (contents it does not have)
//! client → server   k × FILE <content, LZO>           (in MISS's order)
//! server → client   (the protocol 3 answer)
//! ```
//!
//! A known listing skips `LIST` and `HLST`: the server answers `MISS` at once. Only a
//! distfarm session server is sent `NHSH` (the real distccd knows only `NFIL`); the server
//! checks the listing and every content against their hashes before keeping them.

use tokio::io::{AsyncRead, AsyncWrite};

use super::packed_tree::OutgoingEntry;
use super::token::{claimed_capacity, header};
use super::{Limits, ProtocolError, TokenReader, TokenWriter};

/// A SHA-256 of a file's content, or of a listing.
pub type ContentHash = [u8; 32];

pub fn content_hash(content: &[u8]) -> ContentHash {
    use sha2::Digest;
    sha2::Sha256::digest(content).into()
}

/// One entry of a tree sent by content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HashedEntry {
    File { name: Vec<u8>, hash: ContentHash },
    Link { name: Vec<u8>, target: Vec<u8> },
}

/// A tree's listing as it travels in `HLST`, and its hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listing {
    pub bytes: Vec<u8>,
    pub hash: ContentHash,
    pub entries: u32,
    /// How many of the entries are files (the most contents a server may ask for).
    pub files: u32,
}

impl Listing {
    pub fn of(entries: &[OutgoingEntry]) -> Listing {
        let mut bytes = Vec::new();
        let mut put = |token: &[u8; 4], body: &[u8]| {
            bytes.extend_from_slice(&header(token, body.len() as u32));
            bytes.extend_from_slice(body);
        };
        for entry in entries {
            put(b"NAME", entry.name());
            match entry {
                OutgoingEntry::File { packed, .. } => put(b"HASH", &packed.hash),
                OutgoingEntry::Link { target, .. } => put(b"LINK", target),
            }
        }
        Listing {
            hash: content_hash(&bytes),
            bytes,
            entries: entries.len() as u32,
            files: entries
                .iter()
                .filter(|e| matches!(e, OutgoingEntry::File { .. }))
                .count() as u32,
        }
    }
}

/// The client's opening: how many entries, and the listing's hash.
pub fn write_opening<W: AsyncWrite + Unpin>(
    writer: &mut TokenWriter<W>,
    listing: &Listing,
) -> Result<(), ProtocolError> {
    writer.int(b"NHSH", listing.entries);
    writer.string(b"LSTH", &listing.hash)
}

/// Reads `LSTH` (after the caller read `NHSH`).
pub async fn read_listing_hash<R: AsyncRead + Unpin>(
    reader: &mut TokenReader<R>,
) -> Result<ContentHash, ProtocolError> {
    hash_body("LSTH", reader.read_string("LSTH").await?)
}

/// The server does not know the listing.
pub async fn write_listing_wanted<W: AsyncWrite + Unpin>(
    writer: &mut TokenWriter<W>,
) -> Result<(), ProtocolError> {
    writer.int(b"LIST", 0);
    writer.flush().await
}

pub fn write_listing<W: AsyncWrite + Unpin>(
    writer: &mut TokenWriter<W>,
    listing: &Listing,
) -> Result<(), ProtocolError> {
    writer.bulk(b"HLST", &listing.bytes, true)
}

/// Reads `HLST`, checks it against the hash it was announced with, and parses its
/// `entries` entries (nothing may follow them).
pub async fn read_listing<R: AsyncRead + Unpin>(
    reader: &mut TokenReader<R>,
    announced: &ContentHash,
    entries: u32,
) -> Result<(Vec<u8>, Vec<HashedEntry>), ProtocolError> {
    let bytes = reader.read_bulk("HLST", true).await?;
    if content_hash(&bytes) != *announced {
        return Err(ProtocolError::WrongToken {
            expected: "a listing with the hash announced in LSTH",
            got: "another listing".into(),
        });
    }
    let parsed = parse_listing(&bytes, entries, *reader.limits()).await?;
    Ok((bytes, parsed))
}

/// The entries of a listing (one the server checked and kept earlier, or just received).
pub async fn parse_listing(
    bytes: &[u8],
    entries: u32,
    limits: Limits,
) -> Result<Vec<HashedEntry>, ProtocolError> {
    let mut reader = TokenReader::new(bytes, limits);
    let mut parsed = Vec::with_capacity(claimed_capacity(entries));
    for _ in 0..entries {
        parsed.push(read_entry(&mut reader).await?);
    }
    if !reader.into_inner().is_empty() {
        return Err(ProtocolError::WrongToken {
            expected: "the end of the listing",
            got: "more entries than announced".into(),
        });
    }
    Ok(parsed)
}

/// Reads one `NAME` and the `HASH` or `LINK` that follows it.
async fn read_entry<R: AsyncRead + Unpin>(
    reader: &mut TokenReader<R>,
) -> Result<HashedEntry, ProtocolError> {
    let name = reader.read_string("NAME").await?;
    let (token, len) = reader.read_any().await?;
    match &token {
        b"HASH" => {
            let body = reader.read_body("HASH", len, 32).await?;
            Ok(HashedEntry::File {
                name,
                hash: hash_body("HASH", body)?,
            })
        }
        b"LINK" => {
            let target = reader
                .read_body("LINK", len, reader.limits().max_arg_len)
                .await?;
            Ok(HashedEntry::Link { name, target })
        }
        _ => Err(ProtocolError::WrongToken {
            expected: "HASH or LINK",
            got: String::from_utf8_lossy(&token).into_owned(),
        }),
    }
}

/// The server's question: the contents it lacks.
pub async fn write_missing<W: AsyncWrite + Unpin>(
    writer: &mut TokenWriter<W>,
    missing: &[ContentHash],
) -> Result<(), ProtocolError> {
    writer.int(b"MISS", missing.len() as u32);
    for hash in missing {
        writer.string(b"HASH", hash)?;
    }
    writer.flush().await
}

/// What the server said to the opening.
#[derive(Debug, PartialEq, Eq)]
pub enum Reply {
    /// `LIST`: send the listing (then `MISS` follows).
    ListingWanted,
    /// `MISS`: the contents it lacks.
    Missing(Vec<ContentHash>),
}

/// Reads `LIST` or `MISS`; a server may ask for at most the `files` contents it was named.
pub async fn read_reply<R: AsyncRead + Unpin>(
    reader: &mut TokenReader<R>,
    files: usize,
) -> Result<Reply, ProtocolError> {
    match reader.read_any().await? {
        (token, 0) if &token == b"LIST" => Ok(Reply::ListingWanted),
        (token, count) if &token == b"MISS" => {
            if count as usize > files {
                return Err(ProtocolError::TooLong {
                    token: "MISS",
                    len: count.into(),
                    limit: files as u64,
                });
            }
            let mut missing = Vec::with_capacity(claimed_capacity(count));
            for _ in 0..count {
                missing.push(hash_body("HASH", reader.read_string("HASH").await?)?);
            }
            Ok(Reply::Missing(missing))
        }
        (other, _) => Err(ProtocolError::WrongToken {
            expected: "LIST or MISS",
            got: String::from_utf8_lossy(&other).into_owned(),
        }),
    }
}

/// Sends the contents the server asked for, in its order. A hash that names none of the
/// tree's files is a protocol error (the server is confused or lying).
pub fn write_contents<W: AsyncWrite + Unpin>(
    writer: &mut TokenWriter<W>,
    entries: &[OutgoingEntry],
    missing: &[ContentHash],
) -> Result<(), ProtocolError> {
    for wanted in missing {
        let packed = entries
            .iter()
            .find_map(|entry| match entry {
                OutgoingEntry::File { packed, .. } if packed.hash == *wanted => Some(packed),
                _ => None,
            })
            .ok_or_else(|| ProtocolError::WrongToken {
                expected: "a HASH of a file that was sent",
                got: "an unknown HASH".into(),
            })?;
        writer.string(b"FILE", &packed.lzo)?;
    }
    Ok(())
}

/// Reads one asked-for content (`FILE`, LZO-compressed).
pub async fn read_content<R: AsyncRead + Unpin>(
    reader: &mut TokenReader<R>,
) -> Result<Vec<u8>, ProtocolError> {
    reader.read_bulk("FILE", true).await
}

/// A 32-byte hash body, or a length error naming `token`.
pub(super) fn hash_body(token: &'static str, body: Vec<u8>) -> Result<ContentHash, ProtocolError> {
    let len = body.len() as u64;
    body.try_into().map_err(|_| ProtocolError::TooLong {
        token,
        len,
        limit: 32,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree() -> Vec<OutgoingEntry> {
        use crate::protocol::file_tree::TreeEntry;
        [
            TreeEntry::File {
                name: b"/p/a.c".to_vec(),
                content: b"#include \"a.h\"\n".repeat(30),
            },
            TreeEntry::File {
                name: b"/p/a.h".to_vec(),
                content: b"int a;\n".to_vec(),
            },
            TreeEntry::Link {
                name: b"/usr/include".to_vec(),
                target: b"../../usr/include".to_vec(),
            },
        ]
        .iter()
        .map(OutgoingEntry::pack)
        .collect()
    }

    #[tokio::test]
    async fn a_listing_travels_checked_and_only_the_asked_contents_follow() {
        let entries = tree();
        let listing = Listing::of(&entries);
        let mut w = TokenWriter::new(Vec::new());
        write_opening(&mut w, &listing).unwrap();
        write_listing(&mut w, &listing).unwrap();
        w.flush().await.unwrap();
        let bytes = w.into_inner();
        let mut r = TokenReader::new(&bytes[..], Limits::default());
        assert_eq!(r.read_int("NHSH").await.unwrap(), 3);
        let announced = read_listing_hash(&mut r).await.unwrap();
        let (kept, read) = read_listing(&mut r, &announced, 3).await.unwrap();
        assert_eq!(kept, listing.bytes);
        assert_eq!(
            read[1],
            HashedEntry::File {
                name: b"/p/a.h".to_vec(),
                hash: content_hash(b"int a;\n")
            }
        );
        assert!(
            matches!(&read[2], HashedEntry::Link { target, .. } if target == b"../../usr/include")
        );

        // The server lacks a.h only: exactly its content comes back.
        let mut w = TokenWriter::new(Vec::new());
        write_missing(&mut w, &[content_hash(b"int a;\n")])
            .await
            .unwrap();
        let question = w.into_inner();
        let reply = read_reply(&mut TokenReader::new(&question[..], Limits::default()), 2)
            .await
            .unwrap();
        let Reply::Missing(missing) = reply else {
            panic!("{reply:?}")
        };
        let mut w = TokenWriter::new(Vec::new());
        write_contents(&mut w, &entries, &missing).unwrap();
        w.flush().await.unwrap();
        let answer = w.into_inner();
        let mut r = TokenReader::new(&answer[..], Limits::default());
        assert_eq!(read_content(&mut r).await.unwrap(), b"int a;\n");
        assert!(r.read_any().await.is_err(), "nothing more was sent");
    }

    #[tokio::test]
    async fn a_listing_that_does_not_match_its_hash_or_count_is_refused() {
        let listing = Listing::of(&tree());
        let mut w = TokenWriter::new(Vec::new());
        write_listing(&mut w, &listing).unwrap();
        w.flush().await.unwrap();
        let bytes = w.into_inner();
        let wrong = content_hash(b"another listing");
        let mut r = TokenReader::new(&bytes[..], Limits::default());
        assert!(read_listing(&mut r, &wrong, 3).await.is_err());
        assert!(
            parse_listing(&listing.bytes, 2, Limits::default())
                .await
                .is_err()
        );
        assert!(
            parse_listing(&listing.bytes, 4, Limits::default())
                .await
                .is_err()
        );
    }

    #[tokio::test]
    async fn a_server_asking_for_an_unknown_hash_or_too_many_is_an_error() {
        let entries = tree();
        let mut w = TokenWriter::new(Vec::new());
        assert!(write_contents(&mut w, &entries, &[[7u8; 32]]).is_err());
        let mut w = TokenWriter::new(Vec::new());
        write_missing(&mut w, &[[1u8; 32], [2u8; 32], [3u8; 32]])
            .await
            .unwrap();
        let bytes = w.into_inner();
        assert!(
            read_reply(&mut TokenReader::new(&bytes[..], Limits::default()), 2)
                .await
                .is_err()
        );
    }
}
