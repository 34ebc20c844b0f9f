//! Preprocessor plans on disk, one file per command shape in `$DISTCC_DIR/cpp-plans/`, shared
//! by every wrapper of the user: the first job of a shape asks the driver (`gcc -###`, twice:
//! its own command and the command with tokens, see `cpp_plan`), later jobs read the file
//! and run `cc1 -E` themselves.
//!
//! A file is named by a hash of its key and starts with the key itself, compared byte for
//! byte: the compiler as run and the file it resolves to (size, modification time), the
//! arguments with the per-job words as tokens, how the source is named, `PATH`, every
//! variable that may change what the driver plans or what the preprocessor reads, and the
//! working directory when an option makes the driver search relative to it. The plan names
//! its program with its size and modification time too: a compiler changed on disk makes a
//! new key, or a plan that no longer holds and is asked again.

use std::ffi::{OsStr, OsString};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::cpp_plan::{self, Shape};
use crate::driver_report::Pass;

/// The first line of every plan file (its format's version).
const HEADER: &str = "distfarm cpp plan 1";
/// Ends the key in a plan file.
const END_KEY: &str = "end-key";
/// How long the driver may take to say what it would run.
const ASK_TIMEOUT: Duration = Duration::from_secs(10);

/// What one job of a preprocessor command needs to know.
pub struct Request<'a> {
    /// The compiler as it is run (its name is what the driver puts in `COLLECT_GCC`).
    pub compiler: &'a Path,
    /// The preprocessor's arguments after the compiler.
    pub args: &'a [String],
    /// The source file as the arguments name it.
    pub input: &'a str,
    /// `PATH` for the compiler.
    pub path: Option<&'a OsStr>,
    /// The variables that belong to the key (see `config::ClientEnv::cpp_plan_env`).
    pub key_env: &'a [(String, OsString)],
    pub cwd: &'a Path,
}

/// What the cache says about a command.
pub enum Found {
    /// Run this pass: the plan, filled in for this job.
    Plan(Pass),
    /// The driver runs commands of this shape.
    Driver,
    /// Not known yet: ask the driver once (while it preprocesses this job).
    Unknown(Learn),
}

/// Asking the driver about a shape and keeping the answer.
pub struct Learn {
    file: PathBuf,
    key: String,
    shape: Shape,
}

/// Looks the command up in `dir` (the plans directory).
pub fn lookup(dir: &Path, request: &Request) -> Found {
    let Some(shape) = cpp_plan::shape(request.args, request.input) else {
        return Found::Driver;
    };
    let Some(key) = key(request, &shape) else {
        return Found::Driver;
    };
    let file = dir.join(file_name(&key));
    let learn = || {
        Found::Unknown(Learn {
            file: file.clone(),
            key: key.clone(),
            shape: shape.clone(),
        })
    };
    let Ok(text) = std::fs::read_to_string(&file) else {
        return learn();
    };
    match read_plan(&text, &key) {
        Some(Stored::Driver) => Found::Driver,
        Some(Stored::Plan(template)) => Found::Plan(cpp_plan::fill(&template, &shape.values)),
        None => learn(),
    }
}

impl Learn {
    /// Asks the driver what it runs for this job's command and for its shape, and writes the
    /// plan (or that the driver runs this shape). A driver that could not be asked this time
    /// (it did not start, or took too long) leaves nothing written: the next job asks again.
    pub async fn ask(self, request_compiler: PathBuf, real_args: Vec<String>, env: AskEnv) {
        let probe = ask_driver(&request_compiler, &self.shape.probe_args, &env);
        let own = ask_driver(&request_compiler, &real_args, &env);
        let (Some(probe), Some(own)) = tokio::join!(probe, own) else {
            return;
        };
        let template = probe.zip(own).and_then(|(template, own)| {
            (cpp_plan::template_holds(&template, &self.shape.values, &own)
                && crate::executables::is_real_program(&template.program))
            .then_some(template)
        });
        let text = match template
            .as_ref()
            .and_then(|t| Some((t, identity(&t.program)?)))
        {
            Some((template, program)) => write_plan(&self.key, template, &program),
            None => format!("{}driver\n", key_part(&self.key)),
        };
        let written = self
            .file
            .parent()
            .map(std::fs::create_dir_all)
            .unwrap_or(Ok(()))
            .and_then(|()| crate::user_files::write(&self.file, text.as_bytes()));
        match written {
            Ok(()) => tracing::debug!(
                "preprocessor plan {}: {}",
                self.file.display(),
                if template.is_some() {
                    "cc1 runs directly"
                } else {
                    "the driver runs this shape"
                }
            ),
            // A plan that cannot be kept only costs the next job of this shape the question.
            Err(e) => tracing::debug!("cannot write {}: {e}", self.file.display()),
        }
    }
}

/// The environment of a `-###` question.
#[derive(Clone)]
pub struct AskEnv {
    pub path: Option<OsString>,
    pub safeguard: u32,
}

/// The driver's preprocessor pass for `args`: `Some(None)` when it is not a plain one,
/// `None` when the driver could not be asked.
async fn ask_driver(compiler: &Path, args: &[String], env: &AskEnv) -> Option<Option<Pass>> {
    let mut command = crate::driver_report::report_command(compiler, args, env.path.as_deref());
    command.env("_DISTCC_SAFEGUARD", (env.safeguard + 1).to_string());
    let report = tokio::time::timeout(ASK_TIMEOUT, command.output())
        .await
        .ok()?
        .ok()?;
    if !report.status.success() || !report.stdout.is_empty() {
        return Some(None);
    }
    Some(
        std::str::from_utf8(&report.stderr)
            .ok()
            .and_then(cpp_plan::preprocessor_pass),
    )
}

/// The key's text, one item a line; `None` when something in it cannot be written so (a
/// compiler that cannot be looked at, a value with a newline or not in UTF-8).
fn key(request: &Request, shape: &Shape) -> Option<String> {
    let compiler = request.compiler.to_str()?;
    let resolved = std::fs::canonicalize(request.compiler).ok()?;
    let (size, mtime) = identity(&resolved)?;
    let mut lines = vec![
        format!("compiler {compiler}"),
        format!("file {size} {mtime} {}", resolved.to_str()?),
        format!("form {}", shape.input_form),
        format!(
            "path {}",
            request.path.map(|p| p.to_str()).unwrap_or(Some(""))?
        ),
    ];
    // The driver looks for programs and specs relative to the working directory for these.
    if request
        .args
        .iter()
        .any(|a| a.starts_with("-B") || a.contains("specs"))
    {
        lines.push(format!("cwd {}", request.cwd.to_str()?));
    }
    for (name, value) in request.key_env {
        lines.push(format!("env {name}={}", value.to_str()?));
    }
    lines.extend(shape.probe_args.iter().map(|a| format!("arg {a}")));
    lines
        .iter()
        .all(|l| !l.contains('\n'))
        .then(|| lines.join("\n") + "\n")
}

/// A file's size and modification time (seconds.nanoseconds).
fn identity(file: &Path) -> Option<(u64, String)> {
    let meta = std::fs::metadata(file).ok()?;
    Some((
        meta.size(),
        format!("{}.{:09}", meta.mtime(), meta.mtime_nsec()),
    ))
}

/// The plan file's name: the key's SHA-256 in hex.
fn file_name(key: &str) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(key.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn key_part(key: &str) -> String {
    format!("{HEADER}\n{key}{END_KEY}\n")
}

/// What a plan file says.
#[derive(Debug, PartialEq, Eq)]
enum Stored {
    Plan(Pass),
    Driver,
}

/// The file's text for a plan: the key, then the program (with its size and modification
/// time), what the driver adds to its environment, and its arguments (with tokens).
fn write_plan(key: &str, template: &Pass, (size, mtime): &(u64, String)) -> String {
    let mut text = key_part(key);
    text += &format!("program {size} {mtime} {}\n", template.program.display());
    for (name, value) in &template.env {
        text += &format!("env {name}={value}\n");
    }
    for arg in &template.args {
        text += &format!("arg {arg}\n");
    }
    text
}

/// The plan in a file whose key is exactly `key`, with its program as it was when the plan
/// was made; `None` for anything else (another key, a changed program, a damaged file).
fn read_plan(text: &str, key: &str) -> Option<Stored> {
    let rest = text.strip_prefix(&key_part(key))?;
    if rest == "driver\n" {
        return Some(Stored::Driver);
    }
    let mut lines = rest.strip_suffix('\n')?.split('\n');
    let mut program = lines.next()?.strip_prefix("program ")?.splitn(3, ' ');
    let (size, mtime, path) = (program.next()?, program.next()?, program.next()?);
    let program = PathBuf::from(path);
    let (now_size, now_mtime) = identity(&program)?;
    if now_size.to_string() != size || now_mtime != mtime {
        return None;
    }
    let mut pass = Pass {
        program,
        args: Vec::new(),
        env: Vec::new(),
    };
    for line in lines {
        if let Some(arg) = line.strip_prefix("arg ") {
            pass.args.push(arg.to_string());
        } else {
            let (name, value) = line.strip_prefix("env ")?.split_once('=')?;
            pass.env.push((name.to_string(), value.to_string()));
        }
    }
    Some(Stored::Plan(pass))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn template(program: &Path) -> Pass {
        Pass {
            program: program.to_path_buf(),
            args: vec!["-E".into(), "distfarmzSTEMz.c".into(), "".into()],
            env: vec![("COLLECT_GCC_OPTIONS".into(), "'-E' 'a=b'".into())],
        }
    }

    #[test]
    fn a_written_plan_reads_back_under_its_own_key_only() {
        let dir = tempfile::tempdir().unwrap();
        let program = dir.path().join("cc1");
        std::fs::write(&program, "x").unwrap();
        let pass = template(&program);
        let text = write_plan("compiler gcc\n", &pass, &identity(&program).unwrap());
        assert_eq!(
            read_plan(&text, "compiler gcc\n"),
            Some(Stored::Plan(pass.clone()))
        );
        assert_eq!(read_plan(&text, "compiler cc\n"), None);
        let driver = format!("{}driver\n", key_part("compiler gcc\n"));
        assert_eq!(read_plan(&driver, "compiler gcc\n"), Some(Stored::Driver));
        assert_eq!(read_plan(&text[..text.len() - 3], "compiler gcc\n"), None);
    }

    #[test]
    fn a_program_changed_since_the_plan_voids_it() {
        let dir = tempfile::tempdir().unwrap();
        let program = dir.path().join("cc1");
        std::fs::write(&program, "x").unwrap();
        let text = write_plan("k\n", &template(&program), &identity(&program).unwrap());
        std::fs::write(&program, "longer").unwrap();
        assert_eq!(read_plan(&text, "k\n"), None);
    }

    #[test]
    fn the_key_names_the_compiler_file_and_the_variables() {
        let dir = tempfile::tempdir().unwrap();
        let gcc = dir.path().join("gcc");
        std::fs::write(&gcc, "x").unwrap();
        let args: Vec<String> = ["-O2", "-E", "a.c"].map(String::from).to_vec();
        let env = [("CPATH".to_string(), OsString::from("/inc"))];
        let request = Request {
            compiler: &gcc,
            args: &args,
            input: "a.c",
            path: Some(OsStr::new("/usr/bin")),
            key_env: &env,
            cwd: Path::new("/w"),
        };
        let shape = cpp_plan::shape(&args, "a.c").unwrap();
        let one = key(&request, &shape).unwrap();
        assert!(one.contains("\nenv CPATH=/inc\n"), "{one}");
        assert!(one.contains("\narg distfarmzSTEMz.c\n"), "{one}");
        assert!(!one.contains("cwd"), "{one}");
        std::fs::write(&gcc, "changed").unwrap();
        assert_ne!(key(&request, &shape).unwrap(), one);
        let with_b: Vec<String> = ["-Bx", "-E", "a.c"].map(String::from).to_vec();
        let request = Request {
            args: &with_b,
            ..request
        };
        let shape = cpp_plan::shape(&with_b, "a.c").unwrap();
        assert!(key(&request, &shape).unwrap().contains("\ncwd /w\n"));
    }
}
