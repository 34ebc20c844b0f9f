//! A job's key: everything that decides its answer, as bytes (kept whole in the entry and
//! compared there) and their SHA-256 (the entry's file name).
//!
//! What the server runs is what counts, not what the client sent: the server compiles its
//! own `input.i` into its own `output.o` inside a fresh job directory, so the client's file
//! names never reach the compiler (its line markers, inside the source, do). The job
//! directory's random name is replaced by a fixed word; everything else of the command line
//! stays as the server runs it, in order. A pump-mode job adds what the server's command line
//! does not show: the client's working directory, the target its `.d` names, and its files.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use sha2::{Digest, Sha256};

/// Changed whenever what goes into a key changes, so that old entries simply miss.
const KEY_FORMAT: &str = "distfarm result cache key 1";

/// Stands for the job directory in the command line.
const JOB_DIR: &str = "\0JOBDIR\0";
/// Stands for a pump-mode job's root.
const ROOT: &str = "\0ROOT\0";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheKey {
    bytes: Vec<u8>,
    hash: [u8; 32],
}

impl CacheKey {
    fn new(bytes: Vec<u8>) -> CacheKey {
        let hash = Sha256::digest(&bytes).into();
        CacheKey { bytes, hash }
    }

    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    pub fn hash(&self) -> &[u8; 32] {
        &self.hash
    }

    /// The entry's file name: the hash in lowercase hex.
    pub fn name(&self) -> String {
        self.hash.iter().map(|b| format!("{b:02x}")).collect()
    }
}

/// Named, length-prefixed fields: no two different lists of fields give the same bytes.
#[derive(Default)]
pub(super) struct KeyBytes {
    bytes: Vec<u8>,
}

impl KeyBytes {
    pub(super) fn field(&mut self, name: &str, value: &[u8]) -> &mut Self {
        self.bytes.extend_from_slice(name.as_bytes());
        self.bytes.push(0);
        self.bytes
            .extend_from_slice(&(value.len() as u64).to_le_bytes());
        self.bytes.extend_from_slice(value);
        self
    }

    pub(super) fn into_bytes(self) -> Vec<u8> {
        self.bytes
    }
}

/// A plain-mode job: `toolchain` (see `toolchain`), the `PATH` its compiler gets, the
/// arguments after argv[0] as the server runs them in `job_dir`, and the preprocessed source.
pub(super) fn plain(
    toolchain: &[u8],
    child_path: Option<&OsStr>,
    args: &[String],
    job_dir: &Path,
    source: &[u8],
) -> CacheKey {
    let mut key = command(toolchain, child_path, args, &[(job_dir, JOB_DIR)]);
    key.field("source-sha256", &Sha256::digest(source));
    CacheKey::new(key.into_bytes())
}

/// What a pump-mode job sends besides its command line.
pub(super) struct PumpJob<'a> {
    /// The client's working directory (`CDIR`).
    pub(super) cwd: &'a [u8],
    /// The target the answer's `.d` names.
    pub(super) deps_target: &'a str,
    /// The job's root, in the command line as the server runs it.
    pub(super) root: &'a Path,
    /// See `tree_digest`.
    pub(super) tree: [u8; 32],
}

/// A pump-mode job: as `plain`, with the job's root and directory replaced in the command
/// line, and the client's directory, `.d` target and files instead of a source.
pub(super) fn pump(
    toolchain: &[u8],
    child_path: Option<&OsStr>,
    args: &[String],
    job_dir: &Path,
    job: &PumpJob,
) -> CacheKey {
    // The root first: it lies inside the job directory (or is its real path).
    let places = [(job.root, ROOT), (job_dir, JOB_DIR)];
    let mut key = command(toolchain, child_path, args, &places);
    key.field("mode", b"pump")
        .field("cwd", job.cwd)
        .field("deps-target", job.deps_target.as_bytes())
        .field("tree-sha256", &job.tree);
    CacheKey::new(key.into_bytes())
}

fn command(
    toolchain: &[u8],
    child_path: Option<&OsStr>,
    args: &[String],
    places: &[(&Path, &str)],
) -> KeyBytes {
    let mut key = KeyBytes::default();
    key.field("format", KEY_FORMAT.as_bytes())
        .field("distfarm", env!("CARGO_PKG_VERSION").as_bytes())
        .field("toolchain", toolchain)
        .field(
            "PATH",
            child_path.map_or(b"\0unset".as_slice(), |p| p.as_bytes()),
        )
        .field("argc", &(args.len() as u64).to_le_bytes());
    for arg in args {
        let mut arg = arg.clone();
        for (place, word) in places {
            arg = arg.replace(place.to_string_lossy().as_ref(), word);
        }
        key.field("arg", arg.as_bytes());
    }
    key
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(dir: &str, extra: &[&str]) -> Vec<String> {
        let mut args: Vec<String> = extra.iter().map(|s| s.to_string()).collect();
        args.extend([
            "-c".to_string(),
            format!("{dir}/input.i"),
            "-o".to_string(),
            format!("{dir}/output.o"),
        ]);
        args
    }

    fn key(dir: &str, extra: &[&str], source: &[u8]) -> CacheKey {
        plain(
            b"gcc 12",
            Some(OsStr::new("/usr/bin")),
            &args(dir, extra),
            Path::new(dir),
            source,
        )
    }

    #[test]
    fn the_job_directory_does_not_change_the_key() {
        assert_eq!(
            key("/tmp/distfarm_aaaa", &["-O2"], b"int x;"),
            key("/tmp/distfarm_bbbb", &["-O2"], b"int x;")
        );
    }

    #[test]
    fn source_arguments_toolchain_and_path_each_change_the_key() {
        let base = key("/tmp/j", &["-O2"], b"int x;");
        assert_ne!(base, key("/tmp/j", &["-O2"], b"int y;"));
        assert_ne!(base, key("/tmp/j", &["-O3"], b"int x;"));
        assert_ne!(base, key("/tmp/j", &["-O2", "-g"], b"int x;"));
        let other_toolchain = plain(
            b"gcc 13",
            Some(OsStr::new("/usr/bin")),
            &args("/tmp/j", &["-O2"]),
            Path::new("/tmp/j"),
            b"int x;",
        );
        assert_ne!(base, other_toolchain);
        let other_path = plain(
            b"gcc 12",
            Some(OsStr::new("/opt/bin:/usr/bin")),
            &args("/tmp/j", &["-O2"]),
            Path::new("/tmp/j"),
            b"int x;",
        );
        assert_ne!(base, other_path);
    }

    fn pump_key(dir: &str, cwd: &[u8], target: &str, tree: u8) -> CacheKey {
        let root = format!("{dir}/root");
        let args = [
            format!("-ffile-prefix-map={root}="),
            "-c".to_string(),
            format!("{root}/p/main.c"),
            "-o".to_string(),
            format!("{dir}/output.o"),
        ];
        let job = PumpJob {
            cwd,
            deps_target: target,
            root: Path::new(&root),
            tree: [tree; 32],
        };
        pump(b"gcc 12", None, &args, Path::new(dir), &job)
    }

    #[test]
    fn a_pump_key_names_the_directory_target_and_tree_but_not_the_job_directory() {
        let base = pump_key("/tmp/distfarm_a", b"/p", "main.o", 1);
        assert_eq!(base, pump_key("/tmp/distfarm_b", b"/p", "main.o", 1));
        assert_ne!(base, pump_key("/tmp/distfarm_a", b"/q", "main.o", 1));
        assert_ne!(base, pump_key("/tmp/distfarm_a", b"/p", "out/main.o", 1));
        assert_ne!(base, pump_key("/tmp/distfarm_a", b"/p", "main.o", 2));
    }

    #[test]
    fn arguments_cannot_be_shifted_into_one_another() {
        // "-O2" "x" and "-O2x" must differ, as must ["a", ""] and ["", "a"].
        assert_ne!(
            key("/tmp/j", &["-D", "AB"], b""),
            key("/tmp/j", &["-DA", "B"], b"")
        );
        assert_ne!(
            key("/tmp/j", &["a", ""], b""),
            key("/tmp/j", &["", "a"], b"")
        );
    }
}
