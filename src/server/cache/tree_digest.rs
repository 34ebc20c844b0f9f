//! A pump-mode job's files, for its key: every entry's name, kind, and content hash or link
//! target, in the order the client sent them (a later entry may replace an earlier one, so
//! the order is part of the tree). Hashed as the entries arrive, since the tree is never
//! held in memory whole.
//!
//! A tree whose files name `__DATE__`, `__TIME__` or `__TIMESTAMP__` is not cached: the
//! server's preprocessor expands them, so the same files give another answer later (as
//! ccache, this looks for the words; a macro that pastes one together is not seen).

use memchr::memmem;
use sha2::{Digest, Sha256};

use crate::protocol::file_tree::TreeEntry;

#[derive(Default)]
pub struct TreeDigest {
    hasher: Sha256,
    reads_clock: bool,
}

impl TreeDigest {
    pub fn add(&mut self, entry: &TreeEntry) {
        match entry {
            TreeEntry::File { name, content } => {
                self.add_file(name, &Sha256::digest(content).into(), content)
            }
            TreeEntry::Link { name, target } => self.add_link(name, target),
        }
    }

    /// A file whose content's SHA-256 is already known (a tree sent by content hash).
    pub fn add_file(&mut self, name: &[u8], content_sha256: &[u8; 32], content: &[u8]) {
        self.field(b"file", name);
        self.field(b"sha256", content_sha256);
        self.reads_clock |= [b"__DATE__".as_slice(), b"__TIME__", b"__TIMESTAMP__"]
            .iter()
            .any(|word| memmem::find(content, word).is_some());
    }

    pub fn add_link(&mut self, name: &[u8], target: &[u8]) {
        self.field(b"link", name);
        self.field(b"target", target);
    }

    /// The tree's hash; `None` when its answer depends on the time of the compile.
    pub fn finish(self) -> Option<[u8; 32]> {
        (!self.reads_clock).then(|| self.hasher.finalize().into())
    }

    fn field(&mut self, name: &[u8], value: &[u8]) {
        self.hasher.update(name);
        self.hasher.update((value.len() as u64).to_le_bytes());
        self.hasher.update(value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(name: &str, content: &str) -> TreeEntry {
        TreeEntry::File {
            name: name.into(),
            content: content.into(),
        }
    }

    fn digest(entries: &[TreeEntry]) -> Option<[u8; 32]> {
        let mut digest = TreeDigest::default();
        entries.iter().for_each(|e| digest.add(e));
        digest.finish()
    }

    #[test]
    fn names_contents_links_and_order_each_change_the_digest() {
        let base = digest(&[file("/p/a.c", "int a;"), file("/p/b.h", "int b;")]);
        assert!(base.is_some());
        for other in [
            vec![file("/p/a.c", "int a;"), file("/p/c.h", "int b;")],
            vec![file("/p/a.c", "int a;"), file("/p/b.h", "int c;")],
            vec![file("/p/b.h", "int b;"), file("/p/a.c", "int a;")],
            vec![
                file("/p/a.c", "int a;"),
                TreeEntry::Link {
                    name: "/p/b.h".into(),
                    target: "int b;".into(),
                },
            ],
        ] {
            assert_ne!(digest(&other), base, "{other:?}");
        }
    }

    /// A tree sent by content hash (distfarm client) keys like the same tree sent whole.
    #[test]
    fn files_given_with_their_hash_digest_as_files_sent_whole() {
        let entries = [file("/p/a.c", "int a;")];
        let mut hashed = TreeDigest::default();
        hashed.add_file(b"/p/a.c", &Sha256::digest(b"int a;").into(), b"int a;");
        assert_eq!(hashed.finish(), digest(&entries));
    }

    #[test]
    fn a_tree_that_reads_the_clock_has_no_digest() {
        for word in ["__DATE__", "__TIME__", "__TIMESTAMP__"] {
            let source = format!("const char *built = {word};");
            assert_eq!(digest(&[file("/p/a.c", &source)]), None, "{word}");
        }
    }
}
