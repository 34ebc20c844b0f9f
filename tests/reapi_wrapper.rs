//! The wrapper with a Remote Execution API endpoint in its distfarm-only host list
//! (`DISTFARM_HOSTS`): jobs compile there over the agent's one channel to it (or the
//! wrapper's own without an agent), a second checkout's build hits the engine's action
//! cache, and an engine that is gone is backed off like any host.

use std::path::Path;

use crate::support::compile::local_object;
use crate::support::fake_engine::FakeEngine;
use crate::support::free_port;
use crate::support::process::text;
use crate::support::wrapper::{Work, hello_args, split_dwarf_args};

#[test]
fn the_wrapper_compiles_on_an_engine_listed_in_distfarm_hosts() {
    let engine = FakeEngine::start();
    let work = Work::new();
    let out = work
        .distfarm(Some(""))
        .env("DISTFARM_HOSTS", engine.entry(""))
        .env("DISTCC_FALLBACK", "0")
        .args(hello_args("out/hello.o"))
        .run();
    assert!(out.stderr.is_empty(), "{}", text(&out.stderr));
    assert_eq!(work.read("out/hello.o"), work.hello_reference());
    assert_eq!(engine.executes(), 1);
}

#[test]
fn every_job_rides_the_agents_one_channel_to_the_engine() {
    let engine = FakeEngine::start();
    let work = Work::new();
    for n in 0..3 {
        // Another source each time, so that each job is a compile, not a cache hit.
        let source = format!("unit{n}.c");
        std::fs::write(
            work.path(&source),
            format!("int unit{n}(void) {{ return {n}; }}\n"),
        )
        .unwrap();
        let out = work
            .distfarm(Some(""))
            .env("DISTFARM_HOSTS", engine.entry(""))
            .env("DISTCC_FALLBACK", "0")
            .args(["gcc", "-O2", "-c", &source, "-o"])
            .arg(format!("out/unit{n}.o"))
            .run();
        assert!(out.stderr.is_empty(), "{}", text(&out.stderr));
        let reference = local_object("gcc", ["-O2"], Path::new(&source), &work.src());
        assert_eq!(work.read(&format!("out/unit{n}.o")), reference);
    }
    assert_eq!(engine.executes(), 3);
    assert_eq!(
        engine.connections(),
        1,
        "three wrappers, one connection (the agent's)"
    );
}

#[test]
fn without_the_agent_each_wrapper_connects_to_the_engine_itself() {
    let engine = FakeEngine::start();
    let work = Work::new();
    for _ in 0..2 {
        let out = work
            .distfarm(Some(""))
            .env("DISTFARM_HOSTS", engine.entry(""))
            .env("DISTFARM_AGENT", "0")
            .env("DISTCC_FALLBACK", "0")
            .args(hello_args("out/hello.o"))
            .run();
        assert!(out.stderr.is_empty(), "{}", text(&out.stderr));
        assert_eq!(work.read("out/hello.o"), work.hello_reference());
    }
    assert_eq!((engine.executes(), engine.cache_hits()), (1, 1));
    assert_eq!(engine.connections(), 2);
}

#[test]
fn a_second_checkout_elsewhere_builds_from_the_engines_cache() {
    let engine = FakeEngine::start();
    let (first, second) = (Work::new(), Work::new());
    for work in [&first, &second] {
        // The source by its absolute path, as CMake writes it: the key must not see it.
        let source = work.path("hello.c").display().to_string();
        work.distfarm(Some(""))
            .env("DISTFARM_HOSTS", engine.entry(""))
            .env("DISTCC_FALLBACK", "0")
            .args(["gcc", "-O2", "-c", &source, "-o", "out/hello.o"])
            .run();
        assert_eq!(work.read("out/hello.o"), work.hello_reference());
    }
    assert_eq!((engine.executes(), engine.cache_hits()), (1, 1));
}

#[test]
fn an_engine_that_is_gone_is_backed_off_and_the_job_compiles_locally() {
    let port = free_port();
    let work = Work::new();
    let out = work
        .distfarm(Some(""))
        .env("DISTFARM_HOSTS", format!("grpc://127.0.0.1:{port}/2"))
        .args(hello_args("out/hello.o"))
        .run();
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains(&format!("grpc://127.0.0.1:{port}")) && stderr.contains("hello.c"),
        "one warning naming the engine and the file: {stderr}"
    );
    assert_eq!(work.read("out/hello.o"), work.hello_reference());
    assert!(
        work.backoff_files()
            .contains(&format!("backoff_grpc_127.0.0.1_{port}_0")),
        "{:?}",
        work.lock_files()
    );
}

#[test]
fn an_engine_entry_naming_a_missing_key_file_is_reported_and_not_backed_off() {
    let engine = FakeEngine::start();
    let work = Work::new();
    let out = work
        .distfarm(Some(""))
        .env(
            "DISTFARM_HOSTS",
            engine.entry(",key-file=/nonexistent/distfarm-test.key"),
        )
        .args(hello_args("out/hello.o"))
        .run();
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("/nonexistent/distfarm-test.key") && stderr.contains("hello.c"),
        "the warning names the key file and the source: {stderr}"
    );
    assert_eq!(work.read("out/hello.o"), work.hello_reference());
    assert_eq!(engine.executes(), 0);
    assert!(work.backoff_files().is_empty(), "{:?}", work.lock_files());
}

/// `-gsplit-dwarf` writes `x.dwo` beside `x.o`, and the object names it: a distcc host would
/// keep it, so such a job goes only to an engine, which returns both. Both files are what
/// distcc's way of compiling (preprocess here, compile the text) gives locally, the object
/// naming the `.dwo` by the path the build gave, with or without the agent.
#[test]
fn a_split_dwarf_job_brings_back_its_dwo_from_the_engine() {
    let engine = FakeEngine::start();
    let work = Work::new();
    let (object, dwo) = work.split_dwarf_reference();
    for agent in ["1", "0"] {
        let out = work
            .distfarm(Some(""))
            .env("DISTFARM_HOSTS", engine.entry(""))
            .env("DISTFARM_AGENT", agent)
            .env("DISTCC_FALLBACK", "0")
            .args(split_dwarf_args())
            .run();
        assert!(out.stderr.is_empty(), "{}", text(&out.stderr));
        assert!(
            work.read("out/hello.o") == object,
            "agent {agent}: the object"
        );
        assert!(work.read("out/hello.dwo") == dwo, "agent {agent}: the .dwo");
        std::fs::remove_file(work.path("out/hello.dwo")).unwrap();
    }
    assert_eq!(
        engine.executes() + engine.cache_hits(),
        2,
        "both ran on the engine"
    );
}

/// With only distcc hosts, a `-gsplit-dwarf` job is compiled here (even with fallbacks
/// off: it is never sent), and both files are what gcc itself writes.
#[test]
fn a_split_dwarf_job_without_an_engine_compiles_here() {
    let work = Work::new();
    let dead = format!("127.0.0.1:{}", free_port());
    let out = work
        .distfarm(Some(&dead))
        .env("DISTCC_FALLBACK", "0")
        .args(split_dwarf_args())
        .run();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let (object, dwo) = (work.read("out/hello.o"), work.read("out/hello.dwo"));
    std::fs::remove_file(work.path("out/hello.dwo")).unwrap();
    work.gcc().args(&split_dwarf_args()[1..]).run();
    assert!(object == work.read("out/hello.o"), "the object is gcc's");
    assert!(dwo == work.read("out/hello.dwo"), "the .dwo is gcc's");
}
