//! `distfarm serve --cache DIR`: answers kept on disk and given again. A compiler wrapper
//! logs every run, so "answered from the cache" means the compiler did not run; the
//! statistics page and the summary line say hit or miss. Always the real binary, on loopback.
//!
//! Run as root the server drops to `distcc`/`nobody`: the cache directory is created by the
//! server inside a 01777 directory, and the wrapper logs into a 0777 one. The servers with a
//! wrapper run unconfined so that it may write its log (confinement has its own tests).

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::support::distcc_client::DistccClient;
use crate::support::distfarm_server::ServeBuilder;
use crate::support::files::{open_dir, readable_temp_dir, set_mode};
use crate::support::wire::assert_compiled;
use crate::support::{
    Cmd, DistfarmServer, distfarm_bin, free_port, local_object, temp_dir, wait_for, write_script,
};
use distfarm::protocol::{Response, Version};

/// A compiler that logs each run to `runs` and then runs gcc.
struct LoggingCompiler {
    _dir: tempfile::TempDir,
    path: PathBuf,
    runs: PathBuf,
}

impl LoggingCompiler {
    fn new(before_gcc: &str) -> LoggingCompiler {
        let dir = readable_temp_dir("logcc");
        let marks = open_dir(dir.path(), "marks");
        let runs = marks.join("runs");
        let path = dir.path().join("logcc");
        write_script(
            &path,
            &format!(
                "echo \"$@\" >> {runs}\n{before_gcc}\nexec /usr/bin/gcc \"$@\"",
                runs = runs.display()
            ),
        );
        LoggingCompiler {
            _dir: dir,
            path,
            runs,
        }
    }

    fn name(&self) -> &str {
        self.path.to_str().unwrap()
    }

    /// Runs that compiled a job's source (not the server's `--version` questions).
    fn compiles(&self) -> usize {
        std::fs::read_to_string(&self.runs)
            .unwrap_or_default()
            .lines()
            .filter(|l| l.contains("/input."))
            .count()
    }

    fn argv(&self) -> [&str; 6] {
        [self.name(), "-O2", "-c", "foo.c", "-o", "foo.o"]
    }
}

/// Where a server may create its cache directory, removed on drop.
struct CacheHome {
    top: tempfile::TempDir,
}

impl CacheHome {
    fn new() -> CacheHome {
        let top = temp_dir("cache-home");
        set_mode(top.path(), 0o1777);
        CacheHome { top }
    }

    fn dir(&self) -> PathBuf {
        self.top.path().join("cache")
    }

    /// The entry files, by path.
    fn entries(&self) -> Vec<PathBuf> {
        let mut found = Vec::new();
        for shard in std::fs::read_dir(self.dir()).unwrap().flatten() {
            if shard.file_name() == "tmp" {
                continue;
            }
            found.extend(
                std::fs::read_dir(shard.path())
                    .unwrap()
                    .flatten()
                    .map(|e| e.path()),
            );
        }
        found.sort();
        found
    }
}

/// A server with the cache, `compiler` allowed, and its statistics page on a port of its own.
struct CachedServer {
    server: DistfarmServer,
    stats_port: u16,
}

impl CachedServer {
    fn start(home: &CacheHome, compiler: &LoggingCompiler, extra: &[&str]) -> CachedServer {
        Self::start_with(
            DistfarmServer::builder().env("DISTFARM_CONFINE", "0"),
            home,
            &["--compiler", compiler.name()],
            extra,
        )
    }

    fn start_with(
        builder: ServeBuilder,
        home: &CacheHome,
        args: &[&str],
        extra: &[&str],
    ) -> CachedServer {
        let stats_port = free_port();
        let cache = home.dir();
        let server = builder
            .args(&[
                "--jobs",
                "4",
                "--stats",
                "--stats-port",
                &stats_port.to_string(),
            ])
            .args(&["--cache", cache.to_str().unwrap()])
            .args(args)
            .args(extra)
            .start();
        CachedServer { server, stats_port }
    }

    #[track_caller]
    fn compile(&self, argv: &[&str], source: &[u8]) -> Response {
        let (response, _) = self.server.compile(argv, source);
        assert_compiled(&response, &format!("{argv:?}"));
        response
    }

    /// `distfarm mon --server` shows its one client with these jobs, compiled and hits.
    #[track_caller]
    fn expect_client_counts(&self, jobs: u64, compiled: u64, cache_hits: u64) {
        let out = Cmd::new(distfarm_bin())
            .args(["mon", "--json", "--server"])
            .arg(format!("127.0.0.1:{}", self.stats_port))
            .run();
        let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let client = &doc["clients"][0];
        assert_eq!(
            (&client["jobs"], &client["compiled"], &client["cache_hits"]),
            (&jobs.into(), &compiled.into(), &cache_hits.into()),
            "{doc:#}"
        );
    }

    /// Waits until the statistics page says `line` (counters trail the answer a moment).
    #[track_caller]
    fn expect_stat(&self, line: &str) {
        wait_for(
            &format!("the statistics page to say {line:?}"),
            Duration::from_secs(10),
            || {
                stats_page(self.stats_port)
                    .lines()
                    .any(|l| l == line)
                    .then_some(())
            },
            || {
                format!(
                    "{}\nlog:\n{}",
                    stats_page(self.stats_port),
                    self.server.log()
                )
            },
        );
    }
}

fn stats_page(port: u16) -> String {
    use std::io::{Read, Write};
    let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return String::new();
    };
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let _ = stream.write_all(b"GET / HTTP/1.0\r\n\r\n");
    let mut page = Vec::new();
    let _ = stream.read_to_end(&mut page);
    String::from_utf8_lossy(&page).into_owned()
}

fn source(body: &str) -> Vec<u8> {
    format!("# 0 \"foo.c\"\n{body}\n").into_bytes()
}

const TRIPLE: &str = "int triple(int x) { return x * 3; }";

#[test]
fn a_second_identical_job_is_answered_from_the_cache_without_running_the_compiler() {
    let home = CacheHome::new();
    let cc = LoggingCompiler::new("");
    let mut server = CachedServer::start(&home, &cc, &[]);
    let first = server.compile(&cc.argv(), &source(TRIPLE));
    let runs = cc.compiles();
    assert!(runs > 0, "the first job ran the compiler");
    server.expect_stat("dcc_cache_stored 1");

    // Another client's names for the same job: the server never runs them.
    let renamed = [
        cc.name(),
        "-O2",
        "-c",
        "other/bar.c",
        "-o",
        "elsewhere/bar.o",
    ];
    let second = server.compile(&renamed, &source(TRIPLE));
    assert_eq!(cc.compiles(), runs, "the compiler did not run again");
    assert_eq!(
        second, first,
        "the cached answer is the first answer, whole"
    );
    server.expect_stat("dcc_cache_hits 1");
    server.expect_stat("dcc_cache_misses 1");
    let lines = server.server.compile_ok_lines(2);
    assert!(lines[0].contains(" cache:miss "), "{lines:?}");
    assert!(lines[1].contains(" cache:hit "), "{lines:?}");
    // The monitor counts the hit for its client.
    server.expect_client_counts(2, 2, 1);

    let mode = std::fs::metadata(home.dir()).unwrap();
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        mode.permissions().mode() & 0o777,
        0o700,
        "the cache is private"
    );
}

#[test]
fn a_changed_source_or_changed_options_miss() {
    let home = CacheHome::new();
    let cc = LoggingCompiler::new("");
    let server = CachedServer::start(&home, &cc, &[]);
    let first = server.compile(&cc.argv(), &source(TRIPLE));
    let runs = cc.compiles();
    let changed = server.compile(&cc.argv(), &source("int triple(int x) { return x * 4; }"));
    assert_eq!(cc.compiles(), 2 * runs, "a changed source compiles");
    assert_ne!(changed.object, first.object);
    let o0 = [cc.name(), "-O0", "-c", "foo.c", "-o", "foo.o"];
    server.compile(&o0, &source(TRIPLE));
    assert_eq!(cc.compiles(), 3 * runs, "changed options compile");
    server.expect_stat("dcc_cache_misses 3");
    server.expect_stat("dcc_cache_hits 0");
}

#[test]
fn failed_compiles_are_not_cached() {
    let home = CacheHome::new();
    let cc = LoggingCompiler::new("");
    let server = CachedServer::start(&home, &cc, &[]);
    for _ in 0..2 {
        let (failed, _) = server.server.compile(&cc.argv(), &source("int broken( {"));
        assert_eq!(failed.status, 1 << 8, "a compile error");
    }
    server.expect_stat("dcc_cache_misses 2");
    server.expect_stat("dcc_cache_stored 0");
    assert!(home.entries().is_empty(), "{:?}", home.entries());
}

/// Three entries of about 9 KB in a 25 KB cache: the least recently used one goes.
#[test]
fn the_least_recently_used_entry_is_evicted_when_the_cache_is_full() {
    let home = CacheHome::new();
    let cc = LoggingCompiler::new("");
    let server = CachedServer::start(&home, &cc, &["--cache-size", "25K"]);
    let unit = |name: &str| source(&format!("char {name}[8000] = {{ 1 }};"));
    let compiles = |name: &str| {
        let before = cc.compiles();
        server.compile(&cc.argv(), &unit(name));
        cc.compiles() > before
    };
    assert!(compiles("a"));
    assert!(compiles("b"));
    assert!(
        !compiles("a"),
        "a is cached, and now more recently used than b"
    );
    assert!(compiles("c"));
    server.expect_stat("dcc_cache_evicted 1");
    assert_eq!(home.entries().len(), 2, "{:?}", home.entries());
    assert!(!compiles("a"), "a was kept");
    assert!(!compiles("c"), "c was kept");
    assert!(compiles("b"), "b, the least recently used, was evicted");
}

#[test]
fn a_changed_compiler_misses() {
    let home = CacheHome::new();
    let cc = LoggingCompiler::new("");
    let server = CachedServer::start(&home, &cc, &[]);
    server.compile(&cc.argv(), &source(TRIPLE));
    let runs = cc.compiles();
    // A new version of the compiler: other size, other modification time.
    std::thread::sleep(Duration::from_millis(20));
    let script = std::fs::read_to_string(&cc.path).unwrap();
    write_script(
        &cc.path,
        &format!("{}\n# upgraded", script.trim_start_matches("#!/bin/sh\n")),
    );
    server.compile(&cc.argv(), &source(TRIPLE));
    assert_eq!(cc.compiles(), 2 * runs, "the changed compiler ran");
    server.compile(&cc.argv(), &source(TRIPLE));
    assert_eq!(cc.compiles(), 2 * runs, "and its answer is cached in turn");
}

#[test]
fn a_damaged_entry_is_dropped_and_the_job_compiles_correctly() {
    let home = CacheHome::new();
    let cc = LoggingCompiler::new("");
    let server = CachedServer::start(&home, &cc, &[]);
    let first = server.compile(&cc.argv(), &source(TRIPLE));
    let runs = cc.compiles();
    server.expect_stat("dcc_cache_stored 1");
    let [entry] = &home.entries()[..] else {
        panic!("one entry: {:?}", home.entries());
    };
    let whole = std::fs::read(entry).unwrap();

    // Cut short, as by a full disk or a crash.
    std::fs::write(entry, &whole[..whole.len() / 2]).unwrap();
    let again = server.compile(&cc.argv(), &source(TRIPLE));
    assert_eq!(
        cc.compiles(),
        2 * runs,
        "the truncated entry was not served"
    );
    assert_eq!(again, first);
    server.expect_stat("dcc_cache_dropped 1");
    server.expect_stat("dcc_cache_stored 2");

    // One byte of the object changed: the checksum no longer matches.
    let mut altered = std::fs::read(entry).unwrap();
    let object_at = altered
        .windows(4)
        .position(|w| w == b"\x7fELF")
        .expect("the object is in the entry");
    altered[object_at + 100] ^= 0x01;
    std::fs::write(entry, &altered).unwrap();
    let again = server.compile(&cc.argv(), &source(TRIPLE));
    assert_eq!(cc.compiles(), 3 * runs, "the altered entry was not served");
    assert_eq!(again, first);
    server.expect_stat("dcc_cache_dropped 2");
    server.expect_stat("dcc_cache_stored 3");

    // The entry stored again is whole.
    let hit = server.compile(&cc.argv(), &source(TRIPLE));
    assert_eq!(cc.compiles(), 3 * runs);
    assert_eq!(hit, first);
}

#[test]
fn identical_jobs_arriving_together_compile_once() {
    let home = CacheHome::new();
    let cc = LoggingCompiler::new("sleep 1");
    let server = CachedServer::start(&home, &cc, &[]);
    // What one job costs in compiler runs (the server may check the assembly first).
    server.compile(&cc.argv(), &source("int alone;"));
    let per_job = cc.compiles();

    let answers: Vec<Response> = std::thread::scope(|scope| {
        let jobs: Vec<_> = (0..3)
            .map(|_| scope.spawn(|| server.compile(&cc.argv(), &source(TRIPLE))))
            .collect();
        jobs.into_iter().map(|j| j.join().unwrap()).collect()
    });
    assert_eq!(
        cc.compiles(),
        2 * per_job,
        "three identical jobs compiled once"
    );
    assert!(answers.iter().all(|a| *a == answers[0]));
    server.expect_stat("dcc_cache_hits 2");
    server.expect_stat("dcc_cache_misses 2");
}

#[test]
fn the_cache_survives_a_restart() {
    let home = CacheHome::new();
    let cc = LoggingCompiler::new("");
    let first = {
        let server = CachedServer::start(&home, &cc, &[]);
        let first = server.compile(&cc.argv(), &source(TRIPLE));
        server.expect_stat("dcc_cache_stored 1");
        first
    };
    let runs = cc.compiles();
    let server = CachedServer::start(&home, &cc, &[]);
    let again = server.compile(&cc.argv(), &source(TRIPLE));
    assert_eq!(
        cc.compiles(),
        runs,
        "the restarted server answered from its cache"
    );
    assert_eq!(again, first);
    server.expect_stat("dcc_cache_hits 1");
}

/// The real distcc 3.4 client knows nothing of the cache: a second client (its own
/// `DISTCC_DIR`) gets the first one's answer, and the object is a local `gcc -c`'s.
#[test]
fn a_real_distcc_client_gets_cached_answers_identical_to_a_local_compile() {
    let home = CacheHome::new();
    let mut server = CachedServer::start_with(DistfarmServer::builder(), &home, &[], &[]);
    let work = readable_temp_dir("cached-distcc");
    std::fs::write(
        work.path().join("unit.c"),
        "#include <stdio.h>\nint shout(const char *s) { return printf(\"%s!\\n\", s); }\n",
    )
    .unwrap();
    let args: Vec<String> = ["-O2", "-c", "unit.c", "-o", "unit.o"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let mut objects = Vec::new();
    for _ in 0..2 {
        let client = DistccClient::new(server.server.host_spec());
        std::fs::remove_file(work.path().join("unit.o")).ok();
        client.cmd("gcc", &args, work.path()).run();
        objects.push(std::fs::read(work.path().join("unit.o")).unwrap());
    }
    let lines = server.server.compile_ok_lines(2);
    assert!(lines[0].contains(" cache:miss "), "{lines:?}");
    assert!(lines[1].contains(" cache:hit "), "{lines:?}");
    // The monitor counts the hit for its client.
    server.expect_client_counts(2, 2, 1);
    server.expect_stat("dcc_cache_hits 1");
    let local = local_object("gcc", ["-O2"], Path::new("unit.c"), work.path());
    assert_eq!(objects[0], local, "the first object is a local compile's");
    assert_eq!(objects[1], local, "the cached object is a local compile's");
}

fn serve_with_cache(dir: &Path) -> std::process::Output {
    Cmd::new(distfarm_bin())
        .args([
            "serve",
            "--no-detach",
            "--log-stderr",
            "--listen",
            "127.0.0.1",
        ])
        .args(["-p", &free_port().to_string()])
        .arg("--cache")
        .arg(dir)
        .timeout(Duration::from_secs(30))
        .output_unchecked()
        .unwrap()
}

#[test]
fn a_cache_directory_that_is_a_link_or_open_to_others_is_refused_by_name() {
    let top = readable_temp_dir("cache-refused");
    let real = top.path().join("real");
    std::fs::create_dir(&real).unwrap();
    set_mode(&real, 0o700);
    let link = top.path().join("link");
    std::os::unix::fs::symlink(&real, &link).unwrap();
    let out = serve_with_cache(&link);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(101), "{stderr}");
    assert!(stderr.contains(&link.display().to_string()), "{stderr}");
    assert!(stderr.contains("symbolic link"), "{stderr}");

    // Another user's (the server drops root), or open to others.
    let open = top.path().join("open");
    std::fs::create_dir(&open).unwrap();
    set_mode(&open, 0o755);
    let out = serve_with_cache(&open);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(101), "{stderr}");
    assert!(stderr.contains(&open.display().to_string()), "{stderr}");
    assert!(
        stderr.contains("belongs to uid") || stderr.contains("chmod 700"),
        "{stderr}"
    );
}

#[test]
fn cache_size_needs_cache_and_a_size() {
    for (args, named) in [
        (vec!["--cache-size", "1G"], "--cache"),
        (vec!["--cache", "/tmp/x", "--cache-size", "12X"], "12X"),
    ] {
        let out = Cmd::new(distfarm_bin())
            .args(["serve", "--no-detach", "--log-stderr"])
            .args(&args)
            .timeout(Duration::from_secs(30))
            .output_unchecked()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(101), "{args:?}: {stderr}");
        assert!(stderr.contains(named), "{args:?}: {stderr}");
    }
}

/// Compression is the wire's business: an LZO (protocol 2) client gets the answer a plain
/// (protocol 1) client's job stored.
#[test]
fn lzo_and_plain_clients_share_entries() {
    let home = CacheHome::new();
    let cc = LoggingCompiler::new("");
    let server = CachedServer::start(&home, &cc, &[]);
    let plain = server.compile(&cc.argv(), &source(TRIPLE));
    let runs = cc.compiles();
    let (lzo, _) = crate::support::wire::compile(
        server.server.port(),
        Version::V2,
        &cc.argv(),
        &source(TRIPLE),
    );
    assert_compiled(&lzo, "the LZO job");
    assert_eq!(cc.compiles(), runs, "answered from the cache");
    assert_eq!(lzo, plain);
}

/// One-job servers (`--inetd`, as sshd starts them) share the directory: the second process
/// answers from what the first stored.
#[test]
fn inetd_jobs_share_the_cache_directory() {
    use crate::support::inetd::inetd_job_with;
    use crate::support::wire::{HONEST_ARGV, parse_response, request_bytes};
    let home = CacheHome::new();
    let request = request_bytes(Version::V1, &HONEST_ARGV, &source(TRIPLE));
    let cache = home.dir();
    let extra = ["--cache", cache.to_str().unwrap()];
    let mut answers = Vec::new();
    for expected in [" cache:miss ", " cache:hit "] {
        let (answer, code, log) = inetd_job_with(home.top.path(), &request, false, &extra);
        assert_eq!(code, Some(0), "{log}");
        assert!(log.contains(expected), "{expected:?} in {log}");
        let answer = parse_response(&answer, Version::V1);
        assert_compiled(&answer, expected);
        answers.push(answer);
    }
    assert_eq!(answers[0], answers[1]);
}

// ---------------------------------------------------------------------------------------
// Pump mode (protocol 3): the server preprocesses, with its own system headers
// ---------------------------------------------------------------------------------------

mod pump {
    use super::*;
    use crate::support::wire::{argv_tokens, exchange, parse_response, stderr_text, token};

    /// `gcc -O2 -c main.c -o main.o` in `/p` with `files` (path, content) as the tree.
    fn request(files: &[(&str, &[u8])]) -> Vec<u8> {
        let mut out = token("DIST", 3);
        out.extend(token("CDIR", 2));
        out.extend(b"/p");
        out.extend(argv_tokens(&["gcc", "-O2", "-c", "main.c", "-o", "main.o"]));
        out.extend(token("NFIL", files.len() as u32));
        for (path, content) in files {
            out.extend(token("NAME", path.len() as u32));
            out.extend(path.as_bytes());
            let packed = distfarm::protocol::lzo::compress(content);
            out.extend(token("FILE", packed.len() as u32));
            out.extend(packed);
        }
        out
    }

    fn job(server: &CachedServer, files: &[(&str, &[u8])]) -> Response {
        let reply = exchange(server.server.port(), &request(files), false);
        let response = parse_response(&reply.bytes, Version::V3);
        assert_eq!(response.status, 0, "{}", stderr_text(&response));
        response
    }

    const MAIN: &[u8] = b"#include <limits.h>\n#include \"inc/a.h\"\nint biggest = INT_MAX - A;\n";

    #[test]
    fn a_pump_job_is_answered_from_the_cache_with_its_dependency_file() {
        let home = CacheHome::new();
        let mut server = CachedServer::start_with(DistfarmServer::builder(), &home, &[], &[]);
        let tree = [
            ("/p/main.c", MAIN),
            ("/p/inc/a.h", b"#define A 1\n".as_slice()),
        ];
        let first = job(&server, &tree);
        server.expect_stat("dcc_cache_stored 1");
        let second = job(&server, &tree);
        assert_eq!(second, first, "the whole answer, .d included");
        let deps = String::from_utf8_lossy(first.deps.as_deref().unwrap_or_default()).into_owned();
        assert!(deps.starts_with("main.o: main.c inc/a.h"), "{deps}");

        let changed = [
            ("/p/main.c", MAIN),
            ("/p/inc/a.h", b"#define A 2\n".as_slice()),
        ];
        let third = job(&server, &changed);
        assert_ne!(third.object, first.object, "a changed header compiles");
        let lines = server.server.compile_ok_lines(3);
        for (line, expected) in lines
            .iter()
            .zip([" cache:miss ", " cache:hit ", " cache:miss "])
        {
            assert!(
                line.contains(expected) && line.contains(" mode:pump "),
                "{lines:?}"
            );
        }
        server.expect_stat("dcc_cache_hits 1");
    }

    /// A header of the server's (not sent by the client) changes: the entry made with the
    /// old one is not served.
    #[test]
    fn a_changed_server_header_misses() {
        let header = ServerHeader::create("#define SERVER_VALUE 1\n");
        let main = format!("#include <{}>\nint value = SERVER_VALUE;\n", header.name);
        let tree = [("/p/main.c", main.as_bytes())];
        let home = CacheHome::new();
        let server = CachedServer::start_with(DistfarmServer::builder(), &home, &[], &[]);
        let first = job(&server, &tree);
        server.expect_stat("dcc_cache_stored 1");
        assert_eq!(job(&server, &tree), first);
        server.expect_stat("dcc_cache_hits 1");

        std::thread::sleep(Duration::from_millis(20));
        header.write("#define SERVER_VALUE 2\n");
        let after = job(&server, &tree);
        assert_ne!(after.object, first.object, "compiled with the new header");
        server.expect_stat("dcc_cache_misses 2");
        server.expect_stat("dcc_cache_stored 2");
        assert_eq!(
            job(&server, &tree),
            after,
            "and that answer is cached in turn"
        );
    }

    #[test]
    fn a_tree_that_reads_the_clock_is_compiled_every_time() {
        let home = CacheHome::new();
        let server = CachedServer::start_with(DistfarmServer::builder(), &home, &[], &[]);
        let tree = [("/p/main.c", b"const char *built = __TIME__;\n".as_slice())];
        job(&server, &tree);
        job(&server, &tree);
        server.expect_stat("dcc_cache_hits 0");
        server.expect_stat("dcc_cache_stored 0");
    }

    /// The real distcc 3.4 pump client, twice from a fresh client (its own include server and
    /// `DISTCC_DIR`): the second compile is answered from the cache, in pump mode, and both
    /// objects and dependency files are a local compile's.
    #[test]
    fn a_real_pump_client_gets_cached_answers_identical_to_a_local_compile() {
        use crate::support::real_pump::RealPump;
        let home = CacheHome::new();
        let mut server = CachedServer::start_with(DistfarmServer::builder(), &home, &[], &[]);
        let hosts = format!("{},cpp,lzo", server.server.host_spec());
        let work = readable_temp_dir("cached-pump");
        std::fs::create_dir(work.path().join("inc")).unwrap();
        std::fs::write(
            work.path().join("inc/twice.h"),
            "#define TWICE(x) ((x) * 2)\n",
        )
        .unwrap();
        std::fs::write(
            work.path().join("unit.c"),
            "#include <stdio.h>\n#include \"inc/twice.h\"\n\
             int shout(int n) { return printf(\"%d\\n\", TWICE(n)); }\n",
        )
        .unwrap();
        let args: Vec<String> = ["-O2", "-MD", "-c", "unit.c", "-o", "unit.o"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let mut outputs = Vec::new();
        for _ in 0..2 {
            let pump = RealPump::start(&hosts);
            let client = DistccClient::new(hosts.clone()).with_env(pump.env());
            for old in ["unit.o", "unit.d"] {
                std::fs::remove_file(work.path().join(old)).ok();
            }
            client.cmd("gcc", &args, work.path()).run();
            outputs.push((
                std::fs::read(work.path().join("unit.o")).unwrap(),
                std::fs::read_to_string(work.path().join("unit.d")).unwrap(),
            ));
        }
        let lines = server.server.compile_ok_lines(2);
        for (line, expected) in lines.iter().zip([" cache:miss ", " cache:hit "]) {
            assert!(
                line.contains(expected) && line.contains(" mode:pump "),
                "{lines:?}\n{}",
                server.server.log()
            );
        }
        let local = local_object("gcc", ["-O2"], Path::new("unit.c"), work.path());
        assert_eq!(outputs[0].0, local, "the first object is a local compile's");
        assert_eq!(
            outputs[1], outputs[0],
            "the cached object and .d are the first ones"
        );
        assert!(
            outputs[1].1.starts_with("unit.o: unit.c"),
            "{}",
            outputs[1].1
        );
    }

    /// A header in /usr/local/include (a default include directory that confined compilers
    /// may read), removed on drop.
    struct ServerHeader {
        name: String,
        path: PathBuf,
    }

    impl ServerHeader {
        fn create(content: &str) -> ServerHeader {
            let name = format!(
                "distfarm-cache-test-{}-{}.h",
                std::process::id(),
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap()
                    .as_nanos()
            );
            let path = Path::new("/usr/local/include").join(&name);
            let header = ServerHeader { name, path };
            header.write(content);
            header
        }

        fn write(&self, content: &str) {
            std::fs::write(&self.path, content).unwrap_or_else(|e| {
                panic!(
                    "this test writes a server system header, {}: {e} (run the tests as root)",
                    self.path.display()
                )
            });
            set_mode(&self.path, 0o644);
        }
    }

    impl Drop for ServerHeader {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}
