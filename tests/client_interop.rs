//! The distfarm compiler wrapper against real servers: the real distccd 3.4 over TCP
//! (protocol 1, and protocol 2 with `,lzo`) and our own `distfarm serve`. Every object must
//! be the byte-for-byte twin of a local compile with the same arguments, and the server's
//! log must show that each job really ran there (fallback and local retry are disabled, so a
//! job that did not go remote fails the build instead of hiding).

mod support;

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use support::{CProject, ChildGuard, Cmd, RealDistccd, Unit, distfarm_bin, free_port, temp_dir};

/// Wrapper processes compiling at once (the machine has two cores).
const CLIENTS: usize = 3;
const START_TIMEOUT: Duration = Duration::from_secs(20);
/// Lua's own makefile flag. (At -O0, gcc 12 compiles 13 Lua files differently from their
/// preprocessed text than from the `.c` itself — the real distcc gives the same objects as we
/// do — so an -O0 build has no byte reference to compare with.)
const LUA_EXTRA: [&str; 1] = ["-O2"];

// ---------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------

#[test]
fn lua_through_real_distccd_matches_local_objects() {
    let mut distccd = RealDistccd::start();
    let lua = CProject::lua();
    let client = Client::new();
    let objects = client.build(&distccd.host_spec(), &lua, &LUA_EXTRA);
    assert_identical(&lua, &objects, lua_references(), "distccd, protocol 1");
    assert_every_unit_compiled_remotely(&lua, &distccd_log_lines(&mut distccd, lua.units().len()));
}

#[test]
fn lua_through_real_distccd_with_lzo_matches_local_objects() {
    let mut distccd = RealDistccd::start();
    let lua = CProject::lua();
    let client = Client::new();
    let hosts = format!("{},lzo", distccd.host_spec());
    let objects = client.build(&hosts, &lua, &LUA_EXTRA);
    assert_identical(
        &lua,
        &objects,
        lua_references(),
        "distccd, protocol 2 (lzo)",
    );
    assert_every_unit_compiled_remotely(&lua, &distccd_log_lines(&mut distccd, lua.units().len()));
}

/// The heavy project once: larger preprocessed sources through LZO, with optimisation.
#[test]
fn zstd_at_o1_through_real_distccd_with_lzo_matches_local_objects() {
    let mut distccd = RealDistccd::start();
    let zstd = CProject::zstd();
    let client = Client::new();
    let hosts = format!("{},lzo", distccd.host_spec());
    let extra = ["-O1"];
    let objects = client.build(&hosts, &zstd, &extra);
    let references = references(&zstd, &extra);
    assert_identical(
        &zstd,
        &objects,
        &references,
        "distccd, protocol 2 (lzo), -O1",
    );
    assert_every_unit_compiled_remotely(
        &zstd,
        &distccd_log_lines(&mut distccd, zstd.units().len()),
    );
}

#[test]
fn cxx_sample_through_real_distccd_matches_local_objects() {
    let mut distccd = RealDistccd::start();
    let cxx = CProject::cxx_sample();
    let client = Client::new();
    let extra = ["-O2"];
    let references = references(&cxx, &extra);
    for hosts in [distccd.host_spec(), format!("{},lzo", distccd.host_spec())] {
        let objects = client.build(&hosts, &cxx, &extra);
        assert_identical(&cxx, &objects, &references, &format!("g++ through {hosts}"));
    }
    let lines = distccd_log_lines(&mut distccd, 2 * cxx.units().len());
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
    let client = Client::new();
    let hosts = format!("{},lzo", distccd.host_spec());
    for source in units {
        let unit = lua.unit(source);
        let object = client.out_dir().join(object_name(unit));
        let args = lua.compile_args(unit, &extra, &object);
        client.cmd(&hosts, lua.compiler, &args, lua.root()).run();
        let got = read(&object);
        let want = lua.preprocessed_then_compiled(unit, &extra);
        assert!(
            got == want,
            "{source} -g: the distributed object ({} bytes) differs from `gcc -E` then `gcc -c \
             X.i` ({} bytes)",
            got.len(),
            want.len()
        );
    }
    let lines = distccd_log_lines(&mut distccd, units.len());
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
    let mut server = DistfarmServe::start();
    let lua = CProject::lua();
    let client = Client::new();
    for hosts in [server.host(), format!("{},lzo", server.host())] {
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

// ---------------------------------------------------------------------------------------
// The wrapper under test
// ---------------------------------------------------------------------------------------

/// A `DISTCC_DIR`, a `TMPDIR` and an output directory for `distfarm` runs.
struct Client {
    dir: tempfile::TempDir,
}

impl Client {
    fn new() -> Client {
        let dir = temp_dir("wrapper");
        for sub in ["distcc_dir", "tmp", "out"] {
            std::fs::create_dir(dir.path().join(sub)).expect("client dirs");
        }
        Client { dir }
    }

    fn out_dir(&self) -> PathBuf {
        self.dir.path().join("out")
    }

    /// `distfarm <compiler> <args…>` in `cwd`, remote or fail: no fallback, no local retry,
    /// and an environment given in full.
    fn cmd(&self, hosts: &str, compiler: &str, args: &[String], cwd: &Path) -> Cmd {
        Cmd::new(distfarm_bin())
            .arg(compiler)
            .args(args)
            .current_dir(cwd)
            .env_clear()
            .env("PATH", test_path())
            .env("HOME", self.dir.path())
            .env("LC_ALL", "C")
            .env("TMPDIR", self.dir.path().join("tmp"))
            .env("DISTCC_DIR", self.dir.path().join("distcc_dir"))
            .env("DISTCC_HOSTS", hosts)
            .env("DISTCC_FALLBACK", "0")
            .env("DISTCC_SKIP_LOCAL_RETRY", "1")
            .timeout(Duration::from_secs(180))
    }

    /// Compiles every unit of `project` through `hosts`, `CLIENTS` at a time; returns the
    /// objects in unit order. A wrapper that prints anything of its own fails the build: a
    /// distributed compile of clean code is as quiet as a local one.
    fn build(&self, hosts: &str, project: &CProject, extra: &[&str]) -> Vec<Vec<u8>> {
        let units = project.units();
        parallel_map(units.len(), CLIENTS, |i| {
            let unit = &units[i];
            let object = self.out_dir().join(object_name(unit));
            let _ = std::fs::remove_file(&object);
            let args = project.compile_args(unit, extra, &object);
            let out = self
                .cmd(hosts, project.compiler, &args, project.root())
                .output()
                .unwrap_or_else(|e| panic!("distfarm failed on {}: {e}", unit.source.display()));
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(
                !stderr.contains("distfarm"),
                "distfarm printed something of its own for {} via {hosts}:\n{stderr}",
                unit.source.display()
            );
            read(&object)
        })
    }
}

// ---------------------------------------------------------------------------------------
// Our own server
// ---------------------------------------------------------------------------------------

/// `distfarm serve --no-detach --listen 127.0.0.1 -p PORT --log-stderr`, log in a file. As root
/// it drops privileges, so its TMPDIR is a 01777 directory.
struct DistfarmServe {
    // Field order is drop order: the server dies before its directory is removed.
    child: ChildGuard,
    port: u16,
    log: PathBuf,
    _tmp: tempfile::TempDir,
}

impl DistfarmServe {
    #[track_caller]
    fn start() -> DistfarmServe {
        let tmp = temp_dir("serve");
        support::distccd::set_mode(tmp.path(), 0o1777);
        let log = tmp.path().join("serve.log");
        for _attempt in 0..5 {
            let port = free_port();
            let file = File::create(&log).expect("server log file");
            let mut cmd = Command::new(distfarm_bin());
            cmd.args([
                "serve",
                "--no-detach",
                "--listen",
                "127.0.0.1",
                "--log-stderr",
            ])
            .args(["-p", &port.to_string(), "--jobs", "2"])
            .env_clear()
            .env("PATH", test_path())
            .env("TMPDIR", tmp.path())
            .env("LC_ALL", "C")
            .stdout(Stdio::from(file.try_clone().expect("dup log")))
            .stderr(Stdio::from(file));
            let mut child = ChildGuard::spawn(cmd, format!("distfarm serve on 127.0.0.1:{port}"));
            let ready = format!("listening on 127.0.0.1:{port}");
            let deadline = Instant::now() + START_TIMEOUT;
            loop {
                let text = read_text(&log);
                if text.contains(&ready) {
                    return DistfarmServe {
                        child,
                        port,
                        log,
                        _tmp: tmp,
                    };
                }
                if let Some(status) = child.try_wait() {
                    if text.contains("cannot listen") {
                        break; // the port was taken meanwhile: try another
                    }
                    panic!("distfarm serve exited at start-up ({status}):\n{text}");
                }
                assert!(
                    Instant::now() < deadline,
                    "distfarm serve did not log {ready:?} within {START_TIMEOUT:?}:\n{text}"
                );
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        panic!("distfarm serve could not bind a free port in 5 attempts");
    }

    fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    fn log(&self) -> String {
        read_text(&self.log)
    }

    #[track_caller]
    fn compile_ok_lines(&mut self, expected: usize) -> Vec<String> {
        let log = self.log.clone();
        let child = &mut self.child;
        wait_for_compile_ok(expected, || {
            assert!(
                child.try_wait().is_none(),
                "distfarm serve died:\n{}",
                read_text(&log)
            );
            read_text(&log)
        })
    }
}

// ---------------------------------------------------------------------------------------
// Evidence and references
// ---------------------------------------------------------------------------------------

/// The `COMPILE_OK` summary lines of a log, once there are `expected` of them (a server logs
/// the line after it answered, so it may trail the client by a moment).
fn wait_for_compile_ok(expected: usize, mut log: impl FnMut() -> String) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let lines: Vec<String> = log()
            .lines()
            .filter(|l| l.contains(" COMPILE_OK "))
            .map(String::from)
            .collect();
        if lines.len() >= expected || Instant::now() >= deadline {
            return lines;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn distccd_log_lines(distccd: &mut RealDistccd, expected: usize) -> Vec<String> {
    assert!(distccd.is_running(), "distccd died:\n{}", distccd.log());
    wait_for_compile_ok(expected, || distccd.log())
}

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

#[track_caller]
fn assert_identical(project: &CProject, got: &[Vec<u8>], want: &[Vec<u8>], how: &str) {
    assert_eq!(got.len(), want.len());
    let differing: Vec<String> = project
        .units()
        .iter()
        .zip(got.iter().zip(want))
        .filter(|(_, (g, w))| g != w)
        .map(|(u, (g, w))| format!("{} ({} vs {} bytes)", u.source.display(), g.len(), w.len()))
        .collect();
    assert!(
        differing.is_empty(),
        "{} objects compiled through {how} differ from local `{}` objects: {differing:?}",
        project.name,
        project.compiler
    );
}

/// Local objects for every unit, computed `CLIENTS` at a time.
fn references(project: &CProject, extra: &[&str]) -> Vec<Vec<u8>> {
    parallel_map(project.units().len(), CLIENTS, |i| {
        project.local_object(&project.units()[i], extra)
    })
}

/// Local Lua objects (`LUA_EXTRA`), computed once for every test of this file.
fn lua_references() -> &'static Vec<Vec<u8>> {
    static REFS: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
    REFS.get_or_init(|| references(&CProject::lua(), &LUA_EXTRA))
}

// ---------------------------------------------------------------------------------------
// Small helpers
// ---------------------------------------------------------------------------------------

/// The test's own `PATH` (so the wrapper runs the same gcc as the references), or a default.
fn test_path() -> std::ffi::OsString {
    std::env::var_os("PATH").unwrap_or_else(|| "/usr/local/bin:/usr/bin:/bin".into())
}

fn object_name(unit: &Unit) -> String {
    format!("{}.o", unit.source.display().to_string().replace('/', "_"))
}

#[track_caller]
fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

fn read_text(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

/// `f(0..n)` on `workers` threads, results in index order.
fn parallel_map<T: Send>(n: usize, workers: usize, f: impl Fn(usize) -> T + Sync) -> Vec<T> {
    let next = AtomicUsize::new(0);
    let mut results: Vec<Option<T>> = (0..n).map(|_| None).collect();
    let done: Vec<Vec<(usize, T)>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers.max(1))
            .map(|_| {
                scope.spawn(|| {
                    let mut mine = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::SeqCst);
                        if i >= n {
                            return mine;
                        }
                        mine.push((i, f(i)));
                    }
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
            .collect()
    });
    for (i, value) in done.into_iter().flatten() {
        results[i] = Some(value);
    }
    results
        .into_iter()
        .map(|r| r.expect("every index ran"))
        .collect()
}
