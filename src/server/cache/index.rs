//! Which entries are on disk, how large, and in what order they were last used: the
//! least recently used go first when the cache is over its size. Read from the files at
//! start (their modification times are their last use: a hit sets it), so the order
//! survives restarts.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use super::dir::TMP;

#[derive(Debug, Default)]
pub(super) struct Index {
    /// Entry name → (size, use tick).
    entries: HashMap<String, (u64, u64)>,
    /// Use tick → entry name, oldest first.
    by_use: BTreeMap<u64, String>,
    total: u64,
    next_tick: u64,
}

/// A temporary file this old was left by a process that died while storing.
const STALE_TMP: Duration = Duration::from_secs(3600);

impl Index {
    /// The entries under `root` (`root/xx/<name>`), oldest use first. Leftover temporary
    /// files are removed.
    pub(super) fn scan(root: &Path) -> Index {
        let mut found: Vec<(SystemTime, String, u64)> = Vec::new();
        for shard in read_dir(root) {
            let shard_name = shard.file_name().to_string_lossy().into_owned();
            if shard_name == TMP {
                remove_stale(&shard.path());
                continue;
            }
            if !is_shard(&shard_name) {
                continue;
            }
            for file in read_dir(&shard.path()) {
                let name = file.file_name().to_string_lossy().into_owned();
                let Ok(meta) = file.metadata() else { continue };
                if !meta.is_file() || !is_entry_name(&name) || !name.starts_with(&shard_name) {
                    continue;
                }
                let used = meta.modified().unwrap_or(SystemTime::UNIX_EPOCH);
                found.push((used, name, meta.len()));
            }
        }
        found.sort();
        let mut index = Index::default();
        for (_, name, size) in found {
            index.insert(name, size);
        }
        index
    }

    pub(super) fn total(&self) -> u64 {
        self.total
    }

    /// Adds (or replaces) an entry as the most recently used.
    pub(super) fn insert(&mut self, name: String, size: u64) {
        self.remove(&name);
        let tick = self.next_tick;
        self.next_tick += 1;
        self.total += size;
        self.by_use.insert(tick, name.clone());
        self.entries.insert(name, (size, tick));
    }

    /// Marks an entry as just used.
    pub(super) fn touch(&mut self, name: &str) {
        if let Some(&(size, _)) = self.entries.get(name) {
            self.insert(name.to_string(), size);
        }
    }

    pub(super) fn remove(&mut self, name: &str) {
        if let Some((size, tick)) = self.entries.remove(name) {
            self.by_use.remove(&tick);
            self.total -= size;
        }
    }

    /// Takes out the least recently used entries until the rest fit in `max_bytes`; returns
    /// their names, for the caller to delete.
    pub(super) fn evict_over(&mut self, max_bytes: u64) -> Vec<String> {
        let mut victims = Vec::new();
        while self.total > max_bytes {
            let Some((_, name)) = self.by_use.pop_first() else {
                break;
            };
            if let Some((size, _)) = self.entries.remove(&name) {
                self.total -= size;
            }
            victims.push(name);
        }
        victims
    }
}

/// Where the entry `name` lives under `root`.
pub(super) fn entry_path(root: &Path, name: &str) -> PathBuf {
    root.join(&name[..2]).join(name)
}

fn is_shard(name: &str) -> bool {
    name.len() == 2 && name.bytes().all(|b| b.is_ascii_hexdigit())
}

fn is_entry_name(name: &str) -> bool {
    name.len() == 64 && name.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

fn read_dir(path: &Path) -> impl Iterator<Item = std::fs::DirEntry> {
    std::fs::read_dir(path)
        .into_iter()
        .flatten()
        .filter_map(Result::ok)
}

fn remove_stale(tmp: &Path) {
    let now = SystemTime::now();
    for file in read_dir(tmp) {
        let old = file
            .metadata()
            .and_then(|m| m.modified())
            .is_ok_and(|t| now.duration_since(t).unwrap_or_default() > STALE_TMP);
        if old {
            let _ = std::fs::remove_file(file.path());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_least_recently_used_go_first() {
        let mut index = Index::default();
        index.insert("a".into(), 10);
        index.insert("b".into(), 10);
        index.insert("c".into(), 10);
        index.touch("a");
        assert_eq!(index.evict_over(15), vec!["b".to_string(), "c".to_string()]);
        assert_eq!(index.total(), 10);
        assert!(index.evict_over(10).is_empty());
    }

    #[test]
    fn a_scan_orders_entries_by_their_last_use() {
        let root = tempfile::tempdir().unwrap();
        let names = ["ab".repeat(32), "cd".repeat(32), "ef".repeat(32)];
        let base = SystemTime::now() - Duration::from_secs(100);
        // Used in the order c, a, b.
        for (name, age) in names.iter().zip([20, 30, 10]) {
            let path = entry_path(root.path(), name);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, b"12345").unwrap();
            let file = std::fs::File::options().write(true).open(&path).unwrap();
            file.set_modified(base + Duration::from_secs(age)).unwrap();
        }
        std::fs::write(root.path().join("not-an-entry"), b"x").unwrap();
        let mut index = Index::scan(root.path());
        assert_eq!(index.total(), 15);
        assert_eq!(
            index.evict_over(5),
            vec![names[2].clone(), names[0].clone()]
        );
    }
}
