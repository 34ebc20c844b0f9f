//! The distfarm wrapper in pump mode (`,cpp,lzo` hosts): no local preprocessing, the source
//! and its headers sent for the server to preprocess. Against the real distccd 3.4 every job
//! arrives as protocol 3 (its debug log shows the file list) with objects identical to local;
//! against `distfarm serve` `-g` objects are identical to a direct local `gcc -g -c`, and the
//! `.d` file is the one a local `gcc -MD` writes. Demotions to plain mode are said, and are
//! errors under `DISTCC_FALLBACK=0`; a server that will not take pump mode gets the job again
//! in plain mode.

use crate::support::build::{assert_identical, lua_references, references};
use crate::support::wrapper_client::{CLIENTS, WrapperClient};
use crate::support::{CProject, DistfarmServer, RealDistccd, Work, text};

#[test]
fn lua_and_zstd_pumped_to_real_distccd_are_identical_and_every_job_is_protocol_3() {
    let mut distccd = RealDistccd::builder().arg("--log-level=debug").start();
    let hosts = format!("{}/4,cpp,lzo", distccd.host_spec());
    let client = WrapperClient::new();
    let lua = CProject::lua();
    let objects = client.build(&hosts, &lua, &["-O2"]);
    assert_identical(&lua, &objects, lua_references(), "distfarm pump → distccd");
    let zstd = CProject::zstd();
    let objects = client.build(&hosts, &zstd, &["-O1"]);
    let local = references(&zstd, &["-O1"], CLIENTS);
    assert_identical(&zstd, &objects, &local, "distfarm pump → distccd (zstd)");
    let jobs = lua.units().len() + zstd.units().len();
    // distccd logs "got NFIL…" for the file list, which only a protocol-3 request has.
    let file_lists = distccd.log_lines("got NFIL", jobs);
    assert_eq!(file_lists.len(), jobs, "{}", distccd.log());
}

#[test]
fn lua_with_debug_info_pumped_to_distfarm_serve_is_identical_to_a_direct_local_compile() {
    let mut server = DistfarmServer::start(&["--jobs", "4"]);
    let hosts = format!("{}/4,cpp,lzo", server.host_spec());
    let lua = CProject::lua();
    let objects = WrapperClient::new().build(&hosts, &lua, &["-O2", "-g"]);
    let direct = references(&lua, &["-O2", "-g"], CLIENTS);
    assert_identical(&lua, &objects, &direct, "distfarm pump -g → distfarm serve");
    let lines = server.compile_ok_lines(lua.units().len());
    assert_eq!(
        lines.iter().filter(|l| l.contains(" mode:pump ")).count(),
        lua.units().len(),
        "{}",
        server.log()
    );
}

#[test]
fn pumped_dependency_file_is_the_one_a_local_compile_writes() {
    let server = DistfarmServer::start(&["--jobs", "2"]);
    let hosts = format!("{}/2,cpp,lzo", server.host_spec());
    let work = Work::new();
    for (deps, target) in [("-MD", ""), ("-MMD", "-MT custom.o")] {
        let mut args: Vec<String> = ["-O2", deps, "-c", "hello.c", "-o", "out/hello.o"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        args.extend(target.split_whitespace().map(String::from));
        work.gcc().args(&args).run();
        let local = work.read("out/hello.d");
        std::fs::remove_file(work.path("out/hello.d")).unwrap();
        work.distfarm(Some(&hosts))
            .arg("gcc")
            .args(&args)
            .env("DISTCC_FALLBACK", "0")
            .run();
        assert_eq!(
            text(&work.read("out/hello.d")),
            text(&local),
            "{deps} {target}"
        );
    }
}

#[test]
fn a_job_that_cannot_be_pumped_says_why_and_is_an_error_without_fallback() {
    let server = DistfarmServer::start(&["--jobs", "2"]);
    let hosts = format!("{}/2,cpp,lzo", server.host_spec());
    let work = Work::new();
    let compile = || {
        work.distfarm(Some(&hosts))
            .args(["gcc", "-O2", "-c", "hello.c", "-o", "out/hello.o"])
            .env("CPATH", "/nonexistent")
    };
    let out = compile().run();
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("pump mode not used for hello.c: CPATH is set"),
        "{stderr}"
    );
    assert_eq!(work.read("out/hello.o"), work.hello_reference());
    let out = compile().env("DISTCC_FALLBACK", "0").run_expect_failure();
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("pump mode cannot be used for hello.c")
            && stderr.contains("DISTCC_FALLBACK=0"),
        "{stderr}"
    );
}

#[test]
fn a_server_that_refuses_pump_mode_gets_the_job_again_in_plain_mode() {
    // Without confinement the server refuses to preprocess (see server/connection.rs).
    let mut server = DistfarmServer::builder()
        .args(&["--jobs", "2"])
        .env("DISTFARM_CONFINE", "0")
        .start();
    let hosts = format!("{}/2,cpp,lzo", server.host_spec());
    let work = Work::new();
    let out = work
        .distfarm(Some(&hosts))
        .args(["gcc", "-O2", "-c", "hello.c", "-o", "out/hello.o"])
        .env("DISTCC_FALLBACK", "0")
        .env("DISTCC_SKIP_LOCAL_RETRY", "1")
        .run();
    let stderr = text(&out.stderr);
    assert!(stderr.contains("retrying in plain mode"), "{stderr}");
    assert_eq!(work.read("out/hello.o"), work.hello_reference());
    let lines = server.compile_ok_lines(1);
    assert!(!lines[0].contains("mode:pump"), "{}", server.log());
}
