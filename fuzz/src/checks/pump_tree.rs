//! The server taking a protocol-3 tree into a job root: `NFIL` with `NAME`/`FILE`/`LINK`
//! entries, or distfarm's hashed tree (`NHSH`, `LSTH`, the `LIST`/`HLST` exchange, `MISS`
//! and the asked-for `FILE`s) against a header store, sent twice so that the second time
//! comes from the store. Whatever the names and link targets: nothing is created outside
//! `<job>/root`, and every link in the root leads into it or is distcc's link to the same
//! system directory.

use std::path::{Component, Path, PathBuf};

use arbitrary::Arbitrary;
use distfarm::protocol::TokenWriter;
use distfarm::protocol::file_tree::{self, TreeEntry};
use distfarm::protocol::hashed_tree::{self, Listing};
use distfarm::protocol::packed_tree::OutgoingEntry;
use distfarm::server::header_store::HeaderStore;
use distfarm::server::pump_request::read_tree;
use distfarm::server::sandbox::is_system_path;

use super::memory::bounded;
use super::wire::{Body, Corruption, block_on, corrupt, encode, reader};
use super::{Word, structured};

const COMPONENTS: &[&str] = &[
    "usr", "include", "..", ".", "", "a", "b", "root", "job", "x.h", "tmp", "etc", "lib", "p",
];
const TARGETS: &[&str] = &[
    "../../usr/include",
    "../usr/include",
    "/usr/include",
    "..",
    "../..",
    "a",
    "/",
    "../../../etc/passwd",
    "../root",
    "./a/../../b",
    "../../usr/lib",
    "",
];

#[derive(Arbitrary, Debug)]
pub struct Name {
    pub relative: bool,
    pub parts: Vec<Word>,
}

impl Name {
    pub fn bytes(&self) -> Vec<u8> {
        let parts: Vec<&str> = self.parts.iter().map(|w| w.pick(COMPONENTS)).collect();
        let joined = parts.join("/");
        if self.relative {
            joined
        } else {
            format!("/{joined}")
        }
        .into_bytes()
    }
}

#[derive(Arbitrary, Debug)]
pub enum Entry {
    File {
        name: Name,
        content: Body,
    },
    Link {
        name: Name,
        target: Word,
        built: Option<Name>,
    },
}

impl Entry {
    fn tree_entry(&self) -> TreeEntry {
        match self {
            Entry::File { name, content } => TreeEntry::File {
                name: name.bytes(),
                content: content.bytes(),
            },
            Entry::Link {
                name,
                target,
                built,
            } => TreeEntry::Link {
                name: name.bytes(),
                target: match built {
                    Some(built) => built.bytes(),
                    None => target.pick(TARGETS).as_bytes().to_vec(),
                },
            },
        }
    }
}

#[derive(Arbitrary, Debug)]
pub struct Input {
    pub cwd: Name,
    pub entries: Vec<Entry>,
    /// distfarm's hashed tree instead of `NFIL`.
    pub hashed: bool,
    /// Hashed only: the same tree again, its listing and contents then in the store.
    pub twice: bool,
    pub corruptions: Vec<Corruption>,
}

pub fn fuzz(bytes: &[u8]) {
    structured(bytes, check);
}

pub fn check(input: Input) {
    let tree: Vec<TreeEntry> = input.entries.iter().map(Entry::tree_entry).collect();
    let store = HeaderStore::new(1 << 24);
    let cwd = input.cwd.bytes();
    let rounds = if input.hashed && input.twice { 2 } else { 1 };
    for round in 0..rounds {
        let sent = if input.hashed {
            hashed_bytes(&tree, round == 0)
        } else {
            encode(|w| file_tree::write_tree(w, &tree))
        };
        let sent = corrupt(sent, &input.corruptions);
        let dir = scratch_dir();
        let job = dir.path().join("job");
        std::fs::create_dir(&job).expect("the job directory");
        let mut answers = TokenWriter::new(Vec::new());
        let got = bounded("pump tree", sent.len(), || {
            block_on(read_tree(
                &mut reader(&sent),
                &mut answers,
                &cwd,
                &job,
                input.hashed.then_some(&store),
                None,
            ))
        });
        drop(got);
        check_confined(dir.path(), &job.join("root"));
    }
}

/// A fresh directory per run: in memory where there is a tmpfs (creating and removing
/// thousands of directories on ext4 is most of the time otherwise).
fn scratch_dir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("distfarm-fuzz-")
        .tempdir_in("/dev/shm")
        .or_else(|_| tempfile::tempdir())
        .expect("a temporary directory")
}

/// What a client sends for the hashed tree when the server's store is empty (`first`: it
/// asks for the listing and every distinct content, in the order files appear) or already
/// holds everything (it answers `MISS 0` at once).
fn hashed_bytes(tree: &[TreeEntry], first: bool) -> Vec<u8> {
    let outgoing: Vec<OutgoingEntry> = tree.iter().map(OutgoingEntry::pack).collect();
    let listing = Listing::of(&outgoing);
    let mut missing = Vec::new();
    for entry in &outgoing {
        if let OutgoingEntry::File { packed, .. } = entry
            && !missing.contains(&packed.hash)
        {
            missing.push(packed.hash);
        }
    }
    encode(|w| {
        hashed_tree::write_opening(w, &listing)?;
        if first {
            hashed_tree::write_listing(w, &listing)?;
            hashed_tree::write_contents(w, &outgoing, &missing)?;
        }
        Ok::<(), distfarm::protocol::ProtocolError>(())
    })
}

/// Nothing but `<dir>/job` and what lies below `root`; every link stays in the root or is
/// the system-directory link.
fn check_confined(dir: &Path, root: &Path) {
    let root = root.canonicalize().unwrap_or_else(|_| root.to_path_buf());
    let dir = dir.canonicalize().expect("the temporary directory");
    let mut pending = vec![dir.clone()];
    while let Some(here) = pending.pop() {
        for entry in std::fs::read_dir(&here).expect("readable") {
            let path = entry.expect("an entry").path();
            let meta = std::fs::symlink_metadata(&path).expect("metadata");
            let allowed = path == dir.join("job") || path.starts_with(&root);
            assert!(
                allowed,
                "{} was created outside the job's root",
                path.display()
            );
            if meta.is_symlink() {
                check_link(&path, &root);
            } else if meta.is_dir() {
                pending.push(path);
            }
        }
    }
}

fn check_link(link: &Path, root: &Path) {
    // What the kernel makes of it (through every link on the way), when it leads anywhere.
    if let Ok(real) = link.canonicalize() {
        assert!(
            real.starts_with(root) || is_system_path(&real),
            "the link {} leads to {}",
            link.display(),
            real.display()
        );
    }
    let target = std::fs::read_link(link).expect("a link");
    let resolved = normalize(&link.parent().expect("in a directory").join(&target));
    if resolved.starts_with(root) {
        return;
    }
    let own_name = Path::new("/").join(link.strip_prefix(root).expect("in the root"));
    assert!(
        is_system_path(&resolved) && resolved == own_name,
        "the link {} -> {} leads out of the job's root (to {})",
        link.display(),
        target.display(),
        resolved.display()
    );
}

/// `..` and `.` removed as text (the links in the root were checked one by one).
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::from("/");
    for c in path.components() {
        match c {
            Component::ParentDir => {
                out.pop();
            }
            Component::Normal(n) => out.push(n),
            _ => {}
        }
    }
    out
}
