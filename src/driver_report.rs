//! What gcc's driver says it would run (`gcc -### …`): its report parsed into passes, each
//! with the environment the driver sets before it. The server plans its compile passes from
//! it (`server::gcc_passes`), the wrapper its preprocessor run (`client::cpp_plan`).
//!
//! A report is read only when it holds nothing but passes, environment assignments and the
//! header lines that describe the compiler: a driver message (a warning about an option, say)
//! makes it unreadable, so that the job goes to the driver, whose messages the user then sees.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Stdio;

/// Lines of a `-###` report that describe the compiler rather than a pass.
pub const REPORT_HEADERS: &[&str] = &[
    "Using built-in specs.",
    "Reading specs from ",
    "Target: ",
    "Configured with: ",
    "Thread model: ",
    "Supported LTO compression algorithms: ",
    "gcc version ",
];
/// The compiler-proper programs: they compile to assembly, and with `-E` they preprocess.
pub const COMPILERS_PROPER: &[&str] = &["cc1", "cc1plus", "cc1obj", "cc1objplus"];

/// One program the driver would run, exactly as it would run it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pass {
    pub program: PathBuf,
    pub args: Vec<String>,
    /// What the driver adds to the environment of this pass (`COLLECT_GCC`, …).
    pub env: Vec<(String, String)>,
}

/// Whether `arg` changes what the driver prints or runs beyond the plain passes: the job
/// then goes to the driver, never to a plan (a response file `@FILE` may say anything, and
/// say something else next time; `-wrapper` runs every pass through another program).
pub fn driver_must_run(arg: &str) -> bool {
    arg.contains('\n')
        || matches!(arg, "-v" | "--verbose" | "-###" | "-Q" | "-wrapper")
        || arg.starts_with("-save-temps")
        || arg.starts_with("-time")
        || arg.starts_with('@')
}

/// The passes in a `-###` report, each with the environment the driver set before it;
/// `None` if the report holds anything else.
pub fn parse_report(report: &str) -> Option<Vec<Pass>> {
    let mut env: Vec<(String, String)> = Vec::new();
    let mut passes = Vec::new();
    for line in report.lines() {
        if let Some(command) = line.strip_prefix(' ') {
            let mut words = split_command(command)?.into_iter();
            passes.push(Pass {
                program: PathBuf::from(words.next()?),
                args: words.collect(),
                env: env.clone(),
            });
        } else if let Some((name, value)) = env_assignment(line) {
            env.retain(|(n, _)| n != name);
            env.push((name.to_string(), value.to_string()));
        } else if !REPORT_HEADERS.iter().any(|h| line.starts_with(h)) {
            return None;
        }
    }
    Some(passes)
}

/// `NAME=VALUE` as the driver prints what it puts in the environment.
fn env_assignment(line: &str) -> Option<(&str, &str)> {
    let (name, value) = line.split_once('=')?;
    let mut chars = name.chars();
    let first = chars.next()?;
    ((first.is_ascii_uppercase() || first == '_')
        && chars.all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_'))
    .then_some((name, value))
}

/// Splits a command as gcc prints it: words separated by one space, a word with characters
/// other than `[A-Za-z0-9_/.-]` in double quotes with `"`, `\` and `$` escaped by `\`.
fn split_command(line: &str) -> Option<Vec<String>> {
    let mut words = Vec::new();
    let mut chars = line.chars().peekable();
    while chars.peek().is_some() {
        let mut word = String::new();
        if chars.next_if_eq(&'"').is_some() {
            loop {
                match chars.next()? {
                    '"' => break,
                    '\\' => word.push(chars.next()?),
                    c => word.push(c),
                }
            }
        } else {
            while let Some(c) = chars.next_if(|c| *c != ' ') {
                word.push(c);
            }
        }
        words.push(word);
        match chars.next() {
            None | Some(' ') => {}
            Some(_) => return None,
        }
    }
    Some(words)
}

/// `compiler -### ARGS`, its stdin empty, its `PATH` given, and in the C locale: the
/// report's header lines are matched in English (the plan is the same in any locale).
pub fn report_command(
    compiler: &Path,
    args: &[String],
    path: Option<&OsStr>,
) -> tokio::process::Command {
    let mut command = tokio::process::Command::new(compiler);
    command
        .arg("-###")
        .args(args)
        .env("LC_ALL", "C")
        .env_remove("LANGUAGE")
        .stdin(Stdio::null())
        .kill_on_drop(true);
    if let Some(path) = path {
        command.env("PATH", path);
    }
    command
}

#[cfg(test)]
mod tests {
    use super::*;

    const REPORT: &str = "Using built-in specs.\n\
COLLECT_GCC=gcc\n\
OFFLOAD_TARGET_NAMES=nvptx-none:amdgcn-amdhsa\n\
Target: x86_64-linux-gnu\n\
Configured with: ../src/configure -v\n\
Thread model: posix\n\
Supported LTO compression algorithms: zlib zstd\n\
gcc version 12.2.0 (Debian 12.2.0-14+deb12u1) \n\
COLLECT_GCC_OPTIONS='-O2' '-c' '-o' '/j/output.o'\n \
/usr/lib/gcc/x86_64-linux-gnu/12/cc1 -fpreprocessed /j/input.i -quiet \"-mtune=generic\" -O2 -o /tmp/ccX.s\n\
COLLECT_GCC_OPTIONS='-O2' '-c' '-o' '/j/output.o'\n \
as --64 -o /j/output.o /tmp/ccX.s\n\
COMPILER_PATH=/usr/lib/gcc/x86_64-linux-gnu/12/\n";

    #[test]
    fn commands_split_like_gcc_prints_them() {
        assert_eq!(
            split_command(r#"cc1 -o /tmp/x.s "-mtune=generic" "a \"b\" \\ \$c" """#).unwrap(),
            [
                "cc1",
                "-o",
                "/tmp/x.s",
                "-mtune=generic",
                r#"a "b" \ $c"#,
                ""
            ]
        );
        assert!(split_command(r#"cc1 "unclosed"#).is_none());
        assert!(split_command(r#"cc1 "a"b"#).is_none());
    }

    #[test]
    fn a_report_gives_each_pass_the_environment_set_before_it() {
        let passes = parse_report(REPORT).unwrap();
        assert_eq!(passes.len(), 2);
        assert_eq!(passes[0].args[3], "-mtune=generic");
        assert_eq!(passes[1].program, PathBuf::from("as"));
        let names: Vec<&str> = passes[1].env.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            ["COLLECT_GCC", "OFFLOAD_TARGET_NAMES", "COLLECT_GCC_OPTIONS"]
        );
    }

    #[test]
    fn a_driver_message_in_the_report_leaves_the_job_to_the_driver() {
        let report = format!("gcc: warning: -pipe ignored\n{REPORT}");
        assert!(parse_report(&report).is_none());
    }
}
