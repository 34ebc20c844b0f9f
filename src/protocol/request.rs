//! Client → server: `DIST [CDIR] ARGC ARGV…`, then `DOTI` (versions 1 and 2) or the file
//! tree of [`file_tree`](super::file_tree) (version 3, pump mode).

use tokio::io::{AsyncRead, AsyncWrite};

use super::token::claimed_capacity;
use super::{ProtocolError, TokenReader, TokenWriter, Version};

/// What precedes the source: the version and the compiler command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestHeader {
    pub version: Version,
    /// The number the client put in `DIST`, echoed in `DONE` (distccd answers `DIST 0` with 0).
    pub wire_version: u32,
    /// The client's working directory (`CDIR`), sent in version 3 only: the server mirrors
    /// it inside the job's root and compiles there.
    pub cwd: Option<Vec<u8>>,
    /// Raw argument bytes, argv[0] being the compiler.
    pub argv: Vec<Vec<u8>>,
}

/// A whole plain-mode request, as a client sends it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub header: RequestHeader,
    /// The preprocessed source, uncompressed.
    pub source: Vec<u8>,
}

impl RequestHeader {
    pub fn new(version: Version, argv: Vec<Vec<u8>>) -> Self {
        RequestHeader {
            version,
            wire_version: version.number(),
            cwd: None,
            argv,
        }
    }

    /// A version 3 (pump mode) header: the server preprocesses in a mirror of `cwd`.
    pub fn pump(cwd: Vec<u8>, argv: Vec<Vec<u8>>) -> Self {
        RequestHeader {
            cwd: Some(cwd),
            ..RequestHeader::new(Version::V3, argv)
        }
    }

    /// Reads `DIST`, `CDIR` (version 3 only), then `ARGC`/`ARGV`.
    pub async fn read<R: AsyncRead + Unpin>(
        reader: &mut TokenReader<R>,
    ) -> Result<Self, ProtocolError> {
        let wire_version = reader.read_int("DIST").await?;
        let version = Version::from_wire(wire_version)
            .ok_or(ProtocolError::UnsupportedVersion(wire_version))?;
        let cwd = match version {
            Version::V3 => Some(reader.read_string("CDIR").await?),
            _ => None,
        };
        let argc = reader.read_int("ARGC").await?;
        let max_args = reader.limits().max_args;
        if argc > max_args {
            return Err(ProtocolError::TooLong {
                token: "ARGC",
                len: argc.into(),
                limit: max_args.into(),
            });
        }
        let mut argv = Vec::with_capacity(claimed_capacity(argc));
        for _ in 0..argc {
            argv.push(reader.read_string("ARGV").await?);
        }
        Ok(RequestHeader {
            version,
            wire_version,
            cwd,
            argv,
        })
    }

    pub fn write<W: AsyncWrite + Unpin>(
        &self,
        writer: &mut TokenWriter<W>,
    ) -> Result<(), ProtocolError> {
        writer.int(b"DIST", self.wire_version);
        if let Some(cwd) = &self.cwd {
            writer.string(b"CDIR", cwd)?;
        }
        writer.int(b"ARGC", self.argv.len() as u32);
        for arg in &self.argv {
            writer.string(b"ARGV", arg)?;
        }
        Ok(())
    }

    /// argv[0] for log lines and error messages.
    pub fn compiler(&self) -> String {
        self.argv
            .first()
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .unwrap_or_default()
    }
}

/// Reads the `DOTI` packet that follows a header.
pub async fn read_source<R: AsyncRead + Unpin>(
    reader: &mut TokenReader<R>,
    version: Version,
) -> Result<Vec<u8>, ProtocolError> {
    reader.read_bulk("DOTI", version.compressed()).await
}

pub fn write_source<W: AsyncWrite + Unpin>(
    writer: &mut TokenWriter<W>,
    version: Version,
    source: &[u8],
) -> Result<(), ProtocolError> {
    writer.bulk(b"DOTI", source, version.compressed())
}

impl Request {
    pub async fn read<R: AsyncRead + Unpin>(
        reader: &mut TokenReader<R>,
    ) -> Result<Self, ProtocolError> {
        let header = RequestHeader::read(reader).await?;
        let source = read_source(reader, header.version).await?;
        Ok(Request { header, source })
    }

    pub async fn write<W: AsyncWrite + Unpin>(
        &self,
        writer: &mut TokenWriter<W>,
    ) -> Result<(), ProtocolError> {
        self.header.write(writer)?;
        write_source(writer, self.header.version, &self.source)?;
        writer.flush().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::Limits;

    fn argv(words: &[&str]) -> Vec<Vec<u8>> {
        words.iter().map(|w| w.as_bytes().to_vec()).collect()
    }

    async fn encode(req: &Request) -> Vec<u8> {
        let mut w = TokenWriter::new(Vec::new());
        req.write(&mut w).await.unwrap();
        w.into_inner()
    }

    #[tokio::test]
    async fn version_one_request_matches_the_documented_bytes() {
        let req = Request {
            header: RequestHeader::new(Version::V1, argv(&["gcc", "-c", "foo.c", "-o", "foo.o"])),
            source: vec![b'x'; 1234],
        };
        let bytes = encode(&req).await;
        let expected_head = b"DIST00000001ARGC00000005ARGV00000003gccARGV00000002-cARGV00000005foo.cARGV00000002-oARGV00000005foo.oDOTI000004d2";
        assert_eq!(&bytes[..expected_head.len()], expected_head);
        assert_eq!(bytes.len(), expected_head.len() + 1234);
    }

    #[tokio::test]
    async fn both_versions_round_trip() {
        for version in [Version::V1, Version::V2] {
            let req = Request {
                header: RequestHeader::new(version, argv(&["cc", "-O2", "-c", "a.c"])),
                source: b"int a;\n".repeat(1000),
            };
            let bytes = encode(&req).await;
            let back = Request::read(&mut TokenReader::new(&bytes[..], Limits::default())).await;
            assert_eq!(back.unwrap(), req);
        }
    }

    #[tokio::test]
    async fn version_three_header_carries_the_working_directory() {
        let header = RequestHeader::pump(b"/home/u/proj".to_vec(), argv(&["gcc", "-c", "a.c"]));
        let mut w = TokenWriter::new(Vec::new());
        header.write(&mut w).unwrap();
        w.flush().await.unwrap();
        let bytes = w.into_inner();
        assert!(bytes.starts_with(b"DIST00000003CDIR0000000c/home/u/projARGC00000003"));
        let back = RequestHeader::read(&mut TokenReader::new(&bytes[..], Limits::default())).await;
        assert_eq!(back.unwrap(), header);
    }

    #[tokio::test]
    async fn unknown_versions_are_refused_by_number() {
        let mut r = TokenReader::new(&b"DIST00000009"[..], Limits::default());
        assert!(matches!(
            RequestHeader::read(&mut r).await,
            Err(ProtocolError::UnsupportedVersion(9))
        ));
    }

    #[tokio::test]
    async fn too_many_arguments_are_refused_before_reading_them() {
        let mut r = TokenReader::new(&b"DIST00000001ARGC7fffffff"[..], Limits::default());
        assert!(matches!(
            RequestHeader::read(&mut r).await,
            Err(ProtocolError::TooLong { .. })
        ));
    }
}
