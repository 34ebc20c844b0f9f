//! The server's argument rules (`server::arg_rules`), plain and pump mode, on command lines
//! built from the words the rules know (refused prefixes, options with values, long
//! options, languages, `-Wa,`/`-Xclang` doors, sources and paths). Never a panic; and a
//! command line it accepts compiles exactly one source from the job directory (or, pump
//! mode, the job's root) into one output in the job directory, with no refused option left.

use std::path::{Path, PathBuf};

use arbitrary::Arbitrary;
use distfarm::server::arg_rules::{check_source, prepare, prepare_pump};
use distfarm::server::pump_args::PumpRewrite;

use super::structured;

const WORDS: &[&str] = &[
    "-c",
    "-S",
    "-E",
    "-o",
    "-ofoo.o",
    "-x",
    "c",
    "c++",
    "assembler",
    "assembler-with-cpp",
    "-xc",
    "-xassembler",
    "-I",
    "-I/usr/include",
    "-I../x",
    "-iquote",
    "-isystem",
    "-include",
    "/p/a.h",
    "-imacros",
    "-MD",
    "-MMD",
    "-MF",
    "/p/a.d",
    "-MT",
    "-MQ",
    "-D",
    "-DX",
    "-B",
    "-B/tmp",
    "-wrapper",
    "-fplugin=x.so",
    "-fpass-plugin=x",
    "-specs=x",
    "--specs=x",
    "-specs",
    "@file",
    "--param",
    "--param=x=1",
    "--sysroot",
    "--sysroot=/",
    "--prefix=/tmp",
    "--output",
    "--std=c11",
    "-Xclang",
    "-load",
    "-plugin",
    "-emit-obj",
    "-mllvm",
    "-Xlinker",
    "-Xassembler",
    "-Xarch_x86_64",
    "-Wa,-adhln=x",
    "-Wa,-g",
    "-Wa,--MD,x",
    "-Wa,@x",
    "-fcompare-debug",
    "-fself-test=x",
    "-gcc-toolchain",
    "-ccc-gcc-name",
    "-fmodule-file=x",
    "-fcrash-diagnostics-dir=x",
    "-fproc-stat-report",
    "-aux-info",
    "-dumpdir",
    "-dumpbase",
    "-pipe",
    "-O2",
    "-g",
    "-Wall",
    "a.c",
    "b.c",
    "a.i",
    "a.ii",
    "a.cpp",
    "a.s",
    "a.S",
    "x.mi",
    "/p/src/a.c",
    "../a.c",
    "src/a.c",
    "-T",
    "/etc/passwd",
    "-e",
    "main",
    "-u",
    "-z",
    "-G",
    "-target",
    "x86_64-linux-gnu",
    "-arch",
    "-L",
    "-l",
];
const COMPILERS: &[&str] = &["gcc", "cc", "clang", "g++"];
/// Options that must never reach a compiler on the server (a few of each kind).
const NEVER: &[&str] = &[
    "-B",
    "-wrapper",
    "-fplugin",
    "-fpass-plugin",
    "-specs",
    "--specs",
    "@",
    "--prefix",
    "--output",
    "-fcompare-debug",
    "-Xarch",
    "-ccc-",
    "-dumpdir",
    "-aux-info",
    "-Wp,",
];
/// Options whose value is the next word (so that word is not an option).
const VALUE_NEXT: &[&str] = &[
    "-o",
    "-x",
    "-I",
    "-D",
    "-U",
    "-isystem",
    "-idirafter",
    "-iquote",
    "-iprefix",
    "-iwithprefix",
    "-iwithprefixbefore",
    "-isysroot",
    "--sysroot",
    "-L",
    "-l",
    "-Xlinker",
    "-Xassembler",
    "-Xpreprocessor",
    "-Xclang",
    "-mllvm",
    "-target",
    "--target",
    "-arch",
    "--param",
    "-T",
    "-u",
    "-z",
    "-e",
    "-G",
    "-MF",
    "-MT",
    "-MQ",
    "-include",
    "-imacros",
];

#[derive(Arbitrary, Debug)]
pub struct Input {
    pub line: super::client_args::Input,
    pub pump: bool,
    pub cwd: super::pump_tree::Name,
    pub source: Vec<u8>,
}

pub fn fuzz(bytes: &[u8]) {
    structured(bytes, check);
}

pub fn check(input: Input) {
    let argv = input.line.argv(WORDS, COMPILERS);
    let job_dir = Path::new("/tmp/distfarm-job");
    let root = job_dir.join("root");
    let prepared = if input.pump {
        let cwd = String::from_utf8_lossy(&input.cwd.bytes()).into_owned();
        let workdir = root.join(cwd.trim_start_matches('/'));
        prepare_pump(
            &argv,
            job_dir,
            PumpRewrite::new(&root, workdir, job_dir.join("deps.d")),
        )
    } else {
        prepare(&argv, job_dir)
    };
    if let Ok(prepared) = &prepared {
        let inside = |p: &Path| p.starts_with(job_dir);
        assert!(
            inside(&prepared.output),
            "{argv:?}: output {:?}",
            prepared.output
        );
        if !input.pump {
            assert!(
                inside(&prepared.input),
                "{argv:?}: input {:?}",
                prepared.input
            );
        }
        // Walk the words as the compiler will: an option's separate value is no option.
        let mut outputs = Vec::new();
        let mut words = prepared.args.iter();
        while let Some(word) = words.next() {
            assert_ne!(word, "-E", "{argv:?}: preprocessing is the client's job");
            if let Some(never) = NEVER.iter().find(|n| word.starts_with(**n)) {
                let pump_include = input.pump && word.starts_with("-include");
                assert!(
                    pump_include,
                    "{argv:?} reached the compiler with {word:?} ({never})"
                );
            }
            if word == "-o" {
                outputs.extend(words.next());
            } else if VALUE_NEXT.contains(&word.as_str()) {
                words.next();
            }
        }
        let output = prepared.output.to_string_lossy().into_owned();
        assert_eq!(outputs, [&output], "{argv:?}: {:?}", prepared.args);
        let _: PathBuf = prepared.workdir(job_dir).to_path_buf();
    }
    let source_check = check_source(&input.source);
    for needle in [&b".incbin"[..], b"pch_preprocess"] {
        if input.source.windows(needle.len()).any(|w| w == needle) {
            assert!(source_check.is_err(), "{needle:?} passed the source check");
        }
    }
}
