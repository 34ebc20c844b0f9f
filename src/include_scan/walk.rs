//! One job's closure: build the search chain, start from the source and the `-include` files,
//! follow every include of every file reached, then evaluate computed includes against the
//! definitions of all files reached until nothing new appears.

use std::collections::HashSet;
use std::hash::BuildHasherDefault;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use super::cache::{ByName, FastMap, Lookup, Stamp, settled_stamp};
use super::command::Command;
use super::defaults::Defaults;
use super::directives::{Directives, Include, Kind, Operand};
use super::macros::{self, Header, MacroTable};
use super::path_key::{PathKey, bytes_of, is_within};
use super::resolve::{Outcome, Resolved, name_path, resolve};
use super::{Closure, GiveUp, Scanner, Seen};

type FastSet<T> = HashSet<T, BuildHasherDefault<rustc_hash::FxHasher>>;

/// Where a file was found, which decides where its `#include_next` continues.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
enum Found {
    /// In search-chain directory N: continue at N+1.
    Chain(usize),
    /// In the including file's directory (or the cwd for `-include`): the whole chain.
    OwnDir,
    /// By an absolute name, or the source itself: `#include_next` acts as `#include`.
    NoSearch,
}

/// A file reached in one way. The same file reached from another directory or chain position
/// searches differently, so it is visited once per way.
#[derive(Clone, Debug, Hash, PartialEq, Eq)]
struct State {
    file: PathKey,
    quote_dir: PathKey,
    found: Found,
}

#[derive(Clone)]
struct Hit {
    res: Arc<Resolved>,
    found: Found,
}

/// Where a search looks; the searched name is the inner key of [`Walk::memo`], so a memo hit
/// borrows it instead of building a key.
#[derive(Hash, PartialEq, Eq)]
struct SearchKey {
    own: Option<PathKey>,
    start: usize,
    all: bool,
}

/// Visits past this many are a runaway (a real C++ file reaches a few thousand).
const MAX_STATES: usize = 200_000;

pub(super) fn closure(
    scanner: &Scanner,
    cwd: &Path,
    cmd: &Command,
    defaults: &Defaults,
) -> Result<(Closure, Seen), GiveUp> {
    let mut walk = Walk {
        scanner,
        chain: Vec::new(),
        bracket_start: 0,
        system: Vec::new(),
        dir_stamps: FastMap::default(),
        memo: FastMap::default(),
        visited: FastSet::default(),
        queue: Vec::new(),
        parsed: FastMap::default(),
        pending: Vec::new(),
        out: Output::default(),
    };
    let root: Arc<Path> = Path::new("/").into();
    let cwd_real = match walk.lookup(&root, cwd)? {
        Some(res) if res.is_dir => res,
        _ => {
            return Err(GiveUp::new(format!(
                "the working directory {} does not exist",
                cwd.display()
            )));
        }
    };
    walk.build_chain(cmd, defaults, &cwd_real.real, &root)?;
    walk.out.record_path(&cwd_real, &walk.system);
    walk.out.must_dir(&cwd_real.real);

    // The source.
    let source = match walk.lookup(&cwd_real.real, &cmd.source)? {
        Some(res) if !res.is_dir => res,
        _ => {
            return Err(GiveUp::new(format!(
                "the source file {} does not exist",
                cwd.join(&cmd.source).display()
            )));
        }
    };
    if walk.is_system(&source.real) {
        return Err(GiveUp::new(format!(
            "the source file {} is under a default include directory",
            source.real.display()
        )));
    }
    walk.out.record(&source, &walk.system);
    walk.enqueue(&source, Found::NoSearch);

    // `-imacros` and `-include`: the cwd first, then the quote chain.
    let start = State {
        file: source.real.clone().into(),
        quote_dir: cwd_real.real.clone().into(),
        found: Found::NoSearch,
    };
    for forced in &cmd.forced {
        let name = forced.as_os_str().as_encoded_bytes();
        let hits = walk.search(&start, Kind::Include, true, name)?;
        let Some(hit) = hits.first() else {
            return Err(GiveUp::new(format!(
                "the -include/-imacros file {} does not exist",
                cwd.join(forced).display()
            )));
        };
        let (res, found) = (hit.res.clone(), hit.found);
        walk.enqueue(&res, found);
    }
    // The compiler's implicit pre-include (`stdc-predef.h`): searched like `#include <…>`, and
    // silently skipped when absent, as gcc does.
    for name in &defaults.preinclude {
        let name = name.as_os_str().as_encoded_bytes();
        let hits = walk.search(&start, Kind::Include, false, name)?;
        if let Some(hit) = hits.first() {
            let (res, found) = (hit.res.clone(), hit.found);
            walk.enqueue(&res, found);
        }
    }

    walk.run(cmd, defaults)?;
    // The stamps this scan saw, so that whoever reads the files next can tell a change
    // without looking at each file again.
    let seen = walk
        .out
        .files
        .iter()
        .map(|file| walk.parsed.get(bytes_of(file)).map(|(_, stamp)| *stamp))
        .collect();
    Ok((walk.out.finish(&walk.system), seen))
}

struct Walk<'s> {
    scanner: &'s Scanner,
    chain: Vec<Arc<Path>>,
    bracket_start: usize,
    /// The default directories' real paths: files below are not shipped.
    system: Vec<Arc<Path>>,
    /// Each directory's stamp, taken once per job.
    dir_stamps: FastMap<Box<[u8]>, Option<Stamp>>,
    memo: FastMap<SearchKey, ByName<Arc<[Hit]>>>,
    visited: FastSet<State>,
    queue: Vec<State>,
    parsed: FastMap<PathKey, (Arc<Directives>, Stamp)>,
    pending: Vec<(State, Include)>,
    out: Output,
}

impl Walk<'_> {
    fn is_system(&self, path: &Path) -> bool {
        is_under(path, &self.system)
    }

    /// gcc's chain (`incpath.c merge_include_chains`): quote ++ bracket ++ system, where
    /// system = `-isystem` ++ defaults ++ `-idirafter`; missing directories dropped; a
    /// directory already earlier in its own list, or (for quote and bracket) present in the
    /// system list, dropped.
    fn build_chain(
        &mut self,
        cmd: &Command,
        defaults: &Defaults,
        cwd: &Arc<Path>,
        root: &Arc<Path>,
    ) -> Result<(), GiveUp> {
        for dir in defaults.quote.iter().chain(&defaults.angle) {
            if let Some(res) = self.lookup(root, dir)?
                && res.is_dir
                && !self.system.contains(&res.real)
            {
                self.system.push(res.real.clone());
            }
        }
        let resolve_list = |walk: &mut Self, dirs: &mut dyn Iterator<Item = &PathBuf>| {
            let mut out: Vec<Arc<Resolved>> = Vec::new();
            for dir in dirs {
                if let Some(res) = walk.lookup(cwd, dir)?
                    && res.is_dir
                    && !out.iter().any(|r| r.real == res.real)
                {
                    out.push(res);
                }
            }
            Ok::<_, GiveUp>(out)
        };
        let system = resolve_list(
            self,
            &mut cmd.system.iter().chain(&defaults.angle).chain(&cmd.after),
        )?;
        let not_system = |list: Vec<Arc<Resolved>>| -> Vec<Arc<Resolved>> {
            list.into_iter()
                .filter(|r| !system.iter().any(|s| s.real == r.real))
                .collect()
        };
        let bracket = not_system(resolve_list(self, &mut cmd.bracket.iter())?);
        let quote = not_system(resolve_list(
            self,
            &mut cmd.quote.iter().chain(&defaults.quote),
        )?);
        self.bracket_start = quote.len();
        for res in quote.iter().chain(&bracket).chain(&system) {
            self.out.record_path(res, &self.system);
            if !self.is_system(&res.real) {
                self.out.must_dir(&res.real);
            }
            self.chain.push(res.real.clone());
        }
        Ok(())
    }

    fn enqueue(&mut self, res: &Arc<Resolved>, found: Found) {
        let state = State {
            file: res.real.clone().into(),
            quote_dir: res.parent.clone().into(),
            found,
        };
        if self.visited.insert(state.clone()) {
            self.queue.push(state);
        }
    }

    /// Follows everything reachable; computed includes are evaluated once nothing else is
    /// left, against every definition of every file reached, until a round adds nothing.
    fn run(&mut self, cmd: &Command, defaults: &Defaults) -> Result<(), GiveUp> {
        loop {
            while let Some(state) = self.queue.pop() {
                if self.visited.len() > MAX_STATES {
                    return Err(GiveUp::new(format!(
                        "more than {MAX_STATES} files reached; the include graph runs away"
                    )));
                }
                self.visit(state)?;
            }
            if self.pending.is_empty() {
                return Ok(());
            }
            let before = self.visited.len();
            self.computed_round(cmd, defaults)?;
            if self.visited.len() == before && self.queue.is_empty() {
                return Ok(());
            }
        }
    }

    fn visit(&mut self, state: State) -> Result<(), GiveUp> {
        let directives = self.directives_of(state.file.path()).map_err(|e| {
            GiveUp::new(format!("cannot read {}: {e}", state.file.path().display()))
        })?;
        for include in &directives.includes {
            match &include.operand {
                Operand::Quoted(name) => self.include(&state, include.kind, true, name)?,
                Operand::Angled(name) => self.include(&state, include.kind, false, name)?,
                Operand::Computed(_) => self.pending.push((state.clone(), include.clone())),
            }
        }
        Ok(())
    }

    fn include(
        &mut self,
        from: &State,
        kind: Kind,
        quoted: bool,
        name: &[u8],
    ) -> Result<(), GiveUp> {
        let hits = self.search(from, kind, quoted, name)?;
        if kind != Kind::Embed {
            for hit in hits.iter() {
                self.enqueue(&hit.res, hit.found);
            }
        }
        Ok(())
    }

    fn computed_round(&mut self, cmd: &Command, defaults: &Defaults) -> Result<(), GiveUp> {
        let cmdline: Vec<_> = cmd
            .defines
            .iter()
            .filter_map(|d| macros::command_line_define(d))
            .collect();
        let parsed: Vec<Arc<Directives>> = self.parsed.values().map(|(d, _)| d.clone()).collect();
        let mut table = MacroTable::default();
        for define in defaults
            .predefined
            .defines
            .iter()
            .chain(&cmdline)
            .chain(parsed.iter().flat_map(|p| p.defines.iter()))
        {
            table.add(define);
        }
        for (state, include) in std::mem::take(&mut self.pending) {
            let Operand::Computed(text) = &include.operand else {
                continue;
            };
            let in_system = self.is_system(state.file.path());
            let shown = || format!("`#include {text}` in {}", state.file.path().display());
            let evaluation = match macros::evaluate(text, &table) {
                Ok(e) => e,
                Err(_) if in_system => continue,
                Err(e) => {
                    return Err(GiveUp::new(format!(
                        "the computed include {} cannot be resolved: {e}",
                        shown()
                    )));
                }
            };
            if evaluation.headers.is_empty() && evaluation.expanded && !in_system {
                return Err(GiveUp::new(format!(
                    "the computed include {} expands to no header name",
                    shown()
                )));
            }
            for header in &evaluation.headers {
                match header {
                    Header::Quoted(name) => self.include(&state, include.kind, true, name)?,
                    Header::Angled(name) => self.include(&state, include.kind, false, name)?,
                }
            }
            // Later rounds may know more definitions: keep it for them.
            self.pending.push((state, include));
        }
        Ok(())
    }

    /// The files `name` may open from `from`: the first match, or every match for
    /// `#include_next` (gcc takes the first after the current directory; every later one is
    /// a safe superset when the position is uncertain).
    fn search(
        &mut self,
        from: &State,
        kind: Kind,
        quoted: bool,
        name: &[u8],
    ) -> Result<Arc<[Hit]>, GiveUp> {
        let path = name_path(name);
        let next = kind.is_next();
        let key = if path.is_absolute() {
            SearchKey {
                own: None,
                start: usize::MAX,
                all: false,
            }
        } else {
            let (own, start) = match (next, from.found) {
                (true, Found::Chain(i)) => (None, i + 1),
                (true, Found::OwnDir) => (None, 0),
                (_, _) if quoted => (Some(from.quote_dir.clone()), 0),
                (_, _) => (None, self.bracket_start),
            };
            SearchKey {
                own,
                start,
                all: next,
            }
        };
        if let Some(hits) = self.memo.get(&key).and_then(|names| names.get(name)) {
            return Ok(hits.clone());
        }
        let mut candidates: Vec<(Arc<Path>, Found)> = Vec::new();
        if key.start == usize::MAX {
            candidates.push((Path::new("/").into(), Found::NoSearch));
        } else {
            if let Some(own) = &key.own {
                candidates.push((own.path().clone(), Found::OwnDir));
            }
            for (i, dir) in self.chain.iter().enumerate().skip(key.start) {
                candidates.push((dir.clone(), Found::Chain(i)));
            }
        }
        let mut hits = Vec::new();
        for (dir, found) in candidates {
            if let Some(res) = self.lookup_file(&dir, path, kind)? {
                self.out.record(&res, &self.system);
                hits.push(Hit { res, found });
                if !key.all {
                    break;
                }
            }
        }
        let hits: Arc<[Hit]> = hits.into();
        self.memo
            .entry(key)
            .or_default()
            .insert(name.into(), hits.clone());
        Ok(hits)
    }

    /// A regular file at `dir/name`, checking a cached answer against the file itself.
    fn lookup_file(
        &mut self,
        dir: &Arc<Path>,
        name: &Path,
        kind: Kind,
    ) -> Result<Option<Arc<Resolved>>, GiveUp> {
        for attempt in 0..2 {
            let Some(res) = self.lookup(dir, name)? else {
                return Ok(None);
            };
            if res.is_dir {
                return Ok(None); // gcc skips a directory and searches on
            }
            let present = if kind == Kind::Embed {
                std::fs::metadata(&*res.real).is_ok()
            } else {
                self.directives_of(&res.real).is_ok()
            };
            if present {
                return Ok(Some(res));
            }
            // Removed or replaced since it was cached: look again once.
            self.scanner.lookups.forget(dir, name);
            if attempt == 1 {
                return Ok(None);
            }
        }
        Ok(None)
    }

    /// Where `dir/name` resolves, from the cache when it is still valid.
    fn lookup(&mut self, dir: &Arc<Path>, name: &Path) -> Result<Option<Arc<Resolved>>, GiveUp> {
        match self.scanner.lookups.get(dir, name) {
            // Every directory the resolution read must be unchanged: a link put in place of
            // the file or of a directory on the way, or retargeted, leads elsewhere.
            Some(Lookup::Found {
                res,
                stamps: Some(stamps),
            }) if self.unchanged(&res.looked_in, &stamps) => {
                return Ok(Some(res));
            }
            Some(Lookup::Missing {
                dir: deepest,
                stamp: Some(stamp),
            }) if self.dir_stamp(&deepest) == Some(stamp) => return Ok(None),
            _ => {}
        }
        match resolve(dir, name) {
            Outcome::Found(res) => {
                let res = Arc::new(res);
                let stamps = self.settled_stamps(&res.looked_in);
                self.scanner.lookups.put(
                    dir,
                    name,
                    Lookup::Found {
                        res: res.clone(),
                        stamps,
                    },
                );
                Ok(Some(res))
            }
            Outcome::Missing {
                dir: deepest,
                through_link,
            } => {
                // A miss behind a symlink is not kept: retargeting the link changes nothing
                // the stamp of `deepest` would show.
                let stamp = if through_link {
                    None
                } else {
                    settled_stamp(&deepest)
                };
                self.scanner.lookups.put(
                    dir,
                    name,
                    Lookup::Missing {
                        dir: deepest.into(),
                        stamp,
                    },
                );
                Ok(None)
            }
            Outcome::Loop { at } => Err(GiveUp::new(format!(
                "symlink loop at {} (looking for {} in {})",
                at.display(),
                name.display(),
                dir.display()
            ))),
            Outcome::Failed { path, error } => Err(GiveUp::new(format!(
                "cannot look at {}: {error}",
                path.display()
            ))),
        }
    }

    /// Whether every directory in `dirs` still has its stamp in `stamps`.
    fn unchanged(&mut self, dirs: &[PathBuf], stamps: &[Stamp]) -> bool {
        dirs.len() == stamps.len()
            && dirs
                .iter()
                .zip(stamps)
                .all(|(dir, stamp)| self.dir_stamp(dir) == Some(*stamp))
    }

    /// The stamps of `dirs` for a resolution about to be cached: this job's (taken at or
    /// before the resolution, so a change after it still shows), or `None` if one is missing
    /// or too recent to trust.
    fn settled_stamps(&mut self, dirs: &[PathBuf]) -> Option<Arc<[Stamp]>> {
        let now = SystemTime::now();
        dirs.iter()
            .map(|dir| self.dir_stamp(dir).filter(|s| s.settled(now)))
            .collect()
    }

    /// The current stamp of a directory, taken once per job.
    fn dir_stamp(&mut self, dir: &Path) -> Option<Stamp> {
        if let Some(stamp) = self.dir_stamps.get(bytes_of(dir)) {
            return *stamp;
        }
        let stamp = std::fs::metadata(dir).ok().map(|m| Stamp::of(&m));
        self.dir_stamps.insert(bytes_of(dir).into(), stamp);
        stamp
    }

    fn directives_of(&mut self, file: &Arc<Path>) -> std::io::Result<Arc<Directives>> {
        if let Some((d, _)) = self.parsed.get(bytes_of(file)) {
            return Ok(d.clone());
        }
        let (d, stamp) = if self.is_system(file) {
            self.scanner
                .system_headers
                .directives(file, &self.scanner.files)?
        } else {
            self.scanner.files.directives(file)?
        };
        self.parsed.insert(file.clone().into(), (d.clone(), stamp));
        Ok(d)
    }
}

/// Whether `path` is in or below one of `dirs` (all normalised real paths).
fn is_under(path: &Path, dirs: &[Arc<Path>]) -> bool {
    dirs.iter().any(|d| is_within(path, d))
}

#[derive(Default)]
struct Output {
    files: Vec<PathBuf>,
    file_set: FastSet<PathKey>,
    system_files: Vec<PathBuf>,
    links: Vec<(PathBuf, PathBuf)>,
    link_set: FastSet<Box<[u8]>>,
    must_dirs: FastMap<Box<[u8]>, PathBuf>,
}

impl Output {
    /// The links and directories a resolution crossed, outside the default directories.
    fn record_path(&mut self, res: &Resolved, system: &[Arc<Path>]) {
        for (link, target) in &res.links {
            if !is_under(link, system) && self.link_set.insert(bytes_of(link).into()) {
                self.links.push((link.clone(), target.clone()));
            }
        }
        for dir in &res.must_dirs {
            if !is_under(dir, system) {
                self.must_dir(dir);
            }
        }
    }

    /// A directory the server must create (though it may hold nothing shipped).
    fn must_dir(&mut self, dir: &Path) {
        if !self.must_dirs.contains_key(bytes_of(dir)) {
            self.must_dirs
                .insert(bytes_of(dir).into(), dir.to_path_buf());
        }
    }

    /// A file reached: shipped, or noted as a system header.
    fn record(&mut self, res: &Arc<Resolved>, system: &[Arc<Path>]) {
        self.record_path(res, system);
        if !self.file_set.contains(bytes_of(&res.real)) {
            self.file_set.insert(res.real.clone().into());
            if is_under(&res.real, system) {
                self.system_files.push(res.real.to_path_buf());
            } else {
                self.files.push(res.real.to_path_buf());
            }
        }
    }

    fn finish(self, system: &[Arc<Path>]) -> Closure {
        // A directory that holds a shipped file or a link is created for it anyway.
        let mut implied: FastSet<&[u8]> = FastSet::default();
        for path in self.files.iter().chain(self.links.iter().map(|(l, _)| l)) {
            let mut dir = path.parent();
            while let Some(d) = dir {
                if !implied.insert(bytes_of(d)) {
                    break;
                }
                dir = d.parent();
            }
        }
        let mut dirs: Vec<PathBuf> = self
            .must_dirs
            .into_values()
            .filter(|d| !implied.contains(bytes_of(d)))
            .collect();
        dirs.sort();
        Closure {
            files: self.files,
            links: self.links,
            dirs,
            system_dirs: system.iter().map(|d| d.to_path_buf()).collect(),
            system_files: self.system_files,
        }
    }
}
