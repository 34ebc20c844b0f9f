//! One packet: a 4-letter token, 8 lowercase hex digits, and for string/bulk tokens a body of
//! that many bytes. Generic over the token name so that protocol 3 (`NFIL`, `NAME`, `FILE`,
//! `LINK`) is an addition, not a rewrite.

use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::{ProtocolError, lzo};

pub const HEADER_LEN: usize = 12;

/// How much of a body is allocated before any of it has arrived.
const BODY_FIRST_CHUNK: usize = 64 * 1024;

/// Upper bounds checked before anything is allocated. The defaults are generous for real
/// compiles (a preprocessed translation unit of hundreds of MB is already absurd) and stop a
/// lying length from exhausting memory.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_args: u32,
    pub max_arg_len: u32,
    /// Largest body as it travels on the wire (compressed in protocol 2).
    pub max_body: u32,
    /// Largest body after decompression.
    pub max_decompressed: u64,
    /// Every single read or write must make progress within this time.
    pub io_timeout: Duration,
    /// Most entries in a pump-mode file tree (`NFIL`).
    pub max_files: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_args: 10_000,
            max_arg_len: 256 * 1024,
            max_body: 512 * 1024 * 1024,
            max_decompressed: 1024 * 1024 * 1024,
            io_timeout: Duration::from_secs(300),
            max_files: 100_000,
        }
    }
}

/// The capacity to reserve for a list of `claimed` items the peer announced: what arrives
/// fills the rest, so a count that lies costs no more than a small list.
pub fn claimed_capacity(claimed: u32) -> usize {
    claimed.min(1024) as usize
}

/// Formats a packet header: token plus 8 lowercase hex digits. By hand, not `format!`: a pump
/// job's answer has thousands of headers, and each `format!` was an allocation.
pub fn header(token: &[u8; 4], value: u32) -> [u8; HEADER_LEN] {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = [0u8; HEADER_LEN];
    out[..4].copy_from_slice(token);
    for (i, digit) in out[4..].iter_mut().enumerate() {
        *digit = HEX[(value >> (28 - 4 * i)) as usize & 0xf];
    }
    out
}

pub struct TokenReader<R> {
    inner: R,
    limits: Limits,
}

impl<R: AsyncRead + Unpin> TokenReader<R> {
    pub fn new(inner: R, limits: Limits) -> Self {
        TokenReader { inner, limits }
    }

    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    pub fn into_inner(self) -> R {
        self.inner
    }

    async fn fill(&mut self, buf: &mut [u8], context: &'static str) -> Result<(), ProtocolError> {
        let secs = self.limits.io_timeout.as_secs();
        match tokio::time::timeout(self.limits.io_timeout, self.inner.read_exact(buf)).await {
            Err(_) => Err(ProtocolError::Timeout { secs }),
            Ok(Err(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                Err(ProtocolError::Truncated { context })
            }
            Ok(Err(e)) => Err(e.into()),
            Ok(Ok(_)) => Ok(()),
        }
    }

    /// Reads a header and returns its token name and value, whatever the token is.
    pub async fn read_any(&mut self) -> Result<([u8; 4], u32), ProtocolError> {
        let mut raw = [0u8; HEADER_LEN];
        self.fill(&mut raw, "a packet header").await?;
        let token: [u8; 4] = raw[..4].try_into().expect("4 bytes");
        let hex = &raw[4..];
        // distcc writes lowercase; its reader (strtoul) also takes uppercase. Nothing else.
        let value = std::str::from_utf8(hex)
            .ok()
            .filter(|s| s.bytes().all(|b| b.is_ascii_hexdigit()))
            .and_then(|s| u32::from_str_radix(s, 16).ok())
            .ok_or_else(|| ProtocolError::BadHex {
                token: String::from_utf8_lossy(&token).into_owned(),
                text: String::from_utf8_lossy(hex).into_owned(),
            })?;
        Ok((token, value))
    }

    /// Reads a header that must carry `expected`.
    pub async fn read_int(&mut self, expected: &'static str) -> Result<u32, ProtocolError> {
        let (token, value) = self.read_any().await?;
        if token != expected.as_bytes() {
            return Err(ProtocolError::WrongToken {
                expected,
                got: String::from_utf8_lossy(&token).into_owned(),
            });
        }
        Ok(value)
    }

    /// Reads exactly `len` body bytes after checking `len` against `limit`.
    pub async fn read_body(
        &mut self,
        token: &'static str,
        len: u32,
        limit: u32,
    ) -> Result<Vec<u8>, ProtocolError> {
        if len > limit {
            return Err(ProtocolError::TooLong {
                token,
                len: len.into(),
                limit: limit.into(),
            });
        }
        // Memory follows the bytes that arrive, not the length a peer claims: a peer that
        // announces 16 MB and sends nothing costs 64 KB, and a body grows by doubling.
        let len = len as usize;
        let mut body = Vec::with_capacity(len.min(BODY_FIRST_CHUNK));
        while body.len() < len {
            let start = body.len();
            let chunk = (len - start).min(start.max(BODY_FIRST_CHUNK));
            body.resize(start + chunk, 0);
            self.fill(&mut body[start..], token).await?;
        }
        Ok(body)
    }

    /// A string token (`ARGV`, `CDIR`, `NAME`, `LINK`): never compressed.
    pub async fn read_string(&mut self, token: &'static str) -> Result<Vec<u8>, ProtocolError> {
        let len = self.read_int(token).await?;
        self.read_body(token, len, self.limits.max_arg_len).await
    }

    /// A bulk token (`DOTI`, `SERR`, `SOUT`, `DOTO`): LZO-compressed when `compressed`, and
    /// an empty payload travels as length 0 with no body in both versions.
    pub async fn read_bulk(
        &mut self,
        token: &'static str,
        compressed: bool,
    ) -> Result<Vec<u8>, ProtocolError> {
        let len = self.read_int(token).await?;
        self.read_bulk_body(token, len, compressed).await
    }

    pub async fn read_bulk_body(
        &mut self,
        token: &'static str,
        len: u32,
        compressed: bool,
    ) -> Result<Vec<u8>, ProtocolError> {
        let body = self.read_body(token, len, self.limits.max_body).await?;
        if !compressed || body.is_empty() {
            return Ok(body);
        }
        lzo::decompress(token, &body, self.limits.max_decompressed)
    }
}

pub struct TokenWriter<W> {
    inner: W,
    buf: Vec<u8>,
    /// Bytes flushed so far.
    sent: u64,
}

impl<W: AsyncWrite + Unpin> TokenWriter<W> {
    /// Packets are gathered in memory and sent by [`flush`](Self::flush), so that a whole
    /// request or answer leaves in as few segments as possible (distcc corks for the same
    /// reason).
    pub fn new(inner: W) -> Self {
        TokenWriter {
            inner,
            buf: Vec::new(),
            sent: 0,
        }
    }

    /// How many bytes have left through [`flush`](Self::flush).
    pub fn sent(&self) -> u64 {
        self.sent
    }

    pub fn into_inner(self) -> W {
        self.inner
    }

    /// The packets gathered and not flushed: for a writer used only to encode them.
    pub fn into_buffer(self) -> Vec<u8> {
        self.buf
    }

    /// Packets encoded elsewhere, sent with the next flush.
    pub fn raw(&mut self, packets: &[u8]) {
        self.buf.extend_from_slice(packets);
    }

    pub fn get_mut(&mut self) -> &mut W {
        &mut self.inner
    }

    /// Room for `bytes` more before the next flush: a writer that knows its packets' sizes
    /// grows the buffer once instead of by doubling (copying ~400 KB of a pump job's files
    /// several times over).
    pub fn reserve(&mut self, bytes: usize) {
        self.buf.reserve(bytes);
    }

    pub fn int(&mut self, token: &[u8; 4], value: u32) {
        self.buf.extend_from_slice(&header(token, value));
    }

    /// A string token with its raw bytes.
    pub fn string(&mut self, token: &[u8; 4], body: &[u8]) -> Result<(), ProtocolError> {
        let len = wire_len(token, body.len())?;
        self.int(token, len);
        self.buf.extend_from_slice(body);
        Ok(())
    }

    /// A bulk token, compressed when `compressed` and non-empty.
    pub fn bulk(
        &mut self,
        token: &[u8; 4],
        body: &[u8],
        compressed: bool,
    ) -> Result<(), ProtocolError> {
        if compressed && !body.is_empty() {
            let packed = lzo::compress(body);
            self.string(token, &packed)
        } else {
            self.string(token, body)
        }
    }

    pub async fn flush(&mut self) -> Result<(), ProtocolError> {
        self.inner.write_all(&self.buf).await?;
        self.sent += self.buf.len() as u64;
        self.buf.clear();
        self.inner.flush().await?;
        Ok(())
    }
}

fn wire_len(token: &[u8; 4], len: usize) -> Result<u32, ProtocolError> {
    u32::try_from(len).map_err(|_| ProtocolError::TooLong {
        token: static_name(token),
        len: len as u64,
        limit: u32::MAX.into(),
    })
}

/// Error messages want a `&'static str`; token names are a closed set.
fn static_name(token: &[u8; 4]) -> &'static str {
    const KNOWN: [&str; 16] = [
        "DIST", "ARGC", "ARGV", "DOTI", "CDIR", "NFIL", "NAME", "FILE", "LINK", "DONE", "STAT",
        "SERR", "SOUT", "DOTO", "DOTD", "TLEN",
    ];
    KNOWN
        .iter()
        .find(|k| k.as_bytes() == token)
        .copied()
        .unwrap_or("token")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_is_token_and_eight_lowercase_hex_digits() {
        assert_eq!(&header(b"DOTI", 0x4d2), b"DOTI000004d2");
        assert_eq!(&header(b"STAT", 0xffff_ffff), b"STATffffffff");
        assert_eq!(&header(b"ARGC", 0x1234_5678), b"ARGC12345678");
        assert_eq!(&header(b"DONE", 0), b"DONE00000000");
    }

    async fn read_one(bytes: &[u8]) -> Result<u32, ProtocolError> {
        TokenReader::new(bytes, Limits::default())
            .read_int("DIST")
            .await
    }

    #[tokio::test]
    async fn reader_accepts_uppercase_hex_like_strtoul() {
        assert_eq!(read_one(b"DIST000000AB").await.unwrap(), 0xab);
    }

    #[tokio::test]
    async fn reader_rejects_bad_hex_signs_and_spaces() {
        for bad in [
            &b"DIST0000000g"[..],
            b"DIST -000001",
            b"DIST+0000001",
            b"DIST 0000001",
        ] {
            assert!(
                matches!(read_one(bad).await, Err(ProtocolError::BadHex { .. })),
                "{bad:?}"
            );
        }
    }

    #[tokio::test]
    async fn reader_reports_wrong_token_and_truncation() {
        assert!(matches!(
            read_one(b"ARGC00000001").await,
            Err(ProtocolError::WrongToken { .. })
        ));
        assert!(matches!(
            read_one(b"DIST0000").await,
            Err(ProtocolError::Truncated { .. })
        ));
    }

    #[tokio::test]
    async fn lying_length_is_refused_before_allocation() {
        let mut r = TokenReader::new(&b"ARGVffffffff"[..], Limits::default());
        assert!(matches!(
            r.read_string("ARGV").await,
            Err(ProtocolError::TooLong { .. })
        ));
    }

    /// Bytes `ARGV7fffffff` promises but never sends, and the largest buffer it was
    /// offered to read into.
    struct Liar {
        header: &'static [u8],
        largest_read: usize,
    }

    impl AsyncRead for Liar {
        fn poll_read(
            mut self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
            buf: &mut tokio::io::ReadBuf<'_>,
        ) -> std::task::Poll<std::io::Result<()>> {
            self.largest_read = self.largest_read.max(buf.remaining());
            let n = self.header.len().min(buf.remaining());
            buf.put_slice(&self.header[..n]);
            self.header = &self.header[n..];
            std::task::Poll::Ready(Ok(()))
        }
    }

    #[tokio::test]
    async fn a_lying_body_length_is_not_allocated_before_its_bytes_arrive() {
        let limits = Limits {
            max_arg_len: u32::MAX,
            ..Limits::default()
        };
        let liar = Liar {
            header: b"ARGV7fffffffsome bytes, then the end",
            largest_read: 0,
        };
        let mut r = TokenReader::new(liar, limits);
        assert!(matches!(
            r.read_string("ARGV").await,
            Err(ProtocolError::Truncated { .. })
        ));
        let largest = r.into_inner().largest_read;
        assert!(largest <= BODY_FIRST_CHUNK, "a {largest}-byte read buffer");
    }

    #[tokio::test]
    async fn a_body_longer_than_the_first_read_arrives_whole() {
        let body: Vec<u8> = (0..BODY_FIRST_CHUNK * 5 + 7).map(|i| i as u8).collect();
        let mut w = TokenWriter::new(Vec::new());
        w.string(b"DOTO", &body).unwrap();
        w.flush().await.unwrap();
        let bytes = w.into_inner();
        let mut r = TokenReader::new(&bytes[..], Limits::default());
        assert_eq!(r.read_bulk("DOTO", false).await.unwrap(), body);
    }

    #[tokio::test]
    async fn empty_compressed_bulk_has_no_body() {
        let mut w = TokenWriter::new(Vec::new());
        w.bulk(b"SERR", b"", true).unwrap();
        w.flush().await.unwrap();
        assert_eq!(w.into_inner(), b"SERR00000000");
    }
}
