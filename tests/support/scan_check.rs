//! The include scanner held against the compiler itself, one compile at a time:
//!
//! 1. `<compiler> FLAGS -M SOURCE` lists every file the preprocessor opened, spelled the way it
//!    found them (`inc/sub/../c.h`, `linkdir/b.h`);
//! 2. every one of them, as a canonical real path, must be in the scanner's closure: shipped
//!    (`files`) unless it lies under one of the compiler's default directories
//!    (`system_files`), and every symlink crossed on the spelled path outside those
//!    directories must be in `links` with its canonical target;
//! 3. a mirror of the tree built from the closure alone — files copied, directories and links
//!    made, the default directories linked to the real ones, as a pump server builds a job
//!    root — must preprocess to the same list: proof that `..`, links and `__has_include`
//!    answers survive the trip.
//!
//! Files in the closure that gcc did not open are allowed (the scanner counts every
//! conditional branch) and counted.

use std::collections::BTreeSet;
use std::fmt;
use std::path::{Component, Path, PathBuf};

use distfarm::include_scan::{Closure, ScanEnv, Scanner};

use super::process::{Cmd, text};
use super::programs::{require, test_path};

/// One compile: `<compiler> FLAGS -c SOURCE`, run in `cwd`.
#[derive(Clone, Debug)]
pub struct Compile {
    pub compiler: String,
    pub cwd: PathBuf,
    pub flags: Vec<String>,
    pub source: String,
}

impl Compile {
    pub fn new(compiler: &str, cwd: &Path, flags: &[String], source: &str) -> Compile {
        Compile {
            compiler: compiler.to_string(),
            cwd: cwd.to_path_buf(),
            flags: flags.to_vec(),
            source: source.to_string(),
        }
    }

    /// The command line the wrapper would hand the scanner.
    fn scanner_argv(&self) -> Vec<String> {
        let mut argv = vec![self.compiler.clone()];
        argv.extend(self.flags.iter().cloned());
        argv.extend([
            "-c".into(),
            self.source.clone(),
            "-o".into(),
            "scan-check.o".into(),
        ]);
        argv
    }
}

impl fmt::Display for Compile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "(in {}) {}", self.cwd.display(), self.compiler)?;
        for flag in &self.flags {
            write!(f, " {flag}")?;
        }
        write!(f, " -c {}", self.source)
    }
}

/// Counts over many compiles, for the report.
#[derive(Debug, Default)]
pub struct Tally {
    pub units: usize,
    /// Files gcc opened, summed over the compiles (each was looked for in the closure).
    pub compared: usize,
    /// Closure files (shipped or system) gcc did not open, summed over the compiles.
    pub extra: usize,
    /// Distinct files gcc opened, and distinct extra files, over all compiles.
    pub distinct_compared: BTreeSet<PathBuf>,
    pub distinct_extra: BTreeSet<PathBuf>,
    pub links_checked: usize,
}

impl fmt::Display for Tally {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} compiles, {} files compared ({} distinct), {} extra in the closure ({} distinct), \
             {} symlinks checked",
            self.units,
            self.compared,
            self.distinct_compared.len(),
            self.extra,
            self.distinct_extra.len(),
            self.links_checked
        )
    }
}

/// Scans `compile` with `scanner`, checks the closure against gcc (steps 1–3 above) and adds
/// to `tally`. `Err` says what is missing or different, naming the compile.
pub fn check(scanner: &Scanner, compile: &Compile, tally: &mut Tally) -> Result<Closure, String> {
    let env = ScanEnv {
        path: Some(test_path()),
        search_variables: Vec::new(),
    };
    let closure = scanner
        .closure_in(&compile.cwd, &compile.scanner_argv(), &env)
        .map_err(|e| format!("{compile}: the scanner gave up: {e}"))?;
    let spelled = gcc_dependencies(
        &compile.compiler,
        &compile.cwd,
        &compile.flags,
        &compile.source,
    )
    .map_err(|e| format!("{compile}: {e}"))?;

    let shipped: BTreeSet<&Path> = closure.files.iter().map(PathBuf::as_path).collect();
    let system: BTreeSet<&Path> = closure.system_files.iter().map(PathBuf::as_path).collect();
    let links: BTreeSet<(&Path, &Path)> = closure
        .links
        .iter()
        .map(|(l, t)| (l.as_path(), t.as_path()))
        .collect();
    let under_system = |p: &Path| closure.system_dirs.iter().any(|d| p.starts_with(d));

    let mut problems = Vec::new();
    let mut opened = BTreeSet::new();
    for dep in &spelled {
        let path = compile.cwd.join(dep);
        let real = std::fs::canonicalize(&path)
            .map_err(|e| format!("{compile}: gcc listed {dep}, which does not resolve: {e}"))?;
        if under_system(&real) {
            if !system.contains(real.as_path()) && !shipped.contains(real.as_path()) {
                problems.push(format!("missing system header {dep} ({})", real.display()));
            }
        } else if !shipped.contains(real.as_path()) {
            let listed = if system.contains(real.as_path()) {
                " (listed as a system header, so it would not be shipped)"
            } else {
                ""
            };
            problems.push(format!("missing {dep} ({}){listed}", real.display()));
        }
        for (link, target) in links_crossed(&path) {
            if under_system(&link) {
                continue;
            }
            tally.links_checked += 1;
            if !links.contains(&(link.as_path(), target.as_path())) {
                problems.push(format!(
                    "the symlink {} -> {} (crossed by {dep}) is not recorded",
                    link.display(),
                    target.display()
                ));
            }
        }
        opened.insert(real);
    }
    if !problems.is_empty() {
        return Err(format!(
            "{compile}: the closure lacks what gcc opened:\n  {}",
            problems.join("\n  ")
        ));
    }

    let replayed = replay_in_mirror(compile, &closure)?;
    if replayed != opened {
        let lost: Vec<_> = opened.difference(&replayed).map(|p| p.display()).collect();
        let gained: Vec<_> = replayed.difference(&opened).map(|p| p.display()).collect();
        return Err(format!(
            "{compile}: in a mirror built from the closure gcc opens other files.\n  \
             not opened there: {lost:?}\n  opened only there: {gained:?}"
        ));
    }

    let extra: Vec<&PathBuf> = closure
        .files
        .iter()
        .chain(&closure.system_files)
        .filter(|f| !opened.contains(*f))
        .collect();
    tally.units += 1;
    tally.compared += opened.len();
    tally.extra += extra.len();
    tally.distinct_extra.extend(extra.into_iter().cloned());
    tally.distinct_compared.extend(opened);
    Ok(closure)
}

/// Checks every compile with one scanner (as the agent shares one between jobs), prints the
/// counts, and fails with every problem found, not just the first.
#[track_caller]
pub fn check_all(label: &str, compiles: &[Compile]) -> Tally {
    require("gcc", "gcc");
    require("g++", "g++");
    let scanner = Scanner::new();
    let mut tally = Tally::default();
    let failures: Vec<String> = compiles
        .iter()
        .filter_map(|compile| check(&scanner, compile, &mut tally).err())
        .collect();
    eprintln!("include scanner vs the compiler's -M, {label}: {tally}");
    assert!(
        failures.is_empty(),
        "{label}: {} of {} compiles wrong:\n{}",
        failures.len(),
        compiles.len(),
        failures.join("\n")
    );
    tally
}

/// Owned arguments.
pub fn strings(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

/// The files `<compiler> FLAGS -M SOURCE` lists, as spelled (relative to `cwd` or absolute).
pub fn gcc_dependencies(
    compiler: &str,
    cwd: &Path,
    flags: &[String],
    source: &str,
) -> Result<Vec<String>, String> {
    let out = Cmd::new(compiler)
        .args(flags)
        .args(["-M", source])
        .current_dir(cwd)
        .env("LC_ALL", "C")
        .output()
        .map_err(|e| format!("`{compiler} -M` failed: {e}"))?;
    Ok(make_dependencies(&text(&out.stdout)))
}

/// The prerequisites of a make rule as `gcc -M` writes it (`target: a b \` lines, `\ ` for a
/// blank in a name, `$$` for `$`).
pub fn make_dependencies(rule: &str) -> Vec<String> {
    let joined = rule.replace("\\\n", " ");
    let Some((_, prerequisites)) = joined.split_once(": ") else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let mut word = String::new();
    let mut chars = prerequisites.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&' ') => word.push(chars.next().unwrap()),
            '$' if chars.peek() == Some(&'$') => word.push(chars.next().unwrap()),
            c if c.is_whitespace() => {
                if !word.is_empty() {
                    out.push(std::mem::take(&mut word));
                }
            }
            c => word.push(c),
        }
    }
    if !word.is_empty() {
        out.push(word);
    }
    out
}

/// The symlinks the kernel follows to open `path` (absolute), with their canonical targets,
/// worked out independently of the scanner's resolver: component by component, `..` taken
/// from the directory actually reached.
pub fn links_crossed(path: &Path) -> Vec<(PathBuf, PathBuf)> {
    let mut out = Vec::new();
    let mut cur = PathBuf::from("/");
    for component in path.components() {
        match component {
            Component::RootDir | Component::Prefix(_) => cur = PathBuf::from("/"),
            Component::CurDir => {}
            Component::ParentDir => {
                cur.pop();
            }
            Component::Normal(name) => {
                let next = cur.join(name);
                let is_link =
                    std::fs::symlink_metadata(&next).is_ok_and(|m| m.file_type().is_symlink());
                if is_link && let Ok(target) = std::fs::canonicalize(&next) {
                    out.push((next, target.clone()));
                    cur = target;
                } else {
                    cur = next;
                }
            }
        }
    }
    out
}

/// Builds the mirror (step 3) in a temp root, runs `-M` there and returns what it opened as
/// canonical paths with the root taken off.
fn replay_in_mirror(compile: &Compile, closure: &Closure) -> Result<BTreeSet<PathBuf>, String> {
    let temp = tempfile::Builder::new()
        .prefix("scan-mirror-")
        .tempdir()
        .map_err(|e| format!("cannot make a temp dir: {e}"))?;
    let root = std::fs::canonicalize(temp.path()).map_err(|e| e.to_string())?;
    build_mirror(&root, closure).map_err(|e| format!("{compile}: building the mirror: {e}"))?;
    let cwd = rooted(&root, &compile.cwd);
    let flags = reroot_flags(&root, &compile.flags);
    let source = if Path::new(&compile.source).is_absolute() {
        rooted(&root, Path::new(&compile.source))
            .display()
            .to_string()
    } else {
        compile.source.clone()
    };
    let spelled = gcc_dependencies(&compile.compiler, &cwd, &flags, &source)
        .map_err(|e| format!("{compile}: in a mirror built from the closure alone: {e}"))?;
    let mut opened = BTreeSet::new();
    for dep in spelled {
        let real = std::fs::canonicalize(cwd.join(&dep))
            .map_err(|e| format!("{compile}: the mirror's {dep} does not resolve: {e}"))?;
        let real = match real.strip_prefix(&root) {
            Ok(inside) => Path::new("/").join(inside),
            Err(_) => real,
        };
        opened.insert(real);
    }
    Ok(opened)
}

/// What a pump server makes of a closure: files copied, directories made, links pointing into
/// the root, the compiler's default directories linked to the real ones.
fn build_mirror(root: &Path, closure: &Closure) -> std::io::Result<()> {
    for file in &closure.files {
        let at = rooted(root, file);
        std::fs::create_dir_all(at.parent().expect("a file has a parent"))?;
        std::fs::copy(file, &at)?;
    }
    for dir in &closure.dirs {
        std::fs::create_dir_all(rooted(root, dir))?;
    }
    for (link, target) in &closure.links {
        let at = rooted(root, link);
        std::fs::create_dir_all(at.parent().expect("a link has a parent"))?;
        std::os::unix::fs::symlink(rooted(root, target), &at)?;
    }
    for dir in &closure.system_dirs {
        let at = rooted(root, dir);
        if std::fs::symlink_metadata(&at).is_err() {
            std::fs::create_dir_all(at.parent().expect("a directory has a parent"))?;
            std::os::unix::fs::symlink(dir, &at)?;
        }
    }
    Ok(())
}

/// `root` + the absolute `path`.
fn rooted(root: &Path, path: &Path) -> PathBuf {
    root.join(path.strip_prefix("/").unwrap_or(path))
}

/// Absolute include-path options moved into the root, as a pump server rewrites them.
fn reroot_flags(root: &Path, flags: &[String]) -> Vec<String> {
    const PATH_OPTIONS: [&str; 6] = [
        "-iquote",
        "-isystem",
        "-idirafter",
        "-include",
        "-imacros",
        "-I",
    ];
    let mut out = Vec::with_capacity(flags.len());
    let mut value_next = false;
    for flag in flags {
        if value_next {
            value_next = false;
            out.push(if flag.starts_with('/') {
                rooted(root, Path::new(flag)).display().to_string()
            } else {
                flag.clone()
            });
            continue;
        }
        match PATH_OPTIONS.iter().find(|o| flag.starts_with(*o)) {
            Some(option) if flag.len() == option.len() => {
                value_next = true;
                out.push(flag.clone());
            }
            Some(option) if flag[option.len()..].starts_with('/') => out.push(format!(
                "{option}{}",
                rooted(root, Path::new(&flag[option.len()..])).display()
            )),
            _ => out.push(flag.clone()),
        }
    }
    out
}
