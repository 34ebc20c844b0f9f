//! The entries of a pump-mode tree for an include scan's closure, exactly as distcc 3.4's
//! pump client sends them — real paths as `FILE`s, the links met on the way as `LINK`s to
//! canonical absolute targets, an empty `forcing_technique_271828` file in each directory
//! that must exist although nothing is shipped below it, and one `../…/DIR` link per system
//! include directory — so the real `distccd` and `distfarm serve` both take it. Built by
//! the agent (which keeps the packed contents) and by a wrapper scanning for itself.

use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::agent_scan::Closure;
use super::file_tree::TreeEntry;
use super::packed_tree::{OutgoingEntry, PackedFile};

/// distcc's name for the empty file that makes a directory exist on the server.
const FORCING_FILE: &str = "forcing_technique_271828";

/// distccd 3.4 roots a job at most this deep (`MAX_COMPONENTS_IN_SERVER_ROOT`): a system
/// link climbs this many levels more than its own depth, to be sure to reach `/`.
const MAX_SERVER_ROOT_DEPTH: usize = 20;

/// The tree entries for a closure, in distcc's order: files, system links, mirror links,
/// forcing files.
pub fn entries(closure: &Closure, packed: &[Arc<PackedFile>]) -> Vec<OutgoingEntry> {
    let mut out = Vec::with_capacity(closure.files.len() + closure.links.len() + 8);
    for (path, packed) in closure.files.iter().zip(packed) {
        out.push(OutgoingEntry::File {
            name: bytes(path),
            packed: packed.clone(),
        });
    }
    for dir in outermost(&closure.system_dirs) {
        out.push(OutgoingEntry::Link {
            name: bytes(dir),
            target: system_link_target(dir),
        });
    }
    for (link, target) in &closure.links {
        out.push(OutgoingEntry::Link {
            name: bytes(link),
            target: bytes(target),
        });
    }
    let empty = Arc::new(PackedFile::of(b""));
    for dir in &closure.dirs {
        out.push(OutgoingEntry::File {
            name: bytes(&dir.join(FORCING_FILE)),
            packed: empty.clone(),
        });
    }
    out
}

/// `../` enough times to climb from `<server root><dir>` to `/`, then `dir` again: on the
/// server the link is its own system directory.
fn system_link_target(dir: &Path) -> Vec<u8> {
    let text = dir.as_os_str().as_bytes();
    let depth = text.iter().filter(|&&b| b == b'/').count();
    let mut target = b"../".repeat(MAX_SERVER_ROOT_DEPTH + depth);
    target.extend_from_slice(text.strip_prefix(b"/").unwrap_or(text));
    target
}

/// System directories not inside another one: a link inside a link would be created
/// through the first on the server (`/usr/include/x86_64-linux-gnu` inside `/usr/include`).
fn outermost(dirs: &[PathBuf]) -> Vec<&Path> {
    dirs.iter()
        .filter(|d| !dirs.iter().any(|o| o != *d && d.starts_with(o)))
        .map(PathBuf::as_path)
        .collect()
}

fn bytes(path: &Path) -> Vec<u8> {
    path.as_os_str().as_bytes().to_vec()
}

/// A tree read back into what it mirrors ([`mirrored`]): what [`entries`] was made of.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Mirrored {
    /// The shipped files, absolute, with their contents.
    pub files: Vec<(PathBuf, Vec<u8>)>,
    /// `(link, absolute target)`.
    pub links: Vec<(PathBuf, PathBuf)>,
    /// Directories that must exist (each had a forcing file).
    pub dirs: Vec<PathBuf>,
    /// The compiler's default directories (the outermost ones: all [`entries`] sends).
    pub system_dirs: Vec<PathBuf>,
}

/// The inverse of [`entries`], for a consumer that lays the closure out in its own way (an
/// engine's input root): forcing files become directories, `../…/DIR` links system
/// directories, other links mirror links, the rest shipped files. A tree that is not one
/// [`entries`] makes (a relative name, a relative link that is not a system link) is refused.
pub fn mirrored(tree: Vec<TreeEntry>) -> Result<Mirrored, String> {
    use std::os::unix::ffi::OsStringExt;
    let path = |name: Vec<u8>| {
        let path = PathBuf::from(std::ffi::OsString::from_vec(name));
        if path.is_absolute() {
            Ok(path)
        } else {
            Err(format!("the tree names a relative path {}", path.display()))
        }
    };
    let mut out = Mirrored::default();
    for entry in tree {
        match entry {
            TreeEntry::File { name, content } => {
                let name = path(name)?;
                if content.is_empty() && name.file_name().is_some_and(|n| n == FORCING_FILE) {
                    out.dirs
                        .push(name.parent().unwrap_or(Path::new("/")).to_path_buf());
                } else {
                    out.files.push((name, content));
                }
            }
            TreeEntry::Link { name, target } => {
                let name = path(name)?;
                if target.starts_with(b"/") {
                    out.links.push((name, path(target)?));
                } else if target == system_link_target(&name) {
                    out.system_dirs.push(name);
                } else {
                    return Err(format!(
                        "the link {} has a relative target {}",
                        name.display(),
                        String::from_utf8_lossy(&target)
                    ));
                }
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn system_links_climb_past_any_server_root_and_name_their_own_directory() {
        let target = system_link_target(Path::new("/usr/include"));
        assert_eq!(
            String::from_utf8(target).unwrap(),
            format!("{}usr/include", "../".repeat(22))
        );
    }

    #[test]
    fn nested_system_directories_get_no_link_of_their_own() {
        let dirs: Vec<PathBuf> = [
            "/usr/lib/gcc/x86_64-linux-gnu/12/include",
            "/usr/local/include",
            "/usr/include/x86_64-linux-gnu",
            "/usr/include",
        ]
        .iter()
        .map(PathBuf::from)
        .collect();
        let kept: Vec<&str> = outermost(&dirs)
            .iter()
            .map(|d| d.to_str().unwrap())
            .collect();
        assert_eq!(
            kept,
            [
                "/usr/lib/gcc/x86_64-linux-gnu/12/include",
                "/usr/local/include",
                "/usr/include"
            ]
        );
    }

    #[test]
    fn directories_that_must_exist_get_an_empty_forcing_file() {
        let closure = Closure {
            dirs: vec![PathBuf::from("/p/inc/sub")],
            links: vec![("/p/inc/l".into(), "/p/inc/real".into())],
            ..Closure::default()
        };
        let entries = entries(&closure, &[]);
        assert_eq!(
            entries,
            [
                OutgoingEntry::Link {
                    name: b"/p/inc/l".to_vec(),
                    target: b"/p/inc/real".to_vec()
                },
                OutgoingEntry::File {
                    name: b"/p/inc/sub/forcing_technique_271828".to_vec(),
                    packed: Arc::new(PackedFile::of(b""))
                }
            ]
        );
    }

    #[test]
    fn a_tree_read_back_is_the_closure_it_was_made_of() {
        let closure = Closure {
            files: vec!["/p/x.c".into(), "/p/inc/a.h".into()],
            links: vec![("/p/inc/l".into(), "/p/inc/real".into())],
            dirs: vec![PathBuf::from("/p/inc/sub")],
            system_dirs: vec![
                "/usr/include".into(),
                "/usr/include/x86_64-linux-gnu".into(),
            ],
            system_files: vec!["/usr/include/stdio.h".into()],
        };
        let contents: [&[u8]; 2] = [b"int x;\n", b""];
        let packed: Vec<_> = contents
            .iter()
            .map(|c| Arc::new(PackedFile::of(c)))
            .collect();
        let tree: Vec<TreeEntry> = entries(&closure, &packed)
            .into_iter()
            .map(|entry| match entry {
                OutgoingEntry::File { name, packed } => TreeEntry::File {
                    name,
                    content: if packed.lzo.is_empty() {
                        Vec::new()
                    } else {
                        crate::protocol::lzo::decompress("FILE", &packed.lzo, 1 << 20).unwrap()
                    },
                },
                OutgoingEntry::Link { name, target } => TreeEntry::Link { name, target },
            })
            .collect();
        let back = mirrored(tree).unwrap();
        assert_eq!(
            back.files,
            [
                (PathBuf::from("/p/x.c"), b"int x;\n".to_vec()),
                (PathBuf::from("/p/inc/a.h"), Vec::new())
            ]
        );
        assert_eq!(back.links, closure.links);
        assert_eq!(back.dirs, closure.dirs);
        assert_eq!(
            back.system_dirs,
            [PathBuf::from("/usr/include")],
            "the outermost"
        );
        let odd = vec![TreeEntry::Link {
            name: b"/p/l".to_vec(),
            target: b"../../etc".to_vec(),
        }];
        assert!(mirrored(odd).is_err());
    }
}
