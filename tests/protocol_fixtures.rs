//! Golden transcripts captured from the real distcc 3.4 client and distccd (see
//! tests/fixtures/README.md and scripts/capture-fixtures.py): our protocol module must read
//! exactly what they send and, re-encoding what it read, produce exactly the same bytes.

use crate::support::fixture;
use distfarm::protocol::{
    Limits, Request, RequestHeader, Response, TokenReader, TokenWriter, Version,
};

async fn parse_request(bytes: &[u8]) -> Request {
    let mut reader = TokenReader::new(bytes, Limits::default());
    let request = Request::read(&mut reader)
        .await
        .expect("the distcc request parses");
    let rest = reader.into_inner();
    assert!(
        rest.is_empty(),
        "{} bytes left after the request",
        rest.len()
    );
    request
}

async fn parse_response(bytes: &[u8], version: Version) -> Response {
    let mut reader = TokenReader::new(bytes, Limits::default());
    let response = Response::read(&mut reader, version.number(), version)
        .await
        .expect("the distccd response parses");
    let rest = reader.into_inner();
    assert!(
        rest.is_empty(),
        "{} bytes left after the response",
        rest.len()
    );
    response
}

async fn encode_request(request: &Request) -> Vec<u8> {
    let mut writer = TokenWriter::new(Vec::new());
    request.write(&mut writer).await.unwrap();
    writer.into_inner()
}

async fn encode_response(response: &Response, version: Version) -> Vec<u8> {
    let mut writer = TokenWriter::new(Vec::new());
    response
        .write(&mut writer, version.number(), version)
        .await
        .unwrap();
    writer.into_inner()
}

fn args(request: &Request) -> Vec<String> {
    request
        .header
        .argv
        .iter()
        .map(|a| String::from_utf8(a.clone()).unwrap())
        .collect()
}

fn is_elf_relocatable(object: &[u8]) -> bool {
    // e_type at offset 16 (little endian): 1 = ET_REL.
    object.len() > 64 && object.starts_with(b"\x7fELF") && object[16] == 1 && object[17] == 0
}

/// What the real client sends for `distcc gcc -O2 -c hello.c -o hello.o`: argv[0] rewritten
/// to the target triple (`dcc_rewrite_generic_compiler`), source and output names kept, no
/// `-E`; the preprocessed text of hello.c with hello.h expanded.
fn assert_hello_request(request: &Request, version: Version) {
    assert_eq!(request.header.version, version);
    assert_eq!(request.header.wire_version, version.number());
    assert_eq!(
        args(request),
        [
            "x86_64-linux-gnu-gcc",
            "-O2",
            "-c",
            "hello.c",
            "-o",
            "hello.o"
        ]
    );
    let source = String::from_utf8(request.source.clone()).expect("preprocessed text is UTF-8");
    assert!(source.starts_with("# 0 \"hello.c\"\n"), "{source}");
    assert!(source.contains("# 1 \"hello.h\" 1\n"), "{source}");
    assert!(
        source.contains("puts(\"hello, distcc\");"),
        "GREETING was expanded: {source}"
    );
    assert!(!source.contains("#include"), "{source}");
    assert!(source.contains("static struct counter seen;\n"), "{source}");
    assert!(source.ends_with("    return seen.hits;\n}\n"), "{source}");
}

fn assert_hello_response(response: &Response) {
    assert_eq!(response.status, 0);
    assert!(response.succeeded());
    assert_eq!(
        response.stderr,
        b"",
        "{}",
        String::from_utf8_lossy(&response.stderr)
    );
    assert_eq!(response.stdout, b"");
    assert!(
        is_elf_relocatable(&response.object),
        "DOTO is an ELF relocatable object"
    );
    // gcc names the translation unit after the line markers in the .i, not the server's
    // temporary file: the object is the one a local `gcc -c hello.c` makes.
    let needle: &[u8] = b"hello.c\0";
    assert!(response.object.windows(needle.len()).any(|w| w == needle));
    assert!(response.object.windows(6).any(|w| w == b"greet\0"));
}

#[tokio::test]
async fn v1_request_from_distcc_decodes_and_reencodes_identically() {
    let bytes = fixture("distcc-3.4-v1-request.bin");
    assert!(bytes.starts_with(b"DIST00000001ARGC00000006ARGV00000014x86_64-linux-gnu-gcc"));
    let request = parse_request(&bytes).await;
    assert_hello_request(&request, Version::V1);
    assert_eq!(encode_request(&request).await, bytes);
}

#[tokio::test]
async fn v1_response_from_distccd_decodes_and_reencodes_identically() {
    let bytes = fixture("distcc-3.4-v1-response.bin");
    assert!(bytes.starts_with(b"DONE00000001STAT00000000SERR00000000SOUT00000000DOTO"));
    let response = parse_response(&bytes, Version::V1).await;
    assert_hello_response(&response);
    assert_eq!(encode_response(&response, Version::V1).await, bytes);
}

/// Our LZO1X-1 compressor (`lzo1x` level 3) produces the very bytes of distcc's miniLZO
/// `lzo1x_1_compress`, so a v2 round trip is byte-exact, not merely equal after decoding.
#[tokio::test]
async fn v2_request_from_distcc_decodes_and_reencodes_identically() {
    let bytes = fixture("distcc-3.4-v2-request.bin");
    assert!(bytes.starts_with(b"DIST00000002ARGC00000006"));
    let request = parse_request(&bytes).await;
    assert_hello_request(&request, Version::V2);
    // Same argv and same source as the v1 capture: only the DOTI encoding differs.
    let v1 = parse_request(&fixture("distcc-3.4-v1-request.bin")).await;
    assert_eq!(request.header.argv, v1.header.argv);
    assert_eq!(request.source, v1.source);
    assert_eq!(encode_request(&request).await, bytes);
}

#[tokio::test]
async fn v2_response_from_distccd_decodes_and_reencodes_identically() {
    let bytes = fixture("distcc-3.4-v2-response.bin");
    // Empty bodies are `00000000` with no body even when compressed.
    assert!(bytes.starts_with(b"DONE00000002STAT00000000SERR00000000SOUT00000000DOTO"));
    let response = parse_response(&bytes, Version::V2).await;
    assert_hello_response(&response);
    let v1 = parse_response(&fixture("distcc-3.4-v1-response.bin"), Version::V1).await;
    assert_eq!(
        response.object, v1.object,
        "the same compile gives the same object in v1 and v2"
    );
    assert_eq!(encode_response(&response, Version::V2).await, bytes);
}

#[tokio::test]
async fn failed_compile_response_carries_status_and_stderr_but_no_object() {
    let request = parse_request(&fixture("distcc-3.4-v1-request-compile-error.bin")).await;
    assert_eq!(
        args(&request),
        [
            "x86_64-linux-gnu-gcc",
            "-O2",
            "-c",
            "hello-error.c",
            "-o",
            "hello-error.o"
        ]
    );
    assert_eq!(
        encode_request(&request).await,
        fixture("distcc-3.4-v1-request-compile-error.bin")
    );

    let bytes = fixture("distcc-3.4-v1-response-compile-error.bin");
    let response = parse_response(&bytes, Version::V1).await;
    // Raw wait status: exit code 1 in the second byte.
    assert_eq!(response.status, 0x100);
    assert!(!response.succeeded());
    let stderr = String::from_utf8(response.stderr.clone()).unwrap();
    assert!(
        stderr.contains("hello-error.c:4:15: error: expected expression"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("distccd["),
        "no server log lines for a plain compile error"
    );
    assert_eq!(response.stdout, b"");
    assert_eq!(response.object, b"");
    assert!(bytes.ends_with(b"SOUT00000000DOTO00000000"));
    assert_eq!(encode_response(&response, Version::V1).await, bytes);
}

/// The header alone (what a server reads before it waits for cpp's output) parses from the
/// front of a real request.
#[tokio::test]
async fn request_header_reads_without_the_source() {
    let bytes = fixture("distcc-3.4-v2-request.bin");
    let mut reader = TokenReader::new(&bytes[..], Limits::default());
    let header = RequestHeader::read(&mut reader).await.unwrap();
    assert_eq!(header.compiler(), "x86_64-linux-gnu-gcc");
    assert!(reader.into_inner().starts_with(b"DOTI"));
}

/// Every proper prefix of a real transcript is a truncation error, never a panic or success.
#[tokio::test]
async fn truncated_transcripts_are_errors() {
    let bytes = fixture("distcc-3.4-v2-request.bin");
    for cut in [0, 5, 12, 30, bytes.len() - 1] {
        let mut reader = TokenReader::new(&bytes[..cut], Limits::default());
        assert!(
            Request::read(&mut reader).await.is_err(),
            "prefix of {cut} bytes"
        );
    }
    let bytes = fixture("distcc-3.4-v2-response.bin");
    for cut in [0, 12, 40, bytes.len() - 1] {
        let mut reader = TokenReader::new(&bytes[..cut], Limits::default());
        assert!(
            Response::read(&mut reader, 2, Version::V2).await.is_err(),
            "prefix of {cut} bytes"
        );
    }
}

/// large.c preprocesses to ~90 KB and compiles to ~108 KB: both bodies are longer than the
/// 49152-byte blocks in which miniLZO's `lzo1x_1_compress` works, and our compressor still
/// reproduces distcc's (client side) and distccd's (server side) bytes exactly.
#[tokio::test]
async fn large_v2_transcripts_reencode_identically_across_lzo_blocks() {
    let bytes = fixture("distcc-3.4-v2-request-large.bin");
    let request = parse_request(&bytes).await;
    assert_eq!(
        args(&request),
        [
            "x86_64-linux-gnu-gcc",
            "-O2",
            "-c",
            "large.c",
            "-o",
            "large.o"
        ]
    );
    assert!(
        request.source.len() > 49152,
        "source is {} bytes",
        request.source.len()
    );
    let source = String::from_utf8(request.source.clone()).unwrap();
    assert!(
        source.contains("int f0(int x) { return x * 1 + (x >> 3) - 2; }"),
        "{source:.300}"
    );
    assert_eq!(encode_request(&request).await, bytes);

    let bytes = fixture("distcc-3.4-v2-response-large.bin");
    let response = parse_response(&bytes, Version::V2).await;
    assert_eq!(response.status, 0);
    assert!(is_elf_relocatable(&response.object));
    assert!(
        response.object.len() > 2 * 49152,
        "object is {} bytes",
        response.object.len()
    );
    assert_eq!(encode_response(&response, Version::V2).await, bytes);
}

/// The captured requests are still good: replayed to this machine's distccd they
/// compile, and the object is what a local `gcc -O2 -c` of the fixture source makes.
#[tokio::test]
async fn captured_requests_replayed_to_real_distccd_compile_like_local_gcc() {
    use tokio::io::AsyncWriteExt;

    let daemon = crate::support::RealDistccd::start();
    let fixtures = crate::support::fixture_path("");
    let cases = [
        ("distcc-3.4-v1-request.bin", Version::V1, "hello.c"),
        ("distcc-3.4-v2-request.bin", Version::V2, "hello.c"),
        ("distcc-3.4-v2-request-large.bin", Version::V2, "large.c"),
    ];
    for (name, version, source) in cases {
        let local = crate::support::local_object("gcc", ["-O2"], source.as_ref(), &fixtures);
        let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", daemon.port()))
            .await
            .unwrap();
        stream.write_all(&fixture(name)).await.unwrap();
        let mut reader = TokenReader::new(stream, Limits::default());
        let response = Response::read(&mut reader, version.number(), version)
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}\n--- distccd log\n{}", daemon.log()));
        assert_eq!(
            response.status,
            0,
            "{name}: {}",
            String::from_utf8_lossy(&response.stderr)
        );
        assert!(
            response.object == local,
            "{name}: the object differs from a local gcc -O2 -c {source}"
        );
    }
}
