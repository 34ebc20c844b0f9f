//! The wrapper against a real Remote Execution API engine: BuildGrid 0.4.4 with its SQL
//! scheduler on PostgreSQL and test-only workers that lease jobs through its Bots service
//! (`support::buildgrid`). Every object is the byte-for-byte twin of a local compile; a
//! second checkout elsewhere builds from BuildGrid's action cache without a job running
//! anywhere; a worker with another compiler is never given a job; and an engine stopped
//! mid-build loses no job: they move to the next host.
//! Fallback and the local retry are off, so a job that did not go remote fails the build.

use std::path::Path;
use std::time::Duration;

use crate::support::build::{assert_identical, build, lua_references, references};
use crate::support::buildgrid::{BuildGrid, Workers};
use crate::support::process::text;
use crate::support::wrapper::{hello_args, split_dwarf_args};
use crate::support::wrapper_client::{CLIENTS, WrapperClient};
use crate::support::{CProject, DistfarmServer, Work, temp_dir, wait_for};

/// Lua's own makefile flag (see client_interop.rs for why not -O0).
const LUA_EXTRA: [&str; 1] = ["-O2"];
/// Workers BuildGrid has (one job each: the machine has two cores).
const WORKERS: usize = 2;

#[test]
fn lua_through_buildgrid_matches_local_objects() {
    let grid = BuildGrid::start(WORKERS);
    let lua = CProject::lua();
    let client = WrapperClient::new().distfarm_hosts(&grid.entry(4));
    let objects = client.build("", &lua, &LUA_EXTRA);
    assert_identical(&lua, &objects, lua_references(), "through BuildGrid");
    every_unit_ran_once(&grid, &lua);
}

/// Lua with debug info through BuildGrid from a `,cpp` entry: every job's input root is the
/// source and its headers (its Command the pump-mode script), and every object is the one a
/// direct local `gcc -g -c` makes, line tables included.
#[test]
fn lua_pumped_through_buildgrid_with_debug_info_matches_a_direct_local_compile() {
    let grid = BuildGrid::start(WORKERS);
    let lua = CProject::lua();
    let extra = ["-O2", "-g"];
    let client = WrapperClient::new().distfarm_hosts(&format!("{},cpp", grid.entry(4)));
    let objects = client.build("", &lua, &extra);
    let direct = references(&lua, &extra, CLIENTS);
    assert_identical(&lua, &objects, &direct, "pumped through BuildGrid");
    let jobs = every_unit_ran_once(&grid, &lua);
    for job in &jobs {
        let words: Vec<&str> = job.split(' ').collect();
        assert_eq!(words[2..4], ["/bin/sh", "-c"], "a pump-mode Command: {job}");
    }
}

/// zstd built twice, from two checkouts in other directories, with the include directories
/// named by absolute paths (so every line marker of a zstd header names the checkout), each
/// by a client with a fresh `DISTCC_DIR`: the second build runs no job anywhere, every
/// object comes from BuildGrid's action cache, and all are identical to local objects.
/// (The sources stay relative, as zstd's makefile names them: `dictBuilder/divsufsort.c`
/// uses `assert`, whose `__FILE__` would put an absolute source path into the text and the
/// object, and so rightly into the key.)
#[test]
fn a_second_checkout_of_zstd_elsewhere_builds_from_buildgrids_action_cache() {
    let grid = BuildGrid::start(WORKERS);
    let zstd = CProject::zstd();
    let extra = ["-O1"];
    let references = references(&zstd, &extra, CLIENTS);
    let checkouts = temp_dir("checkouts");
    for (person, new_jobs) in [("alice", zstd.units().len()), ("bob", 0)] {
        let checkout = zstd.checked_out_in(&checkouts.path().join(person).join("zstd/lib"));
        let client = WrapperClient::new().distfarm_hosts(&grid.entry(4));
        let before = grid.jobs_run().len();
        let objects = build(
            &checkout,
            &extra,
            &client.out_dir(),
            CLIENTS,
            |unit, args| {
                let args = absolute_includes(args, checkout.root());
                let out = client
                    .cmd("", checkout.compiler, &args, checkout.root())
                    .run();
                assert!(
                    out.stderr.is_empty(),
                    "{}: {}",
                    unit.source.display(),
                    text(&out.stderr)
                );
            },
        );
        assert_identical(
            &checkout,
            &objects,
            &references,
            &format!("{person}'s checkout through BuildGrid"),
        );
        let ran = grid.jobs_run().len() - before;
        assert_eq!(
            ran,
            new_jobs,
            "{person}'s build: {ran} jobs ran on BuildGrid's workers, expected {new_jobs}\n{}",
            grid.logs()
        );
    }
}

/// BuildGrid is killed while its workers are in their first jobs (each job waits 10 s
/// there, so none can finish before the kill, however loaded the machine): no job finished
/// on it, so every unit is compiled by the other host
/// (`distfarm serve`), the jobs that were running on the engine included, and the build
/// succeeds with objects identical to local ones.
#[test]
fn buildgrid_stopped_mid_build_moves_its_jobs_to_the_other_host() {
    let mut grid = BuildGrid::start_with(Workers {
        delay: Duration::from_secs(10),
        ..Workers::new(WORKERS)
    });
    let mut server = DistfarmServer::start(&["--jobs", "2"]);
    let lua = CProject::lua();
    // The engine first: it takes the first jobs.
    let hosts = format!("{} {}/2", grid.entry(3), server.host_spec());
    let client = WrapperClient::new().distfarm_hosts(&hosts);
    let objects = std::thread::scope(|scope| {
        let building = scope.spawn(|| {
            build(&lua, &LUA_EXTRA, &client.out_dir(), CLIENTS, |_, args| {
                // A warning about the engine is expected: the build must succeed.
                client.cmd("", lua.compiler, args, lua.root()).run();
            })
        });
        wait_for(
            "both workers to be in a job",
            Duration::from_secs(60),
            || (grid.jobs_run().len() >= WORKERS).then_some(()),
            || grid.logs(),
        );
        grid.kill_engine();
        building
            .join()
            .unwrap_or_else(|e| std::panic::resume_unwind(e))
    });
    assert_identical(
        &lua,
        &objects,
        lua_references(),
        "BuildGrid, then distfarm serve",
    );
    let compiled_there = server.compile_ok_lines(lua.units().len());
    assert_eq!(
        compiled_there.len(),
        lua.units().len(),
        "every unit, those running on BuildGrid when it stopped included, compiled on the \
         other host; BuildGrid's workers started {:?}\n{}",
        grid.jobs_run(),
        server.log()
    );
}

/// BuildGrid whose only worker has another compiler (another `distfarm-compiler`) never
/// gives it the job: the job waits there until `DISTCC_IO_TIMEOUT`, then compiles on the
/// next host, and the engine is backed off.
#[test]
fn buildgrid_never_gives_a_job_to_a_worker_with_another_compiler() {
    let grid = BuildGrid::start_with(Workers {
        compiler: Some("GCC: (Debian 99.0.0-1) 99.0.0; ELF64 LSB X86_64".into()),
        ..Workers::new(1)
    });
    let mut server = DistfarmServer::start(&[]);
    let work = Work::new();
    let out = work
        .distfarm(Some(""))
        .env(
            "DISTFARM_HOSTS",
            format!("{} {}/2", grid.entry(2), server.host_spec()),
        )
        .env("DISTCC_FALLBACK", "0")
        .env("DISTCC_IO_TIMEOUT", "3")
        .args(hello_args("out/hello.o"))
        .run();
    assert_eq!(work.read("out/hello.o"), work.hello_reference());
    assert_eq!(server.compile_ok_lines(1).len(), 1, "{}", server.log());
    assert!(
        grid.jobs_run().is_empty(),
        "the worker with another compiler ran {:?}\n{}",
        grid.jobs_run(),
        grid.logs()
    );
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains(&grid.entry(2)) && stderr.contains("hello.c"),
        "one warning naming the engine and the file: {stderr}"
    );
    assert!(
        work.backoff_files()
            .contains(&format!("backoff_grpc_127.0.0.1_{}_0", grid.port())),
        "the engine that kept the job is backed off: {:?}",
        work.lock_files()
    );
}

/// A `-gsplit-dwarf` job with BuildGrid listed after a distfarm server: the server (a distcc
/// host) would keep the `.dwo`, so the job goes to BuildGrid, whose worker sends back the
/// object and the `.dwo`, both what distcc's way of compiling gives locally.
#[test]
fn a_split_dwarf_job_goes_to_buildgrid_and_brings_back_its_dwo() {
    let grid = BuildGrid::start(1);
    let mut server = DistfarmServer::start(&[]);
    let work = Work::new();
    let (object, dwo) = work.split_dwarf_reference();
    let out = work
        .distfarm(Some(""))
        .env(
            "DISTFARM_HOSTS",
            format!("{}/2 {}", server.host_spec(), grid.entry(2)),
        )
        .env("DISTCC_FALLBACK", "0")
        .args(split_dwarf_args())
        .run();
    assert!(out.stderr.is_empty(), "{}", text(&out.stderr));
    assert!(work.read("out/hello.o") == object, "the object");
    assert!(work.read("out/hello.dwo") == dwo, "the .dwo");
    assert_eq!(grid.jobs_run().len(), 1, "{}", grid.logs());
    assert!(server.compile_ok_lines(0).is_empty(), "{}", server.log());
}

/// The jobs BuildGrid's workers ran, after checking that each of `project`'s units ran once.
fn every_unit_ran_once(grid: &BuildGrid, project: &CProject) -> Vec<String> {
    let jobs = grid.jobs_run();
    assert_eq!(
        jobs.len(),
        project.units().len(),
        "every unit ran once on a BuildGrid worker:\n{jobs:#?}\n{}",
        grid.logs()
    );
    jobs
}

/// The arguments with the `-I` directories absolute (`-I.` becomes `-I/…/zstd/lib`).
fn absolute_includes(args: &[String], root: &Path) -> Vec<String> {
    args.iter()
        .map(|arg| match arg.strip_prefix("-I") {
            Some(".") => format!("-I{}", root.display()),
            Some(dir) if !dir.starts_with('/') => format!("-I{}", root.join(dir).display()),
            _ => arg.clone(),
        })
        .collect()
}
