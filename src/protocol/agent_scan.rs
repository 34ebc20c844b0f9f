//! The include-scan request on the agent's socket: a wrapper with a pump-mode job asks the
//! agent, whose scanner keeps its caches from job to job, which files the compile may open.
//!
//! ```text
//! wrapper → agent   SCAN 1   SCWD <cwd>   NARG n   n × ARGV <arg>   PATH <PATH or "">
//!                   NVAR n   n × (VARN <name>  VARV <value>)
//! agent → wrapper   CLOS 0   then five lists, each a count and its paths:
//!                   NFIL n × FILE   NLNK n × (LNKN LNKT)   NDIR n × DIRN
//!                   NSYD n × SYSD   NSYF n × SYSF
//!                   then each FILE's content packed: NFIL n × (PHSH <sha-256>  PLZO <LZO>)
//!               or  GIVE <why the scanner gave up>
//! ```

use std::ffi::OsString;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::PathBuf;
use std::sync::Arc;

use tokio::io::{AsyncRead, AsyncWrite};

use super::file_tree::check_count;
use super::hashed_tree::hash_body;
use super::packed_tree::PackedFile;
use super::token::{HEADER_LEN, claimed_capacity};
use super::{ProtocolError, TokenReader, TokenWriter};

pub const VERSION: u32 = 1;

/// More entries than any compile opens: a bound on what a reader allocates.
const MAX_ENTRIES: u32 = 1_000_000;

/// What the scan needs: the command, where it runs, and the environment that changes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanRequest {
    pub cwd: PathBuf,
    pub argv: Vec<String>,
    /// The job's `PATH`, to find the compiler.
    pub path: Option<OsString>,
    /// `CPATH` and the other search-path variables that are set.
    pub search_variables: Vec<(String, OsString)>,
}

/// The files a compile may open, and what a server needs to mirror their paths.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Closure {
    /// Regular files to ship, as absolute real paths (symlinks resolved): the source,
    /// `-include`/`-imacros` files and every header reached outside the compiler's default
    /// directories. The source comes first.
    pub files: Vec<PathBuf>,
    /// Symlinks met on the way to a file (shipped or system) or to a search directory:
    /// `(absolute link path, canonical absolute target)`. None lies under a default directory.
    pub links: Vec<(PathBuf, PathBuf)>,
    /// Directories that must exist on the server although no shipped file or link lies below
    /// them: left by `..`, link targets, search directories that supply nothing, the cwd.
    /// Sorted; none under a default directory.
    pub dirs: Vec<PathBuf>,
    /// The compiler's default include directories (canonical), for system-link entries.
    pub system_dirs: Vec<PathBuf>,
    /// Headers under the default directories that the scan followed (not shipped): the
    /// server's own copies are used. For checks and diagnostics.
    pub system_files: Vec<PathBuf>,
}

/// The agent's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScanAnswer {
    /// The closure, and each of its `files` packed for the wire, in the same order.
    Found(Closure, Vec<Arc<PackedFile>>),
    /// The scanner cannot be sure; the job is preprocessed locally. The reason names the
    /// file or option.
    GaveUp(String),
}

impl ScanRequest {
    pub async fn write<W: AsyncWrite + Unpin>(
        &self,
        w: &mut TokenWriter<W>,
    ) -> Result<(), ProtocolError> {
        w.int(b"SCAN", VERSION);
        w.string(b"SCWD", self.cwd.as_os_str().as_bytes())?;
        w.int(b"NARG", count(self.argv.len())?);
        for arg in &self.argv {
            w.string(b"ARGV", arg.as_bytes())?;
        }
        w.string(
            b"PATH",
            self.path.as_deref().map_or(&[][..], OsStrExt::as_bytes),
        )?;
        w.int(b"NVAR", count(self.search_variables.len())?);
        for (name, value) in &self.search_variables {
            w.string(b"VARN", name.as_bytes())?;
            w.string(b"VARV", value.as_bytes())?;
        }
        w.flush().await
    }

    /// Reads the rest of a request whose `SCAN` header (with `version`) was already read.
    pub async fn read_after_header<R: AsyncRead + Unpin>(
        version: u32,
        r: &mut TokenReader<R>,
    ) -> Result<Self, ProtocolError> {
        if version != VERSION {
            return Err(ProtocolError::UnsupportedVersion(version));
        }
        let cwd = path(r.read_string("SCWD").await?);
        let n = read_count(r, "NARG").await?;
        let mut argv = Vec::with_capacity(capacity(n));
        for _ in 0..n {
            argv.push(String::from_utf8_lossy(&r.read_string("ARGV").await?).into_owned());
        }
        let path_var =
            Some(OsString::from_vec(r.read_string("PATH").await?)).filter(|p| !p.is_empty());
        let n = read_count(r, "NVAR").await?;
        let mut search_variables = Vec::with_capacity(capacity(n));
        for _ in 0..n {
            let name = String::from_utf8_lossy(&r.read_string("VARN").await?).into_owned();
            let value = OsString::from_vec(r.read_string("VARV").await?);
            search_variables.push((name, value));
        }
        Ok(ScanRequest {
            cwd,
            argv,
            path: path_var,
            search_variables,
        })
    }
}

impl ScanAnswer {
    pub async fn write<W: AsyncWrite + Unpin>(
        &self,
        w: &mut TokenWriter<W>,
    ) -> Result<(), ProtocolError> {
        match self {
            ScanAnswer::GaveUp(reason) => w.string(b"GIVE", reason.as_bytes())?,
            ScanAnswer::Found(closure, packed) => {
                w.reserve(answer_len(closure, packed));
                w.int(b"CLOS", 0);
                write_paths(w, b"NFIL", b"FILE", &closure.files)?;
                w.int(b"NLNK", count(closure.links.len())?);
                for (link, target) in &closure.links {
                    w.string(b"LNKN", link.as_os_str().as_bytes())?;
                    w.string(b"LNKT", target.as_os_str().as_bytes())?;
                }
                write_paths(w, b"NDIR", b"DIRN", &closure.dirs)?;
                write_paths(w, b"NSYD", b"SYSD", &closure.system_dirs)?;
                write_paths(w, b"NSYF", b"SYSF", &closure.system_files)?;
                w.int(b"NFIL", count(packed.len())?);
                for file in packed {
                    w.string(b"PHSH", &file.hash)?;
                    w.string(b"PLZO", &file.lzo)?;
                }
            }
        }
        w.flush().await
    }

    pub async fn read<R: AsyncRead + Unpin>(r: &mut TokenReader<R>) -> Result<Self, ProtocolError> {
        match r.read_any().await? {
            (token, len) if &token == b"GIVE" => Ok(ScanAnswer::GaveUp(
                String::from_utf8_lossy(&r.read_body("GIVE", len, 65536).await?).into_owned(),
            )),
            (token, _) if &token == b"CLOS" => {
                let files = read_paths(r, "NFIL", "FILE").await?;
                let n = read_count(r, "NLNK").await?;
                let mut links = Vec::with_capacity(capacity(n));
                for _ in 0..n {
                    let link = path(r.read_string("LNKN").await?);
                    links.push((link, path(r.read_string("LNKT").await?)));
                }
                let closure = Closure {
                    files,
                    links,
                    dirs: read_paths(r, "NDIR", "DIRN").await?,
                    system_dirs: read_paths(r, "NSYD", "SYSD").await?,
                    system_files: read_paths(r, "NSYF", "SYSF").await?,
                };
                let n = read_count(r, "NFIL").await?;
                let mut packed = Vec::with_capacity(capacity(n));
                for _ in 0..n {
                    let hash = hash_body("PHSH", r.read_string("PHSH").await?)?;
                    let size = r.read_int("PLZO").await?;
                    let lzo = r.read_body("PLZO", size, r.limits().max_body).await?;
                    packed.push(Arc::new(PackedFile { hash, lzo }));
                }
                Ok(ScanAnswer::Found(closure, packed))
            }
            (other, _) => Err(ProtocolError::WrongToken {
                expected: "CLOS",
                got: String::from_utf8_lossy(&other).into_owned(),
            }),
        }
    }
}

/// The bytes of a `Found` answer, headers included, for the writer to reserve.
fn answer_len(closure: &Closure, packed: &[Arc<PackedFile>]) -> usize {
    let paths = |list: &[PathBuf]| {
        list.iter()
            .map(|p| HEADER_LEN + p.as_os_str().len())
            .sum::<usize>()
    };
    let links: usize = closure
        .links
        .iter()
        .map(|(l, t)| 2 * HEADER_LEN + l.as_os_str().len() + t.as_os_str().len())
        .sum();
    let files: usize = packed
        .iter()
        .map(|f| 2 * HEADER_LEN + f.hash.len() + f.lzo.len())
        .sum();
    7 * HEADER_LEN
        + paths(&closure.files)
        + links
        + paths(&closure.dirs)
        + paths(&closure.system_dirs)
        + paths(&closure.system_files)
        + files
}

fn count(n: usize) -> Result<u32, ProtocolError> {
    u32::try_from(n)
        .ok()
        .filter(|&n| n <= MAX_ENTRIES)
        .ok_or(ProtocolError::TooLong {
            token: "a list",
            len: n as u64,
            limit: MAX_ENTRIES.into(),
        })
}

async fn read_count<R: AsyncRead + Unpin>(
    r: &mut TokenReader<R>,
    token: &'static str,
) -> Result<usize, ProtocolError> {
    let n = r.read_int(token).await?;
    Ok(check_count(token, n, MAX_ENTRIES)? as usize)
}

/// The capacity for a list of `n` entries the peer announced (see `claimed_capacity`).
fn capacity(n: usize) -> usize {
    claimed_capacity(n.try_into().unwrap_or(u32::MAX))
}

fn write_paths<W: AsyncWrite + Unpin>(
    w: &mut TokenWriter<W>,
    count_token: &[u8; 4],
    token: &[u8; 4],
    paths: &[PathBuf],
) -> Result<(), ProtocolError> {
    w.int(count_token, count(paths.len())?);
    for p in paths {
        w.string(token, p.as_os_str().as_bytes())?;
    }
    Ok(())
}

async fn read_paths<R: AsyncRead + Unpin>(
    r: &mut TokenReader<R>,
    count_token: &'static str,
    token: &'static str,
) -> Result<Vec<PathBuf>, ProtocolError> {
    let n = read_count(r, count_token).await?;
    let mut paths = Vec::with_capacity(capacity(n));
    for _ in 0..n {
        paths.push(path(r.read_string(token).await?));
    }
    Ok(paths)
}

fn path(bytes: Vec<u8>) -> PathBuf {
    PathBuf::from(OsString::from_vec(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::Limits;

    #[tokio::test]
    async fn a_scan_request_and_both_answers_round_trip() {
        let request = ScanRequest {
            cwd: "/src/lua".into(),
            argv: vec!["gcc".into(), "-c".into(), "lapi.c".into()],
            path: Some("/usr/bin:/bin".into()),
            search_variables: vec![("CPATH".into(), "".into())],
        };
        let mut w = TokenWriter::new(Vec::new());
        request.write(&mut w).await.unwrap();
        let bytes = w.into_inner();
        let mut r = TokenReader::new(&bytes[..], Limits::default());
        let version = r.read_int("SCAN").await.unwrap();
        assert_eq!(
            ScanRequest::read_after_header(version, &mut r)
                .await
                .unwrap(),
            request
        );
        let found = ScanAnswer::Found(
            Closure {
                files: vec!["/src/lua/lapi.c".into(), "/src/lua/lua.h".into()],
                links: vec![("/src/l".into(), "/src/lua".into())],
                dirs: vec!["/src/lua".into()],
                system_dirs: vec!["/usr/include".into()],
                system_files: vec!["/usr/include/stdio.h".into()],
            },
            vec![
                Arc::new(PackedFile::of(b"int lua_call;\n")),
                Arc::new(PackedFile::of(b"")),
            ],
        );
        for answer in [found, ScanAnswer::GaveUp("CPATH is set".into())] {
            let mut w = TokenWriter::new(Vec::new());
            answer.write(&mut w).await.unwrap();
            let bytes = w.into_inner();
            let mut r = TokenReader::new(&bytes[..], Limits::default());
            assert_eq!(ScanAnswer::read(&mut r).await.unwrap(), answer);
        }
    }
}
