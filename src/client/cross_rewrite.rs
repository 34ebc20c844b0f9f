//! distcc's compiler-name rewriting (3.4 `compile.c`), so that every machine of a farm runs a
//! compiler for this machine's target. With a plain `gcc` a build box of another
//! architecture would run its own native gcc and send back objects for the wrong machine.
//!
//! - `cc` / `c++` that is a link to gcc or clang (through one `/etc/alternatives` hop) is
//!   called by that name;
//! - `gcc`, `g++`, `gcc-12`, … become `<triple>-gcc`, … when that program is on `PATH` and is
//!   the same file. distcc checks only that it exists, with its configure-time host triple,
//!   which names the wrong program on some distributions (distcc issue #426) and can bypass a
//!   user's own `gcc` script; here the triple comes from the compiler's real file name or
//!   this machine's usual spellings, and a different program is never chosen;
//! - `clang`, `clang++`, `clang-16`, … without `-target` get `-target <triple>` (distcc's
//!   configure-time host; here the one distfarm was built for).
//!
//! Only bare names are rewritten, and the result always runs the same compiler here;
//! `DISTCC_NO_REWRITE_CROSS` turns it off.

use std::ffi::OsStr;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use crate::compiler_names::{GCC_DRIVERS, is_clang, is_versioned};
use crate::executables::find_on_path;

/// Rewrites `command[0]` (and for clang appends `-target`) as distcc would.
pub fn rewrite(command: &mut Vec<String>, path: &OsStr) {
    let Some(first) = command.first() else {
        return;
    };
    if first.contains('/') {
        return;
    }
    let mut name = generic_to_real(first, path).unwrap_or_else(|| first.clone());
    if is_versioned(&name, &GCC_DRIVERS)
        && let Some(full) = with_triple(&name, path)
    {
        name = full;
    }
    let clang = is_clang(&name);
    command[0] = name;
    if clang
        && !command
            .iter()
            .any(|a| a == "-target" || a.starts_with("--target="))
    {
        command.extend(["-target".to_string(), host_triple()]);
    }
}

/// `cc` → `gcc` or `clang`, `c++` → `g++` or `clang++`, when the `cc` on `PATH` links there.
fn generic_to_real(name: &str, path: &OsStr) -> Option<String> {
    let targets: &[&str] = match name {
        "cc" => &["gcc", "clang"],
        "c++" => &["g++", "clang++"],
        _ => return None,
    };
    let link = find_on_path(name, path)?;
    let mut target = read_link_from(&link)?;
    if target.starts_with("/etc/alternatives/") {
        target = read_link_from(&target)?;
    }
    let base = target.file_name()?.to_str()?;
    targets.contains(&base).then(|| base.to_string())
}

/// Where the symlink `link` points, made absolute.
fn read_link_from(link: &Path) -> Option<PathBuf> {
    let target = std::fs::read_link(link).ok()?;
    Some(match link.parent() {
        Some(dir) if target.is_relative() => dir.join(target),
        _ => target,
    })
}

/// `<triple>-name` if it is on `path` and is the same program as `name` there.
fn with_triple(name: &str, path: &OsStr) -> Option<String> {
    let local = find_on_path(name, path)?;
    let id = file_id(&local)?;
    triples(&local)
        .into_iter()
        .map(|triple| format!("{triple}-{name}"))
        .find(|full| find_on_path(full, path).and_then(|c| file_id(&c)) == Some(id))
}

/// Which file a path names, through links.
fn file_id(path: &Path) -> Option<(u64, u64)> {
    let meta = std::fs::metadata(path).ok()?;
    Some((meta.dev(), meta.ino()))
}

/// The triples `compiler` may be installed under: the one in its real file name when that is
/// `<triple>-gcc…` (Debian's layout), then this machine's as distributions spell it. Found
/// without running anything: the `gcc` first on `PATH` may be a user's script.
fn triples(compiler: &Path) -> Vec<String> {
    let mut found = Vec::new();
    let real = compiler.canonicalize().ok();
    let file = real
        .as_deref()
        .and_then(Path::file_name)
        .and_then(OsStr::to_str)
        .unwrap_or("");
    for driver in ["-gcc", "-g++"] {
        if let Some(at) = file.find(driver) {
            let (triple, rest) = (&file[..at], &file[at + driver.len()..]);
            if triple.contains('-') && (rest.is_empty() || rest.starts_with('-')) {
                found.push(triple.to_string());
            }
        }
    }
    let (arch, env) = (arch(), env());
    found.extend([
        format!("{arch}-linux-{env}"),
        host_triple(),
        format!("{arch}-redhat-linux"),
        format!("{arch}-suse-linux"),
    ]);
    found
}

fn arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86" => "i686",
        arch => arch,
    }
}

fn env() -> &'static str {
    if cfg!(target_env = "musl") {
        "musl"
    } else {
        "gnu"
    }
}

/// The GNU triple of the machine distfarm was built for, spelled as config.guess does.
fn host_triple() -> String {
    let vendor = match std::env::consts::ARCH {
        "x86_64" | "x86" => "pc",
        _ => "unknown",
    };
    format!("{}-{vendor}-{}-{}", arch(), std::env::consts::OS, env())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn script(path: &Path, body: &str) {
        use std::os::unix::fs::PermissionsExt;
        std::fs::write(path, format!("#!/bin/sh\n{body}\n")).unwrap();
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }

    fn argv(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    /// Debian's layout: `gcc` → `gcc-12` → `x86_64-linux-gnu-gcc-12`, plus the triple links.
    fn debian_layout(dir: &Path) {
        script(&dir.join("x86_64-linux-gnu-gcc-12"), "exit 0");
        symlink("x86_64-linux-gnu-gcc-12", dir.join("gcc-12")).unwrap();
        symlink("gcc-12", dir.join("gcc")).unwrap();
        symlink("x86_64-linux-gnu-gcc-12", dir.join("x86_64-linux-gnu-gcc")).unwrap();
        symlink("gcc", dir.join("cc")).unwrap();
    }

    #[test]
    fn gcc_names_gain_the_triple_of_the_same_compiler() {
        let dir = tempfile::tempdir().unwrap();
        debian_layout(dir.path());
        let path = dir.path().as_os_str();
        for (from, to) in [
            ("gcc -c x.c", "x86_64-linux-gnu-gcc -c x.c"),
            ("gcc-12 -c x.c", "x86_64-linux-gnu-gcc-12 -c x.c"),
            ("cc -c x.c", "x86_64-linux-gnu-gcc -c x.c"),
        ] {
            let mut command = argv(from);
            rewrite(&mut command, path);
            assert_eq!(command, argv(to), "{from}");
        }
    }

    #[test]
    fn paths_unknown_names_and_other_compilers_first_on_path_are_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        debian_layout(dir.path());
        let mine = tempfile::tempdir().unwrap();
        script(&mine.path().join("gcc"), "echo ran >> ran");
        let path = std::env::join_paths([mine.path(), dir.path()]).unwrap();
        for unchanged in [
            "gcc -c x.c",
            "/usr/bin/gcc -c x.c",
            "tcc -c x.c",
            "g++ -c x.cc",
        ] {
            let mut command = argv(unchanged);
            rewrite(&mut command, &path);
            assert_eq!(command, argv(unchanged));
        }
    }

    #[test]
    fn clang_gets_a_target_unless_it_has_one() {
        let dir = tempfile::tempdir().unwrap();
        script(&dir.path().join("clang-16"), "exit 0");
        symlink("clang-16", dir.path().join("cc")).unwrap();
        let path = dir.path().as_os_str();
        let mut command = argv("cc -c x.c");
        rewrite(&mut command, path);
        assert_eq!(
            command,
            argv("cc -c x.c"),
            "a link to clang-16 is not one to clang"
        );
        let mut command = argv("clang-16 -c x.c");
        rewrite(&mut command, path);
        assert_eq!(command[3], "-target");
        assert_eq!(command[4], host_triple());
        let mut command = argv("clang -c x.c --target=aarch64-linux-gnu");
        rewrite(&mut command, path);
        assert_eq!(command, argv("clang -c x.c --target=aarch64-linux-gnu"));
    }

    #[test]
    fn the_host_triple_is_spelled_like_config_guess() {
        let triple = host_triple();
        assert_eq!(triple.split('-').count(), 4, "{triple}");
        #[cfg(all(target_arch = "x86_64", target_os = "linux", target_env = "gnu"))]
        assert_eq!(triple, "x86_64-pc-linux-gnu");
    }
}
