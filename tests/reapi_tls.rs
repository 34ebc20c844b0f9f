//! `grpcs://` entries against the fake engine over TLS: the entry's own CA (`tls-ca`) and a
//! client certificate (`tls-cert`, `tls-key`) for an engine that asks for one; a server
//! the roots do not vouch for is refused.

use std::path::Path;
use std::time::Duration;

use distfarm::hosts::{self, GrpcEndpoint, HostKind};
use distfarm::reapi::action::{self, Compile, Prepared};
use distfarm::reapi::connect::Engine;
use distfarm::reapi::error::ReapiError;
use distfarm::reapi::{platform, run};
use tonic::transport::{Certificate, Identity, ServerTlsConfig};

use crate::support::fake_engine::FakeEngine;
use crate::support::process::Cmd;
use crate::support::programs::require;

const TIMEOUT: Duration = Duration::from_secs(60);

fn endpoint(entry: &str) -> GrpcEndpoint {
    match &hosts::parse_distfarm(entry, "test").unwrap().hosts[0].kind {
        HostKind::Grpc(endpoint) => (**endpoint).clone(),
        other => panic!("{entry}: {other:?}"),
    }
}

/// A CA, a server certificate for `localhost`/127.0.0.1 and a client certificate, all
/// signed by the CA, made by `openssl` in `dir`.
fn make_certificates(dir: &Path) {
    let program = require("openssl", "openssl");
    let openssl = || Cmd::new(&program).current_dir(dir);
    openssl()
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
        ])
        .args(["-nodes", "-days", "2", "-subj", "/CN=distfarm test CA"])
        .args(["-addext", "basicConstraints=critical,CA:TRUE"])
        .args(["-addext", "keyUsage=critical,keyCertSign,cRLSign"])
        .args(["-keyout", "ca.key", "-out", "ca.pem"])
        .run();
    for (name, extensions) in [
        (
            "server",
            "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n",
        ),
        ("client", "extendedKeyUsage=clientAuth\n"),
    ] {
        std::fs::write(dir.join(format!("{name}.ext")), extensions).unwrap();
        openssl()
            .args([
                "req",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:prime256v1",
            ])
            .args(["-nodes", "-subj", &format!("/CN={name}")])
            .args([
                "-keyout",
                &format!("{name}.key"),
                "-out",
                &format!("{name}.csr"),
            ])
            .run();
        openssl()
            .args(["x509", "-req", "-in", &format!("{name}.csr"), "-days", "2"])
            .args(["-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial"])
            .args(["-extfile", &format!("{name}.ext")])
            .args(["-out", &format!("{name}.pem")])
            .run();
    }
}

fn read(dir: &Path, name: &str) -> Vec<u8> {
    std::fs::read(dir.join(name)).unwrap()
}

/// An engine that asks every client for a certificate signed by the test CA.
fn mutual_tls_engine(dir: &Path) -> FakeEngine {
    FakeEngine::start_tls(
        ServerTlsConfig::new()
            .identity(Identity::from_pem(
                read(dir, "server.pem"),
                read(dir, "server.key"),
            ))
            .client_ca_root(Certificate::from_pem(read(dir, "ca.pem"))),
    )
}

/// `int x = 1;` as a compile.
fn tiny_job() -> Prepared {
    let argv: Vec<String> = ["gcc", "-c", "x.c", "-o", "x.o"].map(String::from).to_vec();
    action::prepare(&Compile {
        compiler: "/usr/bin/gcc",
        argv: &argv,
        input: "x.c",
        preprocessed_ext: ".i",
        text: b"# 1 \"x.c\"\nint x = 1;\n",
        output_ext: ".o",
        output_as_given: None,
        extra_outputs: &[],
        platform: platform::properties("GCC (test) 12", &[]),
    })
    .unwrap()
}

#[tokio::test]
async fn grpcs_with_the_entrys_ca_and_client_certificate_compiles() {
    let dir = tempfile::tempdir().unwrap();
    make_certificates(dir.path());
    let engine = mutual_tls_engine(dir.path());
    let d = dir.path().display();
    let entry = engine.tls_entry(&format!(
        ",tls-ca={d}/ca.pem,tls-cert={d}/client.pem,tls-key={d}/client.key"
    ));
    let connected = Engine::connect(&endpoint(&entry), TIMEOUT).await.unwrap();
    let prepared = tiny_job();
    let finished = run::run(&connected, &prepared, TIMEOUT).await.unwrap();
    assert_eq!(finished.exit_code, 0);
    assert!(finished.object.is_some_and(|o| o.starts_with(b"\x7fELF")));
    assert_eq!(engine.executes(), 1);
}

#[tokio::test]
async fn a_server_the_trusted_roots_do_not_vouch_for_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    make_certificates(dir.path());
    let engine = mutual_tls_engine(dir.path());
    let d = dir.path().display();
    // The system's roots, not the test CA: the handshake must fail.
    let entry = engine.tls_entry(&format!(",tls-cert={d}/client.pem,tls-key={d}/client.key"));
    let err = match Engine::connect(&endpoint(&entry), TIMEOUT).await {
        Err(e) => e,
        Ok(_) => panic!("connected to a server signed by an unknown CA"),
    };
    assert!(matches!(err, ReapiError::Connect { .. }), "{err}");
    assert!(err.blames_endpoint());
    assert_eq!(engine.executes(), 0);
}

#[tokio::test]
async fn an_engine_that_asks_for_a_client_certificate_refuses_a_client_without_one() {
    let dir = tempfile::tempdir().unwrap();
    make_certificates(dir.path());
    let engine = mutual_tls_engine(dir.path());
    let entry = engine.tls_entry(&format!(",tls-ca={}/ca.pem", dir.path().display()));
    let prepared = tiny_job();
    // TLS 1.3 may finish the handshake before the server says no: the first call fails then.
    let err = match Engine::connect(&endpoint(&entry), TIMEOUT).await {
        Err(e) => e,
        Ok(connected) => run::run(&connected, &prepared, TIMEOUT)
            .await
            .expect_err("a job ran without a client certificate"),
    };
    assert!(err.blames_endpoint(), "{err}");
    assert_eq!(engine.executes(), 0);
}
