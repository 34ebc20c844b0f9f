//! The part of a version 3 (pump mode) request that plain modes do not have: the client's
//! files, written into a fresh job root as they arrive (so a large tree never sits in
//! memory), with the client's working directory mirrored there. From a distfarm client a
//! session server takes the tree by content hash instead (`NHSH`): the files it has kept
//! come from its header store, and it asks for the rest in one round trip.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use tokio::io::{AsyncRead, AsyncWrite};

use super::cache::TreeDigest;
use super::header_store::HeaderStore;
use super::job_root::JobRoot;
use super::refusal::Refusal;
use crate::protocol::file_tree::{TreeEntry, check_count, read_entry};
use crate::protocol::hashed_tree::{self, ContentHash, HashedEntry};
use crate::protocol::{ProtocolError, TokenReader, TokenWriter};

/// Why a tree was not taken.
pub enum TreeError {
    /// The client broke the protocol or went away.
    Protocol(ProtocolError),
    /// An entry the server will not write (outside the root, through a link, too large).
    Refused(Refusal),
}

impl From<ProtocolError> for TreeError {
    fn from(e: ProtocolError) -> Self {
        TreeError::Protocol(e)
    }
}

/// Reads `NFIL` (or, with a store, `NHSH`) and its entries into a root made in `job_dir`;
/// returns the root and the mirrored working directory, where the compiler will run. Each
/// entry is added to `digest` when there is one (for the result cache's key).
pub async fn read_tree<R: AsyncRead + Unpin, W: AsyncWrite + Unpin>(
    reader: &mut TokenReader<R>,
    writer: &mut TokenWriter<W>,
    cwd: &[u8],
    job_dir: &std::path::Path,
    store: Option<&HeaderStore>,
    mut digest: Option<&mut TreeDigest>,
) -> Result<(JobRoot, PathBuf), TreeError> {
    let limit = reader.limits().max_decompressed;
    let mut root = JobRoot::create(job_dir, limit).map_err(|e| {
        TreeError::Refused(Refusal::new(
            "the job",
            format!("cannot create its root in {}: {e}", job_dir.display()),
        ))
    })?;
    let workdir = root.mirror_dir(cwd).map_err(TreeError::Refused)?;
    let (token, count) = reader.read_any().await?;
    let max_files = reader.limits().max_files;
    match (&token, store) {
        (b"NFIL", _) => {
            check_count("NFIL", count, max_files)?;
            for _ in 0..count {
                let entry = read_entry(reader).await?;
                root.add(&entry).map_err(TreeError::Refused)?;
                if let Some(digest) = digest.as_deref_mut() {
                    digest.add(&entry);
                }
            }
        }
        (b"NHSH", Some(store)) => {
            check_count("NHSH", count, max_files)?;
            read_hashed(reader, writer, count, store, &mut root, digest).await?;
        }
        _ => {
            return Err(TreeError::Protocol(ProtocolError::WrongToken {
                expected: if store.is_some() {
                    "NFIL or NHSH"
                } else {
                    "NFIL"
                },
                got: String::from_utf8_lossy(&token).into_owned(),
            }));
        }
    }
    Ok((root, workdir))
}

/// The hashed tree: the listing (from the store when the client's hash names one it has
/// kept, else asked for), then the contents the store lacks, asked for at once. Entries are
/// written in the client's order once every content is known, so a link and a file meet in
/// the root exactly as they would have in an `NFIL` tree.
async fn read_hashed<R: AsyncRead + Unpin, W: AsyncWrite + Unpin>(
    reader: &mut TokenReader<R>,
    writer: &mut TokenWriter<W>,
    count: u32,
    store: &HeaderStore,
    root: &mut JobRoot,
    mut digest: Option<&mut TreeDigest>,
) -> Result<(), TreeError> {
    let listing_hash = hashed_tree::read_listing_hash(reader).await?;
    let entries = match store.get(&listing_hash) {
        Some(kept) => hashed_tree::parse_listing(&kept, count, *reader.limits()).await?,
        None => {
            hashed_tree::write_listing_wanted(writer).await?;
            let (bytes, entries) = hashed_tree::read_listing(reader, &listing_hash, count).await?;
            store.insert(listing_hash, Arc::new(bytes));
            entries
        }
    };
    // What each file entry's content is, once known.
    let mut known: HashMap<ContentHash, Arc<Vec<u8>>> = HashMap::new();
    // In the client's order; the set only answers "asked for already?" (a list search
    // here made a tree of 100,000 new files cost 10^10 comparisons).
    let mut missing = Vec::new();
    let mut asked = std::collections::HashSet::new();
    for entry in &entries {
        if let HashedEntry::File { hash, .. } = entry
            && !known.contains_key(hash)
            && !asked.contains(hash)
        {
            match store.get(hash) {
                Some(content) => {
                    known.insert(*hash, content);
                }
                None => {
                    asked.insert(*hash);
                    missing.push(*hash);
                }
            }
        }
    }
    hashed_tree::write_missing(writer, &missing).await?;
    for hash in &missing {
        let content = hashed_tree::read_content(reader).await?;
        if hashed_tree::content_hash(&content) != *hash {
            return Err(TreeError::Refused(Refusal::new(
                "a file's content",
                "it does not have the hash it was sent under",
            )));
        }
        let content = Arc::new(content);
        store.insert(*hash, content.clone());
        known.insert(*hash, content);
    }
    tracing::debug!(
        "pump tree: {count} entries, {} contents sent, {} from the store",
        missing.len(),
        known.len() - missing.len()
    );
    for entry in entries {
        let entry = match entry {
            HashedEntry::File { name, hash } => {
                let content = known[&hash].as_ref().clone();
                if let Some(digest) = digest.as_deref_mut() {
                    digest.add_file(&name, &hash, &content);
                }
                TreeEntry::File { name, content }
            }
            HashedEntry::Link { name, target } => {
                if let Some(digest) = digest.as_deref_mut() {
                    digest.add_link(&name, &target);
                }
                TreeEntry::Link { name, target }
            }
        };
        root.add(&entry).map_err(TreeError::Refused)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::Limits;
    use crate::protocol::hashed_tree::{Listing, content_hash};
    use crate::protocol::packed_tree::OutgoingEntry;

    fn tree(header: &[u8]) -> Vec<TreeEntry> {
        vec![
            TreeEntry::File {
                name: b"/p/a.c".to_vec(),
                content: b"#include \"a.h\"\nint x = A;\n".to_vec(),
            },
            TreeEntry::File {
                name: b"/p/a.h".to_vec(),
                content: header.to_vec(),
            },
        ]
    }

    /// What an honest client sends for a hash the server asks for.
    fn contents_of(entries: &[TreeEntry]) -> impl Fn(&ContentHash) -> Vec<u8> + '_ {
        |hash| {
            entries
                .iter()
                .find_map(|e| match e {
                    TreeEntry::File { content, .. } if content_hash(content) == *hash => {
                        Some(content.clone())
                    }
                    _ => None,
                })
                .expect("the server asks only for contents it was named")
        }
    }

    /// A client that answers LIST with the listing and MISS with `contents` (its own, or
    /// lies); returns what the server made of it and the contents it asked for.
    async fn exchange(
        store: &HeaderStore,
        entries: &[TreeEntry],
        contents: impl Fn(&ContentHash) -> Vec<u8>,
    ) -> (Result<std::path::PathBuf, String>, usize) {
        let job_dir = tempfile::tempdir().unwrap();
        let outgoing: Vec<OutgoingEntry> = entries.iter().map(OutgoingEntry::pack).collect();
        let listing = Listing::of(&outgoing);
        let (client, server) = tokio::io::duplex(1 << 20);
        let (client_read, client_write) = tokio::io::split(client);
        let (server_read, server_write) = tokio::io::split(server);
        let mut cw = TokenWriter::new(client_write);
        let mut cr = TokenReader::new(client_read, Limits::default());
        let client = async {
            hashed_tree::write_opening(&mut cw, &listing).unwrap();
            cw.flush().await.unwrap();
            let mut reply = hashed_tree::read_reply(&mut cr, 2).await.unwrap();
            if reply == hashed_tree::Reply::ListingWanted {
                hashed_tree::write_listing(&mut cw, &listing).unwrap();
                cw.flush().await.unwrap();
                reply = hashed_tree::read_reply(&mut cr, 2).await.unwrap();
            }
            let hashed_tree::Reply::Missing(missing) = reply else {
                panic!("LIST twice")
            };
            for hash in &missing {
                cw.bulk(b"FILE", &contents(hash), true).unwrap();
            }
            cw.flush().await.unwrap();
            missing.len()
        };
        let mut sr = TokenReader::new(server_read, Limits::default());
        let mut sw = TokenWriter::new(server_write);
        let server = async {
            let (_, count) = sr.read_any().await.unwrap();
            let mut root = JobRoot::create(job_dir.path(), 1 << 20).unwrap();
            match read_hashed(&mut sr, &mut sw, count, store, &mut root, None).await {
                Ok(()) => Ok(root.path().join("p/a.h")),
                Err(TreeError::Refused(r)) => Err(r.to_string()),
                Err(TreeError::Protocol(e)) => Err(e.to_string()),
            }
        };
        let (asked, made) = tokio::join!(client, server);
        if let Ok(header) = &made {
            assert_eq!(std::fs::read(header).unwrap(), b"#define A 1\n");
        }
        (made, asked)
    }

    #[tokio::test]
    async fn a_second_tree_with_the_same_headers_asks_only_for_what_changed() {
        let entries = tree(b"#define A 1\n");
        let truth = contents_of(&entries);
        let store = HeaderStore::new(1 << 20);
        let (made, asked) = exchange(&store, &entries, &truth).await;
        assert!(made.is_ok(), "{made:?}");
        assert_eq!(asked, 2, "a new store knows nothing");
        let (made, asked) = exchange(&store, &entries, &truth).await;
        assert!(made.is_ok(), "{made:?}");
        assert_eq!(asked, 0, "the same tree again: listing and contents kept");
        // Another source including the same header: only the source's content is new.
        let mut other = entries.clone();
        other[0] = TreeEntry::File {
            name: b"/p/b.c".to_vec(),
            content: b"#include \"a.h\"\nint y = A;\n".to_vec(),
        };
        let (_, asked) = exchange(&store, &other, contents_of(&other)).await;
        assert_eq!(asked, 1, "a.h is known");
    }

    #[tokio::test]
    async fn a_content_that_does_not_match_its_hash_is_refused_and_not_kept() {
        let store = HeaderStore::new(1 << 20);
        let entries = tree(b"#define A 1\n");
        let (made, asked) = exchange(&store, &entries, |_| b"#define A 666\n".to_vec()).await;
        assert_eq!(asked, 2);
        assert!(
            made.as_ref()
                .is_err_and(|e| e.contains("does not have the hash")),
            "{made:?}"
        );
        let lie = content_hash(b"#define A 666\n");
        assert!(store.get(&lie).is_none());
        for entry in &entries {
            if let TreeEntry::File { content, .. } = entry {
                assert!(store.get(&content_hash(content)).is_none());
            }
        }
    }
}
