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

/// How a local identity was learnt (kept with it), or how surely one is wanted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Asked {
    /// From what the driver says of itself (`CC -v`, a few milliseconds); a kept identity
    /// learnt either way will do.
    Told,
    /// From an object compiled here (cc1 and the assembler: over ten milliseconds): before a
    /// host is blamed for a foreign compiler (the driver's words may not be what its objects
    /// say), and for engines, whose Actions name it. Replaces a told one in the cache.
    Compiled,
}

impl Asked {
    /// How the cache entry says it.
    fn word(self) -> &'static str {
        match self {
            Asked::Told => "told",
            Asked::Compiled => "compiled",
        }
    }
}

/// This machine's compiler's identity for objects of `target` (see [`target_options`]):
/// kept in `cache`, else learnt as `at_least` asks — a compiler whose driver's words name no
/// identity (and a job with target options) is compiled for either way.
/// `safeguard` is the wrapper's `_DISTCC_SAFEGUARD` level: the compiler asked is told, as
/// every compiler the wrapper runs is, so that a link back to distfarm cannot recurse.
pub fn local(
    compiler: &Path,
    target: &[String],
    path: Option<&std::ffi::OsString>,
    safeguard: u32,
    cache: &Path,
    at_least: Asked,
) -> Option<Identity> {
    let key = {
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        (file_key(compiler)?, target).hash(&mut hasher);
        hasher.finish()
    };
    let entry = cache.join(format!("local-{key:016x}"));
    let good_enough = |(identity, asked): (Identity, Asked)| {
        (at_least == Asked::Told || asked == Asked::Compiled).then_some(identity)
    };
    if let Some(known) = read_local(&entry).and_then(good_enough) {
        return Some(known);
    }
    // The wrappers a build starts together all find the entry missing: one of them asks the
    // compiler while the others wait for its answer (a compile each otherwise: 30 wrappers
    // starting cold ran 30). Without the lock (no cache directory) each asks for itself.
    let _ = std::fs::create_dir_all(cache);
    let _lock = crate::flock_file::lock(&cache.join(format!("local-{key:016x}.lock"))).ok();
    // Whoever held the lock before us has written the answer.
    if let Some(known) = read_local(&entry).and_then(good_enough) {
        return Some(known);
    }
    let told = match at_least {
        Asked::Told => told_by_driver(compiler, target, path, safeguard),
        Asked::Compiled => None,
    };
    let (identity, asked) = match told {
        Some(identity) => (identity, Asked::Told),
        None => (
            ask_local(compiler, target, path, safeguard)?,
            Asked::Compiled,
        ),
    };
    let text = format!("{}{}\n", identity.to_text(), asked.word());
    let _ = crate::user_files::write(&entry, text.as_bytes());
    Some(identity)
}

fn read_local(entry: &Path) -> Option<(Identity, Asked)> {
    let text = std::fs::read_to_string(entry).ok()?;
    // Entries from before identities were told carry no third line: they were compiled.
    let asked = match text.lines().nth(2) {
        Some(word) if word == Asked::Told.word() => Asked::Told,
        _ => Asked::Compiled,
    };
    Some((Identity::from_text(&text)?, asked))
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
    let mut command = local_command(compiler, path, safeguard);
    command
        .args(target)
        .args(["-c", "-x", "cpp-output", "/dev/null", "-o"])
        .arg(&object)
        .stderr(std::process::Stdio::null());
    if !command.status().ok()?.success() {
        return None;
    }
    Identity::of_object(&std::fs::read(&object).ok()?)
}

/// The identity `compiler -v` names, for a job without target options (those change the
/// object, and the driver's words do not say how).
fn told_by_driver(
    compiler: &Path,
    target: &[String],
    path: Option<&std::ffi::OsString>,
    safeguard: u32,
) -> Option<Identity> {
    if !target.is_empty() {
        return None;
    }
    let output = local_command(compiler, path, safeguard)
        .arg("-v")
        .stdout(std::process::Stdio::null())
        .output()
        .ok()?;
    if !output.status.success() {
        return None;
    }
    identity_in_version_text(&String::from_utf8_lossy(&output.stderr))
}

/// The compiler as the wrapper runs it for itself: stdin closed, `PATH` as the job's, the
/// recursion guard one level up.
fn local_command(
    compiler: &Path,
    path: Option<&std::ffi::OsString>,
    safeguard: u32,
) -> std::process::Command {
    let mut command = std::process::Command::new(compiler);
    command
        .stdin(std::process::Stdio::null())
        .env("_DISTCC_SAFEGUARD", (safeguard + 1).to_string());
    if let Some(path) = path {
        command.env("PATH", path);
    }
    command
}

/// The identity a compiler's objects show, from what its `-v` prints, for the compilers whose
/// `.comment` is made of the same words, on machines whose objects are named by the target's
/// first word alone; `None` for anything else.
///
/// * GCC prints `gcc version VERSION (PKGVERSION)` and writes `GCC: (PKGVERSION) VERSION`,
///   except that the default `(GCC)` is written `(GNU)` (`toplev.cc`).
/// * clang prints its full version as the first line and writes that line.
fn identity_in_version_text(text: &str) -> Option<Identity> {
    let triple = text
        .lines()
        .find_map(|l| l.strip_prefix("Target: "))?
        .trim();
    let machine = machine_of(triple)?;
    let version = if let Some(words) = text.lines().find_map(|l| l.strip_prefix("gcc version ")) {
        let words = words.trim_end();
        let open = last_group_start(words)?;
        let (version, package) = (words[..open].trim_end(), &words[open..]);
        let package = if package == "(GCC)" { "(GNU)" } else { package };
        format!("GCC: {package} {version}")
    } else {
        let first = text.lines().next()?.trim();
        if !first.contains("clang version ") {
            return None;
        }
        first.to_string()
    };
    Some(Identity {
        version,
        machine: machine.to_string(),
    })
}

/// Where the parenthesised group that ends `words` opens.
fn last_group_start(words: &str) -> Option<usize> {
    if !words.ends_with(')') {
        return None;
    }
    let mut depth = 0usize;
    for (at, c) in words.char_indices().rev() {
        match c {
            ')' => depth += 1,
            '(' => {
                depth -= 1;
                if depth == 0 {
                    return (at > 0).then_some(at);
                }
            }
            _ => {}
        }
    }
    None
}

/// How [`Identity::of_object`] names the objects of a target triple, for the common ones.
fn machine_of(triple: &str) -> Option<&'static str> {
    let mut words = triple.split('-');
    let arch = words.next()?;
    // x32 and ILP32 objects are 32-bit under a 64-bit name.
    if words.any(|w| w.contains("x32") || w.contains("ilp32")) {
        return None;
    }
    match arch {
        "x86_64" => Some("ELF64 LSB X86_64"),
        "aarch64" => Some("ELF64 LSB Aarch64"),
        "i386" | "i486" | "i586" | "i686" => Some("ELF32 LSB I386"),
        _ => None,
    }
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
        let gcc = installed("gcc");
        let dir = tempfile::tempdir().unwrap();
        let runs = dir.path().join("runs");
        let compiler = dir.path().join("gcc");
        // Slow enough that every wrapper looks for the cache entry before the first is done.
        std::fs::write(
            &compiler,
            format!(
                "#!/bin/sh\necho run >> '{}'\nsleep 0.3\nexec '{}' \"$@\"\n",
                runs.display(),
                gcc.display()
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
                        local(&compiler, &[], None, 0, &cache, Asked::Told)
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

    fn version_text(lines: &[&str]) -> String {
        lines.iter().map(|l| format!("{l}\n")).collect()
    }

    #[test]
    fn gccs_version_line_becomes_the_comment_its_objects_carry() {
        let debian = version_text(&[
            "Using built-in specs.",
            "Target: x86_64-linux-gnu",
            "Configured with: ../src/configure --with-pkgversion='Debian 12.2.0-14' -v",
            "gcc version 12.2.0 (Debian 12.2.0-14) ",
        ]);
        let told = identity_in_version_text(&debian).unwrap();
        assert_eq!(told.version, "GCC: (Debian 12.2.0-14) 12.2.0");
        assert_eq!(told.machine, "ELF64 LSB X86_64");
        // gcc writes its default package name as (GNU), and a snapshot's version has words
        // in parentheses of its own.
        let vanilla = version_text(&["Target: aarch64-linux-gnu", "gcc version 13.2.0 (GCC) "]);
        let told = identity_in_version_text(&vanilla).unwrap();
        assert_eq!(told.version, "GCC: (GNU) 13.2.0");
        assert_eq!(told.machine, "ELF64 LSB Aarch64");
        let snapshot = version_text(&[
            "Target: i686-linux-gnu",
            "gcc version 14.0.0 20230101 (experimental) (Vendor (build 7)) ",
        ]);
        let told = identity_in_version_text(&snapshot).unwrap();
        assert_eq!(
            told.version,
            "GCC: (Vendor (build 7)) 14.0.0 20230101 (experimental)"
        );
        assert_eq!(told.machine, "ELF32 LSB I386");
    }

    #[test]
    fn clangs_first_line_is_the_comment_its_objects_carry() {
        let clang = version_text(&[
            "Debian clang version 14.0.6",
            "Target: x86_64-pc-linux-gnu",
            "Thread model: posix",
        ]);
        let told = identity_in_version_text(&clang).unwrap();
        assert_eq!(told.version, "Debian clang version 14.0.6");
        assert_eq!(told.machine, "ELF64 LSB X86_64");
    }

    #[test]
    fn what_the_driver_words_cannot_say_is_left_to_a_compile() {
        for text in [
            // Another compiler.
            version_text(&["icx version 2024.0", "Target: x86_64-unknown-linux-gnu"]),
            // 32-bit objects under a 64-bit name.
            version_text(&[
                "Target: x86_64-linux-gnux32",
                "gcc version 12.2.0 (Debian) ",
            ]),
            // A machine without a known name.
            version_text(&["Target: riscv64-linux-gnu", "gcc version 12.2.0 (Debian) "]),
            // No target line, no package name.
            version_text(&["gcc version 12.2.0 (Debian) "]),
            version_text(&["Target: x86_64-linux-gnu", "gcc version 12.2.0"]),
        ] {
            assert_eq!(identity_in_version_text(&text), None, "{text}");
        }
    }

    /// gcc, clang (`apt-get install clang`), or a test failure saying so.
    fn installed(compiler: &str) -> PathBuf {
        let path = std::env::var_os("PATH").unwrap_or_default();
        crate::executables::find_on_path(compiler, &path)
            .unwrap_or_else(|| panic!("{compiler} is missing: apt-get install {compiler}"))
    }

    #[test]
    fn the_driver_tells_what_an_empty_object_shows_for_gcc_gxx_and_clang() {
        for compiler in ["gcc", "g++", "clang"] {
            let compiler = installed(compiler);
            let told = told_by_driver(&compiler, &[], None, 0);
            let compiled = ask_local(&compiler, &[], None, 0);
            assert!(
                told.is_some(),
                "{} -v names no identity",
                compiler.display()
            );
            assert_eq!(told, compiled, "{}", compiler.display());
        }
    }

    #[test]
    fn a_told_identity_gives_way_to_a_compiled_one_and_that_one_is_kept() {
        let cache = tempfile::tempdir().unwrap();
        let gcc = installed("gcc");
        let told = local(&gcc, &[], None, 0, cache.path(), Asked::Told).unwrap();
        let entry = std::fs::read_dir(cache.path())
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| !p.to_string_lossy().ends_with(".lock"))
            .unwrap();
        assert!(std::fs::read_to_string(&entry).unwrap().ends_with("told\n"));
        // Words that were wrong: what a compile shows replaces them.
        let wrong = "GCC: (Somebody) 1.0\nELF64 LSB X86_64\ntold\n";
        std::fs::write(&entry, wrong).unwrap();
        assert_eq!(
            local(&gcc, &[], None, 0, cache.path(), Asked::Told)
                .unwrap()
                .version,
            "GCC: (Somebody) 1.0"
        );
        let compiled = local(&gcc, &[], None, 0, cache.path(), Asked::Compiled).unwrap();
        assert_eq!(compiled, told);
        assert!(
            std::fs::read_to_string(&entry)
                .unwrap()
                .ends_with("compiled\n")
        );
        assert_eq!(
            local(&gcc, &[], None, 0, cache.path(), Asked::Told).unwrap(),
            told
        );
    }

    #[test]
    fn a_job_with_target_options_is_compiled_not_told() {
        let gcc = installed("gcc");
        assert_eq!(told_by_driver(&gcc, &["-m64".into()], None, 0), None);
    }
}
