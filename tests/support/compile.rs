//! Local reference compiles: the bytes a distributed compile must reproduce.

use std::ffi::OsStr;
use std::path::Path;

use super::process::Cmd;

/// Compiles `src` locally with `<compiler> args… -c src -o <temp>` in `cwd` and returns the
/// object's bytes. `src` is passed exactly as given (relative to `cwd` or absolute): gcc
/// records that name in the object, so use the same spelling as the compile under test.
pub fn local_object<I, S>(compiler: &str, args: I, src: &Path, cwd: &Path) -> Vec<u8>
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let out = tempfile::Builder::new()
        .prefix("distfarm-local-")
        .tempdir()
        .expect("temp dir");
    let object = out.path().join("out.o");
    Cmd::new(compiler)
        .args(args)
        .arg("-c")
        .arg(src)
        .arg("-o")
        .arg(&object)
        .current_dir(cwd)
        .run();
    read(&object)
}

/// `gcc -O2 -c hello.c` of the fixtures, compiled once per test run: the object every
/// hello job through a farm must reproduce.
pub fn hello_reference() -> &'static Vec<u8> {
    static REF: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    REF.get_or_init(|| {
        local_object(
            "gcc",
            ["-O2"],
            Path::new("hello.c"),
            &super::programs::fixture_path(""),
        )
    })
}

/// What distcc's plain mode does, locally: `<compiler> args… -E src -o X.i` in `cwd`, then
/// `<compiler> args-without-preprocessor-options… -c X.i -o X.o` from another directory.
/// This is the byte reference for `-g` builds (the `.i` carries the working directory).
pub fn preprocessed_then_compiled<I, S>(compiler: &str, args: I, src: &Path, cwd: &Path) -> Vec<u8>
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let args: Vec<String> = args
        .into_iter()
        .map(|a| a.as_ref().to_string_lossy().into_owned())
        .collect();
    let out = tempfile::Builder::new()
        .prefix("distfarm-cpp-")
        .tempdir()
        .expect("temp dir");
    let preprocessed = out
        .path()
        .join(format!("unit.{}", preprocessed_extension(src)));
    Cmd::new(compiler)
        .args(&args)
        .arg("-E")
        .arg(src)
        .arg("-o")
        .arg(&preprocessed)
        .current_dir(cwd)
        .run();
    let object = out.path().join("unit.o");
    Cmd::new(compiler)
        .args(strip_preprocessor_args(&args))
        .arg("-c")
        .arg(&preprocessed)
        .arg("-o")
        .arg(&object)
        .current_dir(out.path())
        .run();
    read(&object)
}

/// `.i` for C, `.ii` for C++ (gcc picks the language of a preprocessed file by extension),
/// as distcc's `dcc_preproc_exten`.
pub fn preprocessed_extension(src: &Path) -> &'static str {
    match src.extension().and_then(OsStr::to_str) {
        Some("cc" | "cpp" | "cxx" | "cp" | "c++" | "C" | "ii") => "ii",
        Some("m" | "mi") => "mi",
        Some("mm" | "M" | "mii") => "mii",
        _ => "i",
    }
}

/// Drops what only matters to the preprocessor (a subset of distcc's `dcc_strip_local_args`).
pub fn strip_preprocessor_args(args: &[String]) -> Vec<String> {
    const WITH_VALUE: [&str; 14] = [
        "-D",
        "-I",
        "-U",
        "-MF",
        "-MT",
        "-MQ",
        "-include",
        "-imacros",
        "-iprefix",
        "-iwithprefix",
        "-isystem",
        "-iwithprefixbefore",
        "-idirafter",
        "-iquote",
    ];
    const JOINED: [&str; 9] = [
        "-Wp,", "-D", "-U", "-I", "-MF", "-MT", "-MQ", "-isystem", "-iquote",
    ];
    const ALONE: [&str; 7] = [
        "-undef",
        "-nostdinc",
        "-nostdinc++",
        "-MD",
        "-MMD",
        "-MG",
        "-MP",
    ];
    let mut out = Vec::new();
    let mut skip = false;
    for arg in args {
        if std::mem::take(&mut skip) {
            continue;
        }
        if WITH_VALUE.contains(&arg.as_str()) {
            skip = true;
        } else if !(ALONE.contains(&arg.as_str()) || JOINED.iter().any(|p| arg.starts_with(p))) {
            out.push(arg.clone());
        }
    }
    out
}

fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}
