//! An input root of many files as REAPI wants it: a Merkle tree of `Directory` messages,
//! each listing its files, subdirectories and symlinks sorted by name, each child directory
//! named by the digest of its own message. Pure: paths and bytes in, blobs out.
//!
//! Paths are relative to the input root (`home/u/p/x.c`), `/`-separated, with no `.`, `..`
//! or empty component: a worker lays the tree out exactly as given and nothing in it can
//! name a place outside it. A name that would be two things at once (a file and a
//! directory, or two files) is refused rather than one silently winning.

use std::collections::BTreeMap;

use super::digest;
use super::proto::{Digest, Directory, DirectoryNode, FileNode, SymlinkNode};

/// Why the tree cannot be built as asked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TreeError {
    #[error("\"{0}\" is not a relative path of plain names")]
    BadPath(String),
    #[error("\"{0}\" would be both a directory and a file or link in the input root")]
    Conflict(String),
}

/// One node while the tree is being put together.
#[derive(Debug, Default)]
struct Dir {
    files: BTreeMap<String, Digest>,
    links: BTreeMap<String, String>,
    dirs: BTreeMap<String, Dir>,
}

/// The tree being built, and the file contents it needs in the CAS.
#[derive(Debug, Default)]
pub struct InputTree {
    root: Dir,
    contents: Vec<(Digest, Vec<u8>)>,
}

/// The built tree: the root directory's digest and every blob it needs (the Directory
/// messages, then the file contents; each once).
#[derive(Debug, Clone)]
pub struct BuiltTree {
    pub root_digest: Digest,
    pub blobs: Vec<(Digest, Vec<u8>)>,
}

impl InputTree {
    pub fn new() -> InputTree {
        InputTree::default()
    }

    /// A regular file (not executable) with these bytes.
    pub fn add_file(&mut self, path: &str, bytes: Vec<u8>) -> Result<(), TreeError> {
        let (parent, name) = self.parent_of(path)?;
        if parent.dirs.contains_key(name) || parent.links.contains_key(name) {
            return Err(TreeError::Conflict(path.to_string()));
        }
        let digest = digest::of_bytes(&bytes);
        match parent.files.get(name) {
            Some(earlier) if *earlier != digest => Err(TreeError::Conflict(path.into())),
            Some(_) => Ok(()),
            None => {
                parent.files.insert(name.to_string(), digest.clone());
                if !self.contents.iter().any(|(d, _)| *d == digest) {
                    self.contents.push((digest, bytes));
                }
                Ok(())
            }
        }
    }

    /// A symbolic link whose target must be relative and stay inside the tree (the caller
    /// computes it; [`relative_target`] does).
    pub fn add_symlink(&mut self, path: &str, target: &str) -> Result<(), TreeError> {
        let depth = path.split('/').count() - 1;
        if !stays_inside(target, depth) {
            return Err(TreeError::BadPath(format!("{path} -> {target}")));
        }
        let (parent, name) = self.parent_of(path)?;
        if parent.dirs.contains_key(name) || parent.files.contains_key(name) {
            return Err(TreeError::Conflict(path.to_string()));
        }
        match parent.links.get(name) {
            Some(earlier) if earlier != target => Err(TreeError::Conflict(path.to_string())),
            Some(_) => Ok(()),
            None => {
                parent.links.insert(name.to_string(), target.to_string());
                Ok(())
            }
        }
    }

    /// A directory that must exist (possibly empty). `""` is the root itself.
    pub fn add_dir(&mut self, path: &str) -> Result<(), TreeError> {
        if path.is_empty() {
            return Ok(());
        }
        check(path)?;
        let mut dir = &mut self.root;
        for name in path.split('/') {
            if dir.files.contains_key(name) || dir.links.contains_key(name) {
                return Err(TreeError::Conflict(path.to_string()));
            }
            dir = dir.dirs.entry(name.to_string()).or_default();
        }
        Ok(())
    }

    /// Whether anything (file, link or directory) is at `path`.
    pub fn has(&self, path: &str) -> bool {
        let mut dir = &self.root;
        let mut names = path.split('/').peekable();
        while let Some(name) = names.next() {
            if names.peek().is_none() {
                return dir.files.contains_key(name)
                    || dir.links.contains_key(name)
                    || dir.dirs.contains_key(name);
            }
            match dir.dirs.get(name) {
                Some(next) => dir = next,
                None => return false,
            }
        }
        false
    }

    pub fn build(self) -> BuiltTree {
        let mut blobs = Vec::new();
        let root_digest = encode(&self.root, &mut blobs);
        blobs.extend(self.contents);
        BuiltTree { root_digest, blobs }
    }

    /// The directory that holds `path` (created as needed), and the last name.
    fn parent_of<'a>(&mut self, path: &'a str) -> Result<(&mut Dir, &'a str), TreeError> {
        check(path)?;
        let (parent, name) = path.rsplit_once('/').unwrap_or(("", path));
        self.add_dir(parent)?;
        let mut dir = &mut self.root;
        if !parent.is_empty() {
            for part in parent.split('/') {
                dir = dir.dirs.get_mut(part).expect("made by add_dir");
            }
        }
        Ok((dir, name))
    }
}

/// The Directory message of `dir` (children first, into `blobs`), and its digest.
fn encode(dir: &Dir, blobs: &mut Vec<(Digest, Vec<u8>)>) -> Digest {
    // BTreeMap<String> iterates in byte order, which for UTF-8 is code point order: the
    // order REAPI asks for.
    let directories = dir
        .dirs
        .iter()
        .map(|(name, child)| DirectoryNode {
            name: name.clone(),
            digest: Some(encode(child, blobs)),
        })
        .collect();
    let message = Directory {
        files: dir
            .files
            .iter()
            .map(|(name, digest)| FileNode {
                name: name.clone(),
                digest: Some(digest.clone()),
                is_executable: false,
                node_properties: None,
            })
            .collect(),
        directories,
        symlinks: dir
            .links
            .iter()
            .map(|(name, target)| SymlinkNode {
                name: name.clone(),
                target: target.clone(),
                node_properties: None,
            })
            .collect(),
        node_properties: None,
    };
    let (bytes, digest) = digest::of_message(&message);
    if !blobs.iter().any(|(d, _)| *d == digest) {
        blobs.push((digest.clone(), bytes));
    }
    digest
}

/// Relative, `/`-separated, every component a plain name.
fn check(path: &str) -> Result<(), TreeError> {
    let plain = !path.is_empty()
        && path
            .split('/')
            .all(|name| !name.is_empty() && name != "." && name != "..");
    if plain {
        Ok(())
    } else {
        Err(TreeError::BadPath(path.to_string()))
    }
}

/// Whether a relative link `target`, in a directory `depth` levels below the root, names
/// a place inside the tree at every step (so a worker following it never leaves the root).
fn stays_inside(target: &str, depth: usize) -> bool {
    if target.is_empty() || target.starts_with('/') {
        return false;
    }
    let mut level = depth as isize;
    for name in target.split('/') {
        match name {
            "" | "." => {}
            ".." => level -= 1,
            _ => level += 1,
        }
        if level < 0 {
            return false;
        }
    }
    true
}

/// The relative target that makes a link at `link` (root-relative) reach `target`
/// (root-relative): `../` up to their common directory, then down.
pub fn relative_target(link: &str, target: &str) -> String {
    let from: Vec<&str> = link.split('/').collect();
    let from = &from[..from.len() - 1];
    let to: Vec<&str> = target.split('/').collect();
    let common = from.iter().zip(&to).take_while(|(a, b)| a == b).count();
    let mut parts: Vec<&str> = vec![".."; from.len() - common];
    parts.extend(&to[common..]);
    if parts.is_empty() {
        ".".to_string()
    } else {
        parts.join("/")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost::Message;

    fn directory(blobs: &[(Digest, Vec<u8>)], digest: &Digest) -> Directory {
        let (_, bytes) = blobs.iter().find(|(d, _)| d == digest).expect("in blobs");
        Directory::decode(&bytes[..]).unwrap()
    }

    #[test]
    fn files_links_and_empty_directories_nest_by_path() {
        let mut tree = InputTree::new();
        tree.add_file("home/u/p/x.c", b"int x;\n".to_vec()).unwrap();
        tree.add_file("home/u/p/inc/a.h", b"#define A\n".to_vec())
            .unwrap();
        tree.add_symlink("home/u/p/link", "inc").unwrap();
        tree.add_dir("home/u/p/build").unwrap();
        assert!(tree.has("home/u/p/inc/a.h") && tree.has("home/u/p/build"));
        assert!(!tree.has("home/u/p/output.o"));
        let built = tree.build();
        let root = directory(&built.blobs, &built.root_digest);
        assert_eq!(root.directories.len(), 1);
        assert_eq!(root.directories[0].name, "home");
        let home = directory(&built.blobs, root.directories[0].digest.as_ref().unwrap());
        let u = directory(&built.blobs, home.directories[0].digest.as_ref().unwrap());
        let p = directory(&built.blobs, u.directories[0].digest.as_ref().unwrap());
        let names: Vec<&str> = p.directories.iter().map(|d| d.name.as_str()).collect();
        assert_eq!(names, ["build", "inc"], "sorted by name");
        assert_eq!(p.files[0].name, "x.c");
        assert_eq!(
            (p.symlinks[0].name.as_str(), p.symlinks[0].target.as_str()),
            ("link", "inc")
        );
        let build = directory(&built.blobs, p.directories[0].digest.as_ref().unwrap());
        assert_eq!(build, Directory::default(), "an empty directory exists too");
        assert!(built.blobs.iter().all(|(d, b)| digest::matches(d, b)));
        assert!(built.blobs.iter().any(|(_, b)| b == b"#define A\n"));
    }

    #[test]
    fn the_same_files_in_any_order_make_the_same_root() {
        let mut one = InputTree::new();
        one.add_file("a/b.h", b"b".to_vec()).unwrap();
        one.add_file("a/a.h", b"a".to_vec()).unwrap();
        one.add_dir("c").unwrap();
        let mut two = InputTree::new();
        two.add_dir("c").unwrap();
        two.add_file("a/a.h", b"a".to_vec()).unwrap();
        two.add_file("a/b.h", b"b".to_vec()).unwrap();
        assert_eq!(one.build().root_digest, two.build().root_digest);
    }

    #[test]
    fn a_name_that_would_be_two_things_is_refused() {
        let mut tree = InputTree::new();
        tree.add_file("a/b", b"x".to_vec()).unwrap();
        assert_eq!(
            tree.add_dir("a/b/c"),
            Err(TreeError::Conflict("a/b/c".into()))
        );
        assert_eq!(
            tree.add_symlink("a/b", "x"),
            Err(TreeError::Conflict("a/b".into()))
        );
        assert_eq!(
            tree.add_file("a/b", b"y".to_vec()),
            Err(TreeError::Conflict("a/b".into()))
        );
        tree.add_file("a/b", b"x".to_vec()).unwrap();
        tree.add_dir("a/d").unwrap();
        assert!(tree.add_file("a/d", b"x".to_vec()).is_err());
    }

    #[test]
    fn paths_and_link_targets_never_leave_the_root() {
        let mut tree = InputTree::new();
        for bad in ["", "/etc/passwd", "a/../b", "a//b", "./a", "a/"] {
            assert!(tree.add_file(bad, Vec::new()).is_err(), "{bad:?}");
        }
        assert!(tree.add_symlink("a/l", "/etc").is_err());
        assert!(tree.add_symlink("a/l", "../../etc").is_err());
        assert!(tree.add_symlink("a/l", "../x/../../etc").is_err());
        tree.add_symlink("a/l", "../etc").unwrap();
    }

    #[test]
    fn link_targets_are_made_relative_to_the_links_directory() {
        assert_eq!(relative_target("p/inc/l", "p/inc/real"), "real");
        assert_eq!(relative_target("p/inc/l", "q/include"), "../../q/include");
        assert_eq!(relative_target("l", "a/b"), "a/b");
        assert_eq!(relative_target("p/l", "p"), ".");
        for (link, target) in [("p/inc/l", "q/include"), ("a/b/c/l", "a")] {
            let relative = relative_target(link, target);
            assert!(stays_inside(&relative, link.split('/').count() - 1));
        }
    }
}
