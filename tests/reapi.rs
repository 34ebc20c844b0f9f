//! A compile as a Remote Execution API Action, against the in-process fake engine
//! (`support::fake_engine`): objects identical to local gcc, the action cache shared across
//! checkouts, ByteStream past the message limit, the key header, and answers that are not
//! for our action refused.

use std::path::{Path, PathBuf};
use std::time::Duration;

use distfarm::hosts::{self, GrpcEndpoint, HostKind};
use distfarm::reapi::action::{self, Compile, Prepared};
use distfarm::reapi::connect::Engine;
use distfarm::reapi::error::ReapiError;
use distfarm::reapi::line_markers;
use distfarm::reapi::platform;
use distfarm::reapi::run::{self, Finished, ResultSource};

use crate::support::fake_engine::{EngineState, FakeEngine, Lie};
use crate::support::process::Cmd;

const TIMEOUT: Duration = Duration::from_secs(60);
const GCC: &str = "/usr/bin/gcc";

fn endpoint(entry: &str) -> GrpcEndpoint {
    let list = hosts::parse_distfarm(entry, "test").unwrap();
    match &list.hosts[0].kind {
        HostKind::Grpc(endpoint) => (**endpoint).clone(),
        other => panic!("{entry}: {other:?}"),
    }
}

/// A small project checked out at `root`: `src/x.c` including `include/x.h`.
fn checkout(root: &Path, body: &str) {
    std::fs::create_dir_all(root.join("src")).unwrap();
    std::fs::create_dir_all(root.join("include")).unwrap();
    std::fs::create_dir_all(root.join("build")).unwrap();
    std::fs::write(
        root.join("include/x.h"),
        "#define SCALE 3\nint twice(int);\n",
    )
    .unwrap();
    std::fs::write(
        root.join("src/x.c"),
        format!("#include <stdio.h>\n#include \"x.h\"\n{body}\n"),
    )
    .unwrap();
}

/// The options of the compile, as a build with absolute paths (CMake's way) writes them.
fn options(root: &Path) -> Vec<String> {
    vec![
        "-O2".into(),
        format!("-I{}", root.join("include").display()),
        "-c".into(),
    ]
}

/// Objects compared without printing megabytes.
fn assert_same_object(remote: Option<Vec<u8>>, local: Vec<u8>) {
    let remote = remote.expect("the engine sent an object");
    assert!(
        remote == local,
        "the engine's object ({} bytes) is not the local one ({} bytes)",
        remote.len(),
        local.len()
    );
}

/// What the wrapper will do for a plain-mode job: preprocess here, make the text
/// independent of the checkout's place (base: the checkout), build the Action.
fn prepared_job(root: &Path) -> (Prepared, PathBuf) {
    let cwd = root.join("build");
    let source = root.join("src/x.c");
    let out = cwd.join("x.o");
    // What the server side gets (`CompileJob::remote_argv`): no preprocessor options.
    let mut argv = vec!["gcc".to_string()];
    argv.extend(options(root).into_iter().filter(|o| !o.starts_with("-I")));
    argv.extend([
        source.display().to_string(),
        "-o".into(),
        out.display().to_string(),
    ]);
    let mut cpp = options(root);
    cpp.retain(|o| o != "-c");
    let text = Cmd::new(GCC)
        .args(&cpp)
        .args(["-E", &source.display().to_string()])
        .current_dir(&cwd)
        .run()
        .stdout;
    let text = line_markers::relative_to(&text, &cwd, root).into_owned();
    let compile = Compile {
        compiler: GCC,
        argv: &argv,
        input: &argv[argv.len() - 3],
        preprocessed_ext: ".i",
        text: &text,
        output_ext: ".o",
        output_as_given: None,
        extra_outputs: &[],
        platform: platform::properties("GCC (test) 12", &[]),
    };
    (action::prepare(&compile).unwrap(), out)
}

/// The object local gcc makes in this checkout, with the same absolute paths.
fn local_object(root: &Path) -> Vec<u8> {
    let cwd = root.join("build");
    let out = cwd.join("local.o");
    Cmd::new(GCC)
        .args(options(root))
        .arg(root.join("src/x.c"))
        .arg("-o")
        .arg(&out)
        .current_dir(&cwd)
        .run();
    std::fs::read(out).unwrap()
}

async fn run_on(engine: &FakeEngine, prepared: &Prepared) -> Result<Finished, ReapiError> {
    let connected = Engine::connect(&endpoint(&engine.entry("")), TIMEOUT).await?;
    run::run(&connected, prepared, TIMEOUT).await
}

#[tokio::test]
async fn a_compile_through_the_engine_gives_the_local_object() {
    let engine = FakeEngine::start();
    let dir = tempfile::tempdir().unwrap();
    checkout(
        dir.path(),
        "int twice(int x) { printf(\"%d\\n\", x); return SCALE * x; }",
    );
    let (prepared, _) = prepared_job(dir.path());
    let finished = run_on(&engine, &prepared).await.unwrap();
    assert_eq!(
        finished.exit_code,
        0,
        "{}",
        String::from_utf8_lossy(&finished.stderr)
    );
    assert_eq!(finished.source, ResultSource::Executed);
    assert_eq!(finished.uploaded, 4, "action, command, input root, text");
    assert_same_object(finished.object, local_object(dir.path()));
    assert_eq!(engine.executes(), 1);
}

#[tokio::test]
async fn the_same_compile_in_another_checkout_is_an_action_cache_hit() {
    let engine = FakeEngine::start();
    let alice = tempfile::tempdir().unwrap();
    let bob = tempfile::tempdir().unwrap();
    let body = "int twice(int x) { return SCALE * x; }";
    checkout(&alice.path().join("zstd"), body);
    checkout(&bob.path().join("checkouts/zstd-copy"), body);
    let (first, _) = prepared_job(&alice.path().join("zstd"));
    let (second, _) = prepared_job(&bob.path().join("checkouts/zstd-copy"));
    assert_eq!(
        first.action_digest, second.action_digest,
        "the key names no directory"
    );
    run_on(&engine, &first).await.unwrap();
    let hit = run_on(&engine, &second).await.unwrap();
    assert_eq!(hit.source, ResultSource::ActionCache);
    assert_eq!(
        (hit.uploaded, engine.executes(), engine.cache_hits()),
        (0, 1, 1)
    );
    assert_same_object(
        hit.object,
        local_object(&bob.path().join("checkouts/zstd-copy")),
    );
}

#[tokio::test]
async fn a_compile_error_is_a_result_and_is_not_cached() {
    let engine = FakeEngine::start();
    let dir = tempfile::tempdir().unwrap();
    checkout(dir.path(), "int twice(int x) { return SCALE * y; }");
    let (prepared, _) = prepared_job(dir.path());
    let failed = run_on(&engine, &prepared).await.unwrap();
    assert_ne!(failed.exit_code, 0);
    assert_eq!(failed.object, None);
    let stderr = String::from_utf8_lossy(&failed.stderr);
    // The rewritten line markers name the source relative to the build directory.
    assert!(
        stderr.contains("../src/x.c") && stderr.contains("'y' undeclared"),
        "{stderr}"
    );
    run_on(&engine, &prepared).await.unwrap();
    assert_eq!(engine.executes(), 2, "a failed compile is asked again");
}

#[tokio::test]
async fn blobs_past_the_message_limit_go_by_bytestream_both_ways() {
    let engine = FakeEngine::start();
    let dir = tempfile::tempdir().unwrap();
    // 6 MB of text (a comment) and a 5 MiB object (an initialized array); the line marker
    // names the source, as in any preprocessed text (the object records its name).
    let text = format!(
        "# 1 \"big.c\"\n/* {} */\nchar big[5 << 20] = {{ 1 }};\nint f(void) {{ return big[7]; }}\n",
        "x".repeat(6 << 20)
    );
    let argv: Vec<String> = ["gcc", "-O2", "-c", "big.i", "-o", "big.o"]
        .map(String::from)
        .to_vec();
    let compile = Compile {
        compiler: GCC,
        argv: &argv,
        input: "big.i",
        preprocessed_ext: ".i",
        text: text.as_bytes(),
        output_ext: ".o",
        output_as_given: None,
        extra_outputs: &[],
        platform: platform::properties("GCC (test) 12", &[]),
    };
    let prepared = action::prepare(&compile).unwrap();
    let finished = run_on(&engine, &prepared).await.unwrap();
    assert_eq!(
        finished.exit_code,
        0,
        "{}",
        String::from_utf8_lossy(&finished.stderr)
    );
    std::fs::write(dir.path().join("big.i"), &text).unwrap();
    Cmd::new(GCC)
        .args(["-O2", "-c", "big.i", "-o", "local.o"])
        .current_dir(dir.path())
        .run();
    assert_same_object(
        finished.object,
        std::fs::read(dir.path().join("local.o")).unwrap(),
    );
    let state = &engine.state;
    assert_eq!(EngineState::count(&state.bytestream_writes), 1, "the text");
    assert_eq!(EngineState::count(&state.bytestream_reads), 1, "the object");
}

#[tokio::test]
async fn the_api_key_is_read_from_its_file_and_sent_on_every_call() {
    let engine = FakeEngine::start();
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("engine.key");
    std::fs::write(&key, "s3cret-token\n").unwrap();
    checkout(dir.path(), "int twice(int x) { return x; }");
    let (prepared, _) = prepared_job(dir.path());
    let entry = engine.entry(&format!(",key-file={},key-header=x-api-key", key.display()));
    let connected = Engine::connect(&endpoint(&entry), TIMEOUT).await.unwrap();
    run::run(&connected, &prepared, TIMEOUT).await.unwrap();
    let seen = engine.state.headers_seen.lock().unwrap().clone();
    assert!(seen.len() >= 3, "{seen:?}");
    assert!(
        seen.iter().all(|h| h == "x-api-key: s3cret-token"),
        "{seen:?}"
    );
}

#[tokio::test]
async fn a_missing_key_file_names_the_file_and_the_entry_and_does_not_blame_the_engine() {
    let engine = FakeEngine::start();
    let entry = engine.entry(",key-file=/nonexistent/distfarm-test.key");
    let err = match Engine::connect(&endpoint(&entry), TIMEOUT).await {
        Err(e) => e,
        Ok(_) => panic!("connected without its key file"),
    };
    let text = err.to_string();
    assert!(text.contains("/nonexistent/distfarm-test.key"), "{text}");
    assert!(
        text.contains("key-file=") && text.contains("DISTFARM_HOSTS"),
        "{text}"
    );
    assert!(!err.blames_endpoint());
}

#[tokio::test]
async fn an_engine_answering_for_another_action_is_not_trusted() {
    let engine = FakeEngine::start();
    engine.lie(Lie::OtherActionDigest);
    let dir = tempfile::tempdir().unwrap();
    checkout(dir.path(), "int twice(int x) { return x; }");
    let (prepared, _) = prepared_job(dir.path());
    let err = run_on(&engine, &prepared).await.unwrap_err();
    assert!(matches!(err, ReapiError::Untrusted { .. }), "{err}");
    assert!(err.blames_endpoint());
    assert!(
        err.to_string().contains(&prepared.action_digest.hash),
        "{err}"
    );
}

#[tokio::test]
async fn bytes_that_do_not_match_their_digest_are_not_trusted() {
    let engine = FakeEngine::start();
    let dir = tempfile::tempdir().unwrap();
    checkout(dir.path(), "int twice(int x) { return x; }");
    let (prepared, _) = prepared_job(dir.path());
    run_on(&engine, &prepared).await.unwrap();
    engine.lie(Lie::CorruptBlobs);
    let err = run_on(&engine, &prepared).await.unwrap_err();
    assert!(matches!(err, ReapiError::Untrusted { .. }), "{err}");
}

#[tokio::test]
async fn an_endpoint_nobody_listens_on_is_a_connection_failure_that_blames_it() {
    let port = crate::support::free_port();
    let entry = format!("grpc://127.0.0.1:{port}/2");
    let err = match Engine::connect(&endpoint(&entry), Duration::from_secs(5)).await {
        Err(e) => e,
        Ok(_) => panic!("connected to a closed port"),
    };
    assert!(matches!(err, ReapiError::Connect { .. }), "{err}");
    assert!(err.blames_endpoint());
    assert!(
        err.to_string()
            .contains(&format!("grpc://127.0.0.1:{port}")),
        "{err}"
    );
}
