//! The fuzz targets' bodies (fuzz/src/checks/) on stable Rust, for CI and scripts/test,
//! which have no nightly and no cargo-fuzz: each target runs over its seed corpus
//! (fuzz/seeds/TARGET/), every input that once broke it (fuzz/regressions/TARGET/), and
//! pseudo-random inputs from a fixed seed. A separate test binary because it installs the
//! counting allocator the bodies check claimed lengths with. The campaign itself is
//! `scripts/fuzz` (RELIABILITY.md).

#[path = "../fuzz/src/checks/mod.rs"]
mod checks;

use std::path::Path;

#[global_allocator]
static ALLOCATOR: checks::memory::Counting = checks::memory::Counting;

/// Pseudo-random inputs per target: a few seconds in all in a debug build.
const RANDOM_INPUTS: usize = 2000;

fn files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<_> = entries
        .map(|e| e.expect("a directory entry").path())
        .filter(|p| p.is_file() && p.file_name().is_some_and(|n| n != ".gitkeep"))
        .map(|p| {
            (
                p.display().to_string(),
                std::fs::read(&p).expect("readable"),
            )
        })
        .collect();
    files.sort();
    files
}

/// xorshift64*: the same inputs on every run and machine.
fn random_inputs(target: &str) -> impl Iterator<Item = Vec<u8>> {
    let mut state = target.bytes().fold(0x9e37_79b9_7f4a_7c15_u64, |s, b| {
        (s ^ b as u64).wrapping_mul(0x100_0000_01b3)
    });
    let mut next = move || {
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        state.wrapping_mul(0x2545_f491_4f6c_dd1d)
    };
    (0..RANDOM_INPUTS).map(move |_| {
        let len = (next() % 1024) as usize;
        (0..len).map(|_| next() as u8).collect()
    })
}

fn run(target: &str) {
    let (_, body) = checks::TARGETS
        .iter()
        .find(|(name, _)| *name == target)
        .expect("a known target");
    let fuzz = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let replayed = [
        fuzz.join("seeds").join(target),
        fuzz.join("regressions").join(target),
    ];
    for (name, bytes) in replayed.iter().flat_map(|dir| files(dir)) {
        eprintln!("{target}: {name}");
        body(&bytes);
    }
    for bytes in random_inputs(target) {
        if let Err(panic) = std::panic::catch_unwind(|| body(&bytes)) {
            keep_failure(target, &bytes);
            std::panic::resume_unwind(panic);
        }
    }
}

/// A pseudo-random input that broke a target is written to
/// target/fuzz-failures/TARGET/INDEX-LEN, ready to become fuzz/regressions/TARGET/NAME.
fn keep_failure(target: &str, bytes: &[u8]) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("target/fuzz-failures")
        .join(target);
    let _ = std::fs::create_dir_all(&dir);
    let name = format!(
        "{:016x}",
        bytes
            .iter()
            .fold(0u64, |h, b| (h ^ *b as u64).wrapping_mul(0x100_0000_01b3))
    );
    let path = dir.join(name);
    if std::fs::write(&path, bytes).is_ok() {
        eprintln!("{target}: the failing input is {}", path.display());
    }
}

#[test]
fn claimed_lengths_are_checked_by_a_counting_allocator() {
    assert!(checks::memory::counting());
}

#[test]
fn every_target_is_run_here() {
    let targets: Vec<&str> = checks::TARGETS.iter().map(|(name, _)| *name).collect();
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/fuzz_targets");
    let mut on_disk: Vec<String> = std::fs::read_dir(dir)
        .expect("fuzz/fuzz_targets")
        .map(|e| {
            e.unwrap()
                .path()
                .file_stem()
                .unwrap()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    on_disk.sort();
    let mut listed: Vec<String> = targets.iter().map(|t| t.to_string()).collect();
    listed.sort();
    assert_eq!(on_disk, listed, "fuzz_targets/ and checks::TARGETS differ");
}

macro_rules! targets {
    ($($name:ident),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                run(stringify!($name));
            }
        )*
    };
}

targets!(
    request,
    reply,
    lzo,
    pump_tree,
    hashed_tree,
    agent,
    hosts,
    ssh_config,
    known_hosts,
    arg_rules,
    assembly,
    client_args,
    client_args_gcc,
);
