//! Hostile requests against the real `distfarm serve` binary (TCP daemon and `--inetd` on
//! pipes). Every refused request must come back as a failed job whose stderr names what was
//! refused (protocol garbage: the connection is closed), and a canary proves that nothing ran
//! and nothing was written: each case points its attack at a world-writable canary directory
//! that must stay empty. Where it is cheap, the same command is also run with a local gcc to
//! show that the attack is real (its control directory is not empty afterwards).
//!
//! Run as root, the server drops to `distcc`/`nobody`; canary directories are 0777 and the
//! scripts 0755 so that a successful attack *could* leave its mark.

use std::fs::File;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::distfarm_server::assert_no_job_directories;
use crate::support::files::{open_dir, readable_temp_dir};
use crate::support::wire::{
    ANSWER_TIMEOUT, HONEST_ARGV, argv_tokens, assert_compiled, compile, exchange, parse_response,
    request_bytes, stderr_text, token, try_parse_response,
};
use crate::support::{
    Cmd, DistfarmServer, distfarm_bin, read_text, set_mode, temp_dir, test_path, write_script,
};
use distfarm::protocol::{Response, Version};

/// `W_EXITCODE(113, 0)`: distcc's EXIT_ACCESS_DENIED, what a refusal carries in STAT.
const REFUSED_STATUS: u32 = 113 << 8;

const HELLO: &[u8] = b"# 0 \"foo.c\"\nint printf(const char *, ...);\n\
    int main(void) { for (int i = 0; i < 3; i++) printf(\"%d\\n\", i); return 0; }\n";

// =======================================================================================
// The server under test
// =======================================================================================

/// What every test ends with: the server is alive, an honest job still compiles, and no
/// `distfarm_*` job directory was left behind in its TMPDIR.
#[track_caller]
fn assert_still_serves_and_left_nothing(server: &mut DistfarmServer) {
    assert!(server.is_running(), "the server died:\n{}", server.log());
    for version in [Version::V1, Version::V2] {
        let (response, _) = compile(server.port(), version, &HONEST_ARGV, HELLO);
        assert_compiled(&response, "an honest job after the hostile ones");
    }
    assert_no_job_directories(server.tmpdir());
}

/// A server whose compilers run unconfined, so that what these tests see is the refusal
/// rules alone: a canary a hostile program writes is not stopped by Landlock first. The
/// confinement has its own test below.
fn unconfined(args: &[&str]) -> DistfarmServer {
    DistfarmServer::builder()
        .args(args)
        .env("DISTFARM_CONFINE", "0")
        .start()
}

fn strings(words: &[&str]) -> Vec<String> {
    words.iter().map(|w| w.to_string()).collect()
}

/// Whether /etc/passwd (its first line, or the assembler quoting its lines) is in the answer.
fn leaks_passwd(response: &Response) -> bool {
    let needles: [&[u8]; 2] = [b"root:x:0:0", b"/etc/passwd:"];
    [&response.object, &response.stderr, &response.stdout]
        .iter()
        .any(|body| {
            needles
                .iter()
                .any(|n| body.windows(n.len()).any(|w| w == *n))
        })
}

/// A failed job whose stderr says what was refused, no object, and a log line that names the
/// client's address.
#[track_caller]
fn assert_refused(
    server: &DistfarmServer,
    response: &Response,
    addr: SocketAddr,
    needle: &str,
    case: &str,
) {
    if let Err(e) = check_refused(server, response, addr, needle, case) {
        panic!("{e}");
    }
}

fn check_refused(
    server: &DistfarmServer,
    response: &Response,
    addr: SocketAddr,
    needle: &str,
    case: &str,
) -> Result<(), String> {
    let stderr = stderr_text(response);
    if response.status != REFUSED_STATUS {
        return Err(format!(
            "{case}: expected a refusal (STAT {REFUSED_STATUS:#x}, exit 113), got STAT {:#x}; \
             stderr: {stderr}",
            response.status
        ));
    }
    if !(stderr.starts_with("distfarm server refused") && stderr.contains(needle)) {
        return Err(format!(
            "{case}: the refusal should name {needle:?}: {stderr}"
        ));
    }
    if !response.object.is_empty() {
        return Err(format!("{case}: a refusal carries no object"));
    }
    let logged = format!("client: {addr} distfarm server refused");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !server.log().contains(&logged) {
        if Instant::now() >= deadline {
            return Err(format!("{case}: the log never said {logged:?}"));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(())
}

// =======================================================================================
// Canaries
// =======================================================================================

/// A 0755 directory for attack material, with one 0777 canary directory per case.
struct Traps {
    dir: tempfile::TempDir,
}

impl Traps {
    fn new() -> Traps {
        Traps {
            dir: readable_temp_dir("hostile-traps"),
        }
    }

    /// An empty 0777 directory; a successful attack writes into it.
    fn canary(&self, name: &str) -> PathBuf {
        open_dir(self.dir.path(), &format!("canary-{name}"))
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}

/// A directory (beside `canary`) of fake `as`, `cc1`, `cc1plus` and `collect2` that each touch
/// `canary/NAME`; returned with a trailing slash, as `-B` wants it.
fn fake_toolchain(canary: &Path) -> String {
    let dir = canary.with_extension("bin");
    std::fs::create_dir_all(&dir).unwrap();
    set_mode(&dir, 0o755);
    for tool in ["as", "cc1", "cc1plus", "collect2"] {
        write_script(
            &dir.join(tool),
            &format!("touch {}/{tool}\nexit 1", canary.display()),
        );
    }
    format!("{}/", dir.display())
}

#[track_caller]
fn canary_files(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect()
}

/// A shared object (beside `canary`) whose constructor creates `canary/plugin`. Any shared
/// object will do as a "plugin": gcc dlopen()s it, and constructors run before gcc checks
/// that it is a plugin at all.
fn build_plugin(canary: &Path) -> String {
    let source = canary.with_extension("plugin.c");
    let so = canary.with_extension("so");
    std::fs::write(
        &source,
        format!(
            "#include <fcntl.h>\n#include <unistd.h>\n\
             __attribute__((constructor)) static void mark(void) {{\n\
             close(open(\"{}/plugin\", O_CREAT | O_WRONLY, 0644)); }}\n",
            canary.display()
        ),
    )
    .unwrap();
    Cmd::new("gcc")
        .args(["-shared", "-fPIC", "-o"])
        .arg(&so)
        .arg(&source)
        .run();
    set_mode(&so, 0o755);
    so.display().to_string()
}

/// Builds an attack's command line for a given canary directory.
type ArgvFor = Box<dyn Fn(&Path) -> Vec<String>>;

/// One hostile request: `argv` is built for a given canary directory, so that the same
/// attack can be aimed at the server's canary and at the local control's.
struct Case {
    name: &'static str,
    argv: ArgvFor,
    source: Vec<u8>,
    /// What the refusal must name.
    refused: String,
    /// Run the same command locally (as root, with gcc) and expect the control canary to be
    /// written: proof that the request is a real attack.
    control: bool,
}

impl Case {
    fn new(
        name: &'static str,
        refused: &str,
        control: bool,
        argv: impl Fn(&Path) -> Vec<String> + 'static,
    ) -> Case {
        Case {
            name,
            argv: Box::new(argv),
            source: HELLO.to_vec(),
            refused: refused.to_string(),
            control,
        }
    }

    fn with_source(mut self, source: &[u8]) -> Case {
        self.source = source.to_vec();
        self
    }
}

/// `gcc <words…> -c foo.c -o foo.o` with `{}` in each word replaced by the canary directory.
fn gcc_with(words: &[&str], canary: &Path) -> Vec<String> {
    let mut argv = vec!["gcc".to_string()];
    argv.extend(
        words
            .iter()
            .map(|w| w.replace("{}", &canary.display().to_string())),
    );
    argv.extend(strings(&["-c", "foo.c", "-o", "foo.o"]));
    argv
}

/// Sends every case to the server over TCP and checks it was refused with nothing written,
/// then runs the controls. Failures are gathered so that one report shows all of them.
fn run_cases(server: &DistfarmServer, traps: &Traps, cases: &[Case]) -> Vec<String> {
    let mut failures = Vec::new();
    for case in cases {
        let canary = traps.canary(case.name);
        let argv = (case.argv)(&canary);
        let bytes = request_bytes(Version::V1, &argv, &case.source);
        let reply = exchange(server.port(), &bytes, false);
        let result = try_parse_response(&reply.bytes, Version::V1).and_then(|response| {
            if leaks_passwd(&response) {
                return Err(format!(
                    "/etc/passwd in the answer: {}",
                    stderr_text(&response)
                ));
            }
            check_refused(server, &response, reply.addr, &case.refused, case.name)
        });
        if let Err(e) = result {
            failures.push(format!("{} {argv:?}: {e}", case.name));
        }
        let written = canary_files(&canary);
        if !written.is_empty() {
            failures.push(format!(
                "{} {argv:?}: the attack ran on the server, canary written: {written:?}",
                case.name
            ));
        }
        if case.control {
            let control = traps.canary(&format!("{}-control", case.name));
            run_locally(&(case.argv)(&control), &case.source);
            let written = canary_files(&control);
            assert!(
                !written.is_empty(),
                "{}: the control (the same command run locally) wrote nothing into {}: the \
                 case does not test what it claims",
                case.name,
                control.display()
            );
        }
    }
    failures
}

/// The command a request asks for, run here in a scratch directory with the source as `.i`
/// (what the server compiles). Its exit status does not matter, only what it wrote.
fn run_locally(argv: &[String], source: &[u8]) {
    let scratch = tempfile::tempdir().unwrap();
    std::fs::write(scratch.path().join("foo.i"), source).unwrap();
    let args: Vec<String> = argv[1..]
        .iter()
        .map(|a| {
            if a == "foo.c" {
                "foo.i".to_string()
            } else {
                a.clone()
            }
        })
        .collect();
    let _ = Cmd::new(&argv[0])
        .args(&args)
        .current_dir(scratch.path())
        .timeout(Duration::from_secs(60))
        .output_unchecked();
}

#[track_caller]
fn assert_no_failures(failures: Vec<String>, what: &str) {
    assert!(
        failures.is_empty(),
        "{what}: {} case(s) failed:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

// =======================================================================================
// Refused compilers and options
// =======================================================================================

#[test]
fn shells_interpreters_and_unlisted_compilers_are_refused_and_nothing_runs() {
    let mut server = unconfined(&["--jobs", "2"]);
    let traps = Traps::new();
    let fake_gcc = traps.path("fake-gcc");
    let fake_canary = traps.canary("fake-gcc-target");
    write_script(
        &fake_gcc,
        &format!(
            "touch {}/fake-gcc\nexec /usr/bin/gcc \"$@\"",
            fake_canary.display()
        ),
    );
    let touch = |c: &Path| format!("touch {}/canary", c.display());
    let fake = fake_gcc.display().to_string();
    let cases = vec![
        Case::new("sh", "compiler \"sh\"", true, move |c| {
            strings(&["sh", "-c", &touch(c), "-c", "foo.c"])
        }),
        Case::new("bin-sh", "compiler \"/bin/sh\"", true, move |c| {
            strings(&["/bin/sh", "-c", &touch(c), "-c", "foo.c"])
        }),
        Case::new("env", "compiler \"env\"", true, move |c| {
            strings(&["env", "sh", "-c", &touch(c), "-c", "foo.c"])
        }),
        Case::new("python3", "compiler \"python3\"", true, |c| {
            let code = format!("open('{}/canary', 'w')", c.display());
            strings(&["python3", "-c", &code, "-c", "foo.c"])
        }),
        Case::new("as", "compiler \"as\"", false, |c| {
            let listing = format!("-a={}/listing", c.display());
            strings(&["as", &listing, "-c", "foo.c", "-o", "foo.o"])
        }),
        Case::new("semicolon", "compiler \"gcc;touch", false, move |c| {
            let name = format!("gcc;{}", touch(c));
            strings(&[&name, "-c", "foo.c", "-o", "foo.o"])
        }),
        Case::new("absolute-script", "compiler \"/", false, move |_| {
            strings(&[&fake, "-c", "foo.c", "-o", "foo.o"])
        }),
    ];
    let failures = run_cases(&server, &traps, &cases);
    assert!(
        canary_files(&fake_canary).is_empty(),
        "the absolute fake gcc ran on the server"
    );
    assert_no_failures(failures, "compiler names");
    assert_still_serves_and_left_nothing(&mut server);
}

#[test]
fn options_that_run_other_programs_or_load_code_are_refused_and_nothing_runs() {
    let mut server = unconfined(&["--jobs", "2"]);
    let traps = Traps::new();
    let spec = |c: &Path| -> String {
        // Replaces the assembler step with a command of the spec's choosing.
        let path = c.with_extension("spec");
        std::fs::write(
            &path,
            format!(
                "*invoke_as:\n%{{!S:-o %|.s |\n/usr/bin/touch {}/specs }}\n\n",
                c.display()
            ),
        )
        .unwrap();
        set_mode(&path, 0o644);
        path.display().to_string()
    };
    let response_file = |c: &Path| -> String {
        let path = c.with_extension("rsp");
        std::fs::write(
            &path,
            format!(
                "-wrapper /bin/sh,-c,touch\\ {}/response-file\n",
                c.display()
            ),
        )
        .unwrap();
        set_mode(&path, 0o644);
        format!("@{}", path.display())
    };
    let cases = vec![
        Case::new("wrapper", "-wrapper", true, |c| {
            gcc_with(&["-wrapper", "/bin/sh,-c,touch {}/wrapper"], c)
        }),
        Case::new("B-separate", "-B", true, |c| {
            gcc_with(&["-B", &fake_toolchain(c)], c)
        }),
        Case::new("B-joined", "-B", true, |c| {
            gcc_with(&[&format!("-B{}", fake_toolchain(c))], c)
        }),
        Case::new("fplugin", "-fplugin", true, move |c| {
            let so = build_plugin(c);
            gcc_with(&[&format!("-fplugin={so}")], c)
        }),
        Case::new("fplugin-arg", "-fplugin-arg", false, |c| {
            gcc_with(&["-fplugin-arg-x-y={}/z"], c)
        }),
        Case::new("specs", "-specs", true, move |c| {
            let s = spec(c);
            gcc_with(&[&format!("-specs={s}")], c)
        }),
        Case::new("double-dash-specs", "--specs", true, move |c| {
            let s = spec(c);
            gcc_with(&[&format!("--specs={s}")], c)
        }),
        Case::new("response-file", "response files", true, move |c| {
            let r = response_file(c);
            gcc_with(&[&r], c)
        }),
        Case::new("iplugindir", "-iplugindir", false, |c| {
            gcc_with(&["-iplugindir={}"], c)
        }),
        Case::new("xclang-load", "-Xclang", false, |c| {
            gcc_with(&["-Xclang", "-load", "-Xclang", "{}/x.so"], c)
        }),
        // The options of gcc's second, comparing compile are not options we checked.
        Case::new("fcompare-debug", "-fcompare-debug", true, move |c| {
            let so = build_plugin(c);
            gcc_with(&[&format!("-fcompare-debug=-fplugin={so}")], c)
        }),
        // clang dlopen()s a pass plugin, constructors first: code execution on the server.
        Case::new("fpass-plugin", "-fpass-plugin", true, move |c| {
            let so = build_plugin(c);
            let mut argv = gcc_with(&[&format!("-fpass-plugin={so}")], c);
            argv[0] = "clang".to_string();
            argv
        }),
    ];
    let failures = run_cases(&server, &traps, &cases);
    assert_no_failures(failures, "options that run programs");
    assert_still_serves_and_left_nothing(&mut server);
}

#[test]
fn options_that_write_outside_the_job_directory_are_refused_and_nothing_is_written() {
    let mut server = unconfined(&["--jobs", "2"]);
    let traps = Traps::new();
    let cases = vec![
        Case::new("aux-info", "-aux-info", true, |c| {
            gcc_with(&["-aux-info", "{}/aux"], c)
        }),
        Case::new("dumpdir", "-dumpdir", true, |c| {
            gcc_with(&["-dumpdir", "{}/", "-fdump-tree-original"], c)
        }),
        Case::new("dumpbase", "-dumpbase", true, |c| {
            gcc_with(&["-dumpbase", "{}/base", "-fdump-tree-original"], c)
        }),
        Case::new("fdump-tree-all-file", "-fdump-tree-all=", true, |c| {
            gcc_with(&["-fdump-tree-all={}/dump"], c)
        }),
        Case::new("fopt-info-file", "-fopt-info=", false, |c| {
            gcc_with(&["-O2", "-fopt-info={}/opt"], c)
        }),
        Case::new("fopt-info-all-file", "-fopt-info-all=", true, |c| {
            gcc_with(&["-O2", "-fopt-info-all={}/opt"], c)
        }),
        Case::new("wa-listing", "-adhln", true, |c| {
            gcc_with(&["-Wa,-adhln={}/listing"], c)
        }),
        Case::new("wa-md", "--MD", true, |c| {
            gcc_with(&["-Wa,--MD,{}/deps"], c)
        }),
        Case::new("wa-output", "-o", false, |c| {
            gcc_with(&["-Wa,-o,{}/as.o"], c)
        }),
        Case::new("xassembler-listing", "-a=", true, |c| {
            gcc_with(&["-Xassembler", "-a={}/listing"], c)
        }),
        Case::new("save-temps-obj", "-save-temps=obj", true, |c| {
            let out = format!("{}/out.o", c.display());
            strings(&["gcc", "-save-temps=obj", "-c", "foo.c", "-o", &out])
        }),
        Case::new("md-mf", "-MD", false, |c| {
            gcc_with(&["-MD", "-MF", "{}/deps"], c)
        }),
        Case::new("mf", "-MF", false, |c| gcc_with(&["-MF", "{}/deps"], c)),
        Case::new("wp-md", "-Wp,", false, |c| {
            gcc_with(&["-Wp,-MD,{}/deps"], c)
        }),
        Case::new("fprofile-generate", "-fprofile", false, |c| {
            gcc_with(&["-fprofile-generate={}"], c)
        }),
        Case::new("include-server-file", "-include", false, |c| {
            gcc_with(&["-include", "/etc/passwd"], c)
        }),
        Case::new("preprocess", "-E", false, |c| {
            let out = format!("{}/out.i", c.display());
            strings(&["gcc", "-E", "-c", "foo.c", "-o", &out])
        }),
        Case::new("source-language", "language", false, |c| {
            gcc_with(&["-x", "assembler-with-cpp"], c)
        }),
    ];
    let failures = run_cases(&server, &traps, &cases);
    assert_no_failures(failures, "options that write files");
    assert_still_serves_and_left_nothing(&mut server);
}

/// `-o` is accepted but never obeyed: the object is made inside the job directory and sent
/// back, whatever path the client named.
#[test]
fn output_path_is_rewritten_into_the_job_directory() {
    let mut server = unconfined(&["--jobs", "2"]);
    let traps = Traps::new();
    let canary = traps.canary("output");
    for argv in [
        strings(&[
            "gcc",
            "-c",
            "foo.c",
            "-o",
            &format!("{}/outside.o", canary.display()),
        ]),
        strings(&[
            "gcc",
            "-c",
            "foo.c",
            &format!("-o{}/joined.o", canary.display()),
        ]),
        strings(&[
            "gcc",
            "-S",
            "foo.c",
            "-o",
            &format!("{}/outside.s", canary.display()),
        ]),
    ] {
        let (response, _) = compile(server.port(), Version::V1, &argv, HELLO);
        assert_eq!(response.status, 0, "{argv:?}: {}", stderr_text(&response));
        assert!(
            !response.object.is_empty(),
            "{argv:?}: the output comes back"
        );
        assert!(
            canary_files(&canary).is_empty(),
            "{argv:?} wrote outside the job directory: {:?}",
            canary_files(&canary)
        );
    }
    let two_outputs = strings(&["gcc", "-c", "foo.c", "-o", "a.o", "-o", "/tmp/b.o"]);
    let (response, addr) = compile(server.port(), Version::V1, &two_outputs, HELLO);
    assert_refused(&server, &response, addr, "a second -o", "two -o");
    assert_still_serves_and_left_nothing(&mut server);
}

/// gcc's driver also takes long spellings of its options: `--prefix=DIR` / `--prefix DIR` is
/// `-B`, `--output=F` is `-o`, `--for-assembler=X` is `-Wa,X`, `--dumpdir D` / `--dumpbase B`
/// are `-dumpdir` / `-dumpbase`, `--language=L` is `-x L`, and any `--NAME` is `-fNAME`
/// (`--plugin=SO`, `--dump-tree-all=F`). Each must be refused (or rewritten) like the short
/// form.
///
/// SERVER BUG (src/server/arg_rules.rs, `prepare`/`check_refused`/`language_option`): only the
/// short spellings are checked, so every case below gets through today — `--prefix` and
/// `--plugin=` run code of the client's choosing as the server's user (remote code
/// execution), `--output=`, `--for-assembler=-adhln=` and `--dump-tree-all=` write files
/// anywhere that user may write, `--dumpdir`/`--dumpbase` put dump files outside the job
/// directory, and `--language=c` makes gcc preprocess the input on the server, so
/// `#include "/etc/passwd"` comes back in SERR. (Normalising `--x` spellings to gcc's short
/// forms before the checks, or refusing every `--` option but a short allow-list, would close
/// the class.)
#[test]
fn long_option_spellings_of_refused_options_are_refused_too() {
    let mut server = unconfined(&["--jobs", "2"]);
    let traps = Traps::new();
    let include_passwd = b"#include \"/etc/passwd\"\nint x;\n";
    let cases = vec![
        Case::new("prefix-joined", "--prefix", true, |c| {
            gcc_with(&[&format!("--prefix={}", fake_toolchain(c))], c)
        }),
        Case::new("prefix-separate", "--prefix", true, |c| {
            gcc_with(&["--prefix", &fake_toolchain(c)], c)
        }),
        Case::new("output-long", "--output", true, |c| {
            let mut argv = gcc_with(&[], c);
            argv.push(format!("--output={}/outside.o", c.display()));
            argv
        }),
        Case::new("for-assembler", "--for-assembler", true, |c| {
            gcc_with(&["--for-assembler=-adhln={}/listing"], c)
        }),
        Case::new("dumpdir-long", "--dumpdir", true, |c| {
            gcc_with(&["--dumpdir", "{}/", "-fdump-tree-original"], c)
        }),
        Case::new("dumpbase-long", "--dumpbase", true, |c| {
            gcc_with(&["--dumpbase", "{}/base", "-fdump-tree-original"], c)
        }),
        // gcc still maps `--NAME` to `-fNAME`: `--plugin=` is `-fplugin=`.
        Case::new("plugin-long", "--plugin", true, |c| {
            gcc_with(&[&format!("--plugin={}", build_plugin(c))], c)
        }),
        Case::new("dump-long", "--dump-tree-all", true, |c| {
            gcc_with(&["--dump-tree-all={}/dump"], c)
        }),
        Case::new("language-c", "--language", false, |c| {
            gcc_with(&["--language=c"], c)
        })
        .with_source(include_passwd),
        Case::new("language-c-separate", "--language", false, |c| {
            gcc_with(&["--language", "c"], c)
        })
        .with_source(include_passwd),
    ];
    let failures = run_cases(&server, &traps, &cases);
    assert_no_failures(
        failures,
        "SERVER BUG: long option spellings bypass the argument rules",
    );
    assert_still_serves_and_left_nothing(&mut server);
}

// =======================================================================================
// Sources that reach for server files
// =======================================================================================

#[test]
fn incbin_of_a_server_file_is_refused() {
    let mut server = unconfined(&["--jobs", "2"]);
    let source = b"asm(\".incbin \\\"/etc/passwd\\\"\");\nint x;\n";
    let (response, addr) = compile(server.port(), Version::V1, &HONEST_ARGV, source);
    assert_refused(&server, &response, addr, ".incbin", ".incbin");
    let (response, addr) = compile(server.port(), Version::V2, &HONEST_ARGV, source);
    assert_refused(&server, &response, addr, ".incbin", ".incbin over lzo");
    assert_still_serves_and_left_nothing(&mut server);
}

/// The assembler reads `.incbin` and `.include` files whatever the spelling in the C source.
///
/// SERVER BUG (src/server/arg_rules.rs, `check_source`): the check is a byte search for
/// `.incbin` in the preprocessed text, so adjacent string literals (`".inc" "bin"`), an
/// escape (`"\x2eincbin"`), upper case (`.INCBIN`, gas directives are case-insensitive) and
/// `.include` (which assembles the file and quotes its lines in the error messages) all put
/// /etc/passwd into the answer (object or SERR).
#[test]
fn assembler_directives_cannot_smuggle_server_files_into_the_answer() {
    let mut server = unconfined(&["--jobs", "2"]);
    let sources: [(&str, &[u8]); 9] = [
        (
            "adjacent literals",
            b"asm(\".inc\" \"bin \\\"/etc/passwd\\\"\");\nint x;\n",
        ),
        (
            "escaped dot",
            b"asm(\"\\x2eincbin \\\"/etc/passwd\\\"\");\nint x;\n",
        ),
        (
            "upper case",
            b"asm(\".INCBIN \\\"/etc/passwd\\\"\");\nint x;\n",
        ),
        (
            ".include",
            b"asm(\".include \\\"/etc/passwd\\\"\");\nint x;\n",
        ),
        (
            "behind a label",
            b"asm(\"l: .incbin \\\"/etc/passwd\\\"\");\nint x;\n",
        ),
        (
            "split by a comment",
            b"asm(\".inc/**/bin \\\"/etc/passwd\\\"\");\nint x;\n",
        ),
        (
            "after a character constant",
            b"asm(\".byte '\\\"\\n.ascii \\\"/*\\\"\\n.inc/**/bin \\\"/etc/passwd\\\"\\n\");\nint x;\n",
        ),
        (
            "after a quote in a comment",
            b"asm(\"nop # \\\"\\n.ascii \\\"/*\\\"\\n.inc/**/bin \\\"/etc/passwd\\\"\\n\");\nint x;\n",
        ),
        (
            "built by a gas macro",
            b"asm(\".macro m x\\n.\\\\x \\\"/etc/passwd\\\"\\n.endm\\nm incbin\");\nint x;\n",
        ),
    ];
    // Plain requests run gcc's passes in the server, which checks the assembly between
    // them; `-v` leaves the passes to the driver, whose assembler goes through the guard.
    let plain: Vec<String> = HONEST_ARGV.iter().map(|a| a.to_string()).collect();
    let verbose: Vec<String> = plain.iter().cloned().chain(["-v".to_string()]).collect();
    let mut failures = Vec::new();
    for (what, source) in sources {
        for argv in [&plain, &verbose] {
            let (response, _) = compile(server.port(), Version::V1, argv, source);
            let leaked = leaks_passwd(&response);
            if leaked || response.status != REFUSED_STATUS {
                failures.push(format!(
                "{what} ({argv:?}): status {:#x}, /etc/passwd in the answer: {leaked}; stderr: {}",
                response.status,
                stderr_text(&response).chars().take(300).collect::<String>()
            ));
            }
        }
    }
    assert_no_failures(
        failures,
        "SERVER BUG: the .incbin check is a byte search that the C source can dodge",
    );
    assert_still_serves_and_left_nothing(&mut server);
}

/// With its compilers confined (the default), whatever a compiler or its assembler is made
/// to do, it cannot read a server file into the answer nor write outside its job: here a
/// compiler allowed by name (`--compiler`) tries both. Unconfined it would succeed, which
/// is what the second server shows (so the test can fail). This is the layer that holds
/// against assembler spellings no text check foresees.
#[test]
fn confined_compilers_cannot_read_server_files_or_write_outside_the_job() {
    let abi = distfarm::server::sandbox::abi_version();
    let traps = Traps::new();
    let canary = traps.canary("confined");
    let dir = readable_temp_dir("leakcc");
    let leakcc = dir.path().join("leakcc");
    write_script(
        &leakcc,
        &format!(
            "out=; prev=\nfor a in \"$@\"; do [ \"$prev\" = -o ] && out=$a; prev=$a; done\n\
             touch {}/written\ncat /etc/passwd > \"$out\"\nexit 0",
            canary.display()
        ),
    );
    let leakcc = leakcc.display().to_string();
    let argv = [leakcc.as_str(), "-c", "foo.c", "-o", "foo.o"];
    // The first line of /etc/passwd anywhere in the answer (the compiler's own error,
    // "cat: /etc/passwd: Permission denied", names the file but leaks nothing).
    let has_root_line = |r: &Response| {
        [&r.object, &r.stderr, &r.stdout]
            .iter()
            .any(|b| b.windows(10).any(|w| w == b"root:x:0:0"))
    };
    let confined = DistfarmServer::start(&["--compiler", &leakcc]);
    let (response, _) = compile(confined.port(), Version::V1, &argv, HELLO);
    assert!(
        !has_root_line(&response),
        "a confined compiler read /etc/passwd (Landlock ABI of this kernel: {abi}; without it \
         compilers run unconfined)"
    );
    assert!(
        canary_files(&canary).is_empty(),
        "a confined compiler wrote outside its job: {:?}",
        canary_files(&canary)
    );
    let open = unconfined(&["--compiler", &leakcc]);
    let (response, _) = compile(open.port(), Version::V1, &argv, HELLO);
    assert!(
        has_root_line(&response) && !canary_files(&canary).is_empty(),
        "the same compiler unconfined should have read and written (else this test shows nothing)"
    );
}

// =======================================================================================
// Protocol garbage
// =======================================================================================

#[test]
fn protocol_garbage_closes_the_connection_without_an_answer() {
    let mut server = unconfined(&["--jobs", "2"]);
    let mut pseudo_random = 0x2545_f491_u32;
    let garbage: Vec<u8> = (0..4096)
        .map(|_| {
            pseudo_random ^= pseudo_random << 13;
            pseudo_random ^= pseudo_random >> 17;
            pseudo_random ^= pseudo_random << 5;
            pseudo_random as u8
        })
        .collect();
    let dist1 = token("DIST", 1);
    let with_header = |rest: &[u8]| -> Vec<u8> {
        let mut v = dist1.clone();
        v.extend(argv_tokens(&["gcc", "-c", "foo.c", "-o", "foo.o"]));
        v.extend_from_slice(rest);
        v
    };
    let mut lying_argv = dist1.clone();
    lying_argv.extend(token("ARGC", 2));
    lying_argv.extend(token("ARGV", 3));
    lying_argv.extend_from_slice(b"gcc");
    lying_argv.extend(token("ARGV", 0xffff_ffff));
    lying_argv.extend_from_slice(b"-c foo.c");
    let mut doti_huge = token("DOTI", 0x7fff_ffff);
    doti_huge.extend_from_slice(b"int x;\n");
    let mut doti_short = token("DOTI", 0x0010_0000);
    doti_short.extend_from_slice(b"int x;\n");

    // (what, bytes, half-close after sending, what the log says)
    let cases: Vec<(&str, Vec<u8>, bool, &str)> = vec![
        ("random bytes", garbage, false, "sent a bad request"),
        (
            "wrong first token",
            b"ARGC00000001ARGV00000003gcc".to_vec(),
            false,
            "expected token DIST",
        ),
        (
            "HTTP",
            b"GET / HTTP/1.0\r\n\r\n".to_vec(),
            true,
            "sent a bad request",
        ),
        (
            "bad hex",
            b"DIST0000000gARGC00000001".to_vec(),
            false,
            "bad hexadecimal",
        ),
        (
            "sign in hex",
            b"DIST-0000001".to_vec(),
            false,
            "bad hexadecimal",
        ),
        ("ARGV ffffffff", lying_argv, true, "ARGV length 4294967295"),
        (
            "ARGC 7fffffff",
            [dist1.clone(), token("ARGC", 0x7fff_ffff)].concat(),
            true,
            "ARGC length",
        ),
        (
            "DOTI 7fffffff then close",
            with_header(&doti_huge),
            true,
            "DOTI length 2147483647",
        ),
        (
            "DOTI 1 MiB, 7 bytes, then close",
            with_header(&doti_short),
            true,
            "connection closed in the middle of DOTI",
        ),
        (
            "pump (DIST 3)",
            b"DIST00000003CDIR00000001/".to_vec(),
            false,
            "protocol 3 (pump mode",
        ),
        (
            "DIST 9",
            token("DIST", 9),
            false,
            "unsupported protocol version 9",
        ),
        (
            "header then vanish",
            with_header(b""),
            true,
            "connection closed in the middle of",
        ),
        (
            "connect then vanish",
            Vec::new(),
            true,
            "connection closed in the middle of a packet header",
        ),
        (
            "bad LZO body",
            [
                dist1_v2(),
                argv_tokens(&["gcc", "-c", "foo.c"]),
                token("DOTI", 8),
                b"\xff\xff\xff\xff\xff\xff\xff\xff".to_vec(),
            ]
            .concat(),
            false,
            "cannot decompress DOTI",
        ),
    ];
    let mut failures = Vec::new();
    for (what, bytes, half_close, logged) in cases {
        let reply = exchange(server.port(), &bytes, half_close);
        if !reply.bytes.is_empty() {
            failures.push(format!(
                "{what}: the server answered {:?}",
                String::from_utf8_lossy(&reply.bytes[..reply.bytes.len().min(200)])
            ));
        }
        let needle = format!("client: {}", reply.addr);
        let deadline = Instant::now() + Duration::from_secs(10);
        let line = loop {
            let log = server.log();
            if let Some(line) = log.lines().find(|l| l.contains(&needle)) {
                break Some(line.to_string());
            }
            if Instant::now() >= deadline {
                break None;
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        match line {
            Some(line) if line.contains(logged) => {}
            other => failures.push(format!(
                "{what}: expected a log line naming {} and saying {logged:?}, got {other:?}",
                reply.addr
            )),
        }
    }
    assert_no_failures(failures, "protocol garbage");
    assert_eq!(
        server.log().matches("COMPILE_").count(),
        0,
        "nothing was compiled:\n{}",
        server.log()
    );
    assert_still_serves_and_left_nothing(&mut server);
}

fn dist1_v2() -> Vec<u8> {
    token("DIST", 2)
}

/// Connections that send nothing hold no job slot: with `--jobs 1` and a crowd of idle
/// clients, an honest job is still served long before the 30 s header timeout would free
/// anything.
#[test]
fn idle_connections_do_not_starve_an_honest_job() {
    let mut server = unconfined(&["--jobs", "1"]);
    let idle: Vec<TcpStream> = (0..8)
        .map(|_| TcpStream::connect(("127.0.0.1", server.port())).unwrap())
        .collect();
    let mut half: Vec<TcpStream> = (0..4)
        .map(|_| {
            let mut s = TcpStream::connect(("127.0.0.1", server.port())).unwrap();
            s.write_all(&[token("DIST", 1), token("ARGC", 6)].concat())
                .unwrap();
            s
        })
        .collect();
    let started = Instant::now();
    let bytes = request_bytes(Version::V1, &HONEST_ARGV, HELLO);
    let mut stream = TcpStream::connect(("127.0.0.1", server.port())).unwrap();
    // Well under the server's 30 s header timeout: if the idle clients held the only slot,
    // this read would time out before any of them was dropped.
    stream
        .set_read_timeout(Some(Duration::from_secs(15)))
        .unwrap();
    stream.write_all(&bytes).unwrap();
    let mut answer = Vec::new();
    let read = stream.read_to_end(&mut answer);
    assert!(
        read.is_ok(),
        "the honest job was not answered within 15 s while 12 idle clients were connected \
         ({read:?}, {:?}):\n{}",
        started.elapsed(),
        server.log()
    );
    assert_compiled(&parse_response(&answer, Version::V1), "the honest job");
    // The idle ones are still connected (not dropped early to make room), as long as the
    // header timeout cannot have run out yet.
    let checkable = if started.elapsed() < Duration::from_secs(20) {
        &idle[..]
    } else {
        &[]
    };
    for s in checkable {
        s.set_nonblocking(true).unwrap();
        let mut b = [0u8; 1];
        let r = (&*s).read(&mut b);
        assert!(
            matches!(&r, Err(e) if e.kind() == std::io::ErrorKind::WouldBlock),
            "an idle client was dropped early: {r:?}"
        );
    }
    half.clear();
    drop(idle);
    assert_still_serves_and_left_nothing(&mut server);
}

// =======================================================================================
// --inetd on pipes
// =======================================================================================

/// `distfarm serve --inetd` with stdin/stdout piped, killed with its group on drop.
struct Inetd {
    child: Option<Child>,
}

impl Drop for Inetd {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let pid = nix::unistd::Pid::from_raw(child.id() as i32);
            let _ = nix::sys::signal::killpg(pid, nix::sys::signal::Signal::SIGKILL);
            let _ = child.wait();
        }
    }
}

/// Runs one `--inetd` job: writes `bytes` to its stdin (kept open until the answer is in,
/// as ssh does, unless `close_stdin`), reads stdout to the end, and returns the answer, the
/// exit code and the log.
fn inetd_job(tmp: &Path, bytes: &[u8], close_stdin: bool) -> (Vec<u8>, Option<i32>, String) {
    inetd_job_with(tmp, bytes, close_stdin, &[])
}

/// `inetd_job` with extra server options.
fn inetd_job_with(
    tmp: &Path,
    bytes: &[u8],
    close_stdin: bool,
    extra: &[&str],
) -> (Vec<u8>, Option<i32>, String) {
    let log_path = tmp.join(format!("inetd-{}.log", rand_suffix()));
    let log = File::create(&log_path).unwrap();
    let mut cmd = Command::new(distfarm_bin());
    cmd.args(["serve", "--inetd", "--log-stderr"])
        .args(extra)
        .env_clear()
        .env("PATH", test_path())
        .env("TMPDIR", tmp)
        .env("LC_ALL", "C")
        .env("DISTFARM_CONFINE", "0")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::from(log))
        .process_group(0);
    let mut guard = Inetd {
        child: Some(cmd.spawn().expect("start distfarm serve --inetd")),
    };
    let child = guard.child.as_mut().unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let _ = stdin.write_all(bytes);
    let keep_open = if close_stdin {
        drop(stdin);
        None
    } else {
        Some(stdin)
    };
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut out = Vec::new();
        let _ = stdout.read_to_end(&mut out);
        let _ = tx.send(out);
    });
    let answer = rx
        .recv_timeout(ANSWER_TIMEOUT)
        .expect("distfarm serve --inetd neither answered nor closed stdout");
    drop(keep_open);
    let status = crate::support::process::wait_timeout(child, Duration::from_secs(30))
        .expect("distfarm serve --inetd exits after one job");
    guard.child.take();
    (answer, status.code(), read_text(&log_path))
}

fn rand_suffix() -> String {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static N: AtomicUsize = AtomicUsize::new(0);
    format!(
        "{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    )
}

#[test]
fn inetd_on_pipes_refuses_hostile_requests_and_serves_honest_ones() {
    let tmp = temp_dir("hostile-inetd");
    set_mode(tmp.path(), 0o1777);
    let traps = Traps::new();

    // An honest job.
    let (answer, code, log) = inetd_job(
        tmp.path(),
        &request_bytes(Version::V2, &HONEST_ARGV, HELLO),
        false,
    );
    assert_eq!(code, Some(0), "{log}");
    assert_compiled(
        &parse_response(&answer, Version::V2),
        "honest job on --inetd",
    );
    assert!(log.contains("client: NOTSOCKET COMPILE_OK"), "{log}");

    // Refusals: a shell as the compiler, -wrapper, and -B with a fake toolchain.
    let canary = traps.canary("inetd");
    let toolchain = fake_toolchain(&canary);
    let attacks = [
        (
            strings(&[
                "sh",
                "-c",
                &format!("touch {}/sh", canary.display()),
                "-c",
                "foo.c",
            ]),
            "compiler \"sh\"",
        ),
        (
            gcc_with(&["-wrapper", "/bin/sh,-c,touch {}/wrapper"], &canary),
            "-wrapper",
        ),
        (gcc_with(&[&format!("-B{toolchain}")], &canary), "-B"),
    ];
    for (argv, needle) in attacks {
        let (answer, code, log) =
            inetd_job(tmp.path(), &request_bytes(Version::V1, &argv, HELLO), false);
        let response = parse_response(&answer, Version::V1);
        assert_eq!(
            response.status,
            REFUSED_STATUS,
            "{argv:?}: {}",
            stderr_text(&response)
        );
        assert!(
            stderr_text(&response).contains(needle),
            "{argv:?}: {}",
            stderr_text(&response)
        );
        assert_eq!(
            code,
            Some(113),
            "{argv:?}: exit code of a refusal; log:\n{log}"
        );
        assert!(
            log.contains("client: NOTSOCKET distfarm server refused"),
            "{argv:?}: {log}"
        );
        assert!(
            canary_files(&canary).is_empty(),
            "{argv:?}: {:?}",
            canary_files(&canary)
        );
    }

    // Smuggled assembler directives: a one-job process checks through `-wrapper`.
    let smuggled = b"asm(\".inc\" \"bin \\\"/etc/passwd\\\"\");\nint x;\n";
    let (answer, code, log) = inetd_job(
        tmp.path(),
        &request_bytes(Version::V1, &HONEST_ARGV, smuggled),
        false,
    );
    let response = parse_response(&answer, Version::V1);
    assert_eq!(
        response.status,
        REFUSED_STATUS,
        "{}",
        stderr_text(&response)
    );
    assert!(!leaks_passwd(&response) && code == Some(113), "{log}");

    // Garbage and pump mode: no answer, exit 109 (protocol error).
    for (what, bytes) in [
        ("garbage", b"\x00\x01\x02garbage garbage garbage".to_vec()),
        ("pump", b"DIST00000003CDIR00000001/".to_vec()),
        (
            "lying ARGV",
            [
                token("DIST", 1),
                token("ARGC", 1),
                token("ARGV", 0xffff_ffff),
            ]
            .concat(),
        ),
    ] {
        let (answer, code, log) = inetd_job(tmp.path(), &bytes, true);
        assert!(answer.is_empty(), "{what}: answered {answer:?}");
        assert_eq!(code, Some(109), "{what}: exit code; log:\n{log}");
        assert!(log.contains("client: NOTSOCKET"), "{what}: {log}");
    }

    // A client that hangs up right after its request: no answer needed, nothing left.
    let (_, code, log) = inetd_job(
        tmp.path(),
        &request_bytes(Version::V1, &HONEST_ARGV, HELLO),
        true,
    );
    assert!(code.is_some(), "{log}");
    assert_no_job_directories(tmp.path());
}

/// `--enable-tcp-insecure` (which distcc always passes over SSH) turns the compiler
/// whitelist off as in distccd: a gcc by absolute path and a program that is no compiler
/// (`/bin/sh`) are run, not refused. The argument rules still hold (`-B`), and so does the
/// confinement: a compiler named only by that option still cannot read server files or
/// write outside its job. Without the option the same absolute path is refused.
#[test]
fn enable_tcp_insecure_runs_any_program_but_keeps_the_argument_rules_and_the_confinement() {
    let tmp = temp_dir("hostile-insecure");
    set_mode(tmp.path(), 0o1777);
    let bin = readable_temp_dir("insecure-bin");
    let gcc = bin.path().join("x86_64-linux-gnu-gcc");
    std::os::unix::fs::symlink("/usr/bin/gcc", &gcc).unwrap();
    let gcc = gcc.display().to_string();
    let argv = |compiler: &str, extra: &[&str]| {
        let mut argv = vec![
            compiler.to_string(),
            "-O2".into(),
            "-c".into(),
            "hello.c".into(),
        ];
        argv.extend(extra.iter().map(|a| a.to_string()));
        argv.extend(["-o".to_string(), "hello.o".to_string()]);
        request_bytes(Version::V1, &argv, HELLO)
    };

    let (answer, _, log) = inetd_job(tmp.path(), &argv(&gcc, &[]), false);
    let refused = parse_response(&answer, Version::V1);
    assert_eq!(refused.status, REFUSED_STATUS, "{log}");

    let insecure = ["--enable-tcp-insecure"];
    let (answer, _, log) = inetd_job_with(tmp.path(), &argv(&gcc, &[]), false, &insecure);
    assert_compiled(
        &parse_response(&answer, Version::V1),
        &format!("{gcc} with --enable-tcp-insecure: {log}"),
    );
    assert!(log.contains("whitelist is OFF"), "{log}");

    // sh does not understand a compiler's options: it runs, and fails as a program would.
    let (answer, _, log) = inetd_job_with(tmp.path(), &argv("/bin/sh", &[]), false, &insecure);
    let ran = parse_response(&answer, Version::V1);
    assert!(
        ran.status != REFUSED_STATUS && log.contains("COMPILE_ERROR"),
        "/bin/sh is run under --enable-tcp-insecure: {log}"
    );

    let (answer, _, log) = inetd_job_with(tmp.path(), &argv(&gcc, &["-B/tmp"]), false, &insecure);
    let response = parse_response(&answer, Version::V1);
    assert_eq!(response.status, REFUSED_STATUS, "-B/tmp: {log}");

    let traps = Traps::new();
    let canary = traps.canary("insecure");
    let dir = readable_temp_dir("insecure-leakcc");
    let leakcc = dir.path().join("leakcc");
    write_script(
        &leakcc,
        &format!(
            "out=; prev=\nfor a in \"$@\"; do [ \"$prev\" = -o ] && out=$a; prev=$a; done\n\
             touch {}/written\ncat /etc/passwd > \"$out\"\nexit 0",
            canary.display()
        ),
    );
    let leakcc = leakcc.display().to_string();
    let confined = DistfarmServer::start(&insecure);
    let (response, _) = compile(
        confined.port(),
        Version::V1,
        &[leakcc.as_str(), "-c", "foo.c", "-o", "foo.o"],
        HELLO,
    );
    // Its own error ("cat: /etc/passwd: Permission denied") names the file but leaks nothing.
    let has_root_line = [&response.object, &response.stderr, &response.stdout]
        .iter()
        .any(|b| b.windows(10).any(|w| w == b"root:x:0:0"));
    assert!(
        !has_root_line && canary_files(&canary).is_empty(),
        "a compiler run under --enable-tcp-insecure escaped its confinement: {}",
        confined.log()
    );
}
