//! Which compiler made an object: the version it writes into `.comment` ("GCC: (Debian
//! 12.2.0-14) 12.2.0", "Debian clang version 14.0.6") and the machine in its ELF header.
//!
//! Before the first job for a compiler goes to a host, the wrapper asks that host's
//! compiler who it is: a tiny compile whose object shows its identity ([`claim_probe`],
//! [`PROBE_SOURCE`]). The answer is kept for [`IDENTITY_MEMORY`] per host and compiler in
//! `$DISTCC_DIR/identity/`, so it is asked about once per build session, by one wrapper
//! (the others meanwhile rely on the check below). A host whose compiler is not this
//! machine's is left out for that compiler for a while, with one warning naming both
//! versions and the fix. distcc users learn this from broken binaries.
//!
//! Every object a host sends back carries its identity too, so it is checked again at no
//! cost: an object from a foreign compiler is thrown away and the job goes elsewhere.
//!
//! This machine's identity is what its own compiler writes into an empty object, asked once
//! per compiler file and kept in the same directory. Objects without `.comment`
//! (`-fno-ident`) cannot be checked and are taken as they are.

use std::hash::{Hash, Hasher};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use object::{Object, ObjectSection};

/// How long what a host's compiler is stays known: about one build session (the agent's
/// idle time). A host left out is then tried again (someone may have upgraded it), and one
/// that matched is asked again (someone may have changed it).
pub const IDENTITY_MEMORY: Duration = Duration::from_secs(600);

/// What the identity probe compiles: any object will do, as long as it has `.comment`.
pub const PROBE_SOURCE: &[u8] = b"int distfarm_identity_probe;\n";
/// The probe's file names, as the server sees them.
pub const PROBE_INPUT: &str = "distfarm-identity-probe.i";
const PROBE_OUTPUT: &str = "distfarm-identity-probe.o";

/// A compiler as its objects show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The `.comment` text, e.g. `GCC: (Debian 12.2.0-14) 12.2.0`.
    pub version: String,
    /// ELF class, byte order and machine: `ELF64 LSB x86-64 (62)`.
    pub machine: String,
}

impl Identity {
    /// The identity an object shows, if it is ELF and has a `.comment`.
    pub fn of_object(bytes: &[u8]) -> Option<Identity> {
        let file = object::File::parse(bytes).ok()?;
        let comment = file.section_by_name(".comment")?.data().ok()?;
        let version = comment
            .split(|&b| b == 0)
            .map(|s| String::from_utf8_lossy(s).trim().to_string())
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
            .join("; ");
        if version.is_empty() {
            return None;
        }
        let class = if file.is_64() { "ELF64" } else { "ELF32" };
        let order = if file.is_little_endian() {
            "LSB"
        } else {
            "MSB"
        };
        Some(Identity {
            version,
            machine: format!("{class} {order} {:?}", file.architecture()),
        })
    }

    fn to_text(&self) -> String {
        format!("{}\n{}\n", self.version, self.machine)
    }

    fn from_text(text: &str) -> Option<Identity> {
        let mut lines = text.lines();
        Some(Identity {
            version: lines.next()?.to_string(),
            machine: lines.next()?.to_string(),
        })
    }
}

impl std::fmt::Display for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} for {}", self.version, self.machine)
    }
}

/// The options of a command that decide what kind of object it makes (`-m32`, `-target …`):
/// the local identity is asked with them, so a 32-bit job is compared with a 32-bit object.
pub fn target_options(argv: &[String]) -> Vec<String> {
    let mut options = Vec::new();
    let mut args = argv.iter();
    while let Some(arg) = args.next() {
        let kind = [
            "-m32",
            "-m64",
            "-mx32",
            "-m16",
            "-mbig-endian",
            "-mlittle-endian",
        ];
        if kind.contains(&arg.as_str()) || arg.starts_with("--target=") || arg.starts_with("-mabi=")
        {
            options.push(arg.clone());
        } else if arg == "-target" {
            options.push(arg.clone());
            options.extend(args.next().cloned());
        }
    }
    options
}

/// This machine's compiler's identity for objects of `target` (see [`target_options`]):
/// kept in `cache`, or asked by compiling an empty unit.
/// `safeguard` is the wrapper's `_DISTCC_SAFEGUARD` level: the compiler asked is told, as
/// every compiler the wrapper runs is, so that a link back to distfarm cannot recurse.
pub fn local(
    compiler: &Path,
    target: &[String],
    path: Option<&std::ffi::OsString>,
    safeguard: u32,
    cache: &Path,
) -> Option<Identity> {
    let key = {
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        (file_key(compiler)?, target).hash(&mut hasher);
        hasher.finish()
    };
    let entry = cache.join(format!("local-{key:016x}"));
    if let Some(known) = read_local(&entry) {
        return Some(known);
    }
    // The wrappers a build starts together all find the entry missing: one of them asks the
    // compiler while the others wait for its answer (a compile each otherwise: 30 wrappers
    // starting cold ran 30). Without the lock (no cache directory) each asks for itself.
    let _ = std::fs::create_dir_all(cache);
    let _lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(cache.join(format!("local-{key:016x}.lock")))
        .ok()
        .and_then(|file| nix::fcntl::Flock::lock(file, nix::fcntl::FlockArg::LockExclusive).ok());
    // Whoever held the lock before us has written the answer.
    if let Some(known) = read_local(&entry) {
        return Some(known);
    }
    let identity = ask_local(compiler, target, path, safeguard)?;
    let _ = crate::user_files::write(&entry, identity.to_text().as_bytes());
    Some(identity)
}

fn read_local(entry: &Path) -> Option<Identity> {
    std::fs::read_to_string(entry)
        .ok()
        .and_then(|t| Identity::from_text(&t))
}

/// Compiles an empty unit with `compiler` and reads its object's identity.
fn ask_local(
    compiler: &Path,
    target: &[String],
    path: Option<&std::ffi::OsString>,
    safeguard: u32,
) -> Option<Identity> {
    let dir = tempfile::tempdir().ok()?;
    let object = dir.path().join("empty.o");
    let mut command = std::process::Command::new(compiler);
    command
        .args(target)
        .args(["-c", "-x", "cpp-output", "/dev/null", "-o"])
        .arg(&object)
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .env("_DISTCC_SAFEGUARD", (safeguard + 1).to_string());
    if let Some(path) = path {
        command.env("PATH", path);
    }
    if !command.status().ok()?.success() {
        return None;
    }
    Identity::of_object(&std::fs::read(&object).ok()?)
}

/// Remembers that `host` answered for `local` with an object of `theirs`. Returns false if
/// that was known already (the warning was given).
pub fn remember_mismatch(cache: &Path, host: &str, local: &Identity, theirs: &Identity) -> bool {
    let known = is_left_out(cache, host, local);
    let _ = std::fs::create_dir_all(cache);
    let _ = crate::user_files::write(
        &entry(cache, "mismatch", host, local),
        theirs.to_text().as_bytes(),
    );
    !known
}

/// Whether `host` showed a foreign compiler for this one within [`IDENTITY_MEMORY`].
pub fn is_left_out(cache: &Path, host: &str, local: &Identity) -> bool {
    is_fresh(&entry(cache, "mismatch", host, local))
}

/// Remembers that `host`'s compiler is `local`'s.
pub fn remember_same(cache: &Path, host: &str, local: &Identity) {
    let _ = std::fs::create_dir_all(cache);
    let _ = crate::user_files::write(&entry(cache, "same", host, local), b"");
}

/// `Some` when nothing is known about `host`'s compiler and this wrapper is the one to ask
/// (the lock is held while it asks; another wrapper asking at the same moment gets `None`
/// and goes on without waiting).
pub fn claim_probe(cache: &Path, host: &str, local: &Identity) -> Option<ProbeClaim> {
    if is_fresh(&entry(cache, "same", host, local)) || is_left_out(cache, host, local) {
        return None;
    }
    std::fs::create_dir_all(cache).ok()?;
    let lock = crate::flock_file::try_lock(&entry(cache, "asking", host, local))
        .ok()
        .flatten()?;
    // Someone may have asked and written between the look above and the lock.
    if is_fresh(&entry(cache, "same", host, local)) || is_left_out(cache, host, local) {
        return None;
    }
    Some(ProbeClaim { _lock: lock })
}

/// Held while one wrapper asks a host who its compiler is.
pub struct ProbeClaim {
    _lock: nix::fcntl::Flock<std::fs::File>,
}

/// The probe's command: the job's compiler, with the options that decide the kind of
/// object, compiling [`PROBE_SOURCE`] (already preprocessed).
pub fn probe_command(argv: &[String]) -> Vec<String> {
    let mut command = vec![argv[0].clone()];
    command.extend(target_options(&argv[1..]));
    command.extend(["-c", PROBE_INPUT, "-o", PROBE_OUTPUT].map(String::from));
    command
}

fn is_fresh(entry: &Path) -> bool {
    std::fs::metadata(entry)
        .and_then(|m| m.modified())
        .is_ok_and(|when| {
            SystemTime::now()
                .duration_since(when)
                .is_ok_and(|age| age < IDENTITY_MEMORY)
        })
}

/// `KIND-HASH` for a host and a local compiler identity.
fn entry(cache: &Path, kind: &str, host: &str, local: &Identity) -> PathBuf {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    (host, &local.version, &local.machine).hash(&mut hasher);
    cache.join(format!("{kind}-{:016x}", hasher.finish()))
}

/// A compiler file as it is now: path, size, modification time.
fn file_key(compiler: &Path) -> Option<u64> {
    let real = std::fs::canonicalize(compiler).ok()?;
    let meta = std::fs::metadata(&real).ok()?;
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    (real, meta.size(), meta.mtime(), meta.mtime_nsec()).hash(&mut hasher);
    Some(hasher.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_wrapper_asks_a_host_and_nobody_asks_again_once_it_answered() {
        let cache = tempfile::tempdir().unwrap();
        let local = Identity {
            version: "GCC: (Debian 12.2.0-14) 12.2.0".into(),
            machine: "ELF64 LSB X86_64".into(),
        };
        let asking = claim_probe(cache.path(), "box:3632", &local).expect("nothing known yet");
        assert!(
            claim_probe(cache.path(), "box:3632", &local).is_none(),
            "a second wrapper does not ask while the first does"
        );
        assert!(
            claim_probe(cache.path(), "other:3632", &local).is_some(),
            "another host is asked on its own"
        );
        drop(asking);
        assert!(
            claim_probe(cache.path(), "box:3632", &local).is_some(),
            "an unanswered question is asked again"
        );
        remember_same(cache.path(), "box:3632", &local);
        assert!(claim_probe(cache.path(), "box:3632", &local).is_none());
        let theirs = Identity {
            version: "GCC: (Elsewhere 99.1.0-1) 99.1.0".into(),
            ..local.clone()
        };
        assert!(remember_mismatch(cache.path(), "far:3632", &local, &theirs));
        assert!(claim_probe(cache.path(), "far:3632", &local).is_none());
        assert!(is_left_out(cache.path(), "far:3632", &local));
    }

    #[test]
    fn wrappers_starting_together_ask_the_local_compiler_once() {
        use std::os::unix::fs::PermissionsExt;
        if !Path::new("/usr/bin/gcc").exists() {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let runs = dir.path().join("runs");
        let compiler = dir.path().join("gcc");
        // Slow enough that every wrapper looks for the cache entry before the first is done.
        std::fs::write(
            &compiler,
            format!(
                "#!/bin/sh\necho run >> '{}'\nsleep 0.3\nexec /usr/bin/gcc \"$@\"\n",
                runs.display()
            ),
        )
        .unwrap();
        std::fs::set_permissions(&compiler, std::fs::Permissions::from_mode(0o755)).unwrap();
        let cache = dir.path().join("identity");
        let wrappers = 6;
        let start = std::sync::Barrier::new(wrappers);
        let answers: Vec<_> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..wrappers)
                .map(|_| {
                    s.spawn(|| {
                        start.wait();
                        local(&compiler, &[], None, 0, &cache)
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        assert!(answers[0].is_some(), "the compiler answered");
        assert!(answers.iter().all(|a| a == &answers[0]), "{answers:?}");
        let count = std::fs::read_to_string(&runs).unwrap().lines().count();
        assert_eq!(count, 1, "the compiler ran {count} times");
    }

    #[test]
    fn the_probe_keeps_the_options_that_decide_the_kind_of_object() {
        let argv: Vec<String> = ["gcc", "-m32", "-O2", "-c", "a.c", "-o", "a.o"]
            .map(String::from)
            .to_vec();
        assert_eq!(
            probe_command(&argv),
            ["gcc", "-m32", "-c", PROBE_INPUT, "-o", PROBE_OUTPUT].map(String::from)
        );
    }

    #[test]
    fn identity_survives_its_cache_text() {
        let id = Identity {
            version: "GCC: (Debian 12.2.0-14) 12.2.0".into(),
            machine: "ELF64 LSB X86_64".into(),
        };
        assert_eq!(Identity::from_text(&id.to_text()), Some(id));
    }

    #[test]
    fn target_options_are_the_ones_that_change_the_object_kind() {
        let argv: Vec<String> =
            "clang -O2 -m32 -target aarch64-linux-gnu -c x.c --target=x -mabi=lp64 -march=x"
                .split(' ')
                .map(String::from)
                .collect();
        assert_eq!(
            target_options(&argv),
            [
                "-m32",
                "-target",
                "aarch64-linux-gnu",
                "--target=x",
                "-mabi=lp64"
            ]
        );
    }

    #[test]
    fn not_an_object_has_no_identity() {
        assert_eq!(Identity::of_object(b"garbage"), None);
    }

    #[test]
    fn a_mismatch_is_reported_once_and_remembered() {
        let dir = tempfile::tempdir().unwrap();
        let local = Identity {
            version: "GCC: 12".into(),
            machine: "m".into(),
        };
        let theirs = Identity {
            version: "GCC: 13".into(),
            machine: "m".into(),
        };
        assert!(!is_left_out(dir.path(), "box", &local));
        assert!(remember_mismatch(dir.path(), "box", &local, &theirs));
        assert!(!remember_mismatch(dir.path(), "box", &local, &theirs));
        assert!(is_left_out(dir.path(), "box", &local));
        assert!(!is_left_out(dir.path(), "other", &local));
    }
}
