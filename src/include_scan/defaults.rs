//! The compiler's own include directories, predefined macros and implicit pre-include, asked
//! of the compiler once per distinct (compiler binary, language, options that change them):
//! `<compiler> [those options] -E -v -dM -MD -MF <temp> -x <lang> /dev/null`, whose stderr
//! lists the search chains, whose stdout is the predefined macros (for computed includes) and
//! whose dependency file names the header gcc reads before every source on glibc targets
//! (`stdc-predef.h`; none with `-ffreestanding`, `-nostdinc` or clang).

use std::collections::HashMap;
use std::ffi::{OsStr, OsString};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::command::Language;
use super::directives::{self, Directives};

/// A compiler that has not answered `-v` by then is not going to.
const QUERY_TIMEOUT: Duration = Duration::from_secs(60);

/// The variables that add directories to the compiler's search: cleared for the query, so
/// the agent's own environment cannot leak into the defaults (the caller gives up on jobs
/// that set them).
pub const SEARCH_VARIABLES: [&str; 5] = [
    "CPATH",
    "C_INCLUDE_PATH",
    "CPLUS_INCLUDE_PATH",
    "OBJC_INCLUDE_PATH",
    "OBJCPLUS_INCLUDE_PATH",
];

#[derive(Debug, Default)]
pub struct Defaults {
    /// `#include "..." search starts here:` (normally empty).
    pub quote: Vec<PathBuf>,
    /// `#include <...> search starts here:`, as printed (clang's may hold `..`).
    pub angle: Vec<PathBuf>,
    pub predefined: Directives,
    /// Headers the compiler includes before the source, as angle-bracket names searched
    /// through the whole bracket chain (gcc's `cpp_push_default_include`: a `-I` directory
    /// holding a `stdc-predef.h` wins over the system's).
    pub preinclude: Vec<PathBuf>,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct Key {
    compiler: PathBuf,
    identity: (u64, u64, i64, i64),
    language: Language,
    args: Vec<String>,
}

type Cell = Arc<Mutex<Option<Arc<Defaults>>>>;

#[derive(Default)]
pub struct DefaultsCache {
    cells: Mutex<HashMap<Key, Cell>>,
}

impl DefaultsCache {
    /// The defaults for `compiler` (an absolute path), from the cache or by asking it.
    /// Concurrent callers with the same key wait for one query; failures are not cached.
    pub fn get(
        &self,
        compiler: &Path,
        language: Language,
        args: &[String],
        path_var: Option<&OsStr>,
    ) -> Result<Arc<Defaults>, String> {
        let meta = std::fs::metadata(compiler)
            .map_err(|e| format!("cannot run the compiler {}: {e}", compiler.display()))?;
        let key = Key {
            compiler: compiler.to_path_buf(),
            identity: (meta.dev(), meta.ino(), meta.mtime(), meta.mtime_nsec()),
            language,
            args: args.to_vec(),
        };
        let cell = self
            .cells
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(key)
            .or_default()
            .clone();
        let mut slot = cell.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(defaults) = &*slot {
            return Ok(defaults.clone());
        }
        let defaults = Arc::new(query(compiler, language, args, path_var)?);
        *slot = Some(defaults.clone());
        Ok(defaults)
    }
}

fn query(
    compiler: &Path,
    language: Language,
    args: &[String],
    path_var: Option<&OsStr>,
) -> Result<Defaults, String> {
    let deps = tempfile::Builder::new()
        .prefix("distfarm-defaults-")
        .suffix(".d")
        .tempfile()
        .map_err(|e| format!("cannot make a temp file for the compiler query: {e}"))?;
    let mut command = Command::new(compiler);
    command
        .args(args)
        .args(["-E", "-v", "-dM", "-MD", "-MT", "q", "-MF"])
        .arg(deps.path())
        .args(["-x", language.x_name(), "/dev/null"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // The search list's headings are translated in other locales.
        .env("LC_ALL", "C")
        .current_dir("/");
    for var in SEARCH_VARIABLES {
        command.env_remove(var);
    }
    if let Some(path) = path_var {
        command.env("PATH", path);
    }
    let shown = std::iter::once(compiler.display().to_string())
        .chain(args.iter().cloned())
        .chain(["-E", "-v", "-dM", "-MD", "-MT", "q", "-MF"].map(String::from))
        .chain([deps.path().display().to_string()])
        .chain(["-x", language.x_name(), "/dev/null"].map(String::from))
        .collect::<Vec<_>>()
        .join(" ");
    let child = command
        .spawn()
        .map_err(|e| format!("cannot run `{shown}`: {e}"))?;
    let pid = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    let output = match rx.recv_timeout(QUERY_TIMEOUT) {
        Ok(result) => result.map_err(|e| format!("`{shown}` failed: {e}"))?,
        Err(_) => {
            // The waiting thread reaps it once killed.
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid as i32),
                nix::sys::signal::Signal::SIGKILL,
            );
            return Err(format!(
                "`{shown}` did not finish within {}s",
                QUERY_TIMEOUT.as_secs()
            ));
        }
    };
    let stderr = String::from_utf8_lossy(&output.stderr);
    if !output.status.success() {
        let last = stderr.lines().last().unwrap_or("").trim();
        return Err(format!("`{shown}` failed ({}): {last}", output.status));
    }
    let (quote, angle) = parse_search_list(&stderr)
        .ok_or_else(|| format!("`{shown}` printed no include search list"))?;
    // A compiler that writes no dependency file pre-includes nothing we can know of.
    let rule = std::fs::read_to_string(deps.path()).unwrap_or_default();
    let preinclude = preinclude_name(&rule, &angle).into_iter().collect();
    Ok(Defaults {
        quote,
        angle,
        predefined: directives::parse(&output.stdout),
        preinclude,
    })
}

/// The implicit pre-include in the dependency rule of an empty input (`q: /dev/null
/// /usr/include/stdc-predef.h …`): the first file after the input, named relative to the
/// default directory it lies in. Files after it are what it includes in turn.
pub fn preinclude_name(rule: &str, angle: &[PathBuf]) -> Option<PathBuf> {
    let joined = rule.replace("\\\n", " ");
    let (_, prerequisites) = joined.split_once(':')?;
    let first = prerequisites
        .split_whitespace()
        .find(|p| *p != "/dev/null")?;
    let first = Path::new(first);
    angle
        .iter()
        .find_map(|dir| first.strip_prefix(dir).ok())
        .filter(|name| !name.as_os_str().is_empty())
        .map(Path::to_path_buf)
}

/// The two lists of `-v` output: quote directories and angle directories.
pub fn parse_search_list(text: &str) -> Option<(Vec<PathBuf>, Vec<PathBuf>)> {
    let mut quote = Vec::new();
    let mut angle = Vec::new();
    let mut section = 0; // 0 before, 1 quote, 2 angle, 3 after
    let mut seen_angle = false;
    for line in text.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with("#include \"...\" search starts here") {
            section = 1;
            continue;
        }
        if trimmed.starts_with("#include <...> search starts here") {
            section = 2;
            seen_angle = true;
            continue;
        }
        if trimmed.starts_with("End of search list") {
            section = 3;
            continue;
        }
        if section == 1 || section == 2 {
            if !line.starts_with(' ') || trimmed.is_empty() {
                continue;
            }
            // macOS frameworks are searched differently; the scanner does not model them.
            if trimmed.ends_with("(framework directory)") {
                continue;
            }
            let dir = PathBuf::from(trimmed);
            if section == 1 {
                quote.push(dir);
            } else {
                angle.push(dir);
            }
        }
    }
    (seen_angle && section == 3).then_some((quote, angle))
}

/// The compiler program `argv0` names: a path (relative to `cwd`), or the first executable of
/// that name on `path_var` (the job's `PATH`).
pub fn find_compiler(argv0: &str, cwd: &Path, path_var: Option<&OsStr>) -> Result<PathBuf, String> {
    if argv0.contains('/') {
        let path = cwd.join(argv0);
        return if path.is_file() {
            Ok(path)
        } else {
            Err(format!("the compiler {} does not exist", path.display()))
        };
    }
    let default_path: OsString = "/usr/local/bin:/usr/bin:/bin".into();
    let search = path_var.unwrap_or(&default_path);
    std::env::split_paths(search)
        .filter(|dir| !dir.as_os_str().is_empty())
        .map(|dir| cwd.join(dir).join(argv0))
        .find(|candidate| is_executable(candidate))
        .ok_or_else(|| format!("the compiler `{argv0}` is not on PATH"))
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gcc_search_list_is_parsed() {
        let text = "ignoring nonexistent directory \"/usr/local/include/x86_64-linux-gnu\"\n\
                    #include \"...\" search starts here:\n\
                    #include <...> search starts here:\n /usr/lib/gcc/x86_64-linux-gnu/12/include\n \
                    /usr/local/include\n /usr/include\nEnd of search list.\n";
        let (quote, angle) = parse_search_list(text).unwrap();
        assert!(quote.is_empty());
        assert_eq!(
            angle,
            [
                "/usr/lib/gcc/x86_64-linux-gnu/12/include",
                "/usr/local/include",
                "/usr/include"
            ]
            .map(PathBuf::from)
        );
    }

    #[test]
    fn frameworks_are_skipped_and_quote_defaults_kept() {
        let text = "#include \"...\" search starts here:\n /q\n#include <...> search starts here:\n \
                    /usr/include\n /System/Library/Frameworks (framework directory)\nEnd of search list.\n";
        let (quote, angle) = parse_search_list(text).unwrap();
        assert_eq!(quote, [PathBuf::from("/q")]);
        assert_eq!(angle, [PathBuf::from("/usr/include")]);
    }

    #[test]
    fn preinclude_is_named_relative_to_its_default_directory() {
        let angle = ["/usr/lib/gcc/x86_64-linux-gnu/12/include", "/usr/include"].map(PathBuf::from);
        let rule = "q: /dev/null /usr/include/stdc-predef.h \\\n /usr/include/other.h\n";
        assert_eq!(
            preinclude_name(rule, &angle),
            Some(PathBuf::from("stdc-predef.h"))
        );
        assert_eq!(preinclude_name("q: /dev/null\n", &angle), None);
        assert_eq!(preinclude_name("", &angle), None);
        // Not under a default directory: not something the bracket chain can find by name.
        assert_eq!(preinclude_name("q: /dev/null /opt/x.h\n", &angle), None);
    }

    #[test]
    fn output_without_a_list_is_rejected() {
        assert!(parse_search_list("gcc: error: unrecognized option\n").is_none());
        assert!(parse_search_list("#include <...> search starts here:\n /usr/include\n").is_none());
    }
}
