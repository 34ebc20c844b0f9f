//! `distfarm serve` in pump mode (protocol 3): the real distcc 3.4 pump client builds Lua and
//! zstd through it with every job in pump mode and objects identical to a local compile —
//! with `-g` too, where distccd 3.4 gives 0 of 32 —, and hostile file trees (climbing names,
//! outward links, a file written through a link, absurd counts) are refused with nothing
//! written outside the job's root and nothing left behind.

use crate::support::build::{assert_identical, lua_references, references};
use crate::support::distcc_client::DistccClient;
use crate::support::distfarm_server::assert_no_job_directories;
use crate::support::real_pump::RealPump;
use crate::support::wire::{argv_tokens, exchange, parse_response, stderr_text, token};

use crate::support::{CProject, DistfarmServer, temp_dir};
use distfarm::protocol::Version;

const CLIENTS: usize = 4;

/// The real pump client's build of `project` through a fresh server; every job must have
/// been a pump-mode job.
fn pump_build(project: &CProject, extra: &[&str]) -> Vec<Vec<u8>> {
    pump_build_with(project, extra, &[])
}

/// `pump_build` through a server started with `server_args` too.
fn pump_build_with(project: &CProject, extra: &[&str], server_args: &[&str]) -> Vec<Vec<u8>> {
    let mut server = DistfarmServer::start(&[&["--jobs", "4"], server_args].concat());
    let hosts = format!("{}/4,cpp,lzo", server.host_spec());
    let pump = RealPump::start(&hosts);
    let client = DistccClient::new(hosts).with_env(pump.env());
    let objects = client.build(project, extra, CLIENTS);
    let lines = server.compile_ok_lines(project.units().len());
    let pumped = lines.iter().filter(|l| l.contains(" mode:pump ")).count();
    assert_eq!(
        pumped,
        project.units().len(),
        "every job must arrive in pump mode; server log:\n{}",
        server.log()
    );
    assert_no_job_directories(server.tmpdir());
    objects
}

#[test]
fn real_pump_client_builds_lua_identical_to_local_every_job_in_pump_mode() {
    let lua = CProject::lua();
    let objects = pump_build(&lua, &["-O2"]);
    assert_identical(
        &lua,
        &objects,
        lua_references(),
        "distcc pump → distfarm serve",
    );
}

/// Job roots live in the job directory, which the mount namespace confinement (used where
/// Landlock is missing) shows at its own path: pump jobs work there the same.
#[test]
fn real_pump_client_builds_lua_identical_to_local_with_compilers_in_a_mount_namespace() {
    let lua = CProject::lua();
    let objects = pump_build_with(&lua, &["-O2"], &["--confinement", "namespaces"]);
    assert_identical(
        &lua,
        &objects,
        lua_references(),
        "distcc pump → distfarm serve --confinement namespaces",
    );
}

#[test]
fn real_pump_client_with_debug_info_gets_objects_identical_to_a_direct_local_compile() {
    let lua = CProject::lua();
    let objects = pump_build(&lua, &["-O2", "-g"]);
    let direct = references(&lua, &["-O2", "-g"], 2);
    assert_identical(&lua, &objects, &direct, "distcc pump -g → distfarm serve");
}

#[test]
fn real_pump_client_builds_zstd_identical_to_local() {
    let zstd = CProject::zstd();
    let objects = pump_build(&zstd, &["-O1"]);
    let local = references(&zstd, &["-O1"], 2);
    assert_identical(
        &zstd,
        &objects,
        &local,
        "distcc pump → distfarm serve (zstd)",
    );
}

// ---------------------------------------------------------------------------------------
// Hostile trees
// ---------------------------------------------------------------------------------------

/// A pump-mode request for `gcc -c /p/main.c -o main.o` in `/p`, with `entries` as its tree
/// (each already encoded) and `count` as its `NFIL`.
fn pump_request(count: u32, entries: &[Vec<u8>]) -> Vec<u8> {
    let mut out = token("DIST", 3);
    out.extend(token("CDIR", 2));
    out.extend(b"/p");
    out.extend(argv_tokens(&["gcc", "-c", "main.c", "-o", "main.o"]));
    out.extend(token("NFIL", count));
    for entry in entries {
        out.extend(entry);
    }
    out
}

fn name(path: &str) -> Vec<u8> {
    let mut out = token("NAME", path.len() as u32);
    out.extend(path.as_bytes());
    out
}

fn file(path: &str, content: &[u8]) -> Vec<u8> {
    let mut out = name(path);
    let packed = distfarm::protocol::lzo::compress(content);
    out.extend(token("FILE", packed.len() as u32));
    out.extend(packed);
    out
}

fn link(path: &str, target: &str) -> Vec<u8> {
    let mut out = name(path);
    out.extend(token("LINK", target.len() as u32));
    out.extend(target.as_bytes());
    out
}

const MAIN: &[u8] = b"int main(void) { return 0; }\n";

#[test]
fn pump_trees_that_reach_outside_the_job_root_are_refused_and_write_nothing_there() {
    let mut server = DistfarmServer::start(&["--jobs", "2"]);
    let victim_dir = temp_dir("pump-victim");
    crate::support::set_mode(victim_dir.path(), 0o777);
    let victim = victim_dir.path().join("victim");
    std::fs::write(&victim, "precious\n").unwrap();
    crate::support::set_mode(&victim, 0o666);
    let climb = "/..".repeat(30);
    let v = victim.display().to_string();
    let d = victim_dir.path().display().to_string();
    let cases: Vec<(&str, Vec<Vec<u8>>, &str)> = vec![
        (
            "a climbing NAME",
            vec![
                file(&format!("{climb}{v}"), b"owned\n"),
                file("/p/main.c", MAIN),
            ],
            "climbs",
        ),
        (
            "an outward LINK",
            vec![
                link("/p/out", &format!("{}{d}", "../".repeat(40))),
                file("/p/main.c", MAIN),
            ],
            "system directory",
        ),
        (
            "a FILE written through a LINK",
            vec![
                link("/p/inc", &d),
                file("/p/inc/victim", b"owned\n"),
                file("/p/main.c", MAIN),
            ],
            "symbolic link",
        ),
    ];
    for (what, entries, why) in cases {
        let reply = exchange(
            server.port(),
            &pump_request(entries.len() as u32, &entries),
            false,
        );
        let response = parse_response(&reply.bytes, Version::V3);
        assert!(!response.succeeded(), "{what} was compiled");
        let stderr = stderr_text(&response);
        assert!(stderr.contains(why), "{what}: the refusal says {stderr:?}");
        assert_eq!(
            std::fs::read_to_string(&victim).unwrap(),
            "precious\n",
            "{what}"
        );
        assert_eq!(
            std::fs::read_dir(victim_dir.path()).unwrap().count(),
            1,
            "{what}"
        );
    }
    // A count no honest build needs is refused before any entry is read.
    let reply = exchange(server.port(), &pump_request(u32::MAX, &[]), false);
    assert!(reply.bytes.is_empty(), "an absurd NFIL was answered");
    assert!(server.is_running(), "{}", server.log());
    assert_no_job_directories(server.tmpdir());
}

#[test]
fn a_pump_job_cannot_read_server_files_through_its_includes() {
    pump_job_cannot_read_server_files_through_its_includes(&[]);
}

#[test]
fn a_pump_job_in_a_mount_namespace_cannot_read_server_files_through_its_includes() {
    pump_job_cannot_read_server_files_through_its_includes(&["--confinement", "namespaces"]);
}

fn pump_job_cannot_read_server_files_through_its_includes(server_args: &[&str]) {
    let mut server = DistfarmServer::start(&[&["--jobs", "2"], server_args].concat());
    let source = b"#include \"/etc/passwd\"\nint main(void) { return 0; }\n";
    let entries = vec![file("/p/main.c", source)];
    let reply = exchange(server.port(), &pump_request(1, &entries), false);
    let response = parse_response(&reply.bytes, Version::V3);
    assert!(!response.succeeded());
    // The file's name is in the message; its first line ("root:x:0:0:…") must not be.
    let stderr = stderr_text(&response);
    assert!(
        !stderr.contains("root:x:0:0"),
        "/etc/passwd leaked: {stderr}"
    );
    assert!(stderr.contains("/etc/passwd"), "{stderr}");
    assert!(server.is_running(), "{}", server.log());
    assert_no_job_directories(server.tmpdir());
}
