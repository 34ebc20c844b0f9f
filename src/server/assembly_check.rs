//! Assembler directives that read server files (`.incbin`, `.include`) can come from inline
//! asm written in ways no source scan can see (`".inc" "bin"`, `"\x2eincbin"`, `.INCBIN`).
//! So the check runs on the assembly the compiler generated, right before the assembler
//! reads it: for gcc, by running every pass through `distfarm __distfarm-assembler-guard`
//! (`-wrapper`), which scans the assembler's input file and only then starts `as`; for
//! compilers without `-wrapper` (clang's integrated assembler), by generating the assembly
//! once with `-S` and scanning it before the real compile.

use std::path::Path;

use super::refusal::Refusal;

/// The first argument that puts the binary in guard mode.
pub const GUARD_ARG: &str = "__distfarm-assembler-guard";
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

/// Whether gcc's `-wrapper` can guard this compiler (gcc family, not clang).
pub fn supports_wrapper(compiler: &Path) -> bool {
    let name = compiler
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    !name.contains("clang")
}

/// `distfarm __distfarm-assembler-guard PROGRAM ARGS…`, run by gcc for each pass: checks the
/// assembler's input files, then becomes the program.
pub fn guard_main(argv: &[String]) -> i32 {
    use std::os::unix::process::CommandExt;
    let Some(program) = argv.first() else {
        eprintln!("distfarm: {GUARD_ARG} needs a program to run");
        return 1;
    };
    let name = Path::new(program)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    if name == "as" || name.ends_with("-as") {
        let inputs: Vec<&String> = argv[1..]
            .iter()
            .filter(|a| !a.starts_with('-') && a.ends_with(".s"))
            .collect();
        if inputs.is_empty() {
            eprintln!(
                "distfarm server refused the assembly: it did not come from a file it could check"
            );
            return 1;
        }
        for input in inputs {
            let checked = std::fs::read(input)
                .map_err(|e| {
                    Refusal::new(
                        format!("the assembly {input}"),
                        format!("it cannot be read: {e}"),
                    )
                })
                .and_then(|text| check_assembly(&text));
            if let Err(refusal) = checked {
                let _ = std::fs::write(REFUSAL_FILE, format!("{refusal}\n"));
                eprintln!("{refusal}");
                return 1;
            }
        }
    }
    let error = std::process::Command::new(program).args(&argv[1..]).exec();
    eprintln!("distfarm: cannot run {program}: {error}");
    127
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
    fn only_gcc_drivers_take_the_wrapper() {
        assert!(supports_wrapper(Path::new(
            "/usr/bin/x86_64-linux-gnu-gcc-12"
        )));
        assert!(!supports_wrapper(Path::new("/usr/bin/clang-16")));
    }
}
