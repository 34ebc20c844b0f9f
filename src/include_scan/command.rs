//! The compiler command line, read only for what decides which files the preprocessor opens:
//! the source and its language, the four search chains (`-iquote`, `-I`, `-isystem`,
//! `-idirafter`, with `-iprefix`/`-iwithprefix…` and `=`/`$SYSROOT` prefixes), `-include` and
//! `-imacros`, `-D` (for computed includes), and the options that change the compiler's own
//! default directories (kept to ask the compiler about them). Options the scanner cannot
//! model are a reason to give up, never guessed at. Pure.

use std::path::{Path, PathBuf};

use crate::compiler_names::is_cxx_driver;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Language {
    C,
    Cxx,
    ObjC,
    ObjCxx,
}

impl Language {
    /// The `-x` name the compiler is asked about.
    pub fn x_name(self) -> &'static str {
        match self {
            Language::C => "c",
            Language::Cxx => "c++",
            Language::ObjC => "objective-c",
            Language::ObjCxx => "objective-c++",
        }
    }

    fn from_x(name: &str) -> Result<Option<Language>, String> {
        Ok(Some(match name {
            "c" => Language::C,
            "c++" => Language::Cxx,
            "objective-c" => Language::ObjC,
            "objective-c++" => Language::ObjCxx,
            "none" => return Ok(None),
            "cpp-output"
            | "c++-cpp-output"
            | "objective-c-cpp-output"
            | "objective-c++-cpp-output" => return Err(PREPROCESSED.to_string()),
            other => return Err(format!("the scanner does not handle language `-x {other}`")),
        }))
    }

    /// The language of a source named `path`; `cxx_driver`: the compiler is `g++`, `c++` or
    /// `clang++`, which compile a `.c` file as C++.
    fn from_extension(path: &str, cxx_driver: bool) -> Result<Option<Language>, String> {
        let ext = match path.rsplit_once('.') {
            Some((stem, ext)) if !stem.is_empty() && !ext.contains('/') => ext,
            _ => return Ok(None),
        };
        Ok(Some(match ext {
            "c" if cxx_driver => Language::Cxx,
            "c" => Language::C,
            "cc" | "cp" | "cxx" | "cpp" | "CPP" | "c++" | "C" => Language::Cxx,
            "m" => Language::ObjC,
            "mm" | "M" => Language::ObjCxx,
            "i" | "ii" | "mi" | "mii" => return Err(PREPROCESSED.to_string()),
            _ => return Ok(None),
        }))
    }
}

const PREPROCESSED: &str = "the source is already preprocessed";

/// What the scan needs from the command line.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Command {
    pub language: Option<Language>,
    /// As written (relative to the working directory or absolute).
    pub source: PathBuf,
    pub quote: Vec<PathBuf>,
    pub bracket: Vec<PathBuf>,
    pub system: Vec<PathBuf>,
    pub after: Vec<PathBuf>,
    /// `-imacros` and `-include` files, as written.
    pub forced: Vec<PathBuf>,
    /// `-D` values (`NAME`, `NAME=VALUE`).
    pub defines: Vec<String>,
    /// Options that change the compiler's default directories, relative paths made absolute.
    pub defaults_args: Vec<String>,
}

/// Long spellings and their short equivalents (`--include-directory=x` is `-I x`).
const LONG: &[(&str, &str)] = &[
    ("--include-directory-after", "-idirafter"),
    ("--include-directory", "-I"),
    ("--include-prefix", "-iprefix"),
    ("--include-with-prefix-before", "-iwithprefixbefore"),
    ("--include-with-prefix-after", "-iwithprefix"),
    ("--include-with-prefix", "-iwithprefix"),
    ("--include", "-include"),
    ("--imacros", "-imacros"),
    ("--define-macro", "-D"),
    ("--undefine-macro", "-U"),
    ("--output", "-o"),
    ("--language", "-x"),
];

/// Options whose value may be the next word, or joined; the scan reads these values.
const WITH_VALUE: &[&str] = &[
    "-iwithprefixbefore",
    "-iwithprefix",
    "-isystem-after",
    "-iwithsysroot",
    "-idirafter",
    "-imultilib",
    "-imultiarch",
    "-iframework",
    "-iprefix",
    "-isysroot",
    "-isystem",
    "-imacros",
    "-include",
    "-iquote",
    "-cxx-isystem",
    "-I",
    "-D",
    "-U",
    "-x",
    "-B",
];

/// Options whose value is the next word when not joined; the value is skipped.
const SKIP_NEXT: &[&str] = &[
    "-o",
    "-MF",
    "-MT",
    "-MQ",
    "-MJ",
    "-Xassembler",
    "-Xlinker",
    "-L",
    "-l",
    "-u",
    "-T",
    "-z",
    "-e",
    "-A",
    "-aux-info",
    "--param",
    "-arch",
    "-dumpbase",
    "-dumpbase-ext",
    "-dumpdir",
    "-wrapper",
];

pub fn parse(argv: &[String], cwd: &Path) -> Result<Command, String> {
    let mut cmd = Command::default();
    let mut sources: Vec<(String, Language)> = Vec::new();
    let mut x_language: Option<Result<Language, String>> = None;
    let mut prefix: Option<String> = None;
    let mut sysroot: Option<String> = None;
    let mut isysroot: Option<String> = None;
    let absolute = |v: &str| cwd.join(v).display().to_string();
    // (chain, raw value): `=` and `$SYSROOT` prefixes are applied once the sysroot is known.
    let mut dirs: Vec<(u8, String)> = Vec::new();

    let cxx_driver = argv.first().is_some_and(|a| is_cxx_driver(a));
    let args = normalize(argv.get(1..).unwrap_or_default());
    let mut i = 0;
    while i < args.len() {
        let arg = args[i].as_str();
        i += 1;
        if arg == "-" {
            return Err("the source is read from standard input".into());
        }
        if arg.starts_with('@') {
            return Err(format!(
                "the response file `{arg}` is not read by the scanner"
            ));
        }
        if !arg.starts_with('-') {
            let language = match &x_language {
                Some(Ok(l)) => Some(*l),
                Some(Err(reason)) => return Err(reason.clone()),
                None => Language::from_extension(arg, cxx_driver)?,
            };
            if let Some(language) = language {
                sources.push((arg.to_string(), language));
            }
            continue;
        }
        if let Some((name, value)) = split_value(arg, WITH_VALUE) {
            let value = match value {
                Some(v) => v.to_string(),
                None => match args.get(i) {
                    Some(v) => {
                        i += 1;
                        v.clone()
                    }
                    None => return Err(format!("`{arg}` has no value")),
                },
            };
            match name {
                "-I" if value == "-" => return Err("`-I-` changes the search rules".into()),
                "-I" => dirs.push((b'I', value)),
                "-iquote" => dirs.push((b'q', value)),
                "-isystem" | "-cxx-isystem" => dirs.push((b's', value)),
                "-idirafter" | "-isystem-after" => dirs.push((b'a', value)),
                "-iwithsysroot" => dirs.push((b'S', value)),
                "-iprefix" => prefix = Some(value),
                "-iwithprefix" | "-iwithprefixbefore" => {
                    let Some(prefix) = &prefix else {
                        return Err(format!("`{name}` without `-iprefix`"));
                    };
                    let chain = if name == "-iwithprefix" { b'a' } else { b'I' };
                    dirs.push((chain, format!("{prefix}{value}")));
                }
                "-isysroot" => {
                    cmd.defaults_args.push("-isysroot".into());
                    cmd.defaults_args.push(absolute(&value));
                    isysroot = Some(value);
                }
                "-imultiarch" => {
                    cmd.defaults_args.push("-imultiarch".into());
                    cmd.defaults_args.push(value);
                }
                "-imultilib" => return Err("`-imultilib` changes the search rules".into()),
                "-iframework" => return Err("`-iframework` (framework search)".into()),
                "-include" if value == "-pch" => {
                    return Err("precompiled headers (`-include-pch`)".into());
                }
                "-include" | "-imacros" => cmd.forced.push(PathBuf::from(value)),
                "-D" => cmd.defines.push(value),
                "-U" => {}
                "-x" => {
                    x_language = match Language::from_x(&value) {
                        Ok(Some(l)) => Some(Ok(l)),
                        Ok(None) => None,
                        Err(reason) => Some(Err(reason)),
                    }
                }
                "-B" => cmd.defaults_args.push(format!("-B{}", absolute(&value))),
                _ => unreachable!("every WITH_VALUE option is handled"),
            }
            continue;
        }
        if arg == "-I-" || arg == "--include-barrier" {
            return Err("`-I-` changes the search rules".into());
        }
        if arg == "-Xpreprocessor" {
            return Err("`-Xpreprocessor` passes options the scanner cannot see".into());
        }
        if let Some(rest) = arg.strip_prefix("-Wp,") {
            wp_options(rest, &mut cmd.defines)?;
            continue;
        }
        if arg == "-Xclang" {
            let value = args.get(i).map(String::as_str).unwrap_or("");
            i += 1;
            if value.starts_with("-I") || value.starts_with("-i") || value.contains("include") {
                return Err(format!("`-Xclang {value}` changes the search rules"));
            }
            continue;
        }
        if let Some(v) = arg.strip_prefix("--sysroot=") {
            cmd.defaults_args.push(format!("--sysroot={}", absolute(v)));
            sysroot = Some(v.to_string());
            continue;
        }
        if arg == "--sysroot" {
            let v = args.get(i).cloned().unwrap_or_default();
            i += 1;
            cmd.defaults_args
                .push(format!("--sysroot={}", absolute(&v)));
            sysroot = Some(v);
            continue;
        }
        if arg.starts_with("--config") {
            return Err(format!(
                "`{arg}` (a clang configuration file may add options)"
            ));
        }
        if matches!(
            arg,
            "-target" | "-gcc-toolchain" | "-resource-dir" | "-mllvm"
        ) {
            let v = args.get(i).cloned().unwrap_or_default();
            i += 1;
            cmd.defaults_args.push(arg.to_string());
            cmd.defaults_args.push(v);
            continue;
        }
        if matches!(
            arg,
            "-nostdinc"
                | "-nostdinc++"
                | "-nostdlibinc"
                | "-nobuiltininc"
                | "--no-standard-includes"
                | "-no-canonical-prefixes"
                // Whether gcc pre-includes `stdc-predef.h`.
                | "-ffreestanding"
                | "-fhosted"
                | "-fno-hosted"
        ) || arg.starts_with("-m")
            || arg.starts_with("--target=")
            || arg.starts_with("--gcc-toolchain=")
            || arg.starts_with("-resource-dir=")
            || arg.starts_with("-stdlib=")
            || arg.starts_with("-specs=")
            || arg.starts_with("--specs=")
        {
            cmd.defaults_args.push(arg.to_string());
            continue;
        }
        if arg.starts_with("-i") {
            return Err(format!("the scanner does not know `{arg}`"));
        }
        if SKIP_NEXT.contains(&arg) {
            i += 1;
        }
    }

    let root = isysroot.or(sysroot).unwrap_or_default();
    for (chain, value) in dirs {
        let value = match value
            .strip_prefix('=')
            .or_else(|| value.strip_prefix("$SYSROOT"))
        {
            Some(rest) => format!("{root}{rest}"),
            None if chain == b'S' => format!("{root}{value}"),
            None => value,
        };
        let list = match chain {
            b'I' => &mut cmd.bracket,
            b'q' => &mut cmd.quote,
            b'a' => &mut cmd.after,
            _ => &mut cmd.system,
        };
        list.push(PathBuf::from(value));
    }
    match sources.as_slice() {
        [] => {
            return Err("no C, C++ or Objective-C source file in the command".into());
        }
        [(source, language)] => {
            cmd.source = PathBuf::from(source);
            cmd.language = Some(*language);
        }
        _ => return Err("several source files in one command".into()),
    }
    Ok(cmd)
}

/// `--long=value` and `--long value` as their short forms.
fn normalize(args: &[String]) -> Vec<String> {
    let mut out = Vec::with_capacity(args.len());
    for arg in args {
        let long = LONG.iter().find_map(|(long, short)| {
            let rest = arg.strip_prefix(long)?;
            if rest.is_empty() {
                Some((*short, None))
            } else {
                rest.strip_prefix('=').map(|v| (*short, Some(v)))
            }
        });
        match long {
            Some((short, None)) => out.push(short.to_string()),
            Some((short, Some(value))) => {
                out.push(short.to_string());
                out.push(value.to_string());
            }
            None => out.push(arg.clone()),
        }
    }
    out
}

/// `(name, joined value)` when `arg` is one of `names` (`-Idir` → `("-I", Some("dir"))`,
/// `-I` → `("-I", None)`). Longer names come first in the table, so `-isystem-after` is not
/// read as `-isystem` with `-after`.
fn split_value<'a>(
    arg: &'a str,
    names: &[&'static str],
) -> Option<(&'static str, Option<&'a str>)> {
    names.iter().find_map(|name| {
        let rest = arg.strip_prefix(name)?;
        Some((*name, (!rest.is_empty()).then_some(rest)))
    })
}

/// `-Wp,a,b,c`: dependency options and `-D`/`-U` are understood; anything else may change
/// the search and is a reason to give up.
fn wp_options(list: &str, defines: &mut Vec<String>) -> Result<(), String> {
    let mut pieces = list.split(',');
    while let Some(piece) = pieces.next() {
        match piece {
            "-MD" | "-MMD" | "-MF" | "-MT" | "-MQ" => {
                pieces.next();
            }
            "-MP" | "-MG" | "-P" | "-C" | "-CC" | "-dD" | "-dM" | "-dN" | "-dI" | "-dU" | "" => {}
            "-D" => defines.extend(pieces.next().map(str::to_string)),
            "-U" => {
                pieces.next();
            }
            p if p.starts_with("-D") => defines.push(p[2..].to_string()),
            p if p.starts_with("-U") || p.starts_with("-MF") || p.starts_with("-MT") => {}
            other => {
                return Err(format!(
                    "`-Wp,{other}` passes an option the scanner cannot model"
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
#[path = "command_tests.rs"]
mod tests;
