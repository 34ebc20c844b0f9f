//! Assembler directives that read server files (`.incbin`, `.include`) can come from inline
//! asm written in ways no source scan can see (`".inc" "bin"`, `"\x2eincbin"`, `.INCBIN`).
//! So the check runs on the assembly the compiler generated, right before the assembler
//! reads it:
//!
//! - a long-lived server runs gcc's passes itself (`gcc_passes`) and checks the assembly
//!   between them, in-process;
//! - otherwise gcc runs every pass through `-wrapper distfarm,GUARD_ARG`, which checks the
//!   assembler's input and then becomes the assembler — an exec per pass, nothing up front.
//!
//! Compilers without either (clang's integrated assembler) get their assembly generated once
//! with `-S` and scanned before the real compile.

use std::ffi::OsStr;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};

use super::refusal::Refusal;

/// The first argument that puts the binary in `-wrapper` guard mode.
pub const GUARD_ARG: &str = "__distfarm-assembler-guard";
/// Written by the guard into its working directory (the job directory) when it refuses, so
/// the job is answered as a refusal rather than as a compile error.
pub const REFUSAL_FILE: &str = "distfarm-refused";

/// Directives refused wherever they stand: the two that read files, and gas's macro and
/// iteration facilities, which can assemble a directive name from pieces
/// (`.macro m x` / `.\x "/etc/passwd"` / `m incbin`). gcc never generates any of them.
const REFUSED_DIRECTIVES: &[(&str, &str)] = &[
    (
        ".incbin",
        "it makes the assembler read a file from the server",
    ),
    (
        ".include",
        "it makes the assembler read a file from the server",
    ),
    (".macro", "gas macros can build a file-reading directive"),
    (".irp", "gas iteration can build a file-reading directive"),
    (".irpc", "gas iteration can build a file-reading directive"),
    (".altmacro", "gas macros can build a file-reading directive"),
];

/// Refuses assembly text that uses a refused directive anywhere: as a statement, behind a
/// label (`l: .incbin`), or split by a comment the assembler removes (`.inc/**/bin`). Case
/// does not matter to gas, nor here. A string that merely mentions one is refused too;
/// that job is compiled by the client instead. This is the clear first refusal; the
/// Landlock confinement (`sandbox`) is what holds against spellings no text check foresees.
pub fn check_assembly(text: &[u8]) -> Result<(), Refusal> {
    let text = text.to_ascii_lowercase();
    let mut views = vec![as_gas_reads_it(&text)];
    if find(&text, b"/*").is_some() {
        views.push(without_block_comments(&text)); // else it is the text itself
    }
    views.push(text);
    for view in views {
        if let Some((directive, why)) = refused_directive(&view) {
            return Err(Refusal::new(
                format!("the assembler directive {directive}"),
                *why,
            ));
        }
    }
    Ok(())
}

/// `text` with every `/* … */` removed, strings or not (an unclosed one runs to the end).
fn without_block_comments(text: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = find(rest, b"/*") {
        out.extend_from_slice(&rest[..start]);
        rest = match find(&rest[start + 2..], b"*/") {
            Some(end) => &rest[start + 2 + end + 2..],
            None => b"",
        };
    }
    out.extend_from_slice(rest);
    out
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// `text` as x86 gas's input scrubber sees it: comments (`/* … */`, and `#` to the end of
/// the line) removed, while strings (`"…"`, with `\` escapes) and character constants
/// (`'c`, `'\c`) are kept whole. The naive view above does not know strings, so a `/*`
/// inside one could hide a directive from it; this one follows gas.
fn as_gas_reads_it(text: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len());
    let mut bytes = text.iter().copied().peekable();
    while let Some(b) = bytes.next() {
        match b {
            b'"' => {
                out.push(b);
                while let Some(b) = bytes.next() {
                    out.push(b);
                    match b {
                        b'\\' => out.extend(bytes.next()),
                        b'"' | b'\n' => break,
                        _ => {}
                    }
                }
            }
            b'\'' => {
                out.push(b);
                match bytes.next() {
                    Some(b'\\') => {
                        out.push(b'\\');
                        out.extend(bytes.next());
                    }
                    Some(b) => out.push(b),
                    None => {}
                }
            }
            b'#' => while bytes.next_if(|b| *b != b'\n').is_some() {},
            b'/' if bytes.peek() == Some(&b'*') => {
                bytes.next();
                let mut last = b' ';
                for b in bytes.by_ref() {
                    if last == b'*' && b == b'/' {
                        break;
                    }
                    last = b;
                }
            }
            b => out.push(b),
        }
    }
    out
}

/// The first refused directive standing in `text` as a whole token: a `.` that does not
/// continue a name, and the name after it up to the first character that cannot be part
/// of one (`foo.incbin.0` is a symbol, `.includes` another word). One pass over the text.
fn refused_directive(text: &[u8]) -> Option<&'static (&'static str, &'static str)> {
    let is_name = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'$');
    text.iter().enumerate().find_map(|(at, &b)| {
        if b != b'.' || at > 0 && is_name(text[at - 1]) {
            return None;
        }
        let len = text[at + 1..].iter().take_while(|b| is_name(**b)).count();
        let token = &text[at..at + 1 + len];
        REFUSED_DIRECTIVES
            .iter()
            .find(|(directive, _)| directive.as_bytes() == token)
    })
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

/// Routes gcc's passes through distfarm (`-wrapper`), which checks the assembler's input.
#[derive(Debug)]
pub struct WrapperGuard {
    pub exe: PathBuf,
}

impl WrapperGuard {
    /// Arguments to put first so that `compiler`'s assembler is checked; `None` when this
    /// compiler cannot be guarded this way.
    pub fn args(&self, compiler: &Path) -> Option<Vec<String>> {
        let exe = self.exe.display().to_string();
        (supports_wrapper(compiler) && !exe.contains(','))
            .then(|| vec!["-wrapper".to_string(), format!("{exe},{GUARD_ARG}")])
    }
}

/// Whether `compiler` is clang (`clang`, `clang++`, `clang-14`, a triplet-prefixed name).
pub fn is_clang(compiler: &Path) -> bool {
    compiler
        .file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.contains("clang"))
}

/// A gcc driver by name, and a program (not a script) by the name of the file it really
/// is: one whose passes `gcc_passes` may run. Not a compiler allowed by name with
/// `--compiler` (it could be anything), nor a `gcc` that is ccache or a wrapper script,
/// which running the passes directly would bypass.
pub fn is_gcc_driver(compiler: &Path) -> bool {
    let family = |path: &Path| {
        path.file_name()
            .and_then(|n| n.to_str())
            .is_some_and(crate::compiler_names::is_compiler_family_name)
    };
    let is_elf = |path: &Path| {
        use std::io::Read;
        let mut magic = [0u8; 4];
        std::fs::File::open(path)
            .and_then(|mut f| f.read_exact(&mut magic))
            .is_ok_and(|()| magic == *b"\x7fELF")
    };
    supports_wrapper(compiler)
        && family(compiler)
        && compiler
            .canonicalize()
            .is_ok_and(|real| family(&real) && is_elf(&real))
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
    let error = std::process::Command::new(program).args(args).exec();
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directives_are_found_behind_labels_inside_comments_and_built_by_macros() {
        for text in [
            "l: .incbin \"/etc/passwd\"\n",
            "l:.incbin \"/etc/passwd\"\n",
            ".inc/**/bin \"/etc/passwd\"\n",
            ".in/* x */clude \"/etc/passwd\"\n",
            ".macro m x\n.\\x \"/etc/passwd\"\n.endm\nm incbin\n",
            ".irp d,incbin\n.\\d \"/etc/passwd\"\n.endr\n",
            ".ALTMACRO\n",
            // A character constant that a string-blind or string-naive scan misreads.
            ".byte '\"\n.ascii \"/*\"\n.inc/**/bin \"/etc/passwd\"\n",
            // A quote in a `#` comment, the same trick.
            "nop # \"\n.ascii \"/*\"\n.inc/**/bin \"/etc/passwd\"\n",
        ] {
            assert!(check_assembly(text.as_bytes()).is_err(), "{text:?}");
        }
        // Symbols and other words that merely contain the letters are not directives.
        let text = "incbin.0:\n\t.long include\n\t.globl foo.incbin\n\t.section .rodata\n";
        assert!(check_assembly(text.as_bytes()).is_ok());
    }

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
    fn only_real_gcc_programs_have_their_passes_run_directly() {
        assert!(is_gcc_driver(Path::new("/usr/bin/gcc")));
        let dir = tempfile::tempdir().unwrap();
        let script = dir.path().join("gcc");
        std::fs::write(&script, "#!/bin/sh\nexec /usr/bin/gcc \"$@\"\n").unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        assert!(!is_gcc_driver(&script), "a wrapper script named gcc");
        let link = dir.path().join("g++");
        std::os::unix::fs::symlink("/bin/true", &link).unwrap();
        assert!(
            !is_gcc_driver(&link),
            "a gcc name on another program (ccache, say)"
        );
    }

    #[test]
    fn only_gcc_drivers_take_the_guard() {
        assert!(supports_wrapper(Path::new(
            "/usr/bin/x86_64-linux-gnu-gcc-12"
        )));
        assert!(!supports_wrapper(Path::new("/usr/bin/clang-16")));
    }
}
