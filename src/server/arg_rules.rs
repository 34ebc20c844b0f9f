//! The server's view of a compiler command line: which arguments it will never pass to a
//! compiler, and how the source and output are moved into the job directory.
//!
//! A request comes from the network, so every argument is hostile until shown otherwise. The
//! rules hold for every compiler and every transport: options that run other programs, load
//! code, or read or write files outside the job directory are refused, and the input is
//! always compiled as already-preprocessed text (so `#include` lines cannot reach the
//! server's files). distcc clients strip preprocessor options before sending, so honest
//! requests never trip these rules.

use std::path::{Path, PathBuf};

use super::pump_args::{PumpRewrite, Rewritten};
use super::refusal::Refusal;
use crate::source_names::preprocessed_extension;

/// The argument list to run, with the input and output living in the job directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreparedArgs {
    /// Arguments after argv[0].
    pub args: Vec<String>,
    /// The source: the preprocessed text the server writes (plain modes), or the file the
    /// client sent in its tree (pump mode).
    pub input: PathBuf,
    pub output: PathBuf,
    /// The source name as the client gave it (for logs).
    pub source_name: String,
    /// Pump mode: the job's root, the directory the compiler runs in, its `.d` file.
    pub pump: Option<PumpRewrite>,
}

impl PreparedArgs {
    /// Where the compiler runs: the client's directory mirrored in the root (pump mode), or
    /// the job directory.
    pub fn workdir<'a>(&'a self, job_dir: &'a Path) -> &'a Path {
        self.pump.as_ref().map_or(job_dir, |p| p.workdir.as_path())
    }
}

/// Options whose value is the next argument (so the value is never taken for a source).
const TAKES_VALUE: &[&str] = &[
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
    "-aux-info",
    "-dumpdir",
    "-dumpbase",
    "-dumpbase-ext",
    "-B",
    "-wrapper",
    "-specs",
    "--specs",
];

/// Prefixes refused outright: each runs another program, loads code or a spec file, reads a
/// file from the server, or writes a file outside the job directory.
const REFUSED_PREFIXES: &[(&str, &str)] = &[
    (
        "-B",
        "it makes the compiler run programs from another directory",
    ),
    (
        "-wrapper",
        "it runs another program around the compiler's passes",
    ),
    ("-fplugin", "it loads a plugin into the compiler"),
    ("-fpass-plugin", "it loads a plugin into the compiler"),
    (
        "-fcompare-debug",
        "it runs the compiler again with options of its own (and writes dumps)",
    ),
    ("-fself-test", "it reads files from the server"),
    (
        "-gcc-toolchain",
        "it makes clang run programs from another directory",
    ),
    (
        "-ccc-",
        "clang's driver-internal options choose programs to run",
    ),
    ("-resource-dir", "it points clang at another directory"),
    (
        "-iplugindir",
        "it points the compiler at a plugin directory",
    ),
    ("-specs", "spec files can run arbitrary commands"),
    ("--specs", "spec files can run arbitrary commands"),
    ("-aux-info", "it writes a file outside the job directory"),
    ("-dumpdir", "it writes dump files outside the job directory"),
    ("-dumpbase", "it names dump files outside the job directory"),
    (
        "-save-temps=obj",
        "it writes intermediate files beside the output path",
    ),
    (
        "-M",
        "dependency files are written by the client's preprocessor, not the server",
    ),
    (
        "-Wp,",
        "preprocessor options are for the client's preprocessor",
    ),
    (
        "-Xpreprocessor",
        "preprocessor options are for the client's preprocessor",
    ),
    ("-include", "it reads a file from the server"),
    ("-imacros", "it reads a file from the server"),
    (
        "-fprofile",
        "profile files are read or written outside the job directory",
    ),
    ("-fauto-profile", "it reads a profile file from the server"),
    (
        "-fcoverage",
        "coverage data is written outside the job directory",
    ),
    (
        "--coverage",
        "coverage data is written outside the job directory",
    ),
    (
        "-ftest-coverage",
        "coverage data is written outside the job directory",
    ),
    ("-fsanitize-blacklist", "it reads a file from the server"),
    ("-fsanitize-ignorelist", "it reads a file from the server"),
    (
        "-fsanitize-coverage-allowlist",
        "it reads a file from the server",
    ),
    (
        "-fsanitize-coverage-ignorelist",
        "it reads a file from the server",
    ),
    ("-fxray-attr-list", "it reads a file from the server"),
    (
        "-fxray-always-instrument",
        "it reads a file from the server",
    ),
    ("-fxray-never-instrument", "it reads a file from the server"),
    ("-fmodule-map-file", "it reads a file from the server"),
    ("-fprebuilt-module-path", "it reads files from the server"),
    ("-ivfsoverlay", "it reads a file from the server"),
    (
        "-fbasic-block-sections=list",
        "it reads a file from the server",
    ),
    ("-fembed-offload-object", "it reads a file from the server"),
    (
        "-fopenmp-host-ir-file-path",
        "it reads a file from the server",
    ),
    (
        "-foptimization-record-file",
        "it writes a file outside the job directory",
    ),
    (
        "-fdiagnostics-add-output",
        "it writes a file outside the job directory",
    ),
    (
        "-fdiagnostics-set-output",
        "it writes a file outside the job directory",
    ),
    (
        "-fmodules-cache-path",
        "it writes outside the job directory",
    ),
    ("-fmodule-file", "it reads a file from the server"),
    (
        "-fcrash-diagnostics-dir",
        "it writes outside the job directory",
    ),
    ("-fproc-stat-report", "it writes a report file"),
];

/// A plain-mode command line: the input is preprocessed text the server writes.
pub fn prepare(argv: &[String], job_dir: &Path) -> Result<PreparedArgs, Refusal> {
    prepare_with(argv, job_dir, None)
}

/// A pump-mode command line: the compiler preprocesses the files of the job's root.
pub fn prepare_pump(
    argv: &[String],
    job_dir: &Path,
    rewrite: PumpRewrite,
) -> Result<PreparedArgs, Refusal> {
    prepare_with(argv, job_dir, Some(rewrite))
}

fn prepare_with(
    argv: &[String],
    job_dir: &Path,
    mut pump: Option<PumpRewrite>,
) -> Result<PreparedArgs, Refusal> {
    let mut args = Vec::with_capacity(argv.len() + 2);
    let mut source: Option<(usize, String)> = None;
    let mut output_seen = false;
    let mut output_at: Option<usize> = None;
    let mut compiles = false;
    let mut assembly_output = false;
    let mut words = argv.iter().skip(1).peekable();

    while let Some(arg) = words.next() {
        if let Some(rewrite) = pump.as_mut()
            && let Rewritten::Replaced(replaced) = rewrite.rewrite(arg, &mut words)?
        {
            args.extend(replaced);
            continue;
        }
        check_refused(arg, pump.is_some())?;
        if arg == "-pipe" {
            // Only a speed hint, and the assembler guard needs the assembly in a file.
            continue;
        }
        if arg == "-c" {
            compiles = true;
        } else if arg == "-S" {
            compiles = true;
            assembly_output = true;
        }
        if arg == "-o" || (arg.starts_with("-o") && arg.len() > 2) {
            if output_seen {
                return Err(Refusal::new("a second -o", "one compile has one output"));
            }
            output_seen = true;
            let value = match arg.as_str() {
                "-o" => words
                    .next()
                    .ok_or_else(|| Refusal::new("-o", "it has no value"))?,
                joined => &joined[2..],
            };
            if let Some(rewrite) = pump.as_mut() {
                rewrite.client_output = Some(value.to_string());
            }
            args.push("-o".to_string());
            // Filled in once we know -S or -c; found by its place, since "-o" may also be
            // the value of another option (`-I -o`).
            output_at = Some(args.len());
            args.push(String::new());
            continue;
        }
        if let Some(lang) = language_option(arg, &mut words, pump.is_none())? {
            args.push("-x".to_string());
            args.push(lang.to_string());
            continue;
        }
        if let Some(options) = arg.strip_prefix("-Wa,") {
            check_assembler_options(arg, options.split(','))?;
        }
        if TAKES_VALUE.contains(&arg.as_str()) {
            let value = words
                .next()
                .ok_or_else(|| Refusal::new(arg.clone(), "it has no value"))?;
            if arg == "-Xassembler" {
                check_assembler_options(arg, std::iter::once(value.as_str()))?;
            }
            if arg == "-Xclang" || arg == "-mllvm" {
                check_clang_option(arg, value)?;
            }
            args.push(arg.clone());
            args.push(value.clone());
            continue;
        }
        if !arg.starts_with('-') && preprocessed_extension(arg).is_some() {
            if source.is_some() {
                return Err(Refusal::new(
                    format!("source {arg:?}"),
                    "one compile has one source file",
                ));
            }
            source = Some((args.len(), arg.clone()));
        }
        args.push(arg.clone());
    }

    if !compiles {
        return Err(Refusal::new(
            "the command",
            "it is not a compile (-c or -S is missing)",
        ));
    }
    let (index, source_name) = source
        .ok_or_else(|| Refusal::new("the command", "it names no C, C++ or Objective-C source"))?;
    let ext = preprocessed_extension(&source_name).expect("checked above");
    let input = match &pump {
        Some(rewrite) => {
            args[index] = rewrite.reroot(&source_name);
            rewrite.workdir.join(&args[index])
        }
        None => {
            let input = job_dir.join(format!("input{ext}"));
            args[index] = input.to_string_lossy().into_owned();
            input
        }
    };
    let output = job_dir.join(if assembly_output {
        "output.s"
    } else {
        "output.o"
    });
    match output_at {
        Some(i) => args[i] = output.to_string_lossy().into_owned(),
        None => args.extend(["-o".to_string(), output.to_string_lossy().into_owned()]),
    }
    if let Some(rewrite) = &pump {
        rewrite.finish(&mut args);
    }
    Ok(PreparedArgs {
        args,
        input,
        output,
        source_name,
        pump,
    })
}

/// gcc's long options are aliases (`--prefix` is `-B`, `--output` is `-o`, `--language` is
/// `-x`, and any other `--NAME` means `-fNAME`), so only these few, harmless ones are let
/// through; distcc clients never send others.
const LONG_OPTIONS_ALLOWED: &[&str] = &[
    "--param",
    "--sysroot",
    "--target",
    "--std",
    "--ansi",
    "--pedantic",
    "--pedantic-errors",
    "--verbose",
    "--no-warnings",
    "--all-warnings",
    "--extra-warnings",
    "--no-canonical-prefixes",
];

/// Refuses what no compile may do on the server. `pump`: the server preprocesses, so the
/// include options (already moved into the job's root by `pump_args`) are let through.
fn check_refused(arg: &str, pump: bool) -> Result<(), Refusal> {
    if arg.starts_with("--") {
        let name = arg.split_once('=').map_or(arg, |(name, _)| name);
        if !LONG_OPTIONS_ALLOWED.contains(&name) {
            return Err(Refusal::new(
                format!("argument {arg:?}"),
                "gcc's long options alias options that run programs or write files (--prefix is -B, \
                 --output is -o, --NAME is -fNAME); use the short form",
            ));
        }
    }
    if arg.starts_with('@') {
        return Err(Refusal::new(
            format!("argument {arg:?}"),
            "response files read arbitrary server files",
        ));
    }
    if arg == "-E" {
        return Err(Refusal::new(
            "argument \"-E\"",
            "preprocessing is the client's job",
        ));
    }
    // `-Xarch_x86_64 -fplugin=…`, `-Xcuda-…`, `-Xopenmp-target …` hand options to another
    // stage unchecked; only the doors this file checks stay open.
    if arg.starts_with("-X")
        && !matches!(
            arg,
            "-Xclang" | "-Xassembler" | "-Xlinker" | "-Xpreprocessor"
        )
    {
        return Err(Refusal::new(
            format!("argument {arg:?}"),
            "it passes options on to another stage unchecked",
        ));
    }
    for (prefix, why) in REFUSED_PREFIXES {
        if pump && matches!(*prefix, "-include" | "-imacros") {
            continue;
        }
        if arg.starts_with(prefix) {
            return Err(Refusal::new(format!("argument {arg:?}"), *why));
        }
    }
    // `-fdump-tree-all=FILE` and `-fopt-info-vec=FILE` write where they are told.
    if (arg.starts_with("-fdump-")
        || arg.starts_with("-fopt-info")
        || arg.starts_with("-ftime-trace="))
        && arg
            .split_once('=')
            .is_some_and(|(_, to)| to != "stderr" && to != "stdout")
    {
        return Err(Refusal::new(
            format!("argument {arg:?}"),
            "it writes a dump file outside the job directory",
        ));
    }
    Ok(())
}

/// `-x LANG` / `-xLANG`. When the input is preprocessed text, source languages map to their
/// `*-cpp-output` forms: gcc then never runs the preprocessor on the server. In pump mode
/// the languages stay as they are: there the server preprocesses.
fn language_option<'a>(
    arg: &str,
    words: &mut impl Iterator<Item = &'a String>,
    preprocessed: bool,
) -> Result<Option<&'static str>, Refusal> {
    let lang = match arg {
        "-x" => words
            .next()
            .ok_or_else(|| Refusal::new("-x", "it has no value"))?
            .as_str(),
        _ => match arg.strip_prefix("-x") {
            Some(lang) if !lang.is_empty() => lang,
            _ => return Ok(None),
        },
    };
    let source_language = match lang {
        "c" => Some("c"),
        "c++" => Some("c++"),
        "objective-c" => Some("objective-c"),
        "objective-c++" => Some("objective-c++"),
        _ => None,
    };
    if let (false, Some(lang)) = (preprocessed, source_language) {
        return Ok(Some(lang));
    }
    let mapped = match lang {
        "c" | "cpp-output" => "cpp-output",
        "c++" | "c++-cpp-output" => "c++-cpp-output",
        "objective-c" | "objective-c-cpp-output" => "objective-c-cpp-output",
        "objective-c++" | "objective-c++-cpp-output" => "objective-c++-cpp-output",
        "none" => "none",
        _ => {
            return Err(Refusal::new(
                format!("language {lang:?}"),
                "only preprocessed C, C++ and Objective-C are compiled remotely",
            ));
        }
    };
    Ok(Some(mapped))
}

/// Assembler options that write listings, dependency files or other outputs.
fn check_assembler_options<'a>(
    arg: &str,
    parts: impl Iterator<Item = &'a str>,
) -> Result<(), Refusal> {
    for part in parts {
        if part.starts_with("-a")
            || part.starts_with("--MD")
            || part.starts_with("-o")
            || part.starts_with('@')
        {
            return Err(Refusal::new(
                format!("assembler option {part:?} in {arg:?}"),
                "it makes the assembler write a file outside the job directory",
            ));
        }
    }
    Ok(())
}

/// clang's `-Xclang` reaches the frontend directly, where `-load` runs code.
/// `-Xclang VALUE` and `-mllvm VALUE` reach clang's and LLVM's internal options, several of
/// which load code or name files (`-load`, `-plugin`, `-include-pch`, `-stats-file=`,
/// `-info-output-file=`): any value that does either, or names a path, is refused.
fn check_clang_option(option: &str, value: &str) -> Result<(), Refusal> {
    const REFUSED: [&str; 7] = [
        "-load",
        "-plugin",
        "-add-plugin",
        "-fplugin",
        "-dependency-file",
        "-o",
        "-header-include-file",
    ];
    let lower = value.to_ascii_lowercase();
    let names_files = ["file", "load", "plugin", "pch", "include", "dump", "/"]
        .iter()
        .any(|word| lower.contains(word));
    if REFUSED.iter().any(|p| value.starts_with(p)) || names_files {
        return Err(Refusal::new(
            format!("{option} {value}"),
            "it loads code or reads or writes files on the server",
        ));
    }
    Ok(())
}

/// Assembly directives that make the assembler read server files into the object or messages.
pub fn check_source(source: &[u8]) -> Result<(), Refusal> {
    const READERS: [(&[u8], &str); 2] = [
        (
            b".incbin",
            "`.incbin` reads a file from the server into the object",
        ),
        (
            b"pch_preprocess",
            "`#pragma GCC pch_preprocess` loads a file from the server",
        ),
    ];
    for (needle, why) in READERS {
        if source.windows(needle.len()).any(|w| w == needle) {
            return Err(Refusal::new("the source", why));
        }
    }
    Ok(())
}

#[cfg(test)]
#[path = "arg_rules_tests.rs"]
mod tests;
