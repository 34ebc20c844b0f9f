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

#[test]
fn the_agent_scans_includes_and_sees_a_header_generated_after_it_cached_its_absence() {
    let mut server = DistfarmServer::start(&["--jobs", "2"]);
    let hosts = format!("{}/2,cpp,lzo", server.host_spec());
    let work = Work::new();
    std::fs::write(
        work.path("generated_user.c"),
        "#if __has_include(\"generated.h\")\n#include \"generated.h\"\n#else\n#define VALUE 1\n\
         #endif\nint value(void) { return VALUE; }\n",
    )
    .unwrap();
    let args = ["-O2", "-c", "generated_user.c", "-o", "out/g.o"];
    let compile = |agent: &str| {
        work.distfarm(Some(&hosts))
            .arg("gcc")
            .args(args)
            .env("DISTCC_FALLBACK", "0")
            .env("DISTCC_SKIP_LOCAL_RETRY", "1")
            .env("DISTFARM_AGENT", agent)
            .run();
        work.read("out/g.o")
    };
    let local = || {
        work.gcc().args(args).run();
        work.read("out/g.o")
    };
    let without_header = compile("1");
    assert_eq!(without_header, local(), "before generated.h exists");
    let socket = distfarm::config::agent_socket_path(&work.distcc_dir());
    assert!(
        !crate::support::procs::agent_pids(&socket).is_empty(),
        "a pump-mode job starts the agent, which scans for it"
    );
    // As a build generates a header: the agent's cached "not there" must not hide it.
    std::fs::write(work.path("generated.h"), "#define VALUE 42\n").unwrap();
    let with_header = compile("1");
    assert_eq!(with_header, local(), "after generated.h appeared");
    assert_ne!(with_header, without_header);
    // No agent: the wrapper scans by itself, still in pump mode.
    assert_eq!(compile("0"), with_header, "scanned without the agent");
    let lines = server.compile_ok_lines(3);
    assert!(
        lines.iter().all(|l| l.contains(" mode:pump ")),
        "{}",
        server.log()
    );
}

#[test]
fn distfarm_pump_runs_the_build_like_distcc_pump_and_refuses_a_list_without_cpp_hosts() {
    let work = Work::new();
    let ran = work.path("out/ran");
    let build = format!("echo \"$PATH\" > {}; exit 3", ran.display());
    // A host list with no `,cpp` host: distcc-pump's message, and the build is not run.
    let out = work
        .distfarm(Some("127.0.0.1:1/2,lzo"))
        .args(["pump", "sh", "-c", &build])
        .run_expect_failure();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("does not contain any hosts with ',cpp' option"),
        "{}",
        text(&out.stderr)
    );
    assert!(!ran.exists(), "the build ran without a pump-mode host");
    // Under a `pump` link, as scripts call it: the build's own exit status, distfarm's
    // directory first on PATH, distcc-pump's progress lines.
    let link_dir = work.root().join("links");
    std::fs::create_dir_all(&link_dir).unwrap();
    let pump = link_dir.join("pump");
    std::os::unix::fs::symlink(crate::support::programs::distfarm_bin(), &pump).unwrap();
    let out = work
        .env(
            crate::support::process::Cmd::new(&pump),
            Some("127.0.0.1:1/2,cpp,lzo 127.0.0.2:1"),
        )
        .args(["sh", "-c", &build])
        .run_expect_failure();
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout)
            .contains("__________Using 2 distcc server(s), of which only 1 support(s) pump mode"),
        "{}",
        text(&out.stdout)
    );
    let path = text(&work.read("out/ran"));
    let own_dir = crate::support::programs::distfarm_bin();
    let own_dir = own_dir.parent().unwrap().to_str().unwrap();
    assert!(path.starts_with(&format!("{own_dir}:")), "{path}");
    // The split form: lines to eval; --shutdown has nothing to stop.
    let out = work
        .distfarm(Some("127.0.0.1:1/2,cpp,lzo"))
        .args(["pump", "--startup"])
        .run();
    let lines = text(&out.stdout);
    assert!(
        lines.contains("export DISTCC_HOSTS='127.0.0.1:1/2,cpp,lzo'")
            && lines.contains(&format!("export PATH='{own_dir}:")),
        "{lines}"
    );
    work.distfarm(None).args(["pump", "--shutdown"]).run();
}

#[test]
fn pump_demotions_are_counted_in_the_builds_summary_line() {
    crate::support::require("make", "make");
    let server = DistfarmServer::start(&["--jobs", "2"]);
    let hosts = format!("{}/2,cpp,lzo", server.host_spec());
    let work = Work::new();
    std::fs::copy(work.path("hello.c"), work.path("second.c")).unwrap();
    std::fs::write(
        work.path("Makefile"),
        "all: hello.o second.o\n%.o: %.c\n\t$(CC) -O2 -c $< -o $@\n",
    )
    .unwrap();
    let log = work.root().join("make.log");
    let cc = format!("{} gcc", crate::support::distfarm_bin().display());
    let shell = format!("make -j2 'CC={cc}' 2>>{}", log.display());
    work.env(crate::support::Cmd::new("sh"), Some(&hosts))
        .args(["-c", &shell])
        .env("DISTFARM_SUMMARY", "1")
        .env("CPATH", "/nonexistent")
        .run();
    let line = crate::support::wait_for(
        "the summary line in make's stderr",
        std::time::Duration::from_secs(15),
        || {
            crate::support::read_text(&log)
                .lines()
                .find(|l| l.starts_with("distfarm: make["))
                .map(String::from)
        },
        || crate::support::read_text(&log),
    );
    assert!(
        line.contains("; not in pump mode: 2 (CPATH is set"),
        "{line}"
    );
}
