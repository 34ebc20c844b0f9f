//! The names of C and C++ compiler drivers, in one place: which names the server runs, which
//! the wrapper rewrites for cross builds and treats as clang, and which `install-links`
//! makes masquerade links for.

/// The drivers a compiler's name may end in, after any target-triple prefix.
const FAMILIES: [&str; 10] = [
    "gcc", "g++", "cc", "c++", "clang", "clang++", "c89", "c99", "c89-gcc", "c99-gcc",
];

/// The plain driver names a machine usually has, masquerade links included.
pub const DRIVERS: [&str; 8] = ["cc", "c++", "gcc", "g++", "clang", "clang++", "c89", "c99"];

/// gcc's C and C++ drivers.
pub const GCC_DRIVERS: [&str; 2] = ["gcc", "g++"];

/// clang's C and C++ drivers.
pub const CLANG_DRIVERS: [&str; 2] = ["clang", "clang++"];

/// The last component of a `/`-separated path (the whole text if it has none or ends in `/`).
pub fn basename(path: &str) -> &str {
    match path.rsplit_once('/') {
        Some((_, base)) if !base.is_empty() => base,
        _ => path,
    }
}

/// `gcc`, `g++-12`, `x86_64-linux-gnu-gcc-12`, `clang++-16`, `aarch64-unknown-linux-gnu-clang`.
pub fn is_compiler_family_name(name: &str) -> bool {
    if name.is_empty()
        || !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.+".contains(&b))
    {
        return false;
    }
    // Strip a version suffix: `-12`, `-12.2`, `-16`.
    let base = match name.rsplit_once('-') {
        Some((head, ver))
            if !ver.is_empty() && ver.bytes().all(|b| b.is_ascii_digit() || b == b'.') =>
        {
            head
        }
        _ => name,
    };
    FAMILIES.iter().any(|family| {
        base == *family
            || base
                .strip_suffix(family)
                .and_then(|prefix| prefix.strip_suffix('-'))
                .is_some_and(|triple| !triple.is_empty() && triple.contains('-'))
    })
}

/// `base`, or `base-SOMETHING` (`gcc-12`), for one of `bases`.
pub fn is_versioned(name: &str, bases: &[&str]) -> bool {
    bases.iter().any(|base| {
        name == *base
            || name
                .strip_prefix(base)
                .is_some_and(|rest| rest.starts_with('-') && rest.len() > 1)
    })
}

/// Whether the compiler named by `argv0` (a name or a path) is clang: `clang`, `clang++`,
/// `clang-14`, ….
pub fn is_clang(argv0: &str) -> bool {
    is_versioned(basename(argv0), &CLANG_DRIVERS)
}

/// Whether the driver named by `argv0` (a name or a path) is a C++ driver, which compiles a
/// `.c` file as C++: `g++`, `c++`, `clang++`, `g++-12`, `x86_64-linux-gnu-g++-12`.
pub fn is_cxx_driver(argv0: &str) -> bool {
    let name = basename(argv0);
    let name = match name.rsplit_once('-') {
        Some((head, version))
            if !version.is_empty() && version.bytes().all(|b| b.is_ascii_digit() || b == b'.') =>
        {
            head
        }
        _ => name,
    };
    name.ends_with("++")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cxx_drivers_are_told_from_c_drivers() {
        for name in [
            "g++",
            "c++",
            "clang++",
            "g++-12",
            "/usr/bin/x86_64-linux-gnu-g++-12",
        ] {
            assert!(is_cxx_driver(name), "{name}");
        }
        for name in [
            "gcc",
            "cc",
            "clang-16",
            "/usr/bin/x86_64-linux-gnu-gcc-12",
            "c99",
        ] {
            assert!(!is_cxx_driver(name), "{name}");
        }
    }

    #[test]
    fn gcc_and_clang_families_with_triples_and_versions_are_compilers() {
        for name in [
            "gcc",
            "g++",
            "cc",
            "c++",
            "clang",
            "clang++",
            "gcc-12",
            "g++-12",
            "clang-16",
            "clang++-16",
            "x86_64-linux-gnu-gcc",
            "x86_64-linux-gnu-gcc-12",
            "x86_64-pc-linux-gnu-g++",
            "aarch64-linux-gnu-gcc-12.2",
            "c99-gcc",
        ] {
            assert!(is_compiler_family_name(name), "{name}");
        }
    }

    #[test]
    fn other_programs_are_not_compilers() {
        for name in [
            "sh",
            "bash",
            "env",
            "python3",
            "as",
            "ld",
            "gcc;sh",
            "gcc sh",
            "$(sh)",
            "gccx",
            "notgcc",
            "-gcc",
            "evil-gcc",
            "x86_64-linux-gnu-as",
            "gcc-evil",
            "",
            "..",
        ] {
            assert!(!is_compiler_family_name(name), "{name}");
        }
    }

    #[test]
    fn basename_is_the_last_component() {
        assert_eq!(basename("/usr/bin/gcc"), "gcc");
        assert_eq!(basename("gcc"), "gcc");
        assert_eq!(basename("dir/"), "dir/");
    }

    #[test]
    fn clang_is_known_by_its_versioned_names_only() {
        assert!(is_clang("/usr/bin/clang-16"));
        assert!(is_clang("clang++"));
        assert!(!is_clang("clangd"));
        assert!(!is_clang("gcc"));
    }
}
