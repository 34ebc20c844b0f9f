//! Which programs the server runs: compilers only, found on `DISTCCD_PATH`/`PATH`.
//!
//! Allowed: bare names of the gcc and clang families, with an optional target-triple prefix
//! and version suffix (`x86_64-linux-gnu-gcc-12`, `clang++-16`); names present in distcc's
//! masquerade directory (`/usr/lib/distcc`); names or absolute paths added with `--compiler`.
//! `/usr/bin/` and `/bin/` prefixes are ignored, as in distccd (QtCreator sends them).

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use super::refusal::Refusal;

/// The compiler drivers a bare name may end in, after any triple prefix.
const FAMILIES: [&str; 10] = [
    "gcc", "g++", "cc", "c++", "clang", "clang++", "c89", "c99", "c89-gcc", "c99-gcc",
];

#[derive(Debug, Clone)]
pub struct CompilerPolicy {
    /// `--compiler NAME` entries: bare names or absolute paths.
    pub extra: Vec<String>,
    /// distcc's masquerade whitelist directory.
    pub masquerade_dir: PathBuf,
    /// Where compilers are looked up (`DISTCCD_PATH`, else `PATH`).
    pub search_path: Option<OsString>,
    /// `--enable-tcp-insecure` over SSH: also accept family names given as absolute paths.
    pub relaxed: bool,
}

impl Default for CompilerPolicy {
    fn default() -> Self {
        CompilerPolicy {
            extra: Vec::new(),
            masquerade_dir: PathBuf::from("/usr/lib/distcc"),
            search_path: std::env::var_os("PATH"),
            relaxed: false,
        }
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

impl CompilerPolicy {
    /// Decides whether `requested` (argv[0] as the client sent it) may run, and returns the
    /// executable to run.
    pub fn resolve(&self, requested: &str) -> Result<PathBuf, Refusal> {
        let refuse = |why: &str| Err(Refusal::new(format!("compiler {requested:?}"), why));
        if requested.is_empty() {
            return refuse("the compiler name is empty");
        }
        if self.extra.iter().any(|e| e == requested) && requested.starts_with('/') {
            return Ok(PathBuf::from(requested));
        }
        let name = strip_system_prefix(requested);
        if name.contains('/') {
            if self.relaxed
                && is_compiler_family_name(basename(name))
                && Path::new(name).is_absolute()
            {
                return executable(Path::new(name)).ok_or_else(|| {
                    Refusal::new(
                        format!("compiler {requested:?}"),
                        "no such executable on this server",
                    )
                });
            }
            return refuse(
                "a compiler must be a bare name (gcc, clang-16, x86_64-linux-gnu-gcc-12 …); \
                 add an absolute path with `distfarm serve --compiler PATH`",
            );
        }
        let allowed = is_compiler_family_name(name)
            || self.extra.iter().any(|e| e == name)
            || executable(&self.masquerade_dir.join(name)).is_some();
        if !allowed {
            return refuse(
                "not a gcc or clang compiler name; allow it with `distfarm serve --compiler NAME` \
                 or a link in /usr/lib/distcc",
            );
        }
        self.find_on_path(name).ok_or_else(|| {
            Refusal::new(
                format!("compiler {requested:?}"),
                "not found on this server's DISTCCD_PATH/PATH (install it, or set DISTCCD_PATH)",
            )
        })
    }

    /// The first match on the search path that is not a distcc/distfarm masquerade link:
    /// running ourselves again would recurse instead of compiling.
    fn find_on_path(&self, name: &str) -> Option<PathBuf> {
        let path = self.search_path.as_ref()?;
        crate::executables::find_in(
            std::env::split_paths(path).filter(|dir| dir.is_absolute()),
            name,
        )
    }
}

fn strip_system_prefix(name: &str) -> &str {
    for prefix in ["/usr/bin/", "/bin/"] {
        if name.len() > prefix.len() && name[..prefix.len()].eq_ignore_ascii_case(prefix) {
            return &name[prefix.len()..];
        }
    }
    name
}

fn basename(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

fn executable(path: &Path) -> Option<PathBuf> {
    crate::executables::is_executable(path).then(|| path.to_path_buf())
}

#[cfg(test)]
mod tests {
    use super::*;

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

    fn policy(dir: &Path) -> CompilerPolicy {
        CompilerPolicy {
            extra: vec![],
            masquerade_dir: dir.join("masq"),
            search_path: Some(OsString::from("/usr/bin:/bin")),
            relaxed: false,
        }
    }

    #[test]
    fn shells_and_absolute_paths_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let p = policy(dir.path());
        for bad in [
            "sh", "/bin/sh", "env", "python3", "as", "/tmp/gcc", "../gcc", "./gcc",
        ] {
            let err = p.resolve(bad).unwrap_err();
            assert!(err.to_string().contains(bad), "{err}");
        }
    }

    #[test]
    fn system_prefix_is_ignored_and_gcc_resolves_on_path() {
        let dir = tempfile::tempdir().unwrap();
        let p = policy(dir.path());
        assert!(p.resolve("gcc").unwrap().ends_with("gcc"));
        assert!(p.resolve("/usr/bin/gcc").unwrap().ends_with("gcc"));
        assert!(p.resolve("clang-99").unwrap_err().why.contains("not found"));
    }

    #[test]
    fn masquerade_dir_entries_are_allowed() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let p = policy(dir.path());
        assert!(p.resolve("true").is_err());
        std::fs::create_dir(dir.path().join("masq")).unwrap();
        let entry = dir.path().join("masq/true");
        std::fs::write(&entry, b"").unwrap();
        std::fs::set_permissions(&entry, std::fs::Permissions::from_mode(0o755)).unwrap();
        assert_eq!(p.resolve("true").unwrap(), Path::new("/usr/bin/true"));
    }

    #[test]
    fn compiler_option_adds_names_and_absolute_paths() {
        let dir = tempfile::tempdir().unwrap();
        let mut p = policy(dir.path());
        assert!(p.resolve("/usr/bin/true").is_err());
        p.extra = vec!["true".into(), "/usr/lib/special-cc".into()];
        assert_eq!(p.resolve("true").unwrap(), Path::new("/usr/bin/true"));
        assert_eq!(
            p.resolve("/usr/lib/special-cc").unwrap(),
            Path::new("/usr/lib/special-cc")
        );
        assert!(p.resolve("/usr/lib/other-cc").is_err());
    }
}
