//! The compiler's own headers, taken as unchanged while inotify reports nothing.
//!
//! Most of what a warm scan stats are headers under the compiler's default directories
//! (`<stdio.h>`'s dozens of `bits/` headers, the forty `*intrin.h` that `<x86intrin.h>`
//! pulls in): each job stats each of them to check its cached directives, and on a virtual
//! machine a stat is several microseconds. Those headers are never shipped and change only
//! when a package is upgraded. So each one the scanner has read is watched — the file, its
//! directory and every directory above it — and while no event arrived its directives come
//! from memory without a stat. Any event on any watch (a file written, its attributes
//! changed, an entry created, deleted or renamed anywhere on the way) forgets them all, and
//! which paths are watched too (a path may now name another inode); they are checked by stat
//! again, as before. The racy-timestamp rule of [`super::cache`] is not needed here: a write
//! after the watches were placed is an event.
//!
//! Why that is enough: the kernel queues an event before the syscall that made the change
//! returns, and every scan reads the queue before it starts ([`WatchedHeaders::refresh`]), so
//! a change finished before a scan starts is seen by it. Watches are placed before the stat
//! whose answer is kept, and an answer is not kept if events arrived in between. Watching the
//! file itself covers a write through another hard link; watching every directory up to `/`
//! covers a directory on the way renamed or replaced. A full queue (`IN_Q_OVERFLOW`) forgets
//! everything too. Where inotify cannot be had (no instances left, a watch limit), every
//! header is stat'ed as before.

use std::collections::HashSet;
use std::hash::BuildHasherDefault;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use nix::sys::inotify::{AddWatchFlags, InitFlags, Inotify};

use super::cache::{FastMap, FileCache, Stamp};
use super::directives::Directives;
use super::path_key::{PathKey, bytes_of};

/// At most this many watches: a large C++ build reads a few thousand system headers.
const MAX_WATCHES: usize = 8192;

/// What a change to a watched header looks like.
const FILE_EVENTS: AddWatchFlags = AddWatchFlags::IN_MODIFY
    .union(AddWatchFlags::IN_ATTRIB)
    .union(AddWatchFlags::IN_CLOSE_WRITE)
    .union(AddWatchFlags::IN_MOVE_SELF)
    .union(AddWatchFlags::IN_DELETE_SELF);
/// What a change to a directory on a header's path looks like (and, for its own directory,
/// to any file in it).
const DIR_EVENTS: AddWatchFlags = FILE_EVENTS
    .union(AddWatchFlags::IN_CREATE)
    .union(AddWatchFlags::IN_DELETE)
    .union(AddWatchFlags::IN_MOVED_FROM)
    .union(AddWatchFlags::IN_MOVED_TO)
    .union(AddWatchFlags::IN_ONLYDIR);

type FastSet<T> = HashSet<T, BuildHasherDefault<rustc_hash::FxHasher>>;

pub struct WatchedHeaders {
    inotify: Option<Inotify>,
    state: RwLock<State>,
}

#[derive(Default)]
struct State {
    /// Counts the events read: an answer taken before an event is not kept after it.
    generation: u64,
    /// Headers unchanged since their last stat, by real path.
    files: FastMap<PathKey, (Arc<Directives>, Stamp)>,
    /// Paths under watch (files and directories).
    watched: FastSet<PathKey>,
}

impl Default for WatchedHeaders {
    fn default() -> Self {
        let inotify = Inotify::init(InitFlags::IN_NONBLOCK | InitFlags::IN_CLOEXEC)
            .inspect_err(|e| tracing::debug!("scanner: no inotify ({e}); stat every header"))
            .ok();
        WatchedHeaders {
            inotify,
            state: RwLock::default(),
        }
    }
}

impl WatchedHeaders {
    /// Nothing watched, every header stat'ed: for a scanner that scans once.
    pub fn unwatched() -> WatchedHeaders {
        WatchedHeaders {
            inotify: None,
            state: RwLock::default(),
        }
    }

    /// Reads the events queued since the last call; any at all forgets every header. Called
    /// when a scan starts.
    pub fn refresh(&self) {
        let Some(inotify) = &self.inotify else {
            return;
        };
        let mut changed = false;
        // Until the queue is empty (EAGAIN) or unreadable.
        while let Ok(events) = inotify.read_events() {
            if events.is_empty() {
                break;
            }
            changed = true;
        }
        if changed {
            let mut state = self.write();
            state.generation += 1;
            state.files.clear();
            // A path may now name another inode, which has no watch yet.
            state.watched.clear();
        }
    }

    /// The directives of the compiler's header at `path` (a real path), from memory while its
    /// watches are quiet, else from `files` (which stats it) and then kept.
    pub fn directives(
        &self,
        path: &Arc<Path>,
        files: &FileCache,
    ) -> std::io::Result<(Arc<Directives>, Stamp)> {
        if let Some(hit) = self.read().files.get(bytes_of(path)) {
            return Ok(hit.clone());
        }
        let watching = self.watch(path);
        let (directives, stamp) = files.directives(path)?;
        if let Some(generation) = watching {
            self.keep(path, generation, &directives, stamp);
        }
        Ok((directives, stamp))
    }

    /// Keeps what was read of `path` after its watches were in place at `generation`,
    /// unless events were read since (the answer may be older than they are).
    fn keep(&self, path: &Arc<Path>, generation: u64, directives: &Arc<Directives>, stamp: Stamp) {
        let mut state = self.write();
        if state.generation == generation {
            state
                .files
                .insert(path.clone().into(), (directives.clone(), stamp));
        }
    }

    /// Puts `path`, its directory and every directory above under watch; the generation
    /// before any of it was looked at, or `None` when something could not be watched.
    fn watch(&self, path: &Path) -> Option<u64> {
        let inotify = self.inotify.as_ref()?;
        let generation = self.read().generation;
        let mut wanted: Vec<(PathBuf, AddWatchFlags)> = vec![(path.to_path_buf(), FILE_EVENTS)];
        wanted.extend(
            path.ancestors()
                .skip(1)
                .map(|d| (d.to_path_buf(), DIR_EVENTS)),
        );
        for (at, events) in wanted {
            if self.read().watched.contains(bytes_of(&at)) {
                continue;
            }
            let mut state = self.write();
            if state.watched.len() >= MAX_WATCHES || inotify.add_watch(&at, events).is_err() {
                return None;
            }
            state.watched.insert(PathKey::from(at.as_path()));
        }
        Some(generation)
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, State> {
        // Every change under the lock is one insert, clear or increment: a panic elsewhere
        // leaves the state consistent.
        self.state.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, State> {
        self.state.write().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A header in `dir`, read once through a fresh `WatchedHeaders`, so that it is kept.
    fn kept(dir: &Path, text: &str) -> (WatchedHeaders, FileCache, Arc<Path>) {
        let path: Arc<Path> = dir.join("h.h").into();
        std::fs::write(&path, text).unwrap();
        let (watched, files) = (WatchedHeaders::default(), FileCache::default());
        watched.directives(&path, &files).unwrap();
        assert!(watched.is_kept(&path), "a header read is kept");
        (watched, files, path)
    }

    impl WatchedHeaders {
        fn is_kept(&self, path: &Path) -> bool {
            self.read().files.contains_key(bytes_of(path))
        }
    }

    /// How many includes a scan starting now finds in `path`.
    fn includes(watched: &WatchedHeaders, files: &FileCache, path: &Arc<Path>) -> usize {
        watched.refresh();
        watched.directives(path, files).unwrap().0.includes.len()
    }

    #[test]
    fn a_kept_header_is_answered_without_reading_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let (watched, files, path) = kept(dir.path(), "#include <a.h>\n");
        // Only what is kept can answer: the file itself says one include.
        watched.write().files.get_mut(bytes_of(&path)).unwrap().0 =
            Arc::new(super::super::directives::parse(b""));
        assert_eq!(
            watched.directives(&path, &files).unwrap().0.includes.len(),
            0
        );
    }

    #[test]
    fn a_header_written_in_place_is_read_again() {
        let dir = tempfile::tempdir().unwrap();
        let (watched, files, path) = kept(dir.path(), "#include <a.h>\n");
        std::fs::write(&*path, "#include <a.h>\n#include <b.h>\n").unwrap();
        assert_eq!(includes(&watched, &files, &path), 2);
    }

    #[test]
    fn a_header_written_through_another_hard_link_is_read_again() {
        let dir = tempfile::tempdir().unwrap();
        let (watched, files, path) = kept(dir.path(), "#include <a.h>\n");
        let elsewhere = tempfile::tempdir_in(dir.path()).unwrap();
        let link = elsewhere.path().join("other.h");
        std::fs::hard_link(&*path, &link).unwrap();
        watched.refresh();
        std::fs::write(&link, "#include <a.h>\n#include <b.h>\n#include <c.h>\n").unwrap();
        assert_eq!(includes(&watched, &files, &path), 3);
    }

    #[test]
    fn a_header_replaced_by_rename_is_read_again() {
        let dir = tempfile::tempdir().unwrap();
        let (watched, files, path) = kept(dir.path(), "#include <a.h>\n");
        let new = dir.path().join("h.h.new");
        std::fs::write(&new, "").unwrap();
        std::fs::rename(&new, &*path).unwrap();
        assert_eq!(includes(&watched, &files, &path), 0);
    }

    #[test]
    fn a_directory_on_the_way_replaced_is_read_again_and_watched_again() {
        let dir = tempfile::tempdir().unwrap();
        let sub = dir.path().join("sub");
        std::fs::create_dir(&sub).unwrap();
        let (watched, files, path) = kept(&sub, "#include <a.h>\n");
        std::fs::rename(&sub, dir.path().join("old")).unwrap();
        std::fs::create_dir(&sub).unwrap();
        std::fs::write(sub.join("h.h"), "").unwrap();
        assert_eq!(includes(&watched, &files, &path), 0);
        // The new directory is watched in turn.
        std::fs::write(sub.join("h.h"), "#include <a.h>\n").unwrap();
        assert_eq!(includes(&watched, &files, &path), 1);
    }

    #[test]
    fn an_answer_older_than_the_events_read_since_is_not_kept() {
        let dir = tempfile::tempdir().unwrap();
        let path: Arc<Path> = dir.path().join("h.h").into();
        std::fs::write(&path, "#include <a.h>\n").unwrap();
        let (watched, files) = (WatchedHeaders::default(), FileCache::default());
        let generation = watched.watch(&path).unwrap();
        let (old, stamp) = files.directives(&path).unwrap();
        std::fs::write(&*path, "").unwrap();
        // Another scan starts and reads the event before this one keeps its answer.
        watched.refresh();
        watched.keep(&path, generation, &old, stamp);
        assert!(!watched.is_kept(&path));
        assert_eq!(includes(&watched, &files, &path), 0);
    }

    #[test]
    fn an_unwatched_one_reads_every_time_and_keeps_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path: Arc<Path> = dir.path().join("h.h").into();
        std::fs::write(&path, "#include <a.h>\n").unwrap();
        let (watched, files) = (WatchedHeaders::unwatched(), FileCache::default());
        assert_eq!(includes(&watched, &files, &path), 1);
        assert!(!watched.is_kept(&path));
        std::fs::write(&*path, "").unwrap();
        assert_eq!(includes(&watched, &files, &path), 0);
    }
}
