//! What the scanner remembers between jobs (it lives in the long-running agent):
//!
//! * per file, its parsed directives, keyed by (device, inode) and checked against size,
//!   mtime and ctime on every use — a stat, never a re-read of an unchanged file;
//! * per `(real directory, name)`, where the name resolves: found entries carry the stamps of
//!   the directories whose entries the resolution read, and are resolved again when one of
//!   them changed (a header or directory replaced by a symlink, a link retargeted, a new file
//!   renamed over the old); missing ones carry the mtime of the deepest directory reached and
//!   are looked up again when it changes, so a header generated mid-build is seen. A job stats
//!   each directory once, so checking costs a few stats per job, not one per header.
//!
//! Timestamps have a granularity (a clock tick, a second on some file systems): an entry taken
//! within [`RACY`] of its file's or directory's mtime is not trusted — the same change could
//! still land within the same tick — and is checked again next time (git's "racy" rule).
//!
//! Both maps are read-mostly behind `RwLock`s; the caches are bounded by emptying them when
//! they grow past a size no real build reaches.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hash};
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use super::directives::{self, Directives};
use super::path_key::{PathKey, bytes_of};
use super::resolve::Resolved;

/// How close to a timestamp an observation must not be to be trusted.
pub const RACY: Duration = Duration::from_millis(50);

const MAX_FILES: usize = 500_000;
const MAX_LOOKUPS: usize = 2_000_000;

pub type FastMap<K, V> = HashMap<K, V, BuildHasherDefault<rustc_hash::FxHasher>>;
/// A map by a name's bytes (looked up with a borrowed `&[u8]`).
pub type ByName<V> = FastMap<Box<[u8]>, V>;

/// A file's or directory's identity and change time, as compared between uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stamp {
    dev: u64,
    ino: u64,
    size: u64,
    mtime: (i64, i64),
    ctime: (i64, i64),
}

impl Stamp {
    pub fn of(meta: &std::fs::Metadata) -> Stamp {
        Stamp {
            dev: meta.dev(),
            ino: meta.ino(),
            size: meta.size(),
            mtime: (meta.mtime(), meta.mtime_nsec()),
            ctime: (meta.ctime(), meta.ctime_nsec()),
        }
    }

    pub fn size(&self) -> u64 {
        self.size
    }

    /// Whether `now` is far enough past both timestamps that a later change must show.
    pub fn settled(&self, now: SystemTime) -> bool {
        let latest = self.mtime.max(self.ctime);
        let at = if latest.0 >= 0 {
            SystemTime::UNIX_EPOCH + Duration::new(latest.0 as u64, latest.1 as u32)
        } else {
            SystemTime::UNIX_EPOCH
        };
        now.duration_since(at).is_ok_and(|d| d > RACY)
    }
}

/// Locks that let one of several concurrent jobs read a missing entry while the others wait
/// for it, instead of each reading and parsing (or packing) the same file: a build's first
/// jobs start together and share most of their headers. Striped by key, so jobs missing
/// different files rarely wait for each other.
#[derive(Default)]
pub struct MissLocks([std::sync::Mutex<()>; 16]);

impl MissLocks {
    /// What `cached` finds for `key`, or — when it finds nothing — the right to load it: a
    /// guard, held while loading, that other jobs missing the same key wait on before they
    /// look in the cache again.
    pub fn cached_or_lock<T>(
        &self,
        key: &impl Hash,
        cached: impl Fn() -> Option<T>,
    ) -> Result<T, std::sync::MutexGuard<'_, ()>> {
        if let Some(hit) = cached() {
            return Ok(hit);
        }
        use std::hash::BuildHasher;
        let stripe = BuildHasherDefault::<rustc_hash::FxHasher>::default().hash_one(key) as usize
            % self.0.len();
        // Guards no data: a panic elsewhere leaves nothing inconsistent.
        let guard = self.0[stripe].lock().unwrap_or_else(|e| e.into_inner());
        // Another job may have loaded it while we waited.
        cached().ok_or(guard)
    }
}

struct FileEntry {
    stamp: Stamp,
    trusted: bool,
    directives: Arc<Directives>,
}

#[derive(Default)]
pub struct FileCache {
    map: RwLock<FastMap<(u64, u64), FileEntry>>,
    misses: MissLocks,
}

impl FileCache {
    /// The directives of the file at `path` (a real path), parsed again only if it changed,
    /// with the stamp the file had when they were checked.
    pub fn directives(&self, path: &Path) -> std::io::Result<(Arc<Directives>, Stamp)> {
        let meta = std::fs::metadata(path)?;
        let stamp = Stamp::of(&meta);
        let key = (stamp.dev, stamp.ino);
        let cached = || {
            read(&self.map)
                .get(&key)
                .filter(|entry| entry.trusted && entry.stamp == stamp)
                .map(|entry| (entry.directives.clone(), stamp))
        };
        let _reading = match self.misses.cached_or_lock(&key, cached) {
            Ok(hit) => return Ok(hit),
            Err(reading) => reading,
        };
        let bytes = std::fs::read(path)?;
        let directives = Arc::new(directives::parse(&bytes));
        let trusted = bytes.len() as u64 == stamp.size && stamp.settled(SystemTime::now());
        let mut map = write(&self.map);
        if map.len() >= MAX_FILES {
            map.clear();
        }
        map.insert(
            key,
            FileEntry {
                stamp,
                trusted,
                directives: directives.clone(),
            },
        );
        Ok((directives, stamp))
    }
}

/// A cached resolution.
#[derive(Clone)]
pub enum Lookup {
    Found {
        res: Arc<Resolved>,
        /// The stamps of `res.looked_in`, in that order, as the resolution saw them; `None`:
        /// one was too recent to trust.
        stamps: Option<Arc<[Stamp]>>,
    },
    Missing {
        dir: Arc<Path>,
        /// `None`: too recent to trust; look again.
        stamp: Option<Stamp>,
    },
}

/// Resolutions by real directory, then by the name's bytes: two levels so that a lookup
/// borrows both (no key is built per lookup), and both hashed as bytes ([`PathKey`]).
#[derive(Default)]
pub struct LookupCache {
    map: RwLock<FastMap<PathKey, ByName<Lookup>>>,
    /// Entries across all directories, for the bound.
    len: AtomicUsize,
}

impl LookupCache {
    pub fn get(&self, dir: &Path, name: &Path) -> Option<Lookup> {
        read(&self.map)
            .get(bytes_of(dir))?
            .get(bytes_of(name))
            .cloned()
    }

    pub fn put(&self, dir: &Arc<Path>, name: &Path, lookup: Lookup) {
        let mut map = write(&self.map);
        if self.len.load(Ordering::Relaxed) >= MAX_LOOKUPS {
            map.clear();
            self.len.store(0, Ordering::Relaxed);
        }
        let names = match map.get_mut(bytes_of(dir)) {
            Some(names) => names,
            None => map.entry(PathKey::from(dir.clone())).or_default(),
        };
        if names.insert(bytes_of(name).into(), lookup).is_none() {
            self.len.fetch_add(1, Ordering::Relaxed);
        }
    }

    pub fn forget(&self, dir: &Path, name: &Path) {
        let mut map = write(&self.map);
        if let Some(names) = map.get_mut(bytes_of(dir))
            && names.remove(bytes_of(name)).is_some()
        {
            self.len.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

/// The stamp of a file or directory whose lookup result is about to be stored: `None` when it
/// is too recent to trust, or cannot be read.
pub fn settled_stamp(path: &Path) -> Option<Stamp> {
    let meta = std::fs::metadata(path).ok()?;
    let stamp = Stamp::of(&meta);
    stamp.settled(SystemTime::now()).then_some(stamp)
}

fn read<K: Hash + Eq, V>(
    lock: &RwLock<FastMap<K, V>>,
) -> std::sync::RwLockReadGuard<'_, FastMap<K, V>> {
    // A panic while holding the lock leaves a map that is still consistent (every write is
    // one insert or clear), so a poisoned lock is used as is.
    lock.read().unwrap_or_else(|e| e.into_inner())
}

fn write<K: Hash + Eq, V>(
    lock: &RwLock<FastMap<K, V>>,
) -> std::sync::RwLockWriteGuard<'_, FastMap<K, V>> {
    lock.write().unwrap_or_else(|e| e.into_inner())
}
