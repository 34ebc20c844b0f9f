//! The include scanner for pump mode (distcc protocol 3): which files a compile may open, so
//! that the client ships them and the server preprocesses. It replaces distcc's Python
//! include server and lives in the agent, so its caches outlive each job.
//!
//! The answer over-approximates, never under-: every `#include`, `#include_next`, `#import`,
//! `#embed` and `__has_include` target in every conditional branch of every file reached,
//! searched the way gcc searches (the including file's directory, `-iquote`, `-I`,
//! `-isystem`, the compiler's default directories, `-idirafter`, with gcc's removal of
//! duplicate directories); `#include_next` takes every later match; computed includes take
//! every expansion the definitions seen allow. Files under the compiler's default
//! directories are followed but not shipped (the server has its own), exactly as distcc does.
//! When the scanner cannot be sure it gives up with a reason, and the job is preprocessed
//! locally instead.
//!
//! Parts: [`command`] reads the command line, [`defaults`] asks the compiler for its own
//! directories, [`directives`] lexes a file, [`macros`] evaluates computed includes,
//! [`resolve`] walks paths as the kernel does, [`cache`] remembers files and lookups across
//! jobs (`watched`: the compiler's own headers without a stat), and `walk` puts one job's
//! closure together.

mod cache;
pub mod command;
pub mod defaults;
pub mod directives;
pub mod macros;
mod path_key;
pub mod resolve;
mod walk;
mod watched;

use std::ffi::{OsStr, OsString};
use std::path::Path;

/// Why a job cannot use the scanner; shown to the user, so it names the file or option.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{reason}")]
pub struct GiveUp {
    pub reason: String,
}

impl GiveUp {
    pub fn new(reason: impl Into<String>) -> GiveUp {
        GiveUp {
            reason: reason.into(),
        }
    }
}

/// What the scan needs from the job's environment (read by the caller, never here).
#[derive(Clone, Debug, Default)]
pub struct ScanEnv {
    /// `PATH`, to find the compiler named by `argv[0]`.
    pub path: Option<OsString>,
    /// The variables that add search directories (`CPATH`, `C_INCLUDE_PATH`,
    /// `CPLUS_INCLUDE_PATH`, `OBJC_INCLUDE_PATH`, `OBJCPLUS_INCLUDE_PATH`) that are set,
    /// with their values. Any non-empty one makes the scanner give up, as distcc does.
    pub search_variables: Vec<(String, OsString)>,
}

/// The scanner's answer is what the agent sends its wrappers: one type for both.
pub use crate::protocol::agent_scan::Closure;
/// The agent's packed files wait for each other's misses the same way.
pub use cache::MissLocks;
/// A file's identity and change times, as the caches compare them (also the agent's packed files).
pub use cache::Stamp;

/// The stamp each of a closure's `files` had when the scan read its directives, in the same
/// order (`None`: not read, e.g. an `#embed` target).
pub type Seen = Vec<Option<Stamp>>;

/// The scanner with its caches. Share one between concurrent jobs (`Arc<Scanner>`).
#[derive(Default)]
pub struct Scanner {
    files: cache::FileCache,
    /// The compiler's own headers, trusted without a stat while inotify is quiet.
    system_headers: watched::WatchedHeaders,
    lookups: cache::LookupCache,
    defaults: defaults::DefaultsCache,
}

impl Scanner {
    pub fn new() -> Scanner {
        Scanner::default()
    }

    /// A scanner for one scan (a wrapper without its agent): it sets up nothing whose use
    /// would only come with a second one (the watches on the compiler's headers).
    pub fn for_one_scan() -> Scanner {
        Scanner {
            files: Default::default(),
            system_headers: watched::WatchedHeaders::unwatched(),
            lookups: Default::default(),
            defaults: Default::default(),
        }
    }

    /// The files a compile may open. `argv` is the compiler command as the wrapper sends it
    /// (`argv[0]` a compiler name or path), `cwd` absolute, `env_path` the job's `PATH`.
    pub fn closure(
        &self,
        cwd: &Path,
        argv: &[String],
        env_path: Option<&OsStr>,
    ) -> Result<Closure, GiveUp> {
        let env = ScanEnv {
            path: env_path.map(OsStr::to_os_string),
            search_variables: Vec::new(),
        };
        self.closure_in(cwd, argv, &env)
    }

    /// [`Scanner::closure`] with the job's whole relevant environment.
    pub fn closure_in(
        &self,
        cwd: &Path,
        argv: &[String],
        env: &ScanEnv,
    ) -> Result<Closure, GiveUp> {
        self.closure_seen(cwd, argv, env)
            .map(|(closure, _)| closure)
    }

    /// [`Scanner::closure_in`], with the stamps the scan saw its files at.
    pub fn closure_seen(
        &self,
        cwd: &Path,
        argv: &[String],
        env: &ScanEnv,
    ) -> Result<(Closure, Seen), GiveUp> {
        if let Some((name, _)) = env.search_variables.iter().find(|(_, v)| !v.is_empty()) {
            return Err(GiveUp::new(format!(
                "{name} is set (it adds include directories the scanner does not model)"
            )));
        }
        if !cwd.is_absolute() {
            return Err(GiveUp::new(format!(
                "the working directory {} is not absolute",
                cwd.display()
            )));
        }
        let argv0 = argv
            .first()
            .ok_or_else(|| GiveUp::new("an empty command"))?;
        let cmd = command::parse(argv, cwd).map_err(GiveUp::new)?;
        self.system_headers.refresh();
        let language = cmd.language.expect("parse sets the language");
        let compiler =
            defaults::find_compiler(argv0, cwd, env.path.as_deref()).map_err(GiveUp::new)?;
        let found = self
            .defaults
            .get(&compiler, language, &cmd.defaults_args, env.path.as_deref())
            .map_err(|e| {
                GiveUp::new(format!(
                    "cannot find the compiler's include directories: {e}"
                ))
            })?;
        walk::closure(self, cwd, &cmd, &found)
    }
}
