//! Which compiler made an object: the version it writes into `.comment` ("GCC: (Debian
//! 12.2.0-14) 12.2.0", "Debian clang version 14.0.6") and the machine in its ELF header.
//! Every object a host sends back carries both, so checking costs nothing extra: an object
//! from a host whose compiler is not this machine's is thrown away, the host is left out for
//! that compiler for a while (one warning, naming both versions and the fix), and the job
//! goes elsewhere. distcc users learn this from broken binaries.
//!
//! This machine's identity is what its own compiler writes into an empty object, asked once
//! per compiler file and kept in `$DISTCC_DIR/identity/`. Objects without `.comment`
//! (`-fno-ident`) cannot be checked and are taken as they are.

use std::hash::{Hash, Hasher};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use object::{Object, ObjectSection};

/// How long a host stays left out for a compiler after it sent a foreign object: about one
/// build (the agent's idle time), then it is tried again (someone may have upgraded it).
pub const MISMATCH_MEMORY: Duration = Duration::from_secs(600);

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
    if let Some(known) = std::fs::read_to_string(&entry)
        .ok()
        .and_then(|t| Identity::from_text(&t))
    {
        return Some(known);
    }
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
    let identity = Identity::of_object(&std::fs::read(&object).ok()?)?;
    let _ = std::fs::create_dir_all(cache);
    let _ = crate::user_files::write(&entry, identity.to_text().as_bytes());
    Some(identity)
}

/// Remembers that `host` answered for `local` with an object of `theirs`. Returns false if
/// that was known already (the warning was given).
pub fn remember_mismatch(cache: &Path, host: &str, local: &Identity, theirs: &Identity) -> bool {
    let entry = mismatch_entry(cache, host, local);
    let known = is_left_out(cache, host, local);
    let _ = std::fs::create_dir_all(cache);
    let _ = crate::user_files::write(&entry, theirs.to_text().as_bytes());
    !known
}

/// Whether `host` sent a foreign object for this compiler within [`MISMATCH_MEMORY`].
pub fn is_left_out(cache: &Path, host: &str, local: &Identity) -> bool {
    std::fs::metadata(mismatch_entry(cache, host, local))
        .and_then(|m| m.modified())
        .is_ok_and(|when| {
            SystemTime::now()
                .duration_since(when)
                .is_ok_and(|age| age < MISMATCH_MEMORY)
        })
}

fn mismatch_entry(cache: &Path, host: &str, local: &Identity) -> PathBuf {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    (host, &local.version, &local.machine).hash(&mut hasher);
    cache.join(format!("mismatch-{:016x}", hasher.finish()))
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
