//! Assembler directives that read server files (`.incbin`, `.include`) can come from inline
//! asm written in ways no source scan can see (`".inc" "bin"`, `"\x2eincbin"`, `.INCBIN`).
//! So the check runs on the assembly the compiler generated, right before the assembler
//! reads it. For gcc the assembler is made to go through distfarm, which scans its input
//! file and only then becomes the real assembler:
//!
//! - a long-lived server puts a directory holding an `as` that is distfarm first with
//!   `-B DIR/`, and tells it (`DISTFARM_REAL_ASSEMBLER`) which assembler that compiler would
//!   have run, asked once per compiler with `-print-prog-name=as` — one extra exec per job;
//! - a one-job process (`--inetd`) runs every pass through `-wrapper distfarm,GUARD_ARG`,
//!   which costs an exec per pass but nothing up front.
//!
//! Compilers without either (clang's integrated assembler) get their assembly generated once
//! with `-S` and scanned before the real compile.

use std::collections::HashMap;
use std::ffi::OsStr;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use super::refusal::Refusal;

/// The first argument that puts the binary in `-wrapper` guard mode.
pub const GUARD_ARG: &str = "__distfarm-assembler-guard";
/// Set for an `as` that is distfarm: the assembler to become once the input is checked.
pub const REAL_ASSEMBLER_ENV: &str = "DISTFARM_REAL_ASSEMBLER";
/// Written by the guard into its working directory (the job directory) when it refuses, so
/// the job is answered as a refusal rather than as a compile error.
pub const REFUSAL_FILE: &str = "distfarm-refused";

/// Refuses assembly text that contains a file-reading directive as a statement.
pub fn check_assembly(text: &[u8]) -> Result<(), Refusal> {
    let text = String::from_utf8_lossy(text);
    for statement in text.lines().flat_map(|line| line.split(';')) {
        let statement = statement.trim_start().to_ascii_lowercase();
        for directive in [".incbin", ".include"] {
            if statement.starts_with(directive) {
                return Err(Refusal::new(
                    format!("the assembler directive {directive}"),
                    "it makes the assembler read a file from the server",
                ));
            }
        }
    }
    Ok(())
}

/// Whether gcc's `-wrapper` and `-B` can guard this compiler: not clang, whose integrated
/// assembler never runs `as` — also when it hides behind a `cc` or `gcc` link.
pub fn supports_wrapper(compiler: &Path) -> bool {
    let real = compiler
        .canonicalize()
        .unwrap_or_else(|_| compiler.to_path_buf());
    ![compiler, real.as_path()].iter().any(|p| {
        p.file_name()
            .is_some_and(|n| n.to_string_lossy().contains("clang"))
    })
}

/// How a server routes gcc's assembler through the check.
#[derive(Debug)]
pub enum Guard {
    /// Every pass through `-wrapper distfarm,GUARD_ARG`.
    Wrapper { exe: PathBuf },
    /// `-B dir/` where `dir/as` is distfarm; the real assembler per compiler, cached.
    AssemblerOnly {
        exe: PathBuf,
        dir: tempfile::TempDir,
        real: Mutex<HashMap<PathBuf, Option<PathBuf>>>,
    },
}

impl Guard {
    /// The `-B` form, with its directory in `tmpdir` (readable by the user compilers run as).
    pub fn assembler_only(exe: PathBuf, tmpdir: &Path) -> std::io::Result<Guard> {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::Builder::new()
            .prefix("distfarm-guard-")
            .tempdir_in(tmpdir)?;
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755))?;
        std::os::unix::fs::symlink(&exe, dir.path().join("as"))?;
        Ok(Guard::AssemblerOnly {
            exe,
            dir,
            real: Mutex::new(HashMap::new()),
        })
    }

    /// Arguments to put first and environment to add so that `compiler`'s assembler is
    /// checked; `None` when this compiler cannot be guarded this way.
    pub async fn apply(
        &self,
        compiler: &Path,
        path: Option<&OsStr>,
    ) -> Option<(Vec<String>, Vec<(String, String)>)> {
        if !supports_wrapper(compiler) {
            return None;
        }
        let wrapper = |exe: &Path| {
            let exe = exe.display().to_string();
            (!exe.contains(',')).then(|| {
                (
                    vec!["-wrapper".to_string(), format!("{exe},{GUARD_ARG}")],
                    Vec::new(),
                )
            })
        };
        match self {
            Guard::Wrapper { exe } => wrapper(exe),
            // Only a real gcc driver is asked where its assembler is: a compiler allowed by
            // name (`--compiler`) could be anything, and gets the wrapper.
            Guard::AssemblerOnly { exe, .. } if !is_gcc_driver(compiler) => wrapper(exe),
            Guard::AssemblerOnly { exe, dir, real } => {
                let cached = real.lock().expect("assembler cache").get(compiler).cloned();
                let assembler = match cached {
                    Some(found) => found,
                    None => {
                        let found = real_assembler(compiler, path).await;
                        real.lock()
                            .expect("assembler cache")
                            .insert(compiler.to_path_buf(), found.clone());
                        found
                    }
                };
                match assembler {
                    Some(assembler) => Some((
                        vec![format!("-B{}/", dir.path().display())],
                        vec![(
                            REAL_ASSEMBLER_ENV.to_string(),
                            assembler.display().to_string(),
                        )],
                    )),
                    None => wrapper(exe),
                }
            }
        }
    }
}

fn is_gcc_driver(compiler: &Path) -> bool {
    supports_wrapper(compiler)
        && compiler
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(super::compilers::is_compiler_family_name)
}

/// How long a compiler may take to say where its assembler is.
const ASK_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// The assembler `compiler` runs when nothing overrides it: `-print-prog-name=as`, made
/// absolute on `path` when it is a bare name.
async fn real_assembler(compiler: &Path, path: Option<&OsStr>) -> Option<PathBuf> {
    let mut command = tokio::process::Command::new(compiler);
    command
        .arg("-print-prog-name=as")
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true);
    if let Some(path) = path {
        command.env("PATH", path);
    }
    let output = tokio::time::timeout(ASK_TIMEOUT, command.output())
        .await
        .ok()?
        .ok()
        .filter(|o| o.status.success())?;
    let name = PathBuf::from(String::from_utf8(output.stdout).ok()?.trim());
    if name.is_absolute() {
        crate::executables::is_real_program(&name).then_some(name)
    } else {
        crate::executables::find_on_path(&name, path?)
    }
}

/// Checks the assembler's input files among `args`.
fn check_inputs(args: &[String]) -> Result<(), Refusal> {
    let inputs: Vec<&String> = args
        .iter()
        .filter(|a| !a.starts_with('-') && a.ends_with(".s"))
        .collect();
    if inputs.is_empty() {
        return Err(Refusal::new(
            "the assembly",
            "it did not come from a file it could check",
        ));
    }
    for input in inputs {
        let text = std::fs::read(input).map_err(|e| {
            Refusal::new(
                format!("the assembly {input}"),
                format!("it cannot be read: {e}"),
            )
        })?;
        check_assembly(&text)?;
    }
    Ok(())
}

/// Checks, then becomes `program`; on refusal leaves the reason for the job and exits 1.
fn check_then_exec(program: &OsStr, args: &[String], check: bool) -> i32 {
    if check && let Err(refusal) = check_inputs(args) {
        let _ = std::fs::write(REFUSAL_FILE, format!("{refusal}\n"));
        eprintln!("{refusal}");
        return 1;
    }
    let error = std::process::Command::new(program)
        .args(args)
        .env_remove(REAL_ASSEMBLER_ENV)
        .exec();
    eprintln!(
        "distfarm: cannot run {}: {error}",
        program.to_string_lossy()
    );
    127
}

/// `distfarm __distfarm-assembler-guard PROGRAM ARGS…`, run by gcc for each pass.
pub fn guard_main(argv: &[String]) -> i32 {
    let Some(program) = argv.first() else {
        eprintln!("distfarm: {GUARD_ARG} needs a program to run");
        return 1;
    };
    let name = Path::new(program)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    check_then_exec(
        program.as_ref(),
        &argv[1..],
        name == "as" || name.ends_with("-as"),
    )
}

/// distfarm run by gcc as `as` (the `-B` form): check, then become the real assembler.
pub fn assembler_main(real: &OsStr, args: &[String]) -> i32 {
    check_then_exec(real, args, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_reading_directives_are_found_in_any_case_and_statement() {
        assert!(check_assembly(b"\t.incbin \"/etc/passwd\"\n").is_err());
        assert!(check_assembly(b"  .INCBIN \"/etc/passwd\"\n").is_err());
        assert!(check_assembly(b"nop; .include \"/etc/passwd\"\n").is_err());
        assert!(
            check_assembly(b"\t.file \"a.c\"\n\t.text\n\t.globl f\nf:\n\tret\n\t.string \"x\"\n")
                .is_ok()
        );
    }

    #[test]
    fn only_gcc_drivers_take_the_guard() {
        assert!(supports_wrapper(Path::new(
            "/usr/bin/x86_64-linux-gnu-gcc-12"
        )));
        assert!(!supports_wrapper(Path::new("/usr/bin/clang-16")));
    }

    #[tokio::test]
    async fn the_real_assembler_is_what_gcc_would_run() {
        let path = std::env::var_os("PATH");
        let found = real_assembler(Path::new("/usr/bin/gcc"), path.as_deref())
            .await
            .expect("gcc finds an assembler");
        assert!(
            found.is_absolute()
                && found
                    .file_name()
                    .is_some_and(|n| n.to_string_lossy().ends_with("as")),
            "{found:?}"
        );
    }
}
