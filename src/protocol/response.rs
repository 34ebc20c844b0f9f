//! Server → client: `DONE STAT SERR SOUT DOTO`, and in version 3 `DOTD` after a success.

use tokio::io::{AsyncRead, AsyncWrite};

use super::{ProtocolError, TokenReader, TokenWriter, Version};

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Response {
    /// The raw Unix wait status of the compiler (`exit << 8 | signal`).
    pub status: u32,
    pub stderr: Vec<u8>,
    pub stdout: Vec<u8>,
    /// The object file; sent only when `status == 0`.
    pub object: Vec<u8>,
    /// Version 3 only: the dependency file the server's preprocessor wrote, with the
    /// client's names (`DOTD`, sent after a successful `DOTO`).
    pub deps: Option<Vec<u8>>,
}

impl Response {
    /// A job that failed before or instead of a compile: `W_EXITCODE(code, 0)` and a message.
    pub fn failure(wait_status: u32, stderr: Vec<u8>) -> Self {
        Response {
            status: wait_status,
            stderr,
            ..Response::default()
        }
    }

    pub fn succeeded(&self) -> bool {
        self.status == 0
    }

    pub async fn write<W: AsyncWrite + Unpin>(
        &self,
        writer: &mut TokenWriter<W>,
        wire_version: u32,
        version: Version,
    ) -> Result<(), ProtocolError> {
        let compressed = version.compressed();
        writer.int(b"DONE", wire_version);
        writer.int(b"STAT", self.status);
        writer.bulk(b"SERR", &self.stderr, compressed)?;
        writer.bulk(b"SOUT", &self.stdout, compressed)?;
        // distccd sends the object only for a successful compile; a failure is DOTO00000000.
        let object: &[u8] = if self.succeeded() { &self.object } else { &[] };
        writer.bulk(b"DOTO", object, compressed)?;
        // distcc 3.4's client reads DOTD after every successful version 3 job (its body
        // only when it wants the .d), so one is always sent then, empty if need be.
        if version == Version::V3 && self.succeeded() {
            let deps = self.deps.as_deref().unwrap_or_default();
            writer.bulk(b"DOTD", deps, compressed)?;
        }
        writer.flush().await
    }

    pub async fn read<R: AsyncRead + Unpin>(
        reader: &mut TokenReader<R>,
        wire_version: u32,
        version: Version,
    ) -> Result<Self, ProtocolError> {
        let compressed = version.compressed();
        let got = reader.read_int("DONE").await?;
        if got != wire_version {
            return Err(ProtocolError::VersionMismatch {
                sent: wire_version,
                got,
            });
        }
        let status = reader.read_int("STAT").await?;
        let stderr = reader.read_bulk("SERR", compressed).await?;
        let stdout = reader.read_bulk("SOUT", compressed).await?;
        let doto_len = reader.read_int("DOTO").await?;
        let body = reader.read_bulk_body("DOTO", doto_len, compressed).await?;
        // Like distcc: an object sent with a failed status is ignored.
        let object = if status == 0 { body } else { Vec::new() };
        let deps = match (version, status) {
            (Version::V3, 0) => read_deps(reader).await?,
            _ => None,
        };
        Ok(Response {
            status,
            stderr,
            stdout,
            object,
            deps,
        })
    }
}

/// `DOTD`, which a distccd that failed to rewrite its `.d` leaves out (the connection then
/// just ends): the object stands without it.
async fn read_deps<R: AsyncRead + Unpin>(
    reader: &mut TokenReader<R>,
) -> Result<Option<Vec<u8>>, ProtocolError> {
    match reader.read_int("DOTD").await {
        Ok(len) => Ok(Some(reader.read_bulk_body("DOTD", len, true).await?)),
        Err(ProtocolError::Truncated { .. }) => Ok(None),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::Limits;

    #[tokio::test]
    async fn failed_compile_sends_no_object() {
        let resp = Response {
            status: 0x100,
            stderr: b"error\n".to_vec(),
            stdout: vec![],
            object: b"junk".to_vec(),
            deps: None,
        };
        let mut w = TokenWriter::new(Vec::new());
        resp.write(&mut w, 1, Version::V1).await.unwrap();
        assert_eq!(
            w.into_inner(),
            b"DONE00000001STAT00000100SERR00000006error\nSOUT00000000DOTO00000000"
        );
    }

    #[tokio::test]
    async fn compressed_response_round_trips() {
        let resp = Response {
            status: 0,
            stderr: b"warning: x\n".to_vec(),
            stdout: vec![],
            object: vec![7u8; 5000],
            deps: None,
        };
        let mut w = TokenWriter::new(Vec::new());
        resp.write(&mut w, 2, Version::V2).await.unwrap();
        let bytes = w.into_inner();
        let mut r = TokenReader::new(&bytes[..], Limits::default());
        assert_eq!(Response::read(&mut r, 2, Version::V2).await.unwrap(), resp);
    }

    #[tokio::test]
    async fn version_three_success_carries_the_dependency_file() {
        let resp = Response {
            object: b"ELF".to_vec(),
            deps: Some(b"a.o: a.c a.h\n".to_vec()),
            ..Response::default()
        };
        let mut w = TokenWriter::new(Vec::new());
        resp.write(&mut w, 3, Version::V3).await.unwrap();
        let bytes = w.into_inner();
        let mut r = TokenReader::new(&bytes[..], Limits::default());
        assert_eq!(Response::read(&mut r, 3, Version::V3).await.unwrap(), resp);
    }

    #[tokio::test]
    async fn version_three_answer_without_dependency_file_is_accepted() {
        let resp = Response {
            object: b"ELF".to_vec(),
            ..Response::default()
        };
        let mut w = TokenWriter::new(Vec::new());
        resp.write(&mut w, 2, Version::V2).await.unwrap();
        let mut bytes = w.into_inner();
        bytes[11] = b'3'; // DONE00000003
        let mut r = TokenReader::new(&bytes[..], Limits::default());
        assert_eq!(Response::read(&mut r, 3, Version::V3).await.unwrap(), resp);
    }

    #[tokio::test]
    async fn answer_in_another_version_is_an_error() {
        let mut r = TokenReader::new(&b"DONE00000002"[..], Limits::default());
        assert!(matches!(
            Response::read(&mut r, 1, Version::V1).await,
            Err(ProtocolError::VersionMismatch { sent: 1, got: 2 })
        ));
    }
}
