//! Resolving `dir/name` the way the kernel does when the compiler opens it: component by
//! component, symlinks followed where they are met, `..` taken from the directory actually
//! reached (so `link/..` is the parent of the link's target). Besides the real path it records
//! what a server needs to resolve the same spelling in a mirror of this tree: every symlink
//! crossed (with its canonical target) and every directory that must exist although no file
//! below it may be shipped (left by `..`, or a link's target).

use std::ffi::{OsStr, OsString};
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

/// Symlinks followed in one resolution before it counts as a loop (Linux's limit).
const MAX_LINKS: usize = 40;

#[derive(Debug, PartialEq, Eq)]
pub struct Resolved {
    pub real: Arc<Path>,
    pub is_dir: bool,
    /// The real directory the last component of the spelling was looked up in: the
    /// directory a quoted include in this file searches first (for `a/x.h` where `x.h` is a
    /// link elsewhere, it is `a`, not the target's directory).
    pub parent: Arc<Path>,
    /// `(link path, canonical target)`, in the order met.
    pub links: Vec<(PathBuf, PathBuf)>,
    pub must_dirs: Vec<PathBuf>,
    /// The directories whose entries were read on the way (each once): replacing any name
    /// the resolution went through — by a link, or a new file renamed over it — changes the
    /// mtime of one of them.
    pub looked_in: Vec<PathBuf>,
}

#[derive(Debug)]
pub enum Outcome {
    Found(Resolved),
    /// Nothing there. `dir` is the deepest directory reached: creating what is missing
    /// changes its mtime — unless a symlink on the way is pointed elsewhere, which changes
    /// only the link's directory, hence `through_link`.
    Missing {
        dir: PathBuf,
        through_link: bool,
    },
    Loop {
        at: PathBuf,
    },
    Failed {
        path: PathBuf,
        error: io::Error,
    },
}

enum Step {
    Name {
        name: OsString,
        last: bool,
    },
    Up {
        last: bool,
    },
    /// The target of link number N has been walked: `cur` is its canonical path.
    LinkDone(usize),
}

fn steps_of(path: &Path, last_marks: bool, out: &mut Vec<Step>) {
    let comps: Vec<Component> = path.components().collect();
    let n = comps.len();
    for (k, comp) in comps.into_iter().enumerate() {
        let last = last_marks && k + 1 == n;
        match comp {
            Component::RootDir | Component::Prefix(_) => {}
            Component::CurDir => {
                if last {
                    out.push(Step::Name {
                        name: ".".into(),
                        last,
                    })
                }
            }
            Component::ParentDir => out.push(Step::Up { last }),
            Component::Normal(name) => out.push(Step::Name {
                name: name.to_os_string(),
                last,
            }),
        }
    }
}

/// Resolves `rel` from the real directory `start` (or from `/` when `rel` is absolute).
pub fn resolve(start: &Path, rel: &Path) -> Outcome {
    let mut cur = if rel.is_absolute() {
        PathBuf::from("/")
    } else {
        start.to_path_buf()
    };
    let mut cur_is_dir = true;
    let mut parent = cur.clone();
    let mut links: Vec<(PathBuf, PathBuf)> = Vec::new();
    let mut must_dirs: Vec<PathBuf> = Vec::new();
    let mut looked_in: Vec<PathBuf> = Vec::new();
    // A stack: the next step is at the end.
    let mut todo: Vec<Step> = Vec::new();
    steps_of(rel, true, &mut todo);
    todo.reverse();
    let mut followed = 0;
    while let Some(step) = todo.pop() {
        match step {
            Step::LinkDone(k) => {
                links[k].1 = cur.clone();
                if cur_is_dir {
                    must_dirs.push(cur.clone());
                }
            }
            Step::Up { last } => {
                if !cur_is_dir {
                    return missing_below(&cur, &links);
                }
                must_dirs.push(cur.clone());
                cur.pop();
                if last {
                    parent = cur.clone();
                }
            }
            Step::Name { name, last } => {
                if !cur_is_dir {
                    return missing_below(&cur, &links);
                }
                if last {
                    parent = cur.clone();
                }
                if name == OsStr::new(".") {
                    continue;
                }
                if !looked_in.contains(&cur) {
                    looked_in.push(cur.clone());
                }
                let path = cur.join(&name);
                let meta = match std::fs::symlink_metadata(&path) {
                    Ok(meta) => meta,
                    Err(e) if is_absence(&e) => {
                        return Outcome::Missing {
                            dir: cur,
                            through_link: !links.is_empty(),
                        };
                    }
                    Err(error) => return Outcome::Failed { path, error },
                };
                if meta.file_type().is_symlink() {
                    followed += 1;
                    if followed > MAX_LINKS {
                        return Outcome::Loop { at: path };
                    }
                    let target = match std::fs::read_link(&path) {
                        Ok(t) => t,
                        Err(error) => return Outcome::Failed { path, error },
                    };
                    links.push((path, PathBuf::new()));
                    todo.push(Step::LinkDone(links.len() - 1));
                    let mut target_steps = Vec::new();
                    steps_of(&target, false, &mut target_steps);
                    todo.extend(target_steps.into_iter().rev());
                    if target.is_absolute() {
                        cur = PathBuf::from("/");
                    }
                    cur_is_dir = true;
                } else {
                    cur = path;
                    cur_is_dir = meta.is_dir();
                }
            }
        }
    }
    Outcome::Found(Resolved {
        real: cur.into(),
        is_dir: cur_is_dir,
        parent: parent.into(),
        links,
        must_dirs,
        looked_in,
    })
}

/// A component below a non-directory (`file.h/x`): missing, watched through the file's
/// directory.
fn missing_below(file: &Path, links: &[(PathBuf, PathBuf)]) -> Outcome {
    Outcome::Missing {
        dir: file.parent().unwrap_or(Path::new("/")).to_path_buf(),
        through_link: !links.is_empty(),
    }
}

fn is_absence(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::NotFound | io::ErrorKind::NotADirectory
    ) || e.raw_os_error() == Some(nix::libc::ENAMETOOLONG)
}

/// A relative name from an include directive as a path.
pub fn name_path(name: &[u8]) -> &Path {
    Path::new(OsStr::from_bytes(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    // Pure-path behaviour only; the filesystem cases are integration tests.
    #[test]
    fn steps_mark_only_the_last_component() {
        let mut steps = Vec::new();
        steps_of(Path::new("a/../b/./c.h"), true, &mut steps);
        let shown: Vec<String> = steps
            .iter()
            .map(|s| match s {
                Step::Name { name, last } => {
                    format!("{}{}", name.to_string_lossy(), if *last { "!" } else { "" })
                }
                Step::Up { last } => format!("..{}", if *last { "!" } else { "" }),
                Step::LinkDone(k) => format!("done{k}"),
            })
            .collect();
        assert_eq!(shown, ["a", "..", "b", "c.h!"]);
    }
}
