//! Entries on disk: read (a hit marks the entry used), written to a temporary file and
//! renamed into place (a reader sees a whole entry or none, also in another server process
//! on the same directory), damaged ones removed, and the least recently used evicted when
//! the cache is over its size.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::SystemTime;

use super::counters::CacheCounters;
use super::dir::{TMP, make_private_dir};
use super::entry::{self, Damage};
use super::index::{Index, entry_path};
use super::key::CacheKey;
use super::server_files::{self, Manifest};
use crate::protocol::Response;

pub(super) struct Store {
    inner: Arc<Inner>,
}

struct Inner {
    dir: PathBuf,
    max_bytes: u64,
    counters: Arc<CacheCounters>,
    /// Read from the directory when first needed.
    index: OnceLock<Mutex<Index>>,
}

/// What reading an entry found.
enum Found {
    Answer(Response),
    Missing,
    /// Whole, but a server file it was made with has changed since.
    Stale,
    Damaged(Damage),
    Unreadable(std::io::Error),
}

impl Store {
    pub(super) fn new(dir: PathBuf, max_bytes: u64, counters: Arc<CacheCounters>) -> Store {
        Store {
            inner: Arc::new(Inner {
                dir,
                max_bytes,
                counters,
                index: OnceLock::new(),
            }),
        }
    }

    pub(super) fn dir(&self) -> &Path {
        &self.inner.dir
    }

    pub(super) async fn load_index(&self) {
        let inner = self.inner.clone();
        let _ = tokio::task::spawn_blocking(move || {
            inner.index();
        })
        .await;
    }

    /// The answer stored for `key`, if there is a whole one.
    pub(super) async fn read(&self, key: &CacheKey) -> Option<Response> {
        let inner = self.inner.clone();
        let key = key.clone();
        tokio::task::spawn_blocking(move || inner.read(&key))
            .await
            .ok()
            .flatten()
    }

    /// Stores `response` as the answer for `key`, then evicts what no longer fits.
    pub(super) async fn write(&self, key: &CacheKey, response: &Response, server_files: &Manifest) {
        let inner = self.inner.clone();
        let key = key.clone();
        let bytes = entry::encode(key.bytes(), response, server_files);
        let _ = tokio::task::spawn_blocking(move || inner.write(&key, &bytes)).await;
    }
}

impl Inner {
    fn index(&self) -> &Mutex<Index> {
        self.index.get_or_init(|| {
            let index = Index::scan(&self.dir);
            self.counters.set_bytes(index.total());
            Mutex::new(index)
        })
    }

    fn read(&self, key: &CacheKey) -> Option<Response> {
        let name = key.name();
        let path = entry_path(&self.dir, &name);
        match read_entry(&path, key) {
            Found::Answer(response) => {
                if let Some(index) = self.index.get() {
                    index.lock().unwrap().touch(&name);
                }
                Some(response)
            }
            Found::Missing => None,
            Found::Stale => {
                tracing::debug!(
                    "cache: {} was made with server files that have changed since",
                    path.display()
                );
                None
            }
            Found::Damaged(damage) => {
                tracing::warn!(
                    "cache: removed the damaged entry {}: {damage}; the job compiles",
                    path.display()
                );
                self.counters.dropped();
                self.forget(&name, &path);
                None
            }
            Found::Unreadable(e) => {
                tracing::warn!(
                    "cache: cannot read the entry {}: {e}; the job compiles",
                    path.display()
                );
                None
            }
        }
    }

    fn write(&self, key: &CacheKey, bytes: &[u8]) {
        let name = key.name();
        let size = bytes.len() as u64;
        if size > self.max_bytes {
            tracing::debug!("cache: an answer of {size} bytes is larger than the whole cache");
            return;
        }
        let path = entry_path(&self.dir, &name);
        if let Err(e) = self.write_file(&path, bytes) {
            tracing::warn!("cache: cannot store {}: {e}", path.display());
            return;
        }
        self.counters.stored();
        let victims = {
            let mut index = self.index().lock().unwrap();
            index.insert(name, size);
            let victims = index.evict_over(self.max_bytes);
            self.counters.set_bytes(index.total());
            victims
        };
        for victim in victims {
            let path = entry_path(&self.dir, &victim);
            match std::fs::remove_file(&path) {
                Ok(()) => self.counters.evicted(),
                // Another server process on this directory got there first.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => tracing::warn!("cache: cannot evict {}: {e}", path.display()),
            }
        }
    }

    fn write_file(&self, path: &Path, bytes: &[u8]) -> std::io::Result<()> {
        make_private_dir(path.parent().expect("entries live in a shard"))?;
        let mut temp = tempfile::Builder::new()
            .prefix("entry.")
            .tempfile_in(self.dir.join(TMP))?;
        temp.write_all(bytes)?;
        temp.persist(path).map_err(|e| e.error)?;
        Ok(())
    }

    fn forget(&self, name: &str, path: &Path) {
        if let Err(e) = std::fs::remove_file(path)
            && e.kind() != std::io::ErrorKind::NotFound
        {
            tracing::warn!("cache: cannot remove {}: {e}", path.display());
        }
        if let Some(index) = self.index.get() {
            let mut index = index.lock().unwrap();
            index.remove(name);
            self.counters.set_bytes(index.total());
        }
    }
}

/// Reads and checks the entry at `path`; a whole one is marked as just used.
fn read_entry(path: &Path, key: &CacheKey) -> Found {
    let mut file = match std::fs::File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Found::Missing,
        Err(e) => return Found::Unreadable(e),
    };
    let mut bytes = Vec::new();
    if let Err(e) = file.read_to_end(&mut bytes) {
        return Found::Unreadable(e);
    }
    match entry::decode(&bytes, key.bytes()) {
        Ok(stored) if !server_files::unchanged(&stored.server_files) => Found::Stale,
        Ok(stored) => {
            // The entry's last use, for eviction after a restart. The owner may set it
            // through a read-only descriptor.
            let _ = file.set_modified(SystemTime::now());
            Found::Answer(stored.response)
        }
        Err(damage) => Found::Damaged(damage),
    }
}
