//! For a compile from preprocessed input, gcc's driver runs just two programs: the compiler
//! proper (`cc1`, `cc1plus`) and the assembler. A long-lived server asks the driver once per
//! command shape what it would run (`gcc -### …`) and then runs those passes itself for
//! every job of that shape. That saves one exec per job, and it lets the server check the
//! generated assembly in-process between the passes (see `assembly_check`) rather than
//! routing the assembler through another program.
//!
//! Only a plan the driver states plainly is used: one compiler-proper pass, optionally one
//! assembler pass that reads its output, and nothing else in the report (a driver warning,
//! say). Anything else is left to the driver itself, as is any pass that ends other than
//! with status 0 or 1, so that the driver's own messages reach the user as they would have.

use std::collections::HashMap;
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::confinement::JobConfinement;

/// Stands for the job directory in cached plans; NUL never appears in an argument.
const JOB_DIR: &str = "\0job-dir\0";
/// The assembly between the passes, in the job directory.
pub const ASSEMBLY_FILE: &str = "distfarm-pass.s";
/// Plans kept before the cache starts over (each distinct command shape makes one).
const MAX_PLANS: usize = 512;
/// How long the driver may take to say what it would run.
const ASK_TIMEOUT: Duration = Duration::from_secs(5);
/// Lines of a `-###` report that describe the compiler rather than a pass.
const REPORT_HEADERS: &[&str] = &[
    "Using built-in specs.",
    "Reading specs from ",
    "Target: ",
    "Configured with: ",
    "Thread model: ",
    "Supported LTO compression algorithms: ",
    "gcc version ",
];
/// The compiler-proper programs whose output is assembly.
const COMPILERS_PROPER: &[&str] = &["cc1", "cc1plus", "cc1obj", "cc1objplus"];

/// One program the driver would run, exactly as it would run it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pass {
    pub program: PathBuf,
    pub args: Vec<String>,
    /// What the driver adds to the environment of this pass (`COLLECT_GCC`, …).
    pub env: Vec<(String, String)>,
}

/// The passes of one job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Passes {
    pub compile: Pass,
    /// The assembler and the assembly file it reads; `None` for `-S`.
    pub assemble: Option<(Pass, PathBuf)>,
}

impl Passes {
    /// Every string with `from` replaced by `to` (the job directory and its placeholder).
    fn replace(&self, from: &str, to: &str) -> Passes {
        let pass = |p: &Pass| Pass {
            program: p.program.clone(),
            args: p.args.iter().map(|a| a.replace(from, to)).collect(),
            env: p
                .env
                .iter()
                .map(|(n, v)| (n.clone(), v.replace(from, to)))
                .collect(),
        };
        Passes {
            compile: pass(&self.compile),
            assemble: self.assemble.as_ref().map(|(p, file)| {
                let file = file.to_string_lossy().replace(from, to);
                (pass(p), PathBuf::from(file))
            }),
        }
    }
}

/// A compiler and a command shape: its arguments with the job directory taken out.
type Shape = (PathBuf, Vec<String>);

/// Plans learned from the driver, by command shape; `None` for shapes the driver runs.
#[derive(Debug, Default)]
pub struct PassPlans {
    plans: Mutex<HashMap<Shape, Option<Arc<Passes>>>>,
}

impl PassPlans {
    /// How many command shapes have a plan (or are known to be the driver's).
    pub fn shapes(&self) -> usize {
        self.plans.lock().expect("plans").len()
    }

    /// The passes for a job whose arguments name files in `job_dir`, or `None` when the
    /// driver should run this one itself.
    /// `confine` gives the confinement the driver is asked in (it sees the client's
    /// arguments, like any compiler the server runs).
    pub async fn for_job(
        &self,
        compiler: &Path,
        args: &[String],
        output: &Path,
        job_dir: &Path,
        path: Option<&OsStr>,
        confine: impl FnOnce() -> Option<JobConfinement>,
    ) -> Option<Passes> {
        let dir = job_dir.to_str()?;
        let key = (
            compiler.to_path_buf(),
            args.iter().map(|a| a.replace(dir, JOB_DIR)).collect(),
        );
        let cached = self.plans.lock().expect("plans").get(&key).cloned();
        let plan = match cached {
            Some(plan) => plan,
            None => {
                let plan = ask_driver(compiler, args, output, job_dir, path, confine())
                    .await
                    .ok()?
                    .map(|passes| Arc::new(passes.replace(dir, JOB_DIR)));
                let mut plans = self.plans.lock().expect("plans");
                if plans.len() >= MAX_PLANS {
                    plans.clear();
                }
                plans.insert(key, plan.clone());
                plan
            }
        };
        plan.map(|passes| passes.replace(JOB_DIR, dir))
    }
}

/// Whether `arg` changes what the driver prints or runs beyond the plain passes.
fn driver_must_run(arg: &str) -> bool {
    arg.contains('\n')
        || matches!(arg, "-v" | "--verbose" | "-###" | "-Q")
        || arg.starts_with("-save-temps")
        || arg.starts_with("-time")
}

/// The driver's plan for this job: `Ok(None)` when the driver should run it itself.
async fn ask_driver(
    compiler: &Path,
    args: &[String],
    output: &Path,
    job_dir: &Path,
    path: Option<&OsStr>,
    confinement: Option<JobConfinement>,
) -> Result<Option<Passes>, Transient> {
    if args.iter().any(|a| driver_must_run(a)) {
        return Ok(None);
    }
    let mut command = tokio::process::Command::new(compiler);
    command
        .arg("-###")
        .args(args)
        // The report's header lines are matched in English; the plan is the same in any.
        .env("LC_ALL", "C")
        .env_remove("LANGUAGE")
        // It makes (and removes) its temporary file names even when only asked.
        .env("TMPDIR", job_dir)
        .current_dir(job_dir)
        .stdin(Stdio::null())
        .kill_on_drop(true);
    if let Some(path) = path {
        command.env("PATH", path);
    }
    if let Some(confinement) = &confinement {
        confinement
            .apply(command.as_std_mut())
            .map_err(|_| Transient)?;
    }
    let Ok(Ok(report)) = tokio::time::timeout(ASK_TIMEOUT, command.output()).await else {
        return Err(Transient); // a busy machine: ask again for the next job of this shape
    };
    if !report.status.success() || !report.stdout.is_empty() {
        return Ok(None);
    }
    let passes = std::str::from_utf8(&report.stderr)
        .ok()
        .and_then(parse_report);
    Ok(passes.and_then(|passes| plan(passes, output, &job_dir.join(ASSEMBLY_FILE), path)))
}

/// The driver could not be asked this time (it did not start, or took too long).
struct Transient;

/// The passes in a `-###` report, each with the environment the driver set before it;
/// `None` if the report holds anything else.
fn parse_report(report: &str) -> Option<Vec<Pass>> {
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

/// Turns the reported passes into a plan, with the assembly written to `assembly`.
fn plan(passes: Vec<Pass>, output: &Path, assembly: &Path, path: Option<&OsStr>) -> Option<Passes> {
    let output = output.to_str()?;
    let mut passes = passes.into_iter();
    let compile = passes.next()?;
    let name = compile.program.file_name()?.to_str()?;
    if !COMPILERS_PROPER.contains(&name)
        || !compile.program.is_absolute()
        || !crate::executables::is_real_program(&compile.program)
    {
        return None;
    }
    let written = value_of(&compile.args, "-o")?.to_string();
    let Some(mut assemble) = passes.next() else {
        return (written == output).then_some(Passes {
            compile,
            assemble: None,
        });
    };
    let name = assemble.program.file_name()?.to_str()?;
    if passes.next().is_some()
        || !(name == "as" || name.ends_with("-as"))
        || written == output
        || value_of(&assemble.args, "-o")? != output
        || assemble.args.last()? != &written
        || count(&compile.args, &written) != 1
        || count(&assemble.args, &written) != 1
    {
        return None;
    }
    assemble.program = if assemble.program.is_absolute() {
        crate::executables::is_real_program(&assemble.program).then_some(assemble.program)?
    } else {
        crate::executables::find_on_path(&assemble.program, path?)?
    };
    let assembly = assembly.to_str()?;
    let mut compile = compile;
    for arg in compile.args.iter_mut().chain(assemble.args.iter_mut()) {
        if *arg == written {
            *arg = assembly.to_string();
        }
    }
    Some(Passes {
        compile,
        assemble: Some((assemble, PathBuf::from(assembly))),
    })
}

fn value_of<'a>(args: &'a [String], option: &str) -> Option<&'a str> {
    let at = args.iter().position(|a| a == option)?;
    args.get(at + 1).map(String::as_str)
}

fn count(args: &[String], word: &str) -> usize {
    args.iter().filter(|a| *a == word).count()
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

    #[test]
    fn only_compiler_proper_then_assembler_reading_its_output_is_planned() {
        let dir = tempfile::tempdir().unwrap();
        let fake_cc1 = dir.path().join("cc1");
        std::fs::write(&fake_cc1, "#!/bin/sh\n").unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&fake_cc1, std::fs::Permissions::from_mode(0o755)).unwrap();
        let pass = |program: &Path, args: &str| Pass {
            program: program.to_path_buf(),
            args: args.split(' ').map(String::from).collect(),
            env: Vec::new(),
        };
        let path = Some(std::ffi::OsString::from("/usr/bin:/bin"));
        let out = Path::new("/j/output.o");
        let asm = Path::new("/j/distfarm-pass.s");
        let good = vec![
            pass(&fake_cc1, "/j/input.i -O2 -o /tmp/ccX.s"),
            pass(Path::new("as"), "--64 -o /j/output.o /tmp/ccX.s"),
        ];
        let planned = plan(good.clone(), out, asm, path.as_deref()).unwrap();
        assert_eq!(
            planned.compile.args,
            ["/j/input.i", "-O2", "-o", "/j/distfarm-pass.s"]
        );
        let (assemble, file) = planned.assemble.unwrap();
        assert!(assemble.program.is_absolute());
        assert_eq!(assemble.args.last().unwrap(), "/j/distfarm-pass.s");
        assert_eq!(file, asm);

        let mut third = good.clone();
        third.push(pass(Path::new("as"), "-o /j/x.o /tmp/ccX.s"));
        assert!(plan(third, out, asm, path.as_deref()).is_none());
        let mut other_program = good.clone();
        other_program[1] = pass(Path::new("objcopy"), "-o /j/output.o /tmp/ccX.s");
        assert!(plan(other_program, out, asm, path.as_deref()).is_none());
        let mut not_cc1 = good.clone();
        not_cc1[0].program = PathBuf::from("/bin/sh");
        assert!(plan(not_cc1, out, asm, path.as_deref()).is_none());
        let mut elsewhere = good;
        elsewhere[1] = pass(Path::new("as"), "--64 -o /etc/x.o /tmp/ccX.s");
        assert!(plan(elsewhere, out, asm, path.as_deref()).is_none());

        let s_only = vec![pass(&fake_cc1, "/j/input.i -o /j/output.s")];
        let planned = plan(s_only, Path::new("/j/output.s"), asm, path.as_deref()).unwrap();
        assert!(planned.assemble.is_none());
    }
}
