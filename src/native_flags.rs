//! `-march=native`, `-mtune=native` and `-mcpu=native` name this machine's CPU, which a build
//! box does not have: distcc compiles such jobs here. distfarm asks the compiler once what
//! each of them means on this machine — the options its driver hands `cc1` beyond those of a
//! plain run — and sends those instead, so the job distributes and its object is the one a
//! local build makes. The answer is kept in `$DISTCC_DIR/native/`, per compiler file (path,
//! size, modification time) and flag. Shared by the wrapper (`client::run`) and `distfarm
//! doctor` (`admin::doctor_flags`), which shows what the flags of a build mean here.
//!
//! Not for gcc with debug info: gcc records the switches in `DW_AT_producer` in its driver's
//! order, which an explicit list given on the command line cannot reproduce; such jobs stay
//! local, as with distcc. Not for clang, whose driver expands `native` inside `cc1` options
//! (`-target-cpu`, `-target-feature`) that are not driver options.

use std::ffi::OsString;
use std::hash::{Hash, Hasher};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The flags that name this machine's CPU.
pub const NATIVE_FLAGS: [&str; 3] = ["-march=native", "-mtune=native", "-mcpu=native"];

/// Replaces each native flag of `command` by what it means for `compiler` here. Leaves the
/// command as it is (and the scan then keeps the job local) when the compiler is clang, the
/// job has debug info, or the compiler cannot be asked.
pub fn expand(
    command: &mut Vec<String>,
    compiler: &Path,
    path: Option<&OsString>,
    safeguard: u32,
    cache: &Path,
) {
    let has_native = command.iter().any(|a| NATIVE_FLAGS.contains(&a.as_str()));
    if !has_native
        || crate::compiler_names::is_clang(&command[0])
        || crate::debug_info::asked_for(command.iter().skip(1).map(String::as_str))
    {
        return;
    }
    let mut expanded = Vec::with_capacity(command.len());
    for arg in command.iter() {
        if !NATIVE_FLAGS.contains(&arg.as_str()) {
            expanded.push(arg.clone());
            continue;
        }
        match meaning(compiler, arg, path, safeguard, cache) {
            Some(options) => expanded.extend(options),
            None => return,
        }
    }
    tracing::debug!("native CPU flags expanded for {}", compiler.display());
    *command = expanded;
}

/// What `flag` means for `compiler`: from the cache, or asked and then cached. `None` when
/// the compiler cannot be asked or says nothing more for it.
pub fn meaning(
    compiler: &Path,
    flag: &str,
    path: Option<&OsString>,
    safeguard: u32,
    cache: &Path,
) -> Option<Vec<String>> {
    let entry = cache_entry(compiler, flag, cache)?;
    if let Ok(text) = std::fs::read_to_string(&entry) {
        return Some(text.lines().map(String::from).collect());
    }
    let plain = cc1_options(compiler, None, path, safeguard)?;
    let native = cc1_options(compiler, Some(flag), path, safeguard)?;
    let options: Vec<String> = native
        .into_iter()
        .filter(|option| !plain.contains(option))
        .flatten()
        .collect();
    if options.is_empty() {
        return None;
    }
    // A cache that cannot be written only costs the next job another question.
    let _ = std::fs::create_dir_all(cache);
    let _ = crate::user_files::write(&entry, (options.join("\n") + "\n").as_bytes());
    Some(options)
}

/// The cache file for this compiler file and flag.
fn cache_entry(compiler: &Path, flag: &str, cache: &Path) -> Option<PathBuf> {
    let real = std::fs::canonicalize(compiler).ok()?;
    let meta = std::fs::metadata(&real).ok()?;
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    (real, meta.size(), meta.mtime(), meta.mtime_nsec(), flag).hash(&mut hasher);
    Some(cache.join(format!("{:016x}", hasher.finish())))
}

/// The machine options (`-m…`, and `--param NAME=VALUE` as one group) the driver hands
/// `cc1` when preprocessing nothing with `flag`.
fn cc1_options(
    compiler: &Path,
    flag: Option<&str>,
    path: Option<&OsString>,
    safeguard: u32,
) -> Option<Vec<Vec<String>>> {
    let mut command = Command::new(compiler);
    command
        .args(flag)
        .args(["-E", "-v", "-x", "c", "/dev/null", "-o", "/dev/null"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .env("_DISTCC_SAFEGUARD", (safeguard + 1).to_string());
    if let Some(path) = path {
        command.env("PATH", path);
    }
    let output = command.output().ok()?;
    if !output.status.success() {
        return None;
    }
    let report = String::from_utf8_lossy(&output.stderr);
    let cc1 = report.lines().find(|line| {
        line.split_whitespace()
            .next()
            .is_some_and(|program| program.ends_with("/cc1") || program == "cc1")
    })?;
    Some(machine_options(cc1))
}

/// The `-m…` words and `--param X` pairs of a `cc1` command line, in order.
fn machine_options(cc1_line: &str) -> Vec<Vec<String>> {
    let mut words = cc1_line.split_whitespace();
    let mut options = Vec::new();
    while let Some(word) = words.next() {
        if word == "--param" {
            if let Some(value) = words.next() {
                options.push(vec![word.to_string(), value.to_string()]);
            }
        } else if word.starts_with("-m") {
            options.push(vec![word.to_string()]);
        }
    }
    options
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn machine_options_of_a_cc1_line_keep_params_as_pairs() {
        let line = " /usr/lib/gcc/x86_64-linux-gnu/12/cc1 -E -quiet -v /dev/null -o /dev/null \
                    -march=znver3 -mmmx -mno-avx512f --param l1-cache-size=32 -mtune=znver3 \
                    -fasynchronous-unwind-tables -dumpbase null";
        let options = machine_options(line);
        assert_eq!(
            options,
            [
                vec!["-march=znver3"],
                vec!["-mmmx"],
                vec!["-mno-avx512f"],
                vec!["--param", "l1-cache-size=32"],
                vec!["-mtune=znver3"],
            ]
        );
    }
}
