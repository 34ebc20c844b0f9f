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
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::confinement::JobConfinement;
pub use crate::driver_report::Pass;
use crate::driver_report::{COMPILERS_PROPER, driver_must_run, parse_report};

/// Stands for the job directory in cached plans; NUL never appears in an argument.
const JOB_DIR: &str = "\0job-dir\0";
/// The assembly between the passes, in the job directory.
pub const ASSEMBLY_FILE: &str = "distfarm-pass.s";
/// Plans kept before the cache starts over (each distinct command shape makes one).
const MAX_PLANS: usize = 512;
/// How long the driver may take to say what it would run.
const ASK_TIMEOUT: Duration = Duration::from_secs(5);
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
    let mut command = crate::driver_report::report_command(compiler, args, path);
    command
        // It makes (and removes) its temporary file names even when only asked.
        .env("TMPDIR", job_dir)
        .current_dir(job_dir);
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
