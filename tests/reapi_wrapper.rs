//! The wrapper with a Remote Execution API endpoint in its distfarm-only host list
//! (`DISTFARM_HOSTS`): jobs compile there over the agent's one channel to it (or the
//! wrapper's own without an agent), a second checkout's build hits the engine's action
//! cache, and an engine that is gone is backed off like any host. With `,cpp` (pump mode)
//! the input root is the source and its headers, not preprocessed text, and the objects
//! (`-g` ones too) and `.d` files are what a direct local compile writes.

use std::path::Path;

use crate::support::build::{assert_identical, lua_references, references};
use crate::support::compile::local_object;
use crate::support::cproject::CProject;
use crate::support::fake_engine::FakeEngine;
use crate::support::free_port;
use crate::support::process::text;
use crate::support::wrapper::{Work, hello_args, split_dwarf_args};
use crate::support::wrapper_client::{CLIENTS, WrapperClient};

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
/// The split-dwarf job through the engine `entry`, with the agent or not (`agent`), says
/// nothing and leaves exactly the `expected` object and `.dwo`.
fn split_dwarf_comes_back(work: &Work, entry: &str, agent: &str, expected: (&[u8], &[u8])) {
    let out = work
        .distfarm(Some(""))
        .env("DISTFARM_HOSTS", entry)
        .env("DISTFARM_AGENT", agent)
        .env("DISTCC_FALLBACK", "0")
        .args(split_dwarf_args())
        .run();
    assert!(out.stderr.is_empty(), "{}", text(&out.stderr));
    assert!(
        work.read("out/hello.o") == expected.0,
        "agent {agent}: the object"
    );
    assert!(
        work.read("out/hello.dwo") == expected.1,
        "agent {agent}: the .dwo"
    );
}

#[test]
fn a_split_dwarf_job_brings_back_its_dwo_from_the_engine() {
    let engine = FakeEngine::start();
    let work = Work::new();
    let (object, dwo) = work.split_dwarf_reference();
    for agent in ["1", "0"] {
        split_dwarf_comes_back(&work, &engine.entry(""), agent, (&object, &dwo));
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

/// Every action the engine ran was a pump-mode one: the script, some headers in the input
/// root beside the source, and no preprocessed text.
#[track_caller]
fn assert_all_pumped(engine: &FakeEngine, jobs: usize) {
    let (inputs, commands) = (engine.inputs_seen(), engine.commands_seen());
    assert_eq!(inputs.len(), jobs, "{inputs:#?}");
    for (root, command) in inputs.iter().zip(&commands) {
        assert_eq!(command[..2], ["/bin/sh", "-c"], "{command:?}");
        assert!(
            root.iter()
                .any(|p| p.ends_with(".h") || p.ends_with(".hpp")),
            "headers in the input root: {root:#?}"
        );
        assert!(
            !root.iter().any(|p| p.ends_with(".i") || p.ends_with(".ii")),
            "no preprocessed text: {root:#?}"
        );
    }
}

#[test]
fn lua_and_cxx_pumped_to_an_engine_are_identical_to_local_objects() {
    let engine = FakeEngine::start();
    let client = WrapperClient::new().distfarm_hosts(&engine.entry(",cpp"));
    let lua = CProject::lua();
    let objects = client.build("", &lua, &["-O2"]);
    assert_identical(&lua, &objects, lua_references(), "pumped to an engine");
    let cxx = CProject::cxx_sample();
    let objects = client.build("", &cxx, &["-O2"]);
    let local = references(&cxx, &["-O2"], CLIENTS);
    assert_identical(&cxx, &objects, &local, "C++ pumped to an engine");
    assert_all_pumped(&engine, lua.units().len() + cxx.units().len());
}

/// The point of pump mode: compiled from its sources, not from preprocessed text, an object
/// with debug info is the one a direct local `gcc -g -c` makes (line tables included).
#[test]
fn lua_with_debug_info_pumped_to_an_engine_is_identical_to_a_direct_local_compile() {
    let engine = FakeEngine::start();
    let client = WrapperClient::new().distfarm_hosts(&engine.entry(",cpp"));
    let lua = CProject::lua().first(10);
    let extra = ["-O2", "-g"];
    let objects = client.build("", &lua, &extra);
    let direct = references(&lua, &extra, CLIENTS);
    assert_identical(&lua, &objects, &direct, "pumped -g to an engine");
    assert_all_pumped(&engine, lua.units().len());
}

/// A source that includes a header by an absolute `-I`, a system header and its own
/// directory's header: the `.d` names them as a local `gcc -MD` does (the worker's root
/// gone, the rule wrapped as gcc wraps it), for `-MD` and `-MMD -MT`, with an `-MF` of
/// its own or none; the object is local gcc's too.
#[test]
fn a_pumped_dependency_file_is_the_one_a_local_compile_writes() {
    let engine = FakeEngine::start();
    let work = Work::new();
    std::fs::create_dir_all(work.path("include/deeper/than/most")).unwrap();
    std::fs::write(
        work.path("include/deeper/than/most/config_with_a_long_name.h"),
        "#define LIMIT 3\n",
    )
    .unwrap();
    std::fs::write(
        work.path("deps.c"),
        "#include <stdio.h>\n#include \"hello.h\"\n#include \"config_with_a_long_name.h\"\n\
         int f(void) { return printf(GREETING) + LIMIT; }\n",
    )
    .unwrap();
    let include = format!("-I{}", work.path("include/deeper/than/most").display());
    for deps in [
        vec!["-MD"],
        vec!["-MMD", "-MT", "custom.o"],
        vec!["-MD", "-MF", "out/named.d", "-MP"],
    ] {
        let mut args: Vec<String> = ["-O2", &include, "-c", "deps.c", "-o", "out/deps.o"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        args.extend(deps.iter().map(|s| s.to_string()));
        let file = if deps.contains(&"-MF") {
            "out/named.d"
        } else {
            "out/deps.d"
        };
        work.gcc().args(&args).run();
        let (local_deps, local_object) = (work.read(file), work.read("out/deps.o"));
        std::fs::remove_file(work.path(file)).unwrap();
        std::fs::remove_file(work.path("out/deps.o")).unwrap();
        let out = work
            .distfarm(Some(""))
            .env("DISTFARM_HOSTS", engine.entry(",cpp"))
            .env("DISTCC_FALLBACK", "0")
            .arg("gcc")
            .args(&args)
            .run();
        assert!(out.stderr.is_empty(), "{}", text(&out.stderr));
        assert_eq!(text(&work.read(file)), text(&local_deps), "{deps:?}");
        assert!(
            work.read("out/deps.o") == local_object,
            "{deps:?}: the object"
        );
    }
    assert_all_pumped(&engine, 3);
    assert_eq!(work.out_files(), ["deps.d", "deps.o", "named.d"]);
    for worker_name in ["output.o", "output.d", "output.root"] {
        assert!(!work.path(worker_name).exists(), "{worker_name} left here");
    }
}

/// `-gsplit-dwarf` through a `,cpp` engine, with the agent's scan and channel or the
/// wrapper's own: the object and its `.dwo` come back, as gcc writes them here directly.
#[test]
fn a_pumped_split_dwarf_job_brings_back_the_dwo_gcc_writes_here() {
    let engine = FakeEngine::start();
    let work = Work::new();
    work.gcc().args(&split_dwarf_args()[1..]).run();
    let (object, dwo) = (work.read("out/hello.o"), work.read("out/hello.dwo"));
    for agent in ["1", "0"] {
        for file in ["out/hello.o", "out/hello.dwo"] {
            std::fs::remove_file(work.path(file)).unwrap();
        }
        split_dwarf_comes_back(&work, &engine.entry(",cpp"), agent, (&object, &dwo));
    }
    // The second is the same Action: the engine's cache answers it.
    assert_all_pumped(&engine, 1);
    assert_eq!(engine.cache_hits(), 1);
}

/// An include directory reached through a symbolic link (`-Ilinked`, `linked -> real/inc`):
/// the input root has the link, with a relative target inside the root, and the object and
/// `.d` are local gcc's.
#[test]
fn a_header_reached_through_a_link_arrives_as_a_link_inside_the_root() {
    let engine = FakeEngine::start();
    let work = Work::new();
    std::fs::create_dir_all(work.path("real/inc")).unwrap();
    std::fs::write(work.path("real/inc/linked.h"), "#define LINKED 7\n").unwrap();
    std::os::unix::fs::symlink("real/inc", work.path("linked")).unwrap();
    std::fs::write(
        work.path("via_link.c"),
        "#include \"linked.h\"\nint g(void) { return LINKED; }\n",
    )
    .unwrap();
    let args = [
        "-O2",
        "-Ilinked",
        "-MD",
        "-c",
        "via_link.c",
        "-o",
        "out/via_link.o",
    ];
    work.gcc().args(args).run();
    let (object, deps) = (work.read("out/via_link.o"), work.read("out/via_link.d"));
    std::fs::remove_file(work.path("out/via_link.o")).unwrap();
    let out = work
        .distfarm(Some(""))
        .env("DISTFARM_HOSTS", engine.entry(",cpp"))
        .env("DISTCC_FALLBACK", "0")
        .arg("gcc")
        .args(args)
        .run();
    assert!(out.stderr.is_empty(), "{}", text(&out.stderr));
    assert!(work.read("out/via_link.o") == object, "the object");
    assert_eq!(text(&work.read("out/via_link.d")), text(&deps));
    let root = &engine.inputs_seen()[0];
    assert!(
        root.iter().any(|p| p.ends_with("/linked -> real/inc")),
        "the link, relative: {root:#?}"
    );
    assert!(
        root.iter().any(|p| p.ends_with("/real/inc/linked.h")),
        "{root:#?}"
    );
}

/// A job the include scanner gives up on goes to the engine preprocessed, with the pump
/// mode's warning; with `DISTCC_FALLBACK=0` it is an error, as for a distcc `,cpp` host.
#[test]
fn a_job_the_scanner_gives_up_on_goes_preprocessed_and_says_so() {
    let engine = FakeEngine::start();
    let work = Work::new();
    let compile = || {
        work.distfarm(Some(""))
            .env("DISTFARM_HOSTS", engine.entry(",cpp"))
            .env("CPATH", "/nonexistent")
            .args(hello_args("out/hello.o"))
    };
    let out = compile().run();
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("pump mode not used for hello.c: CPATH is set"),
        "{stderr}"
    );
    assert_eq!(work.read("out/hello.o"), work.hello_reference());
    let roots = engine.inputs_seen();
    assert_eq!(roots.len(), 1);
    assert_eq!(roots[0], ["input.i"], "plain mode's input root");
    let out = compile().env("DISTCC_FALLBACK", "0").run_expect_failure();
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("pump mode cannot be used for hello.c")
            && stderr.contains("DISTCC_FALLBACK=0"),
        "{stderr}"
    );
}
