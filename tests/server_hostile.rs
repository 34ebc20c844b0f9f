//! Hostile requests against the real `distfarm serve` binary (TCP daemon and `--inetd` on
//! pipes). Every refused request must come back as a failed job whose stderr names what was
//! refused (protocol garbage: the connection is closed), and a canary proves that nothing ran
//! and nothing was written: each case points its attack at a world-writable canary directory
//! that must stay empty. Where it is cheap, the same command is also run with a local gcc to
//! show that the attack is real (its control directory is not empty afterwards).
//!
//! Run as root, the server drops to `distcc`/`nobody`; canary directories are 0777 and the
//! scripts 0755 so that a successful attack *could* leave its mark.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::{Duration, Instant};

use crate::support::canary::{Traps, build_plugin, canary_files, fake_toolchain};
use crate::support::distfarm_server::assert_no_job_directories;
use crate::support::files::readable_temp_dir;
use crate::support::hostile::{
    Case, HELLO, REFUSED_STATUS, assert_no_failures, assert_refused,
    assert_still_serves_and_left_nothing, gcc_with, leaks_passwd, run_cases, strings, unconfined,
};
use crate::support::inetd::{inetd_job, inetd_job_with};
use crate::support::wire::{
    HONEST_ARGV, argv_tokens, assert_compiled, compile, exchange, parse_response, request_bytes,
    stderr_text, token,
};
use crate::support::{DistfarmServer, set_mode, temp_dir, write_script};
use distfarm::protocol::{Response, Version};

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
/// Left through, `--prefix` and `--plugin=` would run code of the client's choosing as the
/// server's user, `--output=`, `--for-assembler=-adhln=` and `--dump-tree-all=` would write
/// files anywhere that user may write, `--dumpdir`/`--dumpbase` would put dump files outside
/// the job directory, and `--language=c` would make gcc preprocess the input on the server,
/// so that `#include "/etc/passwd"` came back in SERR.
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
    assert_no_failures(failures, "long option spellings bypass the argument rules");
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

/// clang cannot take the assembler guard: unconfined, its assembly is generated first and
/// checked (a refusal naming `.incbin`); confined (Landlock, or the mount namespace), that
/// second compile is skipped and the assembler simply cannot read the file.
#[test]
fn clang_incbin_of_a_server_file_is_refused_unconfined_and_unreadable_confined() {
    crate::support::require("clang", "clang");
    // Spelled so that the source scan lets it through: the assembly is where it shows.
    let source = b"asm(\"\\x2eincbin \\\"/etc/passwd\\\"\");\nint x;\n";
    let argv = strings(&["clang", "-O2", "-c", "foo.c", "-o", "foo.o"]);

    let mut open = unconfined(&["--jobs", "2"]);
    let (response, _) = compile(open.port(), Version::V1, &argv, source);
    assert_eq!(
        (response.status, leaks_passwd(&response)),
        (REFUSED_STATUS, false),
        "clang .incbin, unconfined: {}",
        stderr_text(&response)
    );
    assert!(
        stderr_text(&response).contains(".incbin"),
        "{}",
        stderr_text(&response)
    );
    assert_still_serves_and_left_nothing(&mut open);

    for mode in ["landlock", "namespaces"] {
        let mut confined = DistfarmServer::start(&["--jobs", "2", "--confinement", mode]);
        let (response, _) = compile(confined.port(), Version::V1, &argv, source);
        assert_ne!(response.status, 0, "{mode}: the compile failed");
        assert!(
            !leaks_passwd(&response),
            "{mode}: /etc/passwd reached the answer:\n{}",
            stderr_text(&response)
        );
        assert!(
            stderr_text(&response).contains("/etc/passwd"),
            "{mode}: the assembler says what it could not read:\n{}",
            stderr_text(&response)
        );
        // An honest clang job still compiles there.
        let (honest, _) = compile(confined.port(), Version::V1, &argv, HELLO);
        assert_compiled(&honest, mode);
        assert_still_serves_and_left_nothing(&mut confined);
    }
}

/// The assembler reads `.incbin` and `.include` files whatever the spelling in the C source.
///
/// A byte search for `.incbin` would not do: adjacent string literals (`".inc" "bin"`), an
/// escape (`"\x2eincbin"`), upper case (`.INCBIN`, gas directives are case-insensitive),
/// `.include` (which assembles the file and quotes its lines in the error messages), labels,
/// comments and macros all put /etc/passwd into the answer (object or SERR) unless refused.
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
        "the C source dodged the assembler-directive check",
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
        "a confined compiler read /etc/passwd (Landlock ABI of this kernel: {abi}; a server \
         without it confines them in a mount namespace, tested in server_confinement.rs)"
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
            "pump (DIST 3) then vanish",
            b"DIST00000003CDIR00000001/".to_vec(),
            true,
            "connection closed in the middle of",
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

/// A connection from `from` (a loopback address) to the server, as another machine would.
fn connect_from(from: &str, port: u16) -> TcpStream {
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    let local: std::net::SocketAddr = format!("{from}:0").parse().unwrap();
    socket.bind(&local.into()).unwrap();
    let server: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    socket.connect(&server.into()).unwrap();
    socket.into()
}

/// Whether the server has closed `stream` (end of stream or reset) within `within`.
fn closed_within(stream: &TcpStream, within: Duration) -> bool {
    stream.set_read_timeout(Some(within)).unwrap();
    let mut byte = [0u8; 1];
    matches!((&*stream).read(&mut byte), Ok(0))
        || matches!((&*stream).read(&mut byte), Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset)
}

/// One job sent from `from`, its answer.
fn compile_from(from: &str, port: u16) -> Response {
    let mut stream = connect_from(from, port);
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    stream
        .write_all(&request_bytes(Version::V1, &HONEST_ARGV, HELLO))
        .unwrap();
    let mut answer = Vec::new();
    stream
        .read_to_end(&mut answer)
        .expect("an answer within 20 s");
    parse_response(&answer, Version::V1)
}

/// `--max-per-address`: one address holding its limit has further connections closed at
/// once (not after the 30 s header timeout), while other addresses are served; a closed
/// connection frees its place.
#[test]
fn connections_beyond_the_per_address_limit_are_closed_and_others_are_served() {
    let mut server = unconfined(&["--max-per-address", "3"]);
    let port = server.port();
    let mut held: Vec<TcpStream> = (0..3).map(|_| connect_from("127.0.0.5", port)).collect();
    let extra = connect_from("127.0.0.5", port);
    assert!(
        closed_within(&extra, Duration::from_secs(10)),
        "the fourth connection from one address was not closed:\n{}",
        server.log()
    );
    server.expect_log("127.0.0.5 already holds 3 connections (--max-per-address)");
    assert_compiled(&compile_from("127.0.0.6", port), "another address");
    held.pop();
    // Once the server has seen it go, the address has a place again.
    server.expect_log("127.0.0.5 already holds");
    server.expect_log("sent a bad request");
    assert_compiled(
        &compile_from("127.0.0.5", port),
        "the address below its limit",
    );
    for stream in &held {
        stream.set_nonblocking(true).unwrap();
        let r = (&*stream).read(&mut [0u8; 1]);
        assert!(
            matches!(&r, Err(e) if e.kind() == std::io::ErrorKind::WouldBlock),
            "a held connection was dropped: {r:?}"
        );
    }
    drop(held);
    assert_still_serves_and_left_nothing(&mut server);
}

/// `--max-connections` full of connections that send nothing: a new client is not left in
/// the backlog until the header timeout; the oldest idle connection goes instead.
#[test]
fn a_full_server_drops_its_oldest_idle_connection_for_a_new_client() {
    let mut server = unconfined(&["--max-connections", "4"]);
    let port = server.port();
    let idle: Vec<TcpStream> = (0..4).map(|_| connect_from("127.0.0.7", port)).collect();
    // Let the server take all four before the honest client comes.
    server.expect_log("listening");
    std::thread::sleep(Duration::from_millis(300));
    let started = Instant::now();
    assert_compiled(
        &compile_from("127.0.0.8", port),
        "a client of a full server",
    );
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "answered after {:?}, as if it waited for the header timeout",
        started.elapsed()
    );
    assert!(
        closed_within(&idle[0], Duration::from_secs(5)),
        "the oldest idle connection is still open:\n{}",
        server.log()
    );
    server.expect_log("the server is full and this was its oldest connection");
    drop(idle);
    assert_still_serves_and_left_nothing(&mut server);
}

// =======================================================================================
// --inetd on pipes
// =======================================================================================

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
