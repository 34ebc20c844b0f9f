//! The platform properties of a compile: what a worker must be to run it. An engine gives
//! an Action only to a worker whose properties match, so a worker with another compiler
//! never takes a job, and the properties are part of the action key.

use super::proto::{Platform, platform::Property};

/// `OSFamily`: the name REAPI's lexicon gives the operating system.
pub const OS_FAMILY: &str = "OSFamily";
/// `ISA`: the instruction set, as REAPI's lexicon spells it (`x86-64`, `aarch64`, …).
pub const ISA: &str = "ISA";
/// distfarm's own: the compiler's version and target, as its objects show them.
pub const COMPILER: &str = "distfarm-compiler";

/// The properties of a job for `compiler` (its identity: version and target, such as
/// `GCC: (Debian 12.2.0-14) 12.2.0; ELF64 LSB x86-64 (62)`), with the host entry's own
/// `prop=NAME=VALUE` options after them (a later value for a name wins). Sorted by name and
/// unique, as the API requires.
pub fn properties(compiler: &str, entry: &[(String, String)]) -> Platform {
    let ours = [
        (OS_FAMILY, std::env::consts::OS.to_string()),
        (ISA, isa(std::env::consts::ARCH).to_string()),
        (COMPILER, compiler.to_string()),
    ];
    let mut all: Vec<(String, String)> = ours
        .into_iter()
        .map(|(n, v)| (n.to_string(), v))
        .chain(entry.iter().cloned())
        .collect();
    // Stable: of equal names the last given stays last, and wins below.
    all.sort_by(|a, b| a.0.cmp(&b.0));
    let mut properties: Vec<Property> = Vec::with_capacity(all.len());
    for (name, value) in all {
        match properties.last_mut() {
            Some(last) if last.name == name => last.value = value,
            _ => properties.push(Property { name, value }),
        }
    }
    Platform { properties }
}

/// Rust's architecture names in REAPI's lexicon spelling.
fn isa(arch: &str) -> &str {
    match arch {
        "x86_64" => "x86-64",
        "x86" => "x86-32",
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(p: &Platform) -> Vec<(&str, &str)> {
        p.properties
            .iter()
            .map(|p| (p.name.as_str(), p.value.as_str()))
            .collect()
    }

    #[test]
    fn properties_are_sorted_unique_and_the_entry_wins() {
        let entry = vec![
            ("container-image".to_string(), "docker://gcc:12".to_string()),
            (OS_FAMILY.to_string(), "Linux".to_string()),
        ];
        let p = properties("GCC 12", &entry);
        let names: Vec<_> = pairs(&p).iter().map(|(n, _)| *n).collect();
        // Byte order: upper case first.
        assert_eq!(names, vec![ISA, OS_FAMILY, "container-image", COMPILER]);
        assert_eq!(pairs(&p)[1], (OS_FAMILY, "Linux"));
        assert!(pairs(&p).contains(&(COMPILER, "GCC 12")));
    }

    #[test]
    fn another_compiler_is_another_platform() {
        assert_ne!(properties("GCC 12", &[]), properties("GCC 13", &[]));
    }
}
