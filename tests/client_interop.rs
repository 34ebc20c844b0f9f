//! The distfarm compiler wrapper against real servers: the real distccd 3.4 over TCP
//! (protocol 1, and protocol 2 with `,lzo`) and our own `distfarm serve`. Every object must
//! be the byte-for-byte twin of a local compile with the same arguments, and the server's
//! log must show that each job really ran there (fallback and local retry are disabled, so a
//! job that did not go remote fails the build instead of hiding).

use crate::support::build::{assert_identical, lua_references, references};
use crate::support::files::read;
use crate::support::wrapper_client::WrapperClient;
use crate::support::{CProject, Cmd, DistfarmServer, RealDistccd};

/// Wrapper processes compiling at once (the machine has two cores).
use crate::support::wrapper_client::CLIENTS;
/// Lua's own makefile flag. (At -O0, gcc 12 compiles 13 Lua files differently from their
/// preprocessed text than from the `.c` itself — the real distcc gives the same objects as we
/// do — so an -O0 build has no byte reference to compare with.)
const LUA_EXTRA: [&str; 1] = ["-O2"];

// ---------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------

/// All of Lua through the real distccd at `127.0.0.1:PORT{options}`.
#[track_caller]
fn assert_lua_through_real_distccd(options: &str, how: &str) {
    let mut distccd = RealDistccd::start();
    let lua = CProject::lua();
    let client = WrapperClient::new();
    let hosts = format!("{}{options}", distccd.host_spec());
    let objects = client.build(&hosts, &lua, &LUA_EXTRA);
    assert_identical(&lua, &objects, lua_references(), how);
    let lines = distccd.log_lines(" COMPILE_OK ", lua.units().len());
    assert_every_unit_compiled_remotely(&lua, &lines);
}

#[test]
fn lua_through_real_distccd_matches_local_objects() {
    assert_lua_through_real_distccd("", "distccd, protocol 1");
}

#[test]
fn lua_through_real_distccd_with_lzo_matches_local_objects() {
    assert_lua_through_real_distccd(",lzo", "distccd, protocol 2 (lzo)");
}

/// The heavy project once: larger preprocessed sources through LZO, with optimisation.
#[test]
fn zstd_at_o1_through_real_distccd_with_lzo_matches_local_objects() {
    let mut distccd = RealDistccd::start();
    let zstd = CProject::zstd();
    let client = WrapperClient::new();
    let hosts = format!("{},lzo", distccd.host_spec());
    let extra = ["-O1"];
    let objects = client.build(&hosts, &zstd, &extra);
    let references = references(&zstd, &extra, CLIENTS);
    assert_identical(
        &zstd,
        &objects,
        &references,
        "distccd, protocol 2 (lzo), -O1",
    );
    assert_every_unit_compiled_remotely(
        &zstd,
        &distccd.log_lines(" COMPILE_OK ", zstd.units().len()),
    );
}

#[test]
fn cxx_sample_through_real_distccd_matches_local_objects() {
    let mut distccd = RealDistccd::start();
    let cxx = CProject::cxx_sample();
    let client = WrapperClient::new();
    let extra = ["-O2"];
    let references = references(&cxx, &extra, CLIENTS);
    for hosts in [distccd.host_spec(), format!("{},lzo", distccd.host_spec())] {
        let objects = client.build(&hosts, &cxx, &extra);
        assert_identical(&cxx, &objects, &references, &format!("g++ through {hosts}"));
    }
    let lines = distccd.log_lines(" COMPILE_OK ", 2 * cxx.units().len());
    assert_eq!(
        lines.len(),
        2 * cxx.units().len(),
        "distccd should log one COMPILE_OK per C++ job:\n{}",
        distccd.log()
    );
    assert_every_unit_compiled_remotely(&cxx, &lines);
}

/// With `-g` the object records the working directory the preprocessor saw: the reference is
/// a local `-E` in the project directory followed by a compile of the `.i` elsewhere.
#[test]
fn debug_info_build_through_real_distccd_matches_preprocess_then_compile() {
    let mut distccd = RealDistccd::start();
    let lua = CProject::lua();
    let units = ["lapi.c", "lstring.c"];
    let extra = ["-g", "-O1"];
    let client = WrapperClient::new();
    let hosts = format!("{},lzo", distccd.host_spec());
    for source in units {
        let got = client.compile_unit(&hosts, &lua, source, &extra);
        let want = lua.preprocessed_then_compiled(lua.unit(source), &extra);
        assert!(
            got == want,
            "{source} -g: the distributed object ({} bytes) differs from `gcc -E` then `gcc -c \
             X.i` ({} bytes)",
            got.len(),
            want.len()
        );
    }
    let lines = distccd.log_lines(" COMPILE_OK ", units.len());
    for source in units {
        assert!(
            lines.iter().any(|l| l.ends_with(&format!(" {source}"))),
            "distccd did not log COMPILE_OK for {source}:\n{}",
            distccd.log()
        );
    }
}

#[test]
fn lua_through_distfarm_serve_matches_local_objects_with_and_without_lzo() {
    let mut server = DistfarmServer::start(&["--jobs", "2"]);
    let lua = CProject::lua();
    let client = WrapperClient::new();
    for hosts in [server.host_spec(), format!("{},lzo", server.host_spec())] {
        let objects = client.build(&hosts, &lua, &LUA_EXTRA);
        assert_identical(
            &lua,
            &objects,
            lua_references(),
            &format!("distfarm serve via {hosts}"),
        );
    }
    let lines = server.compile_ok_lines(2 * lua.units().len());
    assert_eq!(
        lines.len(),
        2 * lua.units().len(),
        "distfarm serve should log one COMPILE_OK per job (two builds):\n{}",
        server.log()
    );
    assert_every_unit_compiled_remotely(&lua, &lines);
}

/// clang through both servers: the wrapper sends `clang … -target <triple>` as distcc does,
/// the server checks clang's assembly with a `-S` pass (clang has no `-wrapper`), and the
/// objects are local clang's.
#[test]
fn clang_builds_through_distfarm_serve_and_distccd_match_local_clang() {
    let clang = crate::support::require("clang", "clang");
    let clang_cxx = clang.with_file_name("clang++");
    assert!(clang_cxx.exists(), "clang++ comes with clang");
    let mut server = DistfarmServer::start(&["--jobs", "2"]);
    let mut distccd = RealDistccd::start();
    let lua = CProject::lua().first(8).with_compiler("clang");
    let cxx = CProject::cxx_sample().with_compiler("clang++");
    let client = WrapperClient::new();
    let mut jobs = 0;
    for (project, extra) in [(&lua, &LUA_EXTRA[..]), (&cxx, &["-O2"][..])] {
        let want = references(project, extra, 2);
        for hosts in [server.host_spec(), format!("{},lzo", distccd.host_spec())] {
            let objects = client.build(&hosts, project, extra);
            assert_identical(
                project,
                &objects,
                &want,
                &format!("{} via {hosts}", project.compiler),
            );
        }
        jobs += project.units().len();
    }
    assert_eq!(
        server.compile_ok_lines(jobs).len(),
        jobs,
        "{}",
        server.log()
    );
    assert_eq!(distccd.log_lines(" COMPILE_OK ", jobs).len(), jobs);
}

/// clang's preprocessed text does not carry the working directory as gcc's does, so with
/// `-g` the wrapper names it (`-fdebug-compilation-dir`): the debug info says where the
/// build ran, not the server's job directory (distcc's says the server's `/tmp`). The
/// reference is clang's own `-E` then a compile of that output in the build directory.
#[test]
fn clang_debug_info_names_the_build_directory_not_the_server() {
    crate::support::require("clang", "clang");
    let mut server = DistfarmServer::start(&["--jobs", "2"]);
    let mut distccd = RealDistccd::start();
    let lua = CProject::lua().with_compiler("clang");
    let extra = ["-g", "-O1"];
    let client = WrapperClient::new();
    let units = ["lapi.c", "lstring.c"];
    for hosts in [server.host_spec(), distccd.host_spec()] {
        for source in units {
            let got = client.compile_unit(&hosts, &lua, source, &extra);
            let want = clang_preprocessed_then_compiled_here(&lua, source, &extra);
            assert!(
                got == want,
                "{source} -g via {hosts}: {} bytes distributed, {} bytes from clang -E then -c \
                 in the build directory",
                got.len(),
                want.len()
            );
        }
    }
    assert_eq!(server.compile_ok_lines(units.len()).len(), units.len());
    assert_eq!(
        distccd.log_lines(" COMPILE_OK ", units.len()).len(),
        units.len()
    );
}

/// `clang args… -E SOURCE` then `clang args… -x cpp-output -c` of that output, both run in
/// the project's root (so the debug info's compilation directory is the root).
fn clang_preprocessed_then_compiled_here(
    project: &CProject,
    source: &str,
    extra: &[&str],
) -> Vec<u8> {
    let unit = project.unit(source);
    let scratch = tempfile::tempdir().unwrap();
    let preprocessed = scratch.path().join("unit.i");
    let object = scratch.path().join("unit.o");
    let mut flags: Vec<String> = extra.iter().map(|s| s.to_string()).collect();
    flags.extend(unit.flags.iter().cloned());
    Cmd::new(project.compiler)
        .args(&flags)
        .arg("-E")
        .arg(&unit.source)
        .arg("-o")
        .arg(&preprocessed)
        .current_dir(project.root())
        .run();
    Cmd::new(project.compiler)
        .args(crate::support::compile::strip_preprocessor_args(&flags))
        .args(["-x", "cpp-output", "-c"])
        .arg(&preprocessed)
        .arg("-o")
        .arg(&object)
        .current_dir(project.root())
        .run();
    read(&object)
}

// ---------------------------------------------------------------------------------------
// Evidence
// ---------------------------------------------------------------------------------------

/// Every unit has a `COMPILE_OK … <compiler> <source>` line: it was compiled by the server.
#[track_caller]
fn assert_every_unit_compiled_remotely(project: &CProject, lines: &[String]) {
    let missing: Vec<String> = project
        .units()
        .iter()
        .map(|u| u.source.display().to_string())
        .filter(|s| !lines.iter().any(|l| l.ends_with(&format!(" {s}"))))
        .collect();
    assert!(
        missing.is_empty(),
        "{}: the server logged no COMPILE_OK for {missing:?}; its summary lines:\n{}",
        project.name,
        lines.join("\n")
    );
}
