//! The real distcc 3.4 client against `distfarm serve`: over TCP (protocols 1 and 2) and over
//! the real OpenSSH sshd with our binary as the remote `distccd`. Every object must be the
//! byte-for-byte twin of a local compile, and the server's own log (or the command path) must
//! show that the job really ran remotely.

use std::collections::HashMap;
use std::path::Path;

use crate::support::build::{assert_identical, lua_references, references};
use crate::support::distcc_client::DistccClient;
use crate::support::distfarm_server::{assert_no_job_directories, distccd_link};
use crate::support::{CProject, Cmd, DistfarmServer, Sshd, distfarm_bin, temp_dir, text};

/// How many `distcc` clients run at once (distcc's default is 4 slots per host).
const CLIENTS: usize = 4;

/// The server under test: `--jobs 4`.
#[track_caller]
fn start_server() -> DistfarmServer {
    DistfarmServer::start(&["--jobs", "4"])
}

// ---------------------------------------------------------------------------------------
// References
// ---------------------------------------------------------------------------------------

/// One `COMPILE_OK` line per unit, each naming the unit's source.
#[track_caller]
fn assert_one_compile_ok_per_unit(server: &mut DistfarmServer, project: &CProject) {
    let lines = server.compile_ok_lines(project.units().len());
    assert_eq!(
        lines.len(),
        project.units().len(),
        "expected one COMPILE_OK line per file; server log:\n{}",
        server.log()
    );
    let mut counts: HashMap<String, usize> = HashMap::new();
    for line in &lines {
        assert!(
            line.contains("client: 127.0.0.1:"),
            "the summary line names the client: {line}"
        );
        let source = line.rsplit(' ').next().unwrap_or_default().to_string();
        *counts.entry(source).or_default() += 1;
    }
    for unit in project.units() {
        let source = unit.source.display().to_string();
        assert_eq!(
            counts.get(&source),
            Some(&1),
            "{source} has no single COMPILE_OK line; server log:\n{}",
            server.log()
        );
    }
}

// ---------------------------------------------------------------------------------------
// TCP
// ---------------------------------------------------------------------------------------

/// All of Lua through the real distcc to `distfarm serve` at `127.0.0.1:PORT{options}`.
#[track_caller]
fn assert_lua_built_by_real_distcc(options: &str, how: &str) {
    let lua = CProject::lua();
    let mut server = start_server();
    let client = DistccClient::new(format!("{}{options}", server.host_spec()));
    let built = client.build(&lua, &["-O2"], CLIENTS);
    assert_identical(&lua, &built, lua_references(), how);
    assert_one_compile_ok_per_unit(&mut server, &lua);
    assert_no_job_directories(server.tmpdir());
}

#[test]
fn lua_built_by_real_distcc_over_tcp_is_identical_to_local_gcc() {
    assert_lua_built_by_real_distcc("", "distcc protocol 1");
}

#[test]
fn lua_built_by_real_distcc_with_lzo_is_identical_to_local_gcc() {
    assert_lua_built_by_real_distcc(",lzo", "distcc protocol 2 (lzo)");
}

#[test]
fn cxx_project_built_by_real_distcc_is_identical_to_local_gxx() {
    let cxx = CProject::cxx_sample();
    assert_eq!(cxx.compiler, "g++");
    let mut server = start_server();
    let references = references(&cxx, &["-O2"], 2);
    for (round, hosts) in [server.host_spec(), format!("{},lzo", server.host_spec())]
        .into_iter()
        .enumerate()
    {
        let client = DistccClient::new(hosts.clone());
        let built = client.build(&cxx, &["-O2"], CLIENTS);
        assert_identical(&cxx, &built, &references, &format!("g++ via {hosts}"));
        let lines = server.compile_ok_lines(cxx.units().len() * (round + 1));
        assert_eq!(
            lines.len(),
            cxx.units().len() * (round + 1),
            "one COMPILE_OK per C++ file; server log:\n{}",
            server.log()
        );
    }
    assert!(
        server.log().contains("g++") || server.log().contains("c++"),
        "the server ran a C++ compiler: {}",
        server.log()
    );
}

/// With `-g` the preprocessed text carries the client's working directory, so the reference
/// is what distcc's plain mode does locally: `-E` in the source tree, then `-c` of the `.i`.
#[test]
fn debug_build_matches_preprocess_then_compile() {
    let lua = CProject::lua().first(4);
    let mut server = start_server();
    let client = DistccClient::new(format!("{},lzo", server.host_spec()));
    let extra = ["-g", "-O2"];
    let built = client.build(&lua, &extra, CLIENTS);
    let references: Vec<Vec<u8>> = lua
        .units()
        .iter()
        .map(|u| lua.preprocessed_then_compiled(u, &extra))
        .collect();
    assert_identical(&lua, &built, &references, "-g -O2 via distcc");
    assert_one_compile_ok_per_unit(&mut server, &lua);
}

/// gcc's message and exit status reach the user unchanged. (The source excerpt gcc prints
/// under a message needs the original file, which no server has in plain mode — distccd's
/// answer lacks it too — so the exact comparison uses `-fno-diagnostics-show-caret` and the
/// default one compares gcc's message lines.)
#[test]
fn compile_error_gives_the_same_message_and_exit_status_as_local_gcc() {
    let fixtures = crate::support::fixture_path("");
    let source = Path::new("hello-error.c");
    let server = start_server();
    let out = temp_dir("compile-error");
    for hosts in [server.host_spec(), format!("{},lzo", server.host_spec())] {
        for extra in [&["-O2", "-fno-diagnostics-show-caret"][..], &["-O2"][..]] {
            let mut args: Vec<String> = extra.iter().map(|s| s.to_string()).collect();
            args.extend(["-c".into(), source.display().to_string(), "-o".into()]);
            let local = Cmd::new("gcc")
                .args(&args)
                .arg(out.path().join("local.o"))
                .current_dir(&fixtures)
                .env("LC_ALL", "C")
                .run_expect_failure();
            let client = DistccClient::new(hosts.clone());
            let remote = client
                .cmd(
                    "gcc",
                    &{
                        let mut a = args.clone();
                        a.push(out.path().join("remote.o").display().to_string());
                        a
                    },
                    &fixtures,
                )
                .run_expect_failure();
            assert_eq!(
                remote.status.code(),
                local.status.code(),
                "exit status via {hosts} {extra:?}"
            );
            let local_err = text(&local.stderr);
            let remote_err = without_distcc_lines(&text(&remote.stderr));
            assert!(
                local_err.contains("error: expected expression"),
                "the fixture still fails to compile: {local_err}"
            );
            if extra.contains(&"-fno-diagnostics-show-caret") {
                assert_eq!(remote_err, local_err, "stderr via {hosts} {extra:?}");
            } else {
                assert_eq!(
                    gcc_message_lines(&remote_err),
                    gcc_message_lines(&local_err),
                    "gcc's messages via {hosts} {extra:?}"
                );
            }
            assert!(
                !out.path().join("remote.o").exists(),
                "no object for a failed compile"
            );
        }
    }
    let log = server.log();
    assert_eq!(
        log.matches(" COMPILE_ERROR exit:1 ").count(),
        4,
        "the server compiled (and failed) all four remotely:\n{log}"
    );
}

/// distcc's own `distcc[PID] ERROR: …` lines, which a local gcc does not print.
fn without_distcc_lines(stderr: &str) -> String {
    stderr
        .lines()
        .filter(|l| !l.starts_with("distcc["))
        .map(|l| format!("{l}\n"))
        .collect()
}

/// gcc's messages without the source excerpt (`    4 |     return 1 +;` and the caret line).
fn gcc_message_lines(stderr: &str) -> Vec<String> {
    stderr
        .lines()
        .filter(|l| {
            let t = l.trim_start();
            !(t.starts_with('|')
                || t.split_once(" |")
                    .is_some_and(|(n, _)| n.trim().parse::<u32>().is_ok()))
        })
        .map(String::from)
        .collect()
}

// ---------------------------------------------------------------------------------------
// SSH
// ---------------------------------------------------------------------------------------

/// The server started by sshd as root drops to `distcc`/`nobody` after exec; make sure that
/// user could also reach the binary (a re-exec, a helper, an operator running it by hand).
#[track_caller]
fn assert_binary_usable_by_unprivileged_users(binary: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(binary).unwrap().permissions().mode();
    assert!(
        mode & 0o005 == 0o005,
        "{} is mode {mode:o}: not readable/executable by others (the server's dropped user)",
        binary.display()
    );
    for dir in binary.ancestors().skip(1) {
        let mode = std::fs::metadata(dir).unwrap().permissions().mode();
        assert!(
            mode & 0o001 != 0,
            "{} is mode {mode:o}: the dropped user cannot reach {}",
            dir.display(),
            binary.display()
        );
    }
}

#[test]
fn lua_built_by_real_distcc_over_openssh_with_our_binary_as_distccd() {
    let lua = CProject::lua();
    assert_binary_usable_by_unprivileged_users(&distfarm_bin());
    let sshd = Sshd::start();
    let (_bin_dir, distccd) = distccd_link();
    let command = distccd.display().to_string();

    // Protocol 1: all of Lua. Protocol 2 (,lzo): the first ten files.
    let plain =
        DistccClient::new(sshd.distcc_host_with_command(&command)).with_ssh(sshd.distcc_ssh());
    let built = plain.build(&lua, &["-O2"], CLIENTS);
    assert_identical(&lua, &built, lua_references(), "distcc over ssh");

    let some = lua.first(10);
    let lzo = DistccClient::new(format!("{},lzo", sshd.distcc_host_with_command(&command)))
        .with_ssh(sshd.distcc_ssh());
    let built_lzo = lzo.build(&some, &["-O2"], CLIENTS);
    assert_identical(
        &some,
        &built_lzo,
        &lua_references()[..10],
        "distcc over ssh with lzo",
    );

    // Every job was its own ssh login, and the command each ran was our symlink: sshd runs
    // an absolute path as given, and that path answers as distfarm, not as distccd 3.4.
    let log = sshd.log();
    let logins = log.matches("Accepted publickey").count();
    assert!(
        logins > lua.units().len() + 10,
        "one ssh login per job (plus the helper's check): {logins}\n{log}"
    );
    assert_eq!(std::fs::read_link(&distccd).unwrap(), distfarm_bin());
    let version = sshd.ssh().arg(&command).arg("--version").run();
    let version = String::from_utf8_lossy(&version.stdout);
    assert!(
        version.starts_with("distfarm "),
        "the remote command is distfarm: {version:?}"
    );
}

/// Over SSH the server's stderr is the user's terminal (ssh hands it back to distcc): a good
/// compile prints nothing and a failed one prints gcc's message only, as with a local gcc and
/// as with distccd, which logs to syslog in `--inetd` mode.
#[test]
fn over_openssh_the_client_sees_only_what_gcc_prints() {
    let sshd = Sshd::start();
    let (_bin_dir, distccd) = distccd_link();
    let client = DistccClient::new(sshd.distcc_host_with_command(&distccd.display().to_string()))
        .with_ssh(sshd.distcc_ssh());
    let fixtures = crate::support::fixture_path("");
    let out = temp_dir("ssh-stderr");

    let object = out.path().join("hello.o");
    let args: Vec<String> = ["-O2", "-c", "hello.c", "-o"]
        .iter()
        .map(|s| s.to_string())
        .chain([object.display().to_string()])
        .collect();
    let good = client.cmd("gcc", &args, &fixtures).run();
    let reference = crate::support::local_object("gcc", ["-O2"], Path::new("hello.c"), &fixtures);
    assert_eq!(
        std::fs::read(&object).unwrap(),
        reference,
        "hello.o over ssh"
    );

    let flags = [
        "-O2",
        "-fno-diagnostics-show-caret",
        "-c",
        "hello-error.c",
        "-o",
    ];
    let mut args: Vec<String> = flags.iter().map(|s| s.to_string()).collect();
    args.push(out.path().join("error.o").display().to_string());
    let local = Cmd::new("gcc")
        .args(&args)
        .current_dir(&fixtures)
        .env("LC_ALL", "C")
        .run_expect_failure();
    let bad = client.cmd("gcc", &args, &fixtures).run_expect_failure();
    assert_eq!(
        bad.status.code(),
        local.status.code(),
        "exit status over ssh"
    );

    let good_err = text(&good.stderr);
    let bad_err = without_distcc_lines(&text(&bad.stderr));
    let local_err = text(&local.stderr);
    assert!(
        good_err.is_empty() && bad_err == local_err,
        "over ssh the server's log reaches the user's terminal.\n\
         --- distcc stderr for a good compile (a local gcc prints nothing)\n{good_err}\n\
         --- distcc stderr for a failed compile, distcc's own lines removed\n{bad_err}\n\
         --- local gcc stderr\n{local_err}"
    );
}

// ---------------------------------------------------------------------------------------
// --enable-tcp-insecure, side by side with the real distccd
// ---------------------------------------------------------------------------------------

/// `W_EXITCODE(110, 0)`: distcc's EXIT_COMPILER_MISSING in STAT.
const COMPILER_MISSING_STATUS: u32 = 110 << 8;

/// distccd's `--enable-tcp-insecure` turns its whitelist off: any program name on its PATH,
/// or any absolute path, runs as the compiler (a triplet-named wrapper, `true`), and a
/// compiler that is missing or not executable fails the job with exit 110, which a
/// `DISTCC_FALLBACK=0` client exits with. distfarm answers every one of these the same way.
#[test]
fn enable_tcp_insecure_runs_any_program_and_a_missing_one_fails_with_110_like_distccd() {
    use crate::support::files::readable_temp_dir;
    use crate::support::wire::compile;
    use distfarm::protocol::Version;

    let tools = readable_temp_dir("insecure-tools");
    let wrapper = tools.path().join("x86_64-farm-linux-gnu-gcc-13");
    crate::support::write_script(&wrapper, "exec gcc \"$@\"");
    let not_executable = tools.path().join("not-executable-cc");
    std::fs::write(&not_executable, "#!/bin/sh\nexit 0\n").unwrap();
    crate::support::set_mode(&not_executable, 0o644);
    // Only the client has this one on its PATH (it preprocesses with it).
    let client_only = readable_temp_dir("client-only");
    crate::support::write_script(&client_only.path().join("farmonly-cc"), "exec gcc \"$@\"");
    let hello = crate::support::fixture_path("hello.c");
    let source = Cmd::new("gcc").arg("-E").arg(&hello).run().stdout;

    let distccd = crate::support::RealDistccd::builder()
        .arg("--enable-tcp-insecure")
        .start();
    let distfarm = DistfarmServer::start(&["--enable-tcp-insecure"]);
    assert!(
        distfarm
            .log()
            .contains("--enable-tcp-insecure: the compiler whitelist is OFF"),
        "said loudly at start:\n{}",
        distfarm.log()
    );
    let argv = |compiler: &str| {
        [compiler, "-O2", "-c", "hello.c", "-o", "hello.o"]
            .map(String::from)
            .to_vec()
    };
    let wrapper = wrapper.display().to_string();
    let not_executable = not_executable.display().to_string();
    for (port, who) in [(distccd.port(), "distccd"), (distfarm.port(), "distfarm")] {
        let log = || format!("{}{}", distccd.log(), distfarm.log());
        let (answer, _) = compile(port, Version::V1, &argv(&wrapper), &source);
        crate::support::wire::assert_compiled(&answer, &format!("{who}: {wrapper}: {}", log()));
        let (answer, _) = compile(port, Version::V1, &argv("true"), &source);
        assert_eq!(answer.status, 0, "{who}: true: {}", log());
        for missing in [
            "no-such-compiler-here",
            "/opt/nowhere/no-such-compiler-here",
        ] {
            let (answer, _) = compile(port, Version::V1, &argv(missing), &source);
            assert_eq!(
                answer.status,
                COMPILER_MISSING_STATUS,
                "{who}: {missing}: {}",
                log()
            );
            assert!(
                crate::support::wire::stderr_text(&answer).contains(missing),
                "{who}: stderr names {missing}"
            );
        }
        let (answer, _) = compile(port, Version::V1, &argv(&not_executable), &source);
        assert_eq!(
            answer.status,
            COMPILER_MISSING_STATUS,
            "{who}: {not_executable}: {}",
            log()
        );

        let out = temp_dir("insecure-out");
        let client = DistccClient::new(format!("127.0.0.1:{port}"));
        let run = client
            .cmd(
                "farmonly-cc",
                &[
                    "-c".into(),
                    hello.display().to_string(),
                    "-o".into(),
                    out.path().join("hello.o").display().to_string(),
                ],
                out.path(),
            )
            .env(
                "PATH",
                std::env::join_paths(
                    std::iter::once(client_only.path().to_path_buf())
                        .chain(std::env::split_paths(&crate::support::test_path())),
                )
                .unwrap(),
            )
            .env_remove("DISTCC_SKIP_LOCAL_RETRY")
            .run_expect_failure();
        assert_eq!(
            run.status.code(),
            Some(110),
            "{who}: the distcc client exits 110 for a compiler the server lacks: {}",
            text(&run.stderr)
        );
    }
}
