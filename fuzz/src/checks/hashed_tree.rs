//! distfarm's hashed tree as its two readers see it: the server parsing a listing (`HLST`:
//! `NAME` then `HASH` or `LINK`, checked against the hash announced in `LSTH`), and the
//! client reading the server's `LIST`/`MISS` question. Listings and questions built by the
//! writers read back equal; corrupted ones are errors.

use arbitrary::Arbitrary;
use distfarm::protocol::file_tree::TreeEntry;
use distfarm::protocol::hashed_tree::{
    self, ContentHash, HashedEntry, Listing, Reply, content_hash,
};
use distfarm::protocol::packed_tree::OutgoingEntry;
use distfarm::protocol::{Limits, TokenWriter};

use super::memory::bounded;
use super::wire::{Body, Corruption, block_on, corrupt, encode, reader};

#[derive(Arbitrary, Debug)]
pub enum Input {
    Listing {
        entries: Vec<super::request::Entry>,
        /// Announce this many entries more (or, negative, fewer) than there are.
        miscount: i8,
        /// Announce the listing under another hash.
        wrong_hash: bool,
        corruptions: Vec<Corruption>,
    },
    Question {
        wants_listing: bool,
        missing: Vec<[u8; 32]>,
        /// How many files the client named: a server may ask for no more.
        files: u8,
        corruptions: Vec<Corruption>,
    },
    /// A listing's bytes as the server keeps them, whatever they are.
    Kept { bytes: Body, entries: u16 },
}

pub fn fuzz(bytes: &[u8]) {
    super::structured(bytes, check);
}

pub fn check(input: Input) {
    match input {
        Input::Listing {
            entries,
            miscount,
            wrong_hash,
            corruptions,
        } => {
            let tree: Vec<TreeEntry> = entries.iter().map(|e| e.tree_entry()).collect();
            let outgoing: Vec<OutgoingEntry> = tree.iter().map(OutgoingEntry::pack).collect();
            let listing = Listing::of(&outgoing);
            let announced_count = (listing.entries as i64 + miscount as i64).max(0) as u32;
            let announced = if wrong_hash {
                content_hash(b"another listing")
            } else {
                listing.hash
            };
            let sent = encode(|w| hashed_tree::write_listing(w, &listing));
            let sent = corrupt(sent, &corruptions);
            let got = bounded("hashed listing", sent.len(), || {
                block_on(hashed_tree::read_listing(
                    &mut reader(&sent),
                    &announced,
                    announced_count,
                ))
            });
            let miscounted = announced_count != listing.entries;
            let well_formed = corruptions.is_empty() && !wrong_hash && !miscounted;
            if !well_formed {
                if wrong_hash || miscounted && corruptions.is_empty() {
                    assert!(got.is_err(), "a listing under the wrong hash or count");
                }
                return;
            }
            let expected: Vec<HashedEntry> = tree
                .iter()
                .map(|e| match e {
                    TreeEntry::File { name, content } => HashedEntry::File {
                        name: name.clone(),
                        hash: content_hash(content),
                    },
                    TreeEntry::Link { name, target } => HashedEntry::Link {
                        name: name.clone(),
                        target: target.clone(),
                    },
                })
                .collect();
            let (kept, parsed) = got.expect("a well-formed listing reads back");
            assert_eq!(kept, listing.bytes);
            assert_eq!(parsed, expected);
        }
        Input::Question {
            wants_listing,
            missing,
            files,
            corruptions,
        } => {
            let missing: Vec<ContentHash> = missing;
            let sent = if wants_listing {
                let mut w = TokenWriter::new(Vec::new());
                block_on(hashed_tree::write_listing_wanted(&mut w)).expect("to memory");
                w.into_inner()
            } else {
                let mut w = TokenWriter::new(Vec::new());
                block_on(hashed_tree::write_missing(&mut w, &missing)).expect("to memory");
                w.into_inner()
            };
            let sent = corrupt(sent, &corruptions);
            let got = bounded("hashed question", sent.len(), || {
                block_on(hashed_tree::read_reply(&mut reader(&sent), files as usize))
            });
            if !corruptions.is_empty() {
                return;
            }
            match (wants_listing, got) {
                (true, got) => assert_eq!(got.expect("LIST reads"), Reply::ListingWanted),
                (false, got) if missing.len() > files as usize => {
                    assert!(got.is_err(), "a server asked for more than it was named")
                }
                (false, got) => assert_eq!(got.expect("MISS reads"), Reply::Missing(missing)),
            }
        }
        Input::Kept { bytes, entries } => {
            let bytes = bytes.bytes();
            let _ = bounded("kept listing", bytes.len(), || {
                block_on(hashed_tree::parse_listing(
                    &bytes,
                    entries.into(),
                    Limits::default(),
                ))
            });
        }
    }
}
