//! The distcc wire as a test client speaks it to a server under test: requests encoded by
//! distfarm's protocol writer or built token by token (for malformed ones), sent over a plain
//! `TcpStream`, answers parsed.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::time::Duration;

use distfarm::protocol::{
    Limits, Request, RequestHeader, Response, TokenReader, TokenWriter, Version,
};

/// How long a server may take to answer or close.
pub const ANSWER_TIMEOUT: Duration = Duration::from_secs(60);

/// A job every server must accept (with a source that compiles).
pub const HONEST_ARGV: [&str; 6] = ["gcc", "-O2", "-c", "foo.c", "-o", "foo.o"];

/// One packet header: the 4-letter token and its value as 8 hex digits (`DIST00000001`).
pub fn token(name: &str, value: u32) -> Vec<u8> {
    format!("{name}{value:08x}").into_bytes()
}

/// `ARGC` and an `ARGV` packet per word, as distcc sends them.
pub fn argv_tokens(argv: &[&str]) -> Vec<u8> {
    let mut out = token("ARGC", argv.len() as u32);
    for a in argv {
        out.extend(token("ARGV", a.len() as u32));
        out.extend_from_slice(a.as_bytes());
    }
    out
}

fn block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
        .block_on(future)
}

/// A whole request as distcc sends it, encoded by our protocol writer.
pub fn request_bytes<S: AsRef<str>>(version: Version, argv: &[S], source: &[u8]) -> Vec<u8> {
    let request = Request {
        header: RequestHeader::new(
            version,
            argv.iter()
                .map(|a| a.as_ref().as_bytes().to_vec())
                .collect(),
        ),
        source: source.to_vec(),
    };
    block_on(async {
        let mut writer = TokenWriter::new(Vec::new());
        request.write(&mut writer).await.expect("encode request");
        writer.into_inner()
    })
}

#[track_caller]
pub fn parse_response(bytes: &[u8], version: Version) -> Response {
    try_parse_response(bytes, version).unwrap_or_else(|e| panic!("{e}"))
}

/// The answer to a request of `version`, with nothing after it.
pub fn try_parse_response(bytes: &[u8], version: Version) -> Result<Response, String> {
    block_on(async {
        let mut reader = TokenReader::new(bytes, Limits::default());
        let response = Response::read(&mut reader, version.number(), version)
            .await
            .map_err(|e| {
                format!(
                    "not a distcc answer ({e}): {:?}",
                    String::from_utf8_lossy(&bytes[..bytes.len().min(400)])
                )
            })?;
        if !reader.into_inner().is_empty() {
            return Err("bytes after the answer".into());
        }
        Ok(response)
    })
}

/// What came back on one connection.
pub struct Reply {
    /// Our end of the connection, as the server logs it.
    pub addr: SocketAddr,
    pub bytes: Vec<u8>,
}

/// Sends `bytes`, optionally half-closes, then reads until the server closes (EOF or reset).
/// distcc clients never half-close: the server takes end-of-stream as "the client hung up".
#[track_caller]
pub fn exchange(port: u16, bytes: &[u8], half_close: bool) -> Reply {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect to the server");
    let addr = stream.local_addr().unwrap();
    stream.set_read_timeout(Some(ANSWER_TIMEOUT)).unwrap();
    // The server may close before reading everything: a write error is part of the test.
    let _ = stream.write_all(bytes);
    if half_close {
        let _ = stream.shutdown(Shutdown::Write);
    }
    let mut got = Vec::new();
    let mut chunk = [0u8; 65536];
    loop {
        match stream.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => got.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => break,
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                panic!("the server neither answered nor closed within {ANSWER_TIMEOUT:?}")
            }
            Err(e) => panic!("reading the answer: {e}"),
        }
    }
    Reply { addr, bytes: got }
}

/// One job, sent whole: the parsed answer and our address (as the server logs it).
#[track_caller]
pub fn compile<S: AsRef<str>>(
    port: u16,
    version: Version,
    argv: &[S],
    source: &[u8],
) -> (Response, SocketAddr) {
    let reply = exchange(port, &request_bytes(version, argv, source), false);
    (parse_response(&reply.bytes, version), reply.addr)
}

pub fn stderr_text(response: &Response) -> String {
    String::from_utf8_lossy(&response.stderr).into_owned()
}

/// Status 0 and an ELF object in the answer.
#[track_caller]
pub fn assert_compiled(response: &Response, what: &str) {
    assert_eq!(
        response.status,
        0,
        "{what}: status {:#x}, stderr: {}",
        response.status,
        stderr_text(response)
    );
    assert!(
        response.object.starts_with(b"\x7fELF"),
        "{what}: the answer carries an object"
    );
}
