//! The wrapper's compiler-argument scanner (`client::args::scan`): command lines built from
//! the option table's words (modes, outputs, languages, dependency, preprocessor, linker,
//! assembler and local-only options, `-Wp,` lists, response files) and file names.
//! Never a panic; and what it sends is what it decided: the argv a server receives
//! (`remote_argv`), scanned again as a distcc 3.4 server scans it, is still a distributable
//! compile of the same source to the same output.

use arbitrary::Arbitrary;
use distfarm::client::args::{Scan, scan};

use super::{Word, structured};

pub const WORDS: &[&str] = &[
    "-c",
    "-S",
    "-E",
    "-o",
    "-ofoo.o",
    "-o-",
    "-",
    "-x",
    "c",
    "c++",
    "assembler",
    "-xc",
    "-MD",
    "-MMD",
    "-MF",
    "-MFdeps.d",
    "-MT",
    "-MQ",
    "-M",
    "-MM",
    "-MG",
    "-MP",
    "-D",
    "-DX=1",
    "-U",
    "-I",
    "-Iinc",
    "-isystem",
    "-include",
    "x.h",
    "-imacros",
    "-Wp,-MD,a.d",
    "-Wp,-DX",
    "-Wp,",
    "-Wp,-MMD",
    "-L",
    "-l",
    "-lm",
    "-Wl,-z,now",
    "-Wa,-adhln=x.lst",
    "-Wa,--MD",
    "-Wa,-g",
    "-Xassembler",
    "-Xclang",
    "-load",
    "-Xpreprocessor",
    "-fopt-info",
    "-fopt-info-all=x",
    "-march=native",
    "-march=x86-64",
    "-flto",
    "-specs=x",
    "-specs",
    "--specs=x",
    "-B",
    "-Bdir",
    "-wrapper",
    "-fplugin=x.so",
    "-save-temps",
    "-g",
    "-O2",
    "-Wall",
    "-fPIC",
    "-std=c11",
    "--param",
    "@args",
    "a.c",
    "b.c",
    "a.cpp",
    "a.i",
    "a.ii",
    "a.s",
    "a.S",
    "conftest.c",
    "dir/x.c",
    "x.c",
    "foo.o",
    "a.o",
    "c.C",
    "d.M",
    "..c",
    "/abs/src/z.cc",
    "-fdiagnostics-color",
    "-pipe",
    "-v",
    "--version",
];
pub const COMPILERS: &[&str] = &[
    "gcc",
    "cc",
    "clang",
    "x86_64-linux-gnu-gcc",
    "g++",
    "-gcc",
    "",
];

#[derive(Arbitrary, Debug)]
pub struct Input {
    pub compiler: Word,
    pub words: Vec<Word>,
}

impl Input {
    pub fn argv(&self, words: &[&str], compilers: &[&str]) -> Vec<String> {
        std::iter::once(self.compiler.pick(compilers))
            .chain(self.words.iter().map(|w| w.pick(words)))
            .map(str::to_string)
            .collect()
    }
}

pub fn fuzz(bytes: &[u8]) {
    structured(bytes, check);
}

pub fn check(input: Input) {
    let argv = input.argv(WORDS, COMPILERS);
    let Scan::Distribute(job) = scan(&argv) else {
        return;
    };
    let _ = (job.preprocess_argv(), job.dependency_file());
    let remote = job.remote_argv();
    match scan(&remote) {
        Scan::Distribute(again) => {
            assert_eq!(again.input, job.input, "{argv:?} → {remote:?}");
            assert_eq!(again.output, job.output, "{argv:?} → {remote:?}");
        }
        other => panic!(
            "{argv:?} is distributed as {remote:?}, which a distcc server scans as {other:?}"
        ),
    }
}
