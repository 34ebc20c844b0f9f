//! The server reading a request, protocols 1–3: `DIST [CDIR] ARGC ARGV…`, then `DOTI`
//! (plain or LZO) or the protocol-3 file tree (`NFIL`, `NAME`, `FILE`/`LINK`). Well-formed
//! requests come back equal; corrupted ones end in an error, never a panic or an allocation
//! by a claimed length.

use arbitrary::Arbitrary;
use distfarm::protocol::file_tree::{self, TreeEntry};
use distfarm::protocol::request::{read_source, write_source};
use distfarm::protocol::{ProtocolError, RequestHeader, Version};

use super::memory::bounded;
use super::wire::{Body, Corruption, block_on, corrupt, encode, reader};

#[derive(Arbitrary, Debug)]
pub struct Input {
    /// 0–3 are the versions distcc knows (0 is read as 1); anything else is refused.
    pub wire_version: u8,
    pub cwd: Vec<u8>,
    pub argv: Vec<Vec<u8>>,
    pub source: Body,
    pub tree: Vec<Entry>,
    pub corruptions: Vec<Corruption>,
}

#[derive(Arbitrary, Debug)]
pub enum Entry {
    File { name: Vec<u8>, content: Body },
    Link { name: Vec<u8>, target: Vec<u8> },
}

impl Entry {
    pub fn tree_entry(&self) -> TreeEntry {
        match self {
            Entry::File { name, content } => TreeEntry::File {
                name: name.clone(),
                content: content.bytes(),
            },
            Entry::Link { name, target } => TreeEntry::Link {
                name: name.clone(),
                target: target.clone(),
            },
        }
    }
}

/// What the server read: the header, then the source or the tree.
#[derive(Debug, PartialEq, Eq)]
struct Read {
    header: RequestHeader,
    source: Option<Vec<u8>>,
    tree: Option<Vec<TreeEntry>>,
}

async fn read(bytes: &[u8]) -> Result<Read, ProtocolError> {
    let mut r = reader(bytes);
    let header = RequestHeader::read(&mut r).await?;
    if header.version == Version::V3 {
        let count = file_tree::read_count(&mut r).await?;
        let mut tree = Vec::new();
        for _ in 0..count {
            tree.push(file_tree::read_entry(&mut r).await?);
        }
        return Ok(Read {
            header,
            source: None,
            tree: Some(tree),
        });
    }
    let source = read_source(&mut r, header.version).await?;
    Ok(Read {
        header,
        source: Some(source),
        tree: None,
    })
}

pub fn fuzz(bytes: &[u8]) {
    super::structured(bytes, check);
}

pub fn check(input: Input) {
    let wire_version = input.wire_version as u32 % 5; // 4: an unknown version
    let version = Version::from_wire(wire_version).unwrap_or(Version::V1);
    let header = RequestHeader {
        version,
        wire_version,
        cwd: (version == Version::V3).then(|| input.cwd.clone()),
        argv: input.argv.clone(),
    };
    let source = input.source.bytes();
    let tree: Vec<TreeEntry> = input.tree.iter().map(Entry::tree_entry).collect();
    let bytes = encode(|w| {
        header.write(w)?;
        match version {
            Version::V3 => file_tree::write_tree(w, &tree),
            _ => write_source(w, version, &source),
        }
    });
    let sent = corrupt(bytes, &input.corruptions);
    let got = bounded("request", sent.len(), || block_on(read(&sent)));
    if !input.corruptions.is_empty() {
        return;
    }
    if wire_version == 4 {
        assert!(
            matches!(got, Err(ProtocolError::UnsupportedVersion(4))),
            "{got:?}"
        );
        return;
    }
    let v3 = version == Version::V3;
    let expected = Read {
        header,
        source: (!v3).then_some(source),
        tree: v3.then_some(tree),
    };
    assert_eq!(got.expect("a well-formed request reads back"), expected);
}
