//! The include-scan request on the agent's socket: a wrapper with a pump-mode job asks the
//! agent, whose scanner keeps its caches from job to job, which files the compile may open.
//! The agent answers with the tree's listing and keeps the packed contents: the wrapper then
//! hands it the job's socket and the agent writes the tree (or the contents a distfarm
//! server asked for) straight into it, so ~400 KB per job never pass through the wrapper.
//!
//! ```text
//! wrapper → agent   SCAN 2   SCWD <cwd>   NARG n   n × ARGV <arg>   PATH <PATH or "">
//!                   NVAR n   n × (VARN <name>  VARV <value>)
//! agent → wrapper   TREE <entries>  NFIL <files>  LSTH <SHA-256 of the listing>
//!                   HLST <the listing: n × NAME then HASH <32 bytes> or LINK, as hashed_tree>
//!               or  GIVE <why the scanner gave up>
//! then, any number of times until the wrapper hangs up:
//! wrapper → agent   TALL 0                  (the whole tree: NFIL and every entry)
//!               or  THSH <k × 32 bytes>     (those contents as FILE packets, in that order)
//!                   the job's socket attached to the first byte (SCM_RIGHTS), or not
//! agent → wrapper   WROT <bytes written into the socket>
//!               or  TBYT <the bytes>        (no socket came: the wrapper sends them)
//!               or  FAIL <why>
//! ```

use std::ffi::OsString;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::PathBuf;

use tokio::io::{AsyncRead, AsyncWrite};

use super::file_tree::check_count;
use super::hashed_tree::{self, ContentHash, Listing, hash_body};
use super::packed_tree::{self, OutgoingEntry};
use super::token::{HEADER_LEN, claimed_capacity};
use super::{ProtocolError, TokenReader, TokenWriter};

pub const VERSION: u32 = 2;

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
    /// The tree to send, as its listing: every entry's name with its content's hash or its
    /// link target, in distcc's order ([`super::closure_tree`]). The agent keeps the
    /// contents for as long as the wrapper keeps the connection open, and writes them where
    /// it is asked to ([`TreeRequest`]).
    Found(Listing),
    /// The scanner cannot be sure; the job is preprocessed locally. The reason names the
    /// file or option.
    GaveUp(String),
}

/// What a wrapper asks of the tree the agent keeps, on the scan's connection, with the
/// job's own socket handed over on the request's first byte (the agent writes into it), or
/// without (the bytes come back).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TreeRequest {
    /// `NFIL` and every entry, for any protocol-3 server.
    Whole,
    /// These contents as `FILE` packets, in this order: what a distfarm server asked for
    /// (`hashed_tree`'s `MISS`).
    Contents(Vec<ContentHash>),
}

/// The agent's answer to a [`TreeRequest`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TreeAnswer {
    /// This many bytes were written into the socket handed over.
    Written(u32),
    /// The bytes to send (no socket came).
    Bytes(Vec<u8>),
    /// Why nothing (or not everything) was written: the job's connection failed, or a
    /// hash names no file of the tree.
    Failed(String),
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
            ScanAnswer::Found(listing) => {
                w.int(b"TREE", listing.entries);
                w.int(b"NFIL", listing.files);
                w.string(b"LSTH", &listing.hash)?;
                w.string(b"HLST", &listing.bytes)?;
            }
        }
        w.flush().await
    }

    pub async fn read<R: AsyncRead + Unpin>(r: &mut TokenReader<R>) -> Result<Self, ProtocolError> {
        match r.read_any().await? {
            (token, len) if &token == b"GIVE" => Ok(ScanAnswer::GaveUp(
                String::from_utf8_lossy(&r.read_body("GIVE", len, 65536).await?).into_owned(),
            )),
            (token, entries) if &token == b"TREE" => {
                let entries = check_count("TREE", entries, MAX_ENTRIES)?;
                let files = check_count("NFIL", r.read_int("NFIL").await?, entries)?;
                let hash = hash_body("LSTH", r.read_string("LSTH").await?)?;
                let len = r.read_int("HLST").await?;
                let bytes = r.read_body("HLST", len, r.limits().max_body).await?;
                Ok(ScanAnswer::Found(Listing {
                    bytes,
                    hash,
                    entries,
                    files,
                }))
            }
            (other, _) => Err(ProtocolError::WrongToken {
                expected: "TREE or GIVE",
                got: String::from_utf8_lossy(&other).into_owned(),
            }),
        }
    }
}

impl TreeRequest {
    /// Writes what the request asks of the tree `entries`, as the job's server reads it:
    /// `NFIL` and every entry, or the named contents as `FILE` packets.
    pub fn write_from<W: AsyncWrite + Unpin>(
        &self,
        w: &mut TokenWriter<W>,
        entries: &[OutgoingEntry],
    ) -> Result<(), ProtocolError> {
        match self {
            TreeRequest::Whole => packed_tree::write_tree(w, entries),
            TreeRequest::Contents(hashes) => hashed_tree::write_contents(w, entries, hashes),
        }
    }

    /// The request's packets; the first byte is the one a handed-over socket goes with.
    pub fn encode(&self) -> Result<Vec<u8>, ProtocolError> {
        let mut w = TokenWriter::new(Vec::new());
        match self {
            TreeRequest::Whole => w.int(b"TALL", 0),
            TreeRequest::Contents(hashes) => w.string(b"THSH", hashes.as_flattened())?,
        }
        Ok(w.into_buffer())
    }

    /// Reads the rest of a request whose header (received with or without a socket) is
    /// `header`.
    pub async fn read_after<R: AsyncRead + Unpin>(
        header: &[u8; HEADER_LEN],
        r: &mut TokenReader<R>,
    ) -> Result<Self, ProtocolError> {
        let limits = *r.limits();
        match TokenReader::new(&header[..], limits).read_any().await? {
            (token, 0) if &token == b"TALL" => Ok(TreeRequest::Whole),
            (token, len) if &token == b"THSH" => {
                let body = r
                    .read_body("THSH", len, MAX_ENTRIES.saturating_mul(32))
                    .await?;
                let (hashes, rest) = body.as_chunks::<32>();
                if !rest.is_empty() {
                    return Err(ProtocolError::WrongToken {
                        expected: "whole SHA-256 hashes in THSH",
                        got: format!("{} bytes", body.len()),
                    });
                }
                Ok(TreeRequest::Contents(hashes.to_vec()))
            }
            (other, _) => Err(ProtocolError::WrongToken {
                expected: "TALL or THSH",
                got: String::from_utf8_lossy(&other).into_owned(),
            }),
        }
    }
}

impl TreeAnswer {
    pub async fn write<W: AsyncWrite + Unpin>(
        &self,
        w: &mut TokenWriter<W>,
    ) -> Result<(), ProtocolError> {
        match self {
            TreeAnswer::Written(n) => w.int(b"WROT", *n),
            TreeAnswer::Bytes(bytes) => w.string(b"TBYT", bytes)?,
            TreeAnswer::Failed(why) => w.string(b"FAIL", why.as_bytes())?,
        }
        w.flush().await
    }

    pub async fn read<R: AsyncRead + Unpin>(r: &mut TokenReader<R>) -> Result<Self, ProtocolError> {
        match r.read_any().await? {
            (token, n) if &token == b"WROT" => Ok(TreeAnswer::Written(n)),
            (token, len) if &token == b"TBYT" => {
                let limit = r.limits().max_body;
                Ok(TreeAnswer::Bytes(r.read_body("TBYT", len, limit).await?))
            }
            (token, len) if &token == b"FAIL" => Ok(TreeAnswer::Failed(
                String::from_utf8_lossy(&r.read_body("FAIL", len, 65536).await?).into_owned(),
            )),
            (other, _) => Err(ProtocolError::WrongToken {
                expected: "WROT, TBYT or FAIL",
                got: String::from_utf8_lossy(&other).into_owned(),
            }),
        }
    }
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

fn path(bytes: Vec<u8>) -> PathBuf {
    PathBuf::from(OsString::from_vec(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::Limits;
    use crate::protocol::packed_tree::{OutgoingEntry, PackedFile};
    use std::sync::Arc;

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
        let found = ScanAnswer::Found(Listing::of(&[
            OutgoingEntry::File {
                name: b"/src/lua/lapi.c".to_vec(),
                packed: Arc::new(PackedFile::of(b"int lua_call;\n")),
            },
            OutgoingEntry::Link {
                name: b"/src/l".to_vec(),
                target: b"/src/lua".to_vec(),
            },
        ]));
        for answer in [found, ScanAnswer::GaveUp("CPATH is set".into())] {
            let mut w = TokenWriter::new(Vec::new());
            answer.write(&mut w).await.unwrap();
            let bytes = w.into_inner();
            let mut r = TokenReader::new(&bytes[..], Limits::default());
            assert_eq!(ScanAnswer::read(&mut r).await.unwrap(), answer);
        }
    }

    #[tokio::test]
    async fn tree_requests_and_answers_round_trip() {
        for request in [
            TreeRequest::Whole,
            TreeRequest::Contents(vec![[1; 32], [2; 32]]),
            TreeRequest::Contents(vec![]),
        ] {
            let bytes = request.encode().unwrap();
            let header: [u8; HEADER_LEN] = bytes[..HEADER_LEN].try_into().unwrap();
            let mut r = TokenReader::new(&bytes[HEADER_LEN..], Limits::default());
            assert_eq!(
                TreeRequest::read_after(&header, &mut r).await.unwrap(),
                request
            );
        }
        for answer in [
            TreeAnswer::Written(430_000),
            TreeAnswer::Bytes(b"NFIL00000000".to_vec()),
            TreeAnswer::Failed("broken pipe".into()),
        ] {
            let mut w = TokenWriter::new(Vec::new());
            answer.write(&mut w).await.unwrap();
            let bytes = w.into_inner();
            let mut r = TokenReader::new(&bytes[..], Limits::default());
            assert_eq!(TreeAnswer::read(&mut r).await.unwrap(), answer);
        }
    }

    #[tokio::test]
    async fn a_hash_list_cut_short_is_refused() {
        let header = *b"THSH00000021";
        let body = [0u8; 33];
        let mut r = TokenReader::new(&body[..], Limits::default());
        assert!(TreeRequest::read_after(&header, &mut r).await.is_err());
    }
}
