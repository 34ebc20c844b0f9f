//! The compilers `distfarm doctor` compares: the drivers this machine has (gcc, g++, cc, c++,
//! clang, clang++), every versioned or triplet name their links lead to (`gcc` →
//! `gcc-12` → `x86_64-linux-gnu-gcc-12`), and the `<target>-<driver>[-<major>]` names
//! there are for their targets (`x86_64-pc-linux-gnu-gcc`, which Portage calls), each asked for `-dumpfullversion` (clang, which
//! ignores it: `-dumpversion`) and `-dumpmachine`, here and — with one shell script over
//! SSH — on a build host.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::compiler_names::{DRIVERS, basename, is_compiler_family_name};

/// The drivers a build calls by their plain names.
const CHECKED_DRIVERS: [&str; 6] = ["gcc", "g++", "cc", "c++", "clang", "clang++"];

/// A compiler's version and target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub version: String,
    pub machine: String,
}

/// A compiler of this machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalCompiler {
    pub name: String,
    pub path: PathBuf,
    pub identity: Identity,
}

/// The compilers on `path` (links back to distfarm skipped) that answer.
pub fn local_compilers(path: &OsStr) -> Vec<LocalCompiler> {
    let mut names: Vec<String> = Vec::new();
    for driver in CHECKED_DRIVERS {
        let Some(found) = crate::executables::find_on_path(driver, path) else {
            continue;
        };
        push_new(&mut names, driver);
        for name in link_names(&found) {
            push_new(&mut names, &name);
        }
    }
    let mut compilers: Vec<LocalCompiler> = names
        .into_iter()
        .filter_map(|name| local_compiler(name, path))
        .collect();
    // The names a build asks for by target (Portage calls `${CHOST}-gcc`), which a driver
    // need not link to (Gentoo's gcc is a wrapper program, not a link).
    let mut triplet_names = Vec::new();
    for compiler in &compilers {
        if !CHECKED_DRIVERS.contains(&compiler.name.as_str()) {
            continue;
        }
        let major = compiler.identity.version.split('.').next().unwrap_or("");
        let machine = &compiler.identity.machine;
        for name in [
            format!("{machine}-{}", compiler.name),
            format!("{machine}-{}-{major}", compiler.name),
        ] {
            if !compilers.iter().any(|c| c.name == name) && !triplet_names.contains(&name) {
                triplet_names.push(name);
            }
        }
    }
    compilers.extend(
        triplet_names
            .into_iter()
            .filter_map(|name| local_compiler(name, path)),
    );
    compilers
}

fn local_compiler(name: String, path: &OsStr) -> Option<LocalCompiler> {
    let found = crate::executables::find_on_path(&name, path)?;
    let identity = identity_here(&found)?;
    Some(LocalCompiler {
        name,
        path: found,
        identity,
    })
}

fn push_new(names: &mut Vec<String>, name: &str) {
    if !names.iter().any(|n| n == name) {
        names.push(name.to_string());
    }
}

/// The compiler names a chain of symbolic links passes through (`/etc/alternatives/cc` is
/// skipped: `cc` is not a compiler family name of its own there).
fn link_names(start: &Path) -> Vec<String> {
    let mut names = Vec::new();
    let mut current = start.to_path_buf();
    for _ in 0..16 {
        let Ok(target) = std::fs::read_link(&current) else {
            break;
        };
        let next = match current.parent() {
            Some(dir) if target.is_relative() => dir.join(&target),
            _ => target,
        };
        let name = basename(&next.to_string_lossy()).to_string();
        if DRIVERS.contains(&name.as_str()) || is_compiler_family_name(&name) {
            names.push(name);
        }
        current = next;
    }
    names
}

fn identity_here(compiler: &Path) -> Option<Identity> {
    let ask = |flag: &str| -> Option<String> {
        let out = Command::new(compiler)
            .arg(flag)
            .stdin(Stdio::null())
            .stderr(Stdio::null())
            .output()
            .ok()?;
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
    };
    let version = ask("-dumpfullversion")
        .filter(|v| !v.is_empty())
        .or_else(|| ask("-dumpversion"))?;
    let machine = ask("-dumpmachine")?;
    (!version.is_empty() && !machine.is_empty()).then_some(Identity { version, machine })
}

/// A name safe to put in the script unquoted.
fn is_plain_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._+-".contains(c))
}

/// One `sh` script that prints `NAME<TAB>VERSION<TAB>MACHINE` for each compiler, or
/// `NAME<TAB>-` when the remote has none of that name.
pub fn remote_script(names: &[&str]) -> String {
    let names: Vec<&str> = names.iter().copied().filter(|n| is_plain_name(n)).collect();
    format!(
        "for c in {}; do\n\
         \x20 if command -v \"$c\" >/dev/null 2>&1; then\n\
         \x20   v=$(\"$c\" -dumpfullversion 2>/dev/null)\n\
         \x20   [ -n \"$v\" ] || v=$(\"$c\" -dumpversion 2>/dev/null)\n\
         \x20   m=$(\"$c\" -dumpmachine 2>/dev/null)\n\
         \x20   printf '%s\\t%s\\t%s\\n' \"$c\" \"$v\" \"$m\"\n\
         \x20 else\n\
         \x20   printf '%s\\t-\\n' \"$c\"\n\
         \x20 fi\n\
         done\n",
        names.join(" ")
    )
}

/// What the script printed: each name with its identity, or `None` when it is missing (or
/// does not answer).
pub fn parse_remote(output: &str) -> Vec<(String, Option<Identity>)> {
    output
        .lines()
        .filter_map(|line| {
            let mut fields = line.split('\t');
            let name = fields.next()?.to_string();
            let version = fields.next()?.trim();
            let machine = fields.next().unwrap_or("").trim();
            let identity =
                (version != "-" && !version.is_empty() && !machine.is_empty()).then(|| Identity {
                    version: version.to_string(),
                    machine: machine.to_string(),
                });
            Some((name, identity))
        })
        .collect()
}

/// Same compiler for distcc's purposes: the same version, and a target that names the same
/// machine (`x86_64-pc-linux-gnu` from clang and `x86_64-linux-gnu` from Debian's gcc are
/// the same triple with and without the vendor).
pub fn same(here: &Identity, there: &Identity) -> bool {
    here.version == there.version && same_machine(&here.machine, &there.machine)
}

fn same_machine(a: &str, b: &str) -> bool {
    let parts = |t: &str| -> Vec<String> {
        let words: Vec<&str> = t.split('-').collect();
        match words.as_slice() {
            [arch, vendor, rest @ ..]
                if rest.len() >= 2 && ["pc", "unknown", "none"].contains(vendor) =>
            {
                std::iter::once(*arch)
                    .chain(rest.iter().copied())
                    .map(String::from)
                    .collect()
            }
            _ => words.iter().map(|w| w.to_string()).collect(),
        }
    };
    a == b || parts(a) == parts(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remote_output_is_read_per_line() {
        let parsed = parse_remote("gcc\t12.2.0\tx86_64-linux-gnu\nclang\t-\ncc\t\t\n");
        assert_eq!(
            parsed,
            [
                (
                    "gcc".to_string(),
                    Some(Identity {
                        version: "12.2.0".into(),
                        machine: "x86_64-linux-gnu".into()
                    })
                ),
                ("clang".to_string(), None),
                ("cc".to_string(), None),
            ]
        );
    }

    #[test]
    fn vendor_less_triples_are_the_same_machine() {
        assert!(same_machine("x86_64-pc-linux-gnu", "x86_64-linux-gnu"));
        assert!(!same_machine("aarch64-linux-gnu", "x86_64-linux-gnu"));
        assert!(!same_machine("x86_64-linux-musl", "x86_64-linux-gnu"));
    }

    #[test]
    fn the_script_skips_names_that_would_need_quoting() {
        let script = remote_script(&["gcc", "g++", "x86_64-linux-gnu-gcc-12", "bad;name"]);
        assert!(script.starts_with("for c in gcc g++ x86_64-linux-gnu-gcc-12; do"));
    }
}
