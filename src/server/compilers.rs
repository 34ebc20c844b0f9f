//! Which programs the server runs: compilers only, found on `DISTCCD_PATH`/`PATH`.
//!
//! Allowed: bare names of the gcc and clang families, with an optional target-triple prefix
//! and version suffix (`x86_64-linux-gnu-gcc-12`, `clang++-16`); names present in distcc's
//! masquerade directory (`/usr/lib/distcc`); names or absolute paths added with `--compiler`.
//! `/usr/bin/` and `/bin/` prefixes are ignored, as in distccd (QtCreator sends them).
//!
//! Two settings replace that list, as they do in distccd: `DISTCC_CMDLIST` (only the listed
//! commands, see `command_list`) and `--enable-tcp-insecure` (any program on the search path
//! or any absolute path). Either way the argument rules and the confinement still apply.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use super::command_list::CommandList;
use super::refusal::Refusal;
use crate::compiler_names::{basename, is_compiler_family_name};

#[derive(Debug, Clone)]
pub struct CompilerPolicy {
    /// `--compiler NAME` entries: bare names or absolute paths.
    pub extra: Vec<String>,
    /// distcc's masquerade whitelist directory.
    pub masquerade_dir: PathBuf,
    /// Where compilers are looked up (`DISTCCD_PATH`, else `PATH`).
    pub search_path: Option<OsString>,
    /// `--enable-tcp-insecure`: no whitelist, as in distccd: any program found on the search
    /// path, or any absolute path, runs.
    pub insecure: bool,
    /// `DISTCC_CMDLIST`: the complete list of commands; it replaces every other rule here.
    pub command_list: Option<std::sync::Arc<CommandList>>,
}

/// What a request's compiler resolves to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolved {
    /// Run this program.
    Program(PathBuf),
    /// Allowed, but there is nothing to run. distccd only finds out when `execvp` fails in
    /// its child, and answers a failed job with exit 110 (`EXIT_COMPILER_MISSING`) and the
    /// reason on stderr; so do we, without starting anything.
    Missing { name: String, why: String },
}

impl CompilerPolicy {
    /// distccd's defaults: the built-in families and distcc's masquerade directory, found
    /// on `search_path` (`DISTCCD_PATH`, else `PATH`).
    pub fn searching(search_path: Option<OsString>) -> Self {
        CompilerPolicy {
            extra: Vec::new(),
            masquerade_dir: PathBuf::from("/usr/lib/distcc"),
            search_path,
            insecure: false,
            command_list: None,
        }
    }
}

impl CompilerPolicy {
    /// Decides whether `requested` (argv[0] as the client sent it) may run, and finds the
    /// executable to run.
    pub fn resolve(&self, requested: &str) -> Result<Resolved, Refusal> {
        let refuse = |why: &str| Err(Refusal::new(format!("compiler {requested:?}"), why));
        if requested.is_empty() {
            return refuse("the compiler name is empty");
        }
        if let Some(list) = &self.command_list {
            return self.resolve_listed(requested, list);
        }
        if self.insecure {
            return self.resolve_any(requested);
        }
        self.resolve_whitelisted(requested).map(Resolved::Program)
    }

    /// `DISTCC_CMDLIST`: the entry whose last words match runs, by its full path. Unlike
    /// distccd, a listed path that is missing is not retried by its basename on the search
    /// path: that would run a program the list does not name.
    fn resolve_listed(&self, requested: &str, list: &CommandList) -> Result<Resolved, Refusal> {
        let Some(entry) = list.lookup(requested) else {
            return Err(Refusal::new(
                format!("compiler {requested:?}"),
                format!(
                    "it is not in this server's DISTCC_CMDLIST ({})",
                    list.source().display()
                ),
            ));
        };
        if entry.contains('/') {
            return Ok(self.program_or_missing(requested, Path::new(entry)));
        }
        Ok(self.on_path_or_missing(requested, entry))
    }

    /// `--enable-tcp-insecure`: what distccd's `execvp` would run. An absolute path that is
    /// not there is looked up by its basename, as distccd does. A relative path with a `/`
    /// means nothing on this server (distccd would resolve it against its temp directory).
    fn resolve_any(&self, requested: &str) -> Result<Resolved, Refusal> {
        if !requested.contains('/') {
            return Ok(self.on_path_or_missing(requested, requested));
        }
        if !requested.starts_with('/') {
            return Err(Refusal::new(
                format!("compiler {requested:?}"),
                "a compiler is a name on this server's PATH or an absolute path",
            ));
        }
        let path = Path::new(requested);
        // Not a distcc/distfarm masquerade link: that would recurse instead of compiling.
        if crate::executables::is_real_program(path) {
            return Ok(Resolved::Program(path.to_path_buf()));
        }
        match self.find_on_path(basename(requested)) {
            Some(found) => Ok(Resolved::Program(found)),
            None => Ok(self.program_or_missing(requested, path)),
        }
    }

    fn program_or_missing(&self, requested: &str, path: &Path) -> Resolved {
        if crate::executables::is_executable(path) {
            return Resolved::Program(path.to_path_buf());
        }
        let why = if path.exists() {
            format!("{} is not an executable file", path.display())
        } else {
            format!("{} does not exist", path.display())
        };
        Resolved::Missing {
            name: requested.to_string(),
            why,
        }
    }

    fn on_path_or_missing(&self, requested: &str, name: &str) -> Resolved {
        match self.find_on_path(name) {
            Some(found) => Resolved::Program(found),
            None => Resolved::Missing {
                name: requested.to_string(),
                why: format!(
                    "no executable {name:?} on this server's DISTCCD_PATH/PATH (install it, \
                     or set DISTCCD_PATH)"
                ),
            },
        }
    }

    /// The default: gcc/clang family names, `--compiler` entries, the masquerade directory.
    fn resolve_whitelisted(&self, requested: &str) -> Result<PathBuf, Refusal> {
        let refuse = |why: &str| Err(Refusal::new(format!("compiler {requested:?}"), why));
        if self.extra.iter().any(|e| e == requested) && requested.starts_with('/') {
            return Ok(PathBuf::from(requested));
        }
        let name = strip_system_prefix(requested);
        if name.contains('/') {
            return refuse(
                "a compiler must be a bare name (gcc, clang-16, x86_64-linux-gnu-gcc-12 …); \
                 add an absolute path with `distfarm serve --compiler PATH` (or pass \
                 --enable-tcp-insecure, or set DISTCC_CMDLIST)",
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

fn executable(path: &Path) -> Option<PathBuf> {
    crate::executables::is_executable(path).then(|| path.to_path_buf())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(dir: &Path) -> CompilerPolicy {
        CompilerPolicy {
            extra: vec![],
            masquerade_dir: dir.join("masq"),
            search_path: Some(OsString::from("/usr/bin:/bin")),
            insecure: false,
            command_list: None,
        }
    }

    #[test]
    fn shells_and_absolute_paths_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let p = policy(dir.path());
        for bad in [
            "sh", "/bin/sh", "env", "python3", "as", "/tmp/gcc", "../gcc", "./gcc",
        ] {
            let err = p.resolve_whitelisted(bad).unwrap_err();
            assert!(err.to_string().contains(bad), "{err}");
        }
    }

    #[test]
    fn system_prefix_is_ignored_and_gcc_resolves_on_path() {
        let dir = tempfile::tempdir().unwrap();
        let p = policy(dir.path());
        assert!(p.resolve_whitelisted("gcc").unwrap().ends_with("gcc"));
        assert!(
            p.resolve_whitelisted("/usr/bin/gcc")
                .unwrap()
                .ends_with("gcc")
        );
        assert!(
            p.resolve_whitelisted("clang-99")
                .unwrap_err()
                .why
                .contains("not found")
        );
    }

    #[test]
    fn masquerade_dir_entries_are_allowed() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let p = policy(dir.path());
        assert!(p.resolve_whitelisted("true").is_err());
        std::fs::create_dir(dir.path().join("masq")).unwrap();
        let entry = dir.path().join("masq/true");
        std::fs::write(&entry, b"").unwrap();
        std::fs::set_permissions(&entry, std::fs::Permissions::from_mode(0o755)).unwrap();
        assert_eq!(
            p.resolve_whitelisted("true").unwrap(),
            Path::new("/usr/bin/true")
        );
    }

    #[test]
    fn compiler_option_adds_names_and_absolute_paths() {
        let dir = tempfile::tempdir().unwrap();
        let mut p = policy(dir.path());
        assert!(p.resolve_whitelisted("/usr/bin/true").is_err());
        p.extra = vec!["true".into(), "/usr/lib/special-cc".into()];
        assert_eq!(
            p.resolve_whitelisted("true").unwrap(),
            Path::new("/usr/bin/true")
        );
        assert_eq!(
            p.resolve_whitelisted("/usr/lib/special-cc").unwrap(),
            Path::new("/usr/lib/special-cc")
        );
        assert!(p.resolve_whitelisted("/usr/lib/other-cc").is_err());
    }

    fn insecure(dir: &Path) -> CompilerPolicy {
        CompilerPolicy {
            insecure: true,
            ..policy(dir)
        }
    }

    #[test]
    fn insecure_runs_any_name_on_the_path_or_any_absolute_path() {
        let dir = tempfile::tempdir().unwrap();
        let p = insecure(dir.path());
        for (requested, runs) in [
            ("true", "/usr/bin/true"),
            ("/usr/bin/true", "/usr/bin/true"),
            ("/bin/true", "/bin/true"),
            // distccd's execvp falls back to the basename of a missing absolute path.
            ("/opt/nowhere/bin/true", "/usr/bin/true"),
        ] {
            assert_eq!(
                p.resolve(requested).unwrap(),
                Resolved::Program(PathBuf::from(runs)),
                "{requested}"
            );
        }
    }

    #[test]
    fn insecure_reports_missing_and_non_executable_compilers_as_missing() {
        let dir = tempfile::tempdir().unwrap();
        let p = insecure(dir.path());
        let plain = dir.path().join("not-executable-cc");
        std::fs::write(&plain, b"#!/bin/sh\n").unwrap();
        for requested in [
            "no-such-compiler-here",
            "/opt/nowhere/no-such-compiler-here",
            plain.to_str().unwrap(),
        ] {
            assert!(
                matches!(p.resolve(requested).unwrap(), Resolved::Missing { .. }),
                "{requested}"
            );
        }
        assert!(p.resolve("./gcc").is_err());
        assert!(p.resolve("").is_err());
    }
}
