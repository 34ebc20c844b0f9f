//! The root a pump-mode job is rebuilt in: the client's files at their client paths below
//! `<job dir>/root`, the client's working directory mirrored there, and nothing written
//! anywhere else.
//!
//! distccd 3.4 concatenates each `NAME` to its root and follows whatever links the client
//! sent, so a `NAME` of `/../../x`, or a `FILE` written through an earlier `LINK`, lands
//! outside the root (and its clean-up then deletes it). Here every name is checked
//! (absolute, no `..`) and created one component at a time with `openat(O_NOFOLLOW)` from
//! the root's own descriptor, so nothing is written through a link; and a link may lead out
//! of the root only in distcc's system-directory form: a link at `<root>/usr/include` whose
//! `../…/usr/include` target resolves to exactly `/usr/include`, a system directory every
//! confined compiler reads anyway.

use std::ffi::OsStr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{OFlag, openat};
use nix::sys::stat::{Mode, mkdirat};
use nix::unistd::symlinkat;

use super::refusal::Refusal;
use super::sandbox::is_system_path;
use crate::protocol::file_tree::TreeEntry;

pub struct JobRoot {
    /// The root's real path (no symbolic links in it), which link targets are checked against.
    path: PathBuf,
    fd: OwnedFd,
    /// Bytes of file content written so far, and the most allowed.
    written: u64,
    limit: u64,
    /// The directory the last entry went into, kept open: a tree lists a directory's files
    /// one after the other, and walking to it again for each (a `mkdirat` and an `openat`
    /// per component) made a tree of 100,000 files take half a minute. Safe to keep: no
    /// entry can remove a directory or put a link where one is.
    last_dir: Option<(Vec<std::ffi::OsString>, OwnedFd)>,
}

impl JobRoot {
    /// Creates `<job_dir>/root`, which will hold at most `limit` bytes of file content.
    pub fn create(job_dir: &Path, limit: u64) -> std::io::Result<JobRoot> {
        let path = job_dir.join("root");
        std::fs::create_dir(&path)?;
        let path = path.canonicalize()?;
        let fd = open_dir(None, path.as_os_str())?;
        Ok(JobRoot {
            path,
            fd,
            written: 0,
            limit,
            last_dir: None,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Where the client path `name` lives in the root (not checked: see `components`).
    pub fn inside(&self, name: &Path) -> PathBuf {
        let relative = name.strip_prefix("/").unwrap_or(name);
        self.path.join(relative)
    }

    /// Creates the client's directory `dir` (and its parents) in the root; returns its path
    /// there.
    pub fn mirror_dir(&self, dir: &[u8]) -> Result<PathBuf, Refusal> {
        let parts = components("the working directory", dir)?;
        let mut fd = dup(&self.fd).map_err(|e| io_refusal("the working directory", e))?;
        for part in &parts {
            fd = self.enter(&fd, part, "the working directory")?;
        }
        Ok(self.path.join(join(&parts)))
    }

    /// Writes one entry of the client's tree.
    pub fn add(&mut self, entry: &TreeEntry) -> Result<(), Refusal> {
        let shown = String::from_utf8_lossy(entry.name()).into_owned();
        let what = format!("tree entry {shown:?}");
        let parts = components(&what, entry.name())?;
        let (last, parents) = parts.split_last().expect("components are never empty");
        let dir = match &self.last_dir {
            Some((names, fd)) if names.iter().eq(parents.iter().copied()) => {
                dup(fd).map_err(|e| io_refusal(&what, e))?
            }
            _ => {
                let mut dir = dup(&self.fd).map_err(|e| io_refusal(&what, e))?;
                for part in parents {
                    dir = self.enter(&dir, part, &what)?;
                }
                let names = parents.iter().map(|p| p.to_os_string()).collect();
                let kept = dup(&dir).map_err(|e| io_refusal(&what, e))?;
                self.last_dir = Some((names, kept));
                dir
            }
        };
        match entry {
            TreeEntry::File { content, .. } => {
                self.written += content.len() as u64;
                if self.written > self.limit {
                    return Err(Refusal::new(
                        what,
                        format!("the files sent are over {} bytes in all", self.limit),
                    ));
                }
                write_file(&dir, last, content).map_err(|e| io_refusal(&what, e))
            }
            TreeEntry::Link { target, .. } => {
                let target = self.link_target(parents, last, target, &what)?;
                symlinkat(target.as_os_str(), Some(dir.as_raw_fd()), *last).map_err(|e| {
                    let why = match e {
                        Errno::EEXIST => "the name is already in the tree".to_string(),
                        e => e.desc().to_string(),
                    };
                    Refusal::new(what, why)
                })
            }
        }
    }

    /// Opens (creating it if need be) the directory `part` in `dir`, never through a link.
    fn enter(&self, dir: &OwnedFd, part: &OsStr, what: &str) -> Result<OwnedFd, Refusal> {
        match mkdirat(Some(dir.as_raw_fd()), part, Mode::from_bits_truncate(0o755)) {
            Ok(()) | Err(Errno::EEXIST) => {}
            Err(e) => return Err(io_refusal(what, e.into())),
        }
        open_dir(Some(dir), part).map_err(|e| {
            match Errno::from_raw(e.raw_os_error().unwrap_or(0)) {
                Errno::ELOOP | Errno::ENOTDIR => Refusal::new(
                    what,
                    "it leads through a symbolic link or a file already in the tree",
                ),
                _ => io_refusal(what, e),
            }
        })
    }

    /// The target a link at `<parents>/<last>` gets: an absolute target is moved into the
    /// root; a relative one must stay below the link's directory, or be distcc's
    /// system-directory link.
    fn link_target(
        &self,
        parents: &[&OsStr],
        last: &OsStr,
        target: &[u8],
        what: &str,
    ) -> Result<PathBuf, Refusal> {
        if target.first() == Some(&b'/') {
            let parts = components(what, target)?;
            return Ok(self.path.join(join(&parts)));
        }
        let parts: Vec<&[u8]> = target
            .split(|&b| b == b'/')
            .filter(|p| !p.is_empty() && *p != b".")
            .collect();
        if target.contains(&0) || parts.is_empty() {
            return Err(Refusal::new(what, "the link target is empty or not a path"));
        }
        if !parts.contains(&&b".."[..]) {
            return Ok(PathBuf::from(OsStr::from_bytes(target)));
        }
        // distcc's system link: `../` enough times to reach `/`, then the link's own name.
        let climbs = parts.iter().take_while(|p| **p == b"..").count();
        let rest = &parts[climbs..];
        let here = self.path.join(parents.iter().collect::<PathBuf>());
        let mut resolved: Vec<&OsStr> = here
            .components()
            .skip(1) // the leading "/"
            .map(|c| c.as_os_str())
            .collect();
        for _ in 0..climbs {
            resolved.pop();
        }
        resolved.extend(rest.iter().map(|p| OsStr::from_bytes(p)));
        let link_name: Vec<&OsStr> = parents.iter().copied().chain([last]).collect();
        let system_dir = Path::new("/").join(join(&link_name));
        if rest.contains(&&b".."[..]) || resolved != link_name || !is_system_path(&system_dir) {
            return Err(Refusal::new(
                what,
                "a link may leave the job's root only as distcc's link to the same system \
                 directory on the server",
            ));
        }
        Ok(PathBuf::from(OsStr::from_bytes(target)))
    }
}

/// The components of an absolute client path: no `..`, no NUL, at least one component
/// (`.` and empty components are dropped, as the kernel would).
fn components<'a>(what: &str, name: &'a [u8]) -> Result<Vec<&'a OsStr>, Refusal> {
    if name.first() != Some(&b'/') {
        return Err(Refusal::new(what, "the path is not absolute"));
    }
    if name.contains(&0) {
        return Err(Refusal::new(what, "the path holds a NUL byte"));
    }
    let parts: Vec<&OsStr> = name
        .split(|&b| b == b'/')
        .filter(|p| !p.is_empty() && *p != b".")
        .map(OsStr::from_bytes)
        .collect();
    if parts.iter().any(|p| p.as_bytes() == b"..") {
        return Err(Refusal::new(
            what,
            "the path climbs with \"..\" (it would leave the job's root)",
        ));
    }
    if parts.is_empty() {
        return Err(Refusal::new(what, "the path names the root itself"));
    }
    Ok(parts)
}

fn join(parts: &[&OsStr]) -> PathBuf {
    parts.iter().collect()
}

fn open_dir(at: Option<&OwnedFd>, path: &OsStr) -> std::io::Result<OwnedFd> {
    let flags = OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC | OFlag::O_RDONLY;
    let fd = openat(at.map(|d| d.as_raw_fd()), path, flags, Mode::empty())?;
    // SAFETY: `openat` returned a new descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

fn dup(fd: &OwnedFd) -> std::io::Result<OwnedFd> {
    fd.try_clone()
}

/// Writes `content` to `name` in `dir`: a new file, or one the tree already holds (3.4's
/// include server sends some names twice); never through a link.
fn write_file(dir: &OwnedFd, name: &OsStr, content: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let flags =
        OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_TRUNC | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
    let fd = openat(
        Some(dir.as_raw_fd()),
        name,
        flags,
        Mode::from_bits_truncate(0o644),
    )?;
    // SAFETY: `openat` returned a new descriptor that nothing else owns.
    let mut file = std::fs::File::from(unsafe { OwnedFd::from_raw_fd(fd) });
    file.write_all(content)
}

fn io_refusal(what: &str, e: std::io::Error) -> Refusal {
    Refusal::new(what, format!("it cannot be written in the job's root: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn root() -> (tempfile::TempDir, JobRoot) {
        let dir = tempfile::tempdir().unwrap();
        let root = JobRoot::create(dir.path(), 1 << 20).unwrap();
        (dir, root)
    }

    fn file(name: &str, content: &str) -> TreeEntry {
        TreeEntry::File {
            name: name.as_bytes().to_vec(),
            content: content.as_bytes().to_vec(),
        }
    }

    fn link(name: &str, target: &str) -> TreeEntry {
        TreeEntry::Link {
            name: name.as_bytes().to_vec(),
            target: target.as_bytes().to_vec(),
        }
    }

    #[test]
    fn files_land_at_their_client_paths_inside_the_root() {
        let (_dir, mut root) = root();
        root.add(&file("/home/u/p/src/a.c", "int a;\n")).unwrap();
        let at = root.path().join("home/u/p/src/a.c");
        assert_eq!(std::fs::read_to_string(at).unwrap(), "int a;\n");
    }

    #[test]
    fn climbing_and_relative_names_are_refused() {
        let (dir, mut root) = root();
        for name in [
            "/../victim",
            "/a/../../victim",
            "relative/x.h",
            "/",
            "/a\0b",
        ] {
            let refusal = root.add(&file(name, "x")).unwrap_err();
            assert!(refusal.why.contains("path"), "{name}: {refusal}");
        }
        assert!(!dir.path().join("victim").exists());
    }

    #[test]
    fn a_file_is_never_written_through_a_link() {
        let (dir, mut root) = root();
        let outside = dir.path().join("outside");
        std::fs::create_dir(&outside).unwrap();
        // A link whose absolute target is moved into the root, and a relative one that
        // tries to leave it: neither is followed when files are written.
        root.add(&link("/p/inc/linkdir", "/p/inc/real")).unwrap();
        let refusal = root.add(&file("/p/inc/linkdir/b.h", "x")).unwrap_err();
        assert!(refusal.why.contains("symbolic link"), "{refusal}");
        let refusal = root.add(&link("/p/out", "../../outside")).unwrap_err();
        assert!(refusal.why.contains("system directory"), "{refusal}");
        assert_eq!(std::fs::read_dir(&outside).unwrap().count(), 0);
    }

    #[test]
    fn absolute_link_targets_point_inside_the_root() {
        let (_dir, mut root) = root();
        root.add(&file("/p/inc/real/b.h", "int b;\n")).unwrap();
        root.add(&link("/p/inc/linkdir", "/p/inc/real")).unwrap();
        let through = root.path().join("p/inc/linkdir/b.h");
        assert_eq!(std::fs::read_to_string(through).unwrap(), "int b;\n");
        let refusal = root.add(&link("/p/up", "/p/../../etc")).unwrap_err();
        assert!(refusal.why.contains(".."), "{refusal}");
    }

    #[test]
    fn distccs_system_links_resolve_to_the_servers_own_directory() {
        let (_dir, mut root) = root();
        let depth = root.path().components().count() - 1;
        let climb = "../".repeat(depth + 20);
        root.add(&link("/usr/include", &format!("{climb}usr/include")))
            .unwrap();
        assert!(root.path().join("usr/include/stdio.h").exists());
        // The same form naming a directory that is not a system one is refused, and so is a
        // link whose climb ends somewhere else than its own name.
        let refusal = root
            .add(&link("/home/u", &format!("{climb}home/u")))
            .unwrap_err();
        assert!(refusal.why.contains("system directory"), "{refusal}");
        let refusal = root
            .add(&link("/usr/lib/x", &format!("{climb}usr/include")))
            .unwrap_err();
        assert!(refusal.why.contains("system directory"), "{refusal}");
    }

    #[test]
    fn a_second_link_with_the_same_name_is_refused() {
        let (_dir, mut root) = root();
        root.add(&link("/p/l", "x")).unwrap();
        let refusal = root.add(&link("/p/l", "y")).unwrap_err();
        assert!(refusal.why.contains("already"), "{refusal}");
    }

    #[test]
    fn the_size_limit_counts_every_file() {
        let dir = tempfile::tempdir().unwrap();
        let mut root = JobRoot::create(dir.path(), 10).unwrap();
        root.add(&file("/a", "123456")).unwrap();
        let refusal = root.add(&file("/b", "123456")).unwrap_err();
        assert!(refusal.why.contains("over 10 bytes"), "{refusal}");
    }

    #[test]
    fn the_working_directory_is_mirrored() {
        let (_dir, root) = root();
        let cwd = root.mirror_dir(b"/home/u/proj").unwrap();
        assert_eq!(cwd, root.path().join("home/u/proj"));
        assert!(cwd.is_dir());
        assert!(root.mirror_dir(b"/home/../..").is_err());
    }
}
