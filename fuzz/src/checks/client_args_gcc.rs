//! The wrapper's compiler-argument scanner (`client::args::scan`) against gcc itself: every
//! command line the scanner decides to distribute is handed to the real `gcc -###` (which
//! prints the programs it would run without running them), in a directory where the
//! command's files exist, and gcc must agree on every point the wrapper acts on:
//!
//! - gcc accepts the command;
//! - it runs exactly one compiler proper (`cc1`, `cc1plus`, `cc1obj`, `cc1objplus`), not
//!   as a preprocessor (`-E`), whose one input file is the scanner's source;
//! - the object (`-c`: the `as` line's `-o`) or assembly (`-S`: `cc1`'s `-o`) is the
//!   scanner's output, and nothing else runs (no link, no second assembly);
//! - the wrapper's local preprocessor command (`preprocess_argv`, for a source that is not
//!   preprocessed already) preprocesses that source, and nothing else;
//! - what the server is sent (`remote_argv`, with the server's own file names in place of
//!   the source and output, run in an empty directory as a server's job directory is) is
//!   accepted too and compiled by the same compiler proper into that output.
//!
//! One disagreement is deliberate, and checked to be harmless: gcc rejecting a command for
//! an option the scanner does not know (`-fno-such`, `--param` without a value). The
//! scanner cannot know every option of every gcc, and need not: the server's gcc must reject
//! what it is sent with the same errors, so the user sees the compile fail as it would here.
//!
//! Inputs are structured: a compiler, `-c`/`-S`/`-E` (or none), a source, and words from
//! gcc's and the option table's vocabulary (options with and without values, long
//! options, informational options, other input files) or free text.

use std::path::{Path, PathBuf};
use std::process::Command;

use arbitrary::Arbitrary;
use distfarm::client::CompileJob;
use distfarm::client::args::{Scan, scan};
use distfarm::client::flags::Mode;

use super::{Word, structured};

/// The gcc drivers tried (all of them exist where gcc is installed).
pub const COMPILERS: &[&str] = &["gcc", "g++", "cc", "x86_64-linux-gnu-gcc"];

const MODES: &[&[&str]] = &[
    &["-c"],
    &["-S"],
    &["-c", "-S"],
    &["-S", "-c"],
    &["-c", "-c"],
    &["-E"],
    &[],
];

const SOURCES: &[&str] = &[
    "a.c",
    "a.cpp",
    "c.C",
    "a.i",
    "a.ii",
    "d.M",
    "m.m",
    "dir/x.c",
    "..c",
    "conftest.c",
];

pub const WORDS: &[&str] = &[
    // Modes and outputs, short and long.
    "-c",
    "-S",
    "-E",
    "-o",
    "foo.o",
    "-ofoo.o",
    "-o",
    "out/a.o",
    "-o-",
    "--output",
    "--output=x.o",
    "--compile",
    "--assemble",
    "--preprocess",
    // Languages.
    "-x",
    "c",
    "c++",
    "none",
    "cpp-output",
    "c++-cpp-output",
    "objective-c",
    "assembler",
    "c-header",
    "-xc",
    "--language",
    // Dependencies.
    "-MD",
    "-MMD",
    "-MF",
    "a.d",
    "-MT",
    "-MQ",
    "-M",
    "-MM",
    "-MG",
    "-MP",
    "--dependencies",
    "--write-dependencies",
    // Preprocessor, with values.
    "-D",
    "-DX=1",
    "X",
    "-U",
    "-I",
    "-Iinc",
    "inc",
    "-iquote",
    "-isystem",
    "-idirafter",
    "-include",
    "x.h",
    "-imacros",
    "-Wp,-MD,a.d",
    "-Wp,-DX",
    "-Xpreprocessor",
    "-P",
    "-nostdinc",
    "-undef",
    "--include-directory",
    "--define-macro",
    // Linker, with values.
    "-L",
    "lib",
    "-l",
    "m",
    "-lm",
    "-Wl,-z,now",
    "-Xlinker",
    "-T",
    "-u",
    "-z",
    "-e",
    "main",
    "-static",
    "-shared",
    // Assembler, clang front end.
    "-Wa,-g",
    "-Wa,-adhln=x.lst",
    "-Xassembler",
    "--noexecstack",
    "-Xclang",
    // Options that change what gcc produces or runs.
    "-fsyntax-only",
    "-v",
    "-###",
    "--version",
    "--help",
    "-dumpversion",
    "-dumpmachine",
    "-print-search-dirs",
    "-print-file-name=libc.so",
    "-pipe",
    "-save-temps",
    "-flto",
    "-flto=auto",
    "-march=native",
    "-B",
    "-wrapper",
    "-specs",
    "--param",
    "max-inline-insns-single=10",
    "--param=max-inline-insns-single=10",
    "--sysroot",
    "--sysroot=/",
    "/",
    "-std=c11",
    "--std=c11",
    // Plain options.
    "-g",
    "-O2",
    "-Wall",
    "-fPIC",
    "-w",
    // Other input files (all exist) and odd words.
    "b.c",
    "a.o",
    "lib.a",
    "a.s",
    "a.S",
    "x.h",
    "noext",
    "-",
    "@args",
];

/// Every file a command may name, created in the client's directory.
const FILES: &[&str] = &[
    "a.c",
    "b.c",
    "a.cpp",
    "c.C",
    "a.i",
    "a.ii",
    "d.M",
    "m.m",
    "dir/x.c",
    "..c",
    "conftest.c",
    "foo.o",
    "a.o",
    "lib.a",
    "a.s",
    "a.S",
    "x.h",
    "noext",
    "inc/.keep",
    "lib/.keep",
    "out/.keep",
];

#[derive(Arbitrary, Debug)]
pub struct Input {
    pub compiler: u8,
    pub mode: u8,
    pub mode_at: u8,
    pub source: u8,
    pub source_at: u8,
    pub words: Vec<Word>,
}

impl Input {
    pub fn argv(&self) -> Vec<String> {
        let mut words: Vec<&str> = self.words.iter().map(|w| w.pick(WORDS)).collect();
        let source = SOURCES[self.source as usize % SOURCES.len()];
        words.insert(self.source_at as usize % (words.len() + 1), source);
        let mode = MODES[self.mode as usize % MODES.len()];
        let at = self.mode_at as usize % (words.len() + 1);
        words.splice(at..at, mode.iter().copied());
        let compiler = COMPILERS[self.compiler as usize % COMPILERS.len()];
        std::iter::once(compiler)
            .chain(words)
            .map(str::to_string)
            .collect()
    }
}

pub fn fuzz(bytes: &[u8]) {
    structured(bytes, check);
}

pub fn check(input: Input) {
    check_argv(&input.argv());
}

/// The property, for one command line (argv[0] one of [`COMPILERS`]).
pub fn check_argv(argv: &[String]) {
    // gcc -### prints one command per line; an argument can't hold a NUL anyway.
    if argv.iter().any(|a| a.contains(['\0', '\n', '\r'])) {
        return;
    }
    let Scan::Distribute(job) = scan(argv) else {
        return;
    };
    if job.engine_only.is_some() {
        // Never sent to a distcc server: an engine runs the command with its own output
        // names and returns every file it writes.
        return;
    }
    let dirs = dirs();
    let here = Gcc::run(&dirs.client, argv);
    let (server_argv, server_input, server_output) = server_command(&job);
    let there = Gcc::run(&dirs.server, &server_argv);
    if let Some(errors) = here.rejected() {
        // The deliberate disagreement: the server's gcc says the same (names aside).
        let theirs = there.rejected().map(|e| {
            e.replace(&server_input, &job.input)
                .replace(&server_output, &job.output)
        });
        assert_eq!(
            theirs.as_deref(),
            Some(errors.as_str()),
            "{argv:?} is distributed; gcc rejects it here ({errors}), and the server's gcc, \
             sent {server_argv:?}, does not say the same"
        );
        return;
    }
    let proper = here
        .compiles(&job.input, &job.output, job.mode)
        .unwrap_or_else(|why| panic!("{argv:?} is distributed as {job:?}, but gcc {why}"));
    let theirs = there
        .compiles(&server_input, &server_output, job.mode)
        .unwrap_or_else(|why| {
            panic!("{argv:?} is distributed; the server is sent {server_argv:?}, and gcc {why}")
        });
    assert_eq!(
        theirs, proper,
        "{argv:?} is compiled by {proper} here and by {theirs} on the server ({server_argv:?})"
    );
    if !job.preprocessed {
        let cpp = job.preprocess_argv();
        Gcc::run(&dirs.client, &cpp)
            .preprocesses(&job.input)
            .unwrap_or_else(|why| {
                panic!("{argv:?} is preprocessed here with {cpp:?}, but gcc {why}")
            });
    }
}

/// What the server runs: the argv it is sent, with its own preprocessed source (named
/// with the job's extension) and output in place of the wrapper's.
fn server_command(job: &CompileJob) -> (Vec<String>, String, String) {
    let mut argv = job.remote_argv();
    let Scan::Distribute(there) = scan(&argv) else {
        panic!(
            "{:?} is distributed as {argv:?}, which scans otherwise",
            job.argv
        );
    };
    let input = format!("in{}", job.preprocessed_ext);
    let output = match job.mode {
        Mode::Assemble => "out.s",
        _ => "out.o",
    }
    .to_string();
    argv[there.input_index] = input.clone();
    let mut i = 1;
    while i < argv.len() {
        if argv[i] == "-o" && argv.get(i + 1) == Some(&there.output) {
            argv[i + 1] = output.clone();
            i += 1;
        } else if argv[i] == format!("-o{}", there.output) {
            argv[i] = format!("-o{output}");
        }
        i += 1;
    }
    (argv, input, output)
}

struct Dirs {
    _root: tempfile::TempDir,
    client: PathBuf,
    server: PathBuf,
}

/// The client's directory (every file of [`FILES`]) and the server's (its preprocessed
/// sources only), made for each check (a few files: nothing next to running gcc three
/// times) and removed after it.
fn dirs() -> Dirs {
    let root = tempfile::tempdir().expect("a temporary directory");
    let client = root.path().join("client");
    let server = root.path().join("server");
    for file in FILES {
        let path = client.join(file);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, "int x;\n").unwrap();
    }
    std::fs::create_dir_all(&server).unwrap();
    for ext in [".i", ".ii", ".mi", ".mii"] {
        std::fs::write(server.join(format!("in{ext}")), "int x;\n").unwrap();
    }
    Dirs {
        _root: root,
        client,
        server,
    }
}

/// What `gcc -###` said about one command line.
struct Gcc {
    ok: bool,
    /// Its error lines (`gcc: error: …`, `gcc: fatal error: …`), without the program name.
    errors: Vec<String>,
    /// The commands it would run.
    commands: Vec<Vec<String>>,
}

impl Gcc {
    fn run(dir: &Path, argv: &[String]) -> Gcc {
        let out = Command::new(&argv[0])
            .arg("-###")
            .args(&argv[1..])
            .current_dir(dir)
            .env("LC_ALL", "C")
            .output()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot run {}: {e} (the client_args_gcc check needs gcc and g++: \
                     apt-get install gcc g++)",
                    argv[0]
                )
            });
        let stderr = String::from_utf8_lossy(&out.stderr);
        let errors: Vec<String> = stderr
            .lines()
            .filter_map(|l| {
                l.split_once(": error: ")
                    .or(l.split_once(": fatal error: "))
            })
            .map(|(_, message)| message.to_string())
            .filter(|m| m != "compilation terminated.")
            .collect();
        let commands = stderr
            .lines()
            .filter(|l| l.starts_with(' '))
            .map(words)
            .collect();
        Gcc {
            // `gcc -###` exits 0 after an error when no input file is left (`-Xclang
            // -iquote d.M`): the real compile fails ("no input files"), so an error is a
            // rejection whatever the exit status.
            ok: out.status.success() && errors.is_empty(),
            errors,
            commands,
        }
    }

    fn rejected(&self) -> Option<String> {
        (!self.ok).then(|| self.errors.join("; "))
    }

    fn program(command: &[String]) -> &str {
        command[0].rsplit('/').next().unwrap_or_default()
    }

    /// The compiler proper lines.
    fn propers(&self) -> Vec<&Vec<String>> {
        self.commands
            .iter()
            .filter(|c| Self::program(c).starts_with("cc1"))
            .collect()
    }

    /// `Ok(compiler proper)` if gcc compiles exactly `input` into `output` (an object for
    /// `Compile`, assembly for `Assemble`) and runs nothing else; else what it does instead.
    fn compiles(&self, input: &str, output: &str, mode: Mode) -> Result<String, String> {
        if !self.ok {
            return Err(format!("rejects it: {}", self.errors.join("; ")));
        }
        let propers = self.propers();
        let [proper] = propers[..] else {
            return Err(format!(
                "runs {} compilers: {:?}",
                propers.len(),
                self.commands
            ));
        };
        if proper_options(proper).contains(&"-E") {
            return Err(format!("only preprocesses: {proper:?}"));
        }
        let inputs = proper_inputs(proper);
        if inputs != [input] {
            return Err(format!("compiles {inputs:?}, not {input}: {proper:?}"));
        }
        let others: Vec<&Vec<String>> = self
            .commands
            .iter()
            .filter(|c| !Self::program(c).starts_with("cc1"))
            .collect();
        let written = match (mode, &others[..]) {
            (Mode::Compile, [assembler]) if Self::program(assembler) == "as" => {
                last_value(assembler, "-o")
            }
            (Mode::Assemble, []) => last_value(proper, "-o"),
            _ => return Err(format!("runs {others:?} besides {proper:?}")),
        };
        if written != Some(output) {
            return Err(format!(
                "writes {written:?}, not {output}: {:?}",
                self.commands
            ));
        }
        Ok(Self::program(proper).to_string())
    }

    /// `Ok` if gcc preprocesses exactly `input` (to stdout) and runs nothing else.
    fn preprocesses(&self, input: &str) -> Result<(), String> {
        if !self.ok {
            return Err(format!("rejects it: {}", self.errors.join("; ")));
        }
        match &self.commands[..] {
            [cpp]
                if Self::program(cpp).starts_with("cc1")
                    && proper_options(cpp).contains(&"-E")
                    && proper_inputs(cpp) == [input]
                    && last_value(cpp, "-o").is_none() =>
            {
                Ok(())
            }
            other => Err(format!("runs {other:?}")),
        }
    }
}

/// The separate values of the options gcc's driver hands a compiler proper.
const CC1_SEPARATE: &[&str] = &[
    "-o",
    "-D",
    "-U",
    "-I",
    "-A",
    "-include",
    "-imacros",
    "-isystem",
    "-idirafter",
    "-iquote",
    "-iprefix",
    "-iwithprefix",
    "-iwithprefixbefore",
    "-isysroot",
    "-imultilib",
    "-imultiarch",
    "-MF",
    "-MT",
    "-MQ",
    "-MD",
    "-MMD",
    "-dumpbase",
    "-dumpbase-ext",
    "-dumpdir",
    "-auxbase",
    "-auxbase-strip",
    "-aux-info",
    "--param",
];

/// The words of a compiler proper's command that are input files.
fn proper_inputs(command: &[String]) -> Vec<&str> {
    proper_words(command).1
}

/// The words of a compiler proper's command that are options (not their values).
fn proper_options(command: &[String]) -> Vec<&str> {
    proper_words(command).0
}

fn proper_words(command: &[String]) -> (Vec<&str>, Vec<&str>) {
    let (mut options, mut inputs) = (Vec::new(), Vec::new());
    let mut words = command[1..].iter();
    while let Some(w) = words.next() {
        if w == "-" || !w.starts_with('-') {
            inputs.push(w.as_str());
            continue;
        }
        options.push(w.as_str());
        if CC1_SEPARATE.contains(&w.as_str()) {
            words.next();
        }
    }
    (options, inputs)
}

fn last_value<'a>(command: &'a [String], option: &str) -> Option<&'a str> {
    // Read left to right, each value with its option: in `-o -o` the second is a file name.
    let mut last = None;
    let mut words = command.iter();
    while let Some(word) = words.next() {
        if word == option {
            last = words.next().map(String::as_str);
        }
    }
    last
}

/// One command line of `gcc -###`: words separated by spaces, those with other characters
/// than `[A-Za-z0-9_/.-]` in double quotes with `"`, `\` and `$` escaped by a backslash.
fn words(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut chars = line.chars().peekable();
    loop {
        while chars.next_if_eq(&' ').is_some() {}
        let Some(first) = chars.next() else {
            return out;
        };
        let mut word = String::new();
        if first == '"' {
            while let Some(c) = chars.next() {
                match c {
                    '\\' => word.extend(chars.next()),
                    '"' => break,
                    c => word.push(c),
                }
            }
        } else {
            word.push(first);
            while let Some(c) = chars.next_if(|c| *c != ' ') {
                word.push(c);
            }
            // `-pipe`: a command ends with ` |`, the next one reads its output.
            if word == "|" {
                continue;
            }
        }
        out.push(word);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(cmd: &str) -> Vec<String> {
        cmd.split_whitespace().map(String::from).collect()
    }

    /// Each of these was distributed, and gcc did something else with it (the wrapper's
    /// reason for keeping it local now is in `client::args`).
    #[test]
    fn commands_the_scan_once_distributed_against_gcc_now_agree() {
        for cmd in [
            "gcc -c a.c foo.o",
            "gcc -c a.c lib.a",
            "gcc -c a.c a.s",
            "gcc -c a.c -",
            "gcc -c -x c a.c noext",
            "gcc -c a.c --output x.o",
            "gcc -c a.c --assemble",
            "gcc -c a.c --preprocess",
            "gcc -c a.c -fsyntax-only",
            "gcc -c a.c -dumpversion",
            "gcc -c a.c -print-search-dirs",
            "x86_64-linux-gnu-gcc -std=c11 -S -Xassembler ..c",
            "x86_64-linux-gnu-gcc --sysroot -c m.m",
            "x86_64-linux-gnu-gcc a.c -S -c -Xpreprocessor x.h",
            "cc -c -S m.m -MF -E",
            "gcc -Xpreprocessor -iquote dir/x.c -c",
            "x86_64-linux-gnu-gcc -S --param -Wp,-MD,a.d d.M",
            "x86_64-linux-gnu-gcc -S -c -Xclang -iquote d.M",
            "x86_64-linux-gnu-gcc d.M -S -c -o -o",
        ] {
            check_argv(&argv(cmd));
        }
    }

    /// The check itself sees a disagreement: gcc writes `a.o` for a command whose output
    /// distcc's reading (a bare `foo.o`) names otherwise.
    #[test]
    fn gcc_writing_another_output_is_a_disagreement() {
        let gcc = Gcc::run(&dirs().client, &argv("gcc -c a.c foo.o"));
        assert!(gcc.ok, "gcc ignores foo.o with a warning");
        let why = gcc.compiles("a.c", "foo.o", Mode::Compile).unwrap_err();
        assert!(why.contains("a.o"), "{why}");
        assert_eq!(
            gcc.compiles("a.c", "a.o", Mode::Compile).as_deref(),
            Ok("cc1")
        );
    }

    #[test]
    fn quoted_words_are_unescaped() {
        assert_eq!(
            super::words(r#" /usr/cc1 -D "X=\"a b\"" "-march=x86-64" a.c"#),
            ["/usr/cc1", "-D", "X=\"a b\"", "-march=x86-64", "a.c"]
        );
        // -pipe: the pipe is no word of the command (a quoted "|" is).
        assert_eq!(
            super::words(r#" cc1 a.c -o - | "|""#),
            ["cc1", "a.c", "-o", "-", "|"]
        );
    }
}
