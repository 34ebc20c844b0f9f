//! The headers a session server was sent, and the listings of the trees they came in, by
//! content hash, so that later jobs send only a listing's hash (see `protocol::hashed_tree`). One store per server process:
//! a session server runs as the SSH user, for one connection, so the store is that user's
//! alone. It is bounded in bytes and forgets the least recently used contents first; every
//! content was checked against its hash before it was kept.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use crate::protocol::hashed_tree::ContentHash;

/// The default bound: a large C++ build's headers, many times over.
pub const DEFAULT_BYTES: u64 = 256 << 20;

pub struct HeaderStore {
    limit: u64,
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    contents: HashMap<ContentHash, (Arc<Vec<u8>>, u64)>,
    /// Last use → hash: the oldest first.
    by_use: BTreeMap<u64, ContentHash>,
    clock: u64,
    bytes: u64,
}

impl HeaderStore {
    pub fn new(limit: u64) -> HeaderStore {
        HeaderStore {
            limit,
            inner: Mutex::default(),
        }
    }

    /// The content with this hash, if kept; it becomes the most recently used.
    pub fn get(&self, hash: &ContentHash) -> Option<Arc<Vec<u8>>> {
        let mut inner = self.inner.lock().expect("header store");
        let inner = &mut *inner;
        inner.clock += 1;
        let (content, used) = inner.contents.get_mut(hash)?;
        inner.by_use.remove(used);
        *used = inner.clock;
        inner.by_use.insert(inner.clock, *hash);
        Some(content.clone())
    }

    /// Keeps `content` (already checked to have `hash`), forgetting the least recently used
    /// contents while over the bound. A content larger than the bound is not kept.
    pub fn insert(&self, hash: ContentHash, content: Arc<Vec<u8>>) {
        let size = content.len() as u64;
        if size > self.limit {
            return;
        }
        let mut inner = self.inner.lock().expect("header store");
        let inner = &mut *inner;
        inner.clock += 1;
        if let Some((_, used)) = inner.contents.insert(hash, (content, inner.clock)) {
            inner.by_use.remove(&used);
        } else {
            inner.bytes += size;
        }
        inner.by_use.insert(inner.clock, hash);
        while inner.bytes > self.limit {
            let Some((_, oldest)) = inner.by_use.pop_first() else {
                break;
            };
            if let Some((gone, _)) = inner.contents.remove(&oldest) {
                inner.bytes -= gone.len() as u64;
            }
        }
    }

    pub fn bytes(&self) -> u64 {
        self.inner.lock().expect("header store").bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::hashed_tree::content_hash;

    fn put(store: &HeaderStore, text: &str) -> ContentHash {
        let hash = content_hash(text.as_bytes());
        store.insert(hash, Arc::new(text.as_bytes().to_vec()));
        hash
    }

    #[test]
    fn the_least_recently_used_content_goes_first_when_over_the_bound() {
        let store = HeaderStore::new(10);
        let a = put(&store, "aaaa");
        let b = put(&store, "bbbb");
        assert!(store.get(&a).is_some(), "a is now the most recently used");
        let c = put(&store, "cccc");
        assert!(store.get(&b).is_none(), "b was the least recently used");
        assert_eq!(store.get(&a).unwrap().as_slice(), b"aaaa");
        assert_eq!(store.get(&c).unwrap().as_slice(), b"cccc");
        assert_eq!(store.bytes(), 8);
    }

    #[test]
    fn a_content_over_the_bound_is_not_kept_and_a_second_insert_counts_once() {
        let store = HeaderStore::new(4);
        let big = put(&store, "too large");
        assert!(store.get(&big).is_none());
        put(&store, "abc");
        put(&store, "abc");
        assert_eq!(store.bytes(), 3);
    }
}
