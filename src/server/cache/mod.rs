//! The server's result cache (`distfarm serve --cache DIR`): answers to compiles this server
//! has already run, kept on disk and given again to any client that sends the same job.
//!
//! A job's key is everything that decides its answer (`key`): the compiler's identity and
//! version and the programs it runs (`toolchain`), the command line as the server runs it,
//! and the preprocessed source. An entry (`entry`) holds the key's full bytes and the whole
//! answer under a checksum, so a damaged entry or one for another key is never served. Entries
//! are content-addressed files written atomically (`store`), evicted least recently used
//! (`index`), and two identical jobs arriving together compile once (`in_flight`).
//!
//! A pump-mode job (protocol 3) is preprocessed here, so its answer also depends on the
//! server's own system headers: its entry lists them (`server_files`) and is served only while
//! they are unchanged; and a tree that names `__DATE__` or `__TIME__` is never cached
//! (`tree_digest`). Only successful compiles are kept (their warnings included): a failure is
//! compiled again.

mod counters;
mod dir;
mod entry;
mod file_identity;
mod in_flight;
mod index;
mod key;
mod server_files;
mod store;
mod toolchain;
mod tree_digest;

use std::path::{Path, PathBuf};

pub use counters::CacheCounters;
pub use dir::CacheDirError;
pub use key::CacheKey;
pub use tree_digest::TreeDigest;

use super::arg_rules::PreparedArgs;
use super::settings::ServerSettings;
use crate::protocol::Response;
use in_flight::{Claim, InFlight, LeaderGuard};
use store::Store;
use toolchain::Toolchains;

/// `--cache-size`'s default.
pub const DEFAULT_MAX_BYTES: u64 = 1 << 30;

/// Where the cache lives and how large it may grow, as the server's settings carry it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheSettings {
    pub dir: PathBuf,
    pub max_bytes: u64,
}

/// What a job compiles, for its key.
pub enum JobInput<'a> {
    /// Plain modes: the preprocessed source.
    Preprocessed(&'a [u8]),
    /// Pump mode: the client's directory and the digest of its files.
    Tree { cwd: &'a [u8], digest: [u8; 32] },
}

/// One server's cache, shared by all its connections.
pub struct ResultCache {
    store: Store,
    in_flight: InFlight,
    toolchains: Toolchains,
    counters: std::sync::Arc<CacheCounters>,
}

/// What a lookup found.
pub enum Lookup<'a> {
    /// The answer, as the compile that stored it sent it.
    Hit(Response),
    /// Not there: this job compiles, and identical jobs wait for it until the leader is
    /// dropped (after `Leader::store`, or when the compile came to nothing).
    Miss(Leader<'a>),
}

/// The one job of its key that compiles now.
pub struct Leader<'a> {
    cache: &'a ResultCache,
    key: CacheKey,
    _guard: LeaderGuard<'a>,
}

impl ResultCache {
    /// Opens (or creates, 0700) the cache directory; refuses one that is a symbolic link,
    /// belongs to another user, or is open to other users.
    pub fn open(settings: &CacheSettings) -> Result<ResultCache, CacheDirError> {
        let dir = dir::open(&settings.dir)?;
        let counters = std::sync::Arc::new(CacheCounters::default());
        Ok(ResultCache {
            store: Store::new(dir, settings.max_bytes, counters.clone()),
            in_flight: InFlight::default(),
            toolchains: Toolchains::default(),
            counters,
        })
    }

    pub fn dir(&self) -> &Path {
        self.store.dir()
    }

    /// The counters the statistics page shows.
    pub fn counters(&self) -> std::sync::Arc<CacheCounters> {
        self.counters.clone()
    }

    /// Reads what is on disk ahead of the first store, so that a daemon's first job does not
    /// wait for it (a one-job `--inetd` process only reads it if it stores).
    pub async fn load_index(&self) {
        self.store.load_index().await;
    }

    /// The key of a job, or `None` when the compiler's identity cannot be established (the
    /// job then compiles uncached).
    pub async fn key(
        &self,
        compiler: &Path,
        prepared: &PreparedArgs,
        input: JobInput<'_>,
        job_dir: &Path,
        settings: &ServerSettings,
    ) -> Option<CacheKey> {
        let toolchain = self
            .toolchains
            .identity(compiler, job_dir, settings)
            .await?;
        let child_path = settings.child_path.as_deref();
        Some(match (input, &prepared.pump) {
            (JobInput::Preprocessed(source), None) => {
                key::plain(&toolchain, child_path, &prepared.args, job_dir, source)
            }
            (JobInput::Tree { cwd, digest }, Some(pump)) => {
                let job = key::PumpJob {
                    cwd,
                    deps_target: pump.target(),
                    root: &pump.root,
                    tree: digest,
                };
                key::pump(&toolchain, child_path, &prepared.args, job_dir, &job)
            }
            _ => return None,
        })
    }

    /// The stored answer for `key`; or, when there is none, the right to compile it. A job
    /// whose key is being compiled by another waits for that one's answer first.
    pub async fn lookup(&self, key: CacheKey) -> Lookup<'_> {
        loop {
            if let Some(response) = self.store.read(&key).await {
                self.counters.hit();
                return Lookup::Hit(response);
            }
            match self.in_flight.claim(key.hash()) {
                Claim::Leader(guard) => {
                    // Stored between the read above and the claim?
                    if let Some(response) = self.store.read(&key).await {
                        self.counters.hit();
                        return Lookup::Hit(response);
                    }
                    self.counters.miss();
                    return Lookup::Miss(Leader {
                        cache: self,
                        key,
                        _guard: guard,
                    });
                }
                Claim::Wait(mut done) => {
                    // Err: the leader is gone, whatever became of its job.
                    let _ = done.changed().await;
                }
            }
        }
    }
}

impl Leader<'_> {
    /// Keeps `response` if it is a success (with the server files a pump-mode compile of
    /// `prepared` read); then lets the jobs waiting for it go.
    pub async fn store(
        self,
        response: &Response,
        compiler: &Path,
        prepared: &PreparedArgs,
        job_dir: &Path,
        settings: &ServerSettings,
    ) {
        if !response.succeeded() {
            return;
        }
        let server_files = match prepared.pump {
            None => Vec::new(),
            Some(_) => match server_files::read_by(compiler, prepared, job_dir, settings).await {
                Some(files) => files,
                None => {
                    tracing::debug!(
                        "cache: the headers of {} could not be listed; not kept",
                        prepared.source_name
                    );
                    return;
                }
            },
        };
        self.cache
            .store
            .write(&self.key, response, &server_files)
            .await;
    }
}
