//! What the mount namespace of `mount_jail` shows, worked out in the server before any
//! fork: the allowed places (`sandbox::allowed_places`) that exist, as paths of the new
//! root, parents first, each with the flags its read-only mount must keep; a symbolic link
//! is made as a link, and a place already seen through another is left out.

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use nix::mount::MsFlags;
use nix::sys::statvfs::{FsFlags, statvfs};

use super::sandbox::Rights;

/// One allowed place as it appears in the new root.
#[derive(Debug)]
pub(super) struct Place {
    /// The directories to make above `target` (in the new root), outermost first.
    pub(super) parents: Vec<CString>,
    /// Its path in the new root.
    pub(super) target: CString,
    pub(super) kind: Kind,
}

#[derive(Debug)]
pub(super) enum Kind {
    /// `source` bound here; made read-only with these flags (with the mounts below it:
    /// `/usr` may hold others), or left writable (without them: the job directory holds
    /// the mount point of the new root itself).
    Bind {
        source: CString,
        is_dir: bool,
        read_only: Option<MsFlags>,
    },
    /// A symbolic link with these contents (`/lib` → `usr/lib` on merged-/usr systems).
    Symlink { contents: CString },
}

/// One allowed place, before it is turned into paths of the new root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Planned {
    Bind {
        path: PathBuf,
        rights: Rights,
        is_dir: bool,
        /// A device (`/dev/null`): writable through a read-only mount, which keeps its
        /// owner (root, when the server is) from changing its mode or owner for everyone.
        is_device: bool,
    },
    Symlink {
        path: PathBuf,
        contents: PathBuf,
    },
}

impl Planned {
    fn path(&self) -> &Path {
        match self {
            Planned::Bind { path, .. } | Planned::Symlink { path, .. } => path,
        }
    }

    /// Its paths in the new root at `root`, and the flags of its read-only remount, which
    /// must keep those the kernel locks (`nosuid`, `nodev`, `noexec`, the atime ones).
    pub(super) fn in_root(&self, root: &Path) -> std::io::Result<Place> {
        let path = self.path();
        let inside = |p: &Path| c_path(&root.join(p.strip_prefix("/").unwrap_or(p)));
        let parents = path
            .ancestors()
            .skip(1)
            .filter(|p| p.parent().is_some())
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .map(inside)
            .collect::<std::io::Result<_>>()?;
        let kind = match self {
            Planned::Symlink { contents, .. } => Kind::Symlink {
                contents: c_path(contents)?,
            },
            Planned::Bind {
                path,
                rights,
                is_dir,
                is_device,
            } => Kind::Bind {
                source: c_path(path)?,
                is_dir: *is_dir,
                read_only: match rights {
                    Rights::Everything if *is_device => {
                        Some(kept_flags(path).difference(MsFlags::MS_NODEV))
                    }
                    Rights::Everything => None,
                    Rights::ReadAndRun => Some(kept_flags(path)),
                    Rights::Read => Some(kept_flags(path) | MsFlags::MS_NOEXEC),
                },
            },
        };
        Ok(Place {
            parents,
            target: inside(path)?,
            kind,
        })
    }
}

/// The flags of the mount `path` is on that a bind of it must keep, plus `nosuid` and
/// `nodev`, which a read-only view of the system never needs.
fn kept_flags(path: &Path) -> MsFlags {
    let mut flags = MsFlags::MS_NOSUID | MsFlags::MS_NODEV;
    let Ok(stat) = statvfs(path) else {
        return flags;
    };
    let on = stat.flags();
    if on.contains(FsFlags::ST_NOEXEC) {
        flags |= MsFlags::MS_NOEXEC;
    }
    if on.contains(FsFlags::ST_NOATIME) {
        flags |= MsFlags::MS_NOATIME;
    } else if on.contains(FsFlags::ST_RELATIME) {
        flags |= MsFlags::MS_RELATIME;
    } else {
        flags |= MsFlags::MS_STRICTATIME;
    }
    if on.contains(FsFlags::ST_NODIRATIME) {
        flags |= MsFlags::MS_NODIRATIME;
    }
    flags
}

/// The places to make, parents first: those that do not exist are left out, a symbolic
/// link is made as a link (and what it points to is bound at its own path), and a place
/// inside one already bound with at least its rights is left to that one.
pub(super) fn plan(wanted: Vec<(PathBuf, Rights)>) -> Vec<Planned> {
    let mut found: Vec<Planned> = Vec::new();
    let mut queue = wanted;
    while let Some((path, rights)) = queue.pop() {
        if !path.is_absolute() || path.components().any(|c| c.as_os_str() == "..") {
            continue;
        }
        let Ok(meta) = std::fs::symlink_metadata(&path) else {
            continue; // nothing there to show
        };
        if meta.file_type().is_symlink() {
            if let (Ok(contents), Ok(real)) = (std::fs::read_link(&path), path.canonicalize()) {
                found.push(Planned::Symlink { path, contents });
                queue.push((real, rights));
            }
        } else {
            use std::os::unix::fs::FileTypeExt;
            found.push(Planned::Bind {
                path,
                rights,
                is_dir: meta.is_dir(),
                is_device: meta.file_type().is_char_device() || meta.file_type().is_block_device(),
            });
        }
    }
    found.sort_by(|a, b| a.path().cmp(b.path()));
    let mut kept: Vec<Planned> = Vec::new();
    for place in found {
        let covered = kept.iter_mut().any(|before| match (before, &place) {
            (Planned::Symlink { path, .. }, _) => place.path().starts_with(&*path),
            (
                Planned::Bind {
                    path: before_path,
                    rights: before_rights,
                    ..
                },
                Planned::Bind { path, rights, .. },
            ) if before_path == path => {
                *before_rights = (*before_rights).max(*rights);
                true
            }
            (
                Planned::Bind {
                    path: before_path,
                    rights: before_rights,
                    ..
                },
                place,
            ) => {
                place.path().starts_with(&*before_path)
                    && match place {
                        Planned::Bind { rights, .. } => *before_rights >= *rights,
                        Planned::Symlink { .. } => true, // seen through the bind
                    }
            }
        });
        if !covered {
            kept.push(place);
        }
    }
    kept
}

pub(super) fn c_path(path: &Path) -> std::io::Result<CString> {
    CString::new(path.as_os_str().as_bytes()).map_err(|_| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("{}: a path with a NUL byte", path.display()),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bind(path: &str, rights: Rights) -> Planned {
        Planned::Bind {
            path: path.into(),
            rights,
            is_dir: true,
            is_device: false,
        }
    }

    #[test]
    fn places_inside_a_bound_one_with_as_many_rights_are_left_to_it() {
        let dir = tempfile::tempdir().unwrap();
        let job = dir.path().join("job");
        std::fs::create_dir(&job).unwrap();
        let job = job.canonicalize().unwrap();
        let root = job.parent().unwrap().to_path_buf();
        let planned = plan(vec![
            (root.clone(), Rights::ReadAndRun),
            (job.clone(), Rights::Everything),
            (root.join("missing"), Rights::Everything),
            (root.clone(), Rights::Read),
            (job.clone(), Rights::Read),
        ]);
        let root = root.to_str().unwrap();
        let job = job.to_str().unwrap();
        assert_eq!(
            planned,
            vec![
                bind(root, Rights::ReadAndRun),
                bind(job, Rights::Everything)
            ]
        );
    }

    #[test]
    fn a_symbolic_link_is_made_as_a_link_and_its_target_bound() {
        let dir = tempfile::tempdir().unwrap();
        let base = dir.path().canonicalize().unwrap();
        std::fs::create_dir(base.join("real")).unwrap();
        std::os::unix::fs::symlink("real", base.join("link")).unwrap();
        let planned = plan(vec![(base.join("link"), Rights::ReadAndRun)]);
        assert_eq!(
            planned,
            vec![
                Planned::Symlink {
                    path: base.join("link"),
                    contents: "real".into()
                },
                bind(base.join("real").to_str().unwrap(), Rights::ReadAndRun),
            ]
        );
    }

    #[test]
    fn a_place_in_the_new_root_has_its_parents_made_first() {
        let place = bind("/a/b/c", Rights::Everything)
            .in_root(Path::new("/j/.jail-root"))
            .unwrap();
        assert_eq!(place.target.as_c_str(), c"/j/.jail-root/a/b/c");
        assert_eq!(
            place.parents,
            vec![
                CString::from(c"/j/.jail-root/a"),
                CString::from(c"/j/.jail-root/a/b")
            ]
        );
    }
}
