//! A pump-mode job for an engine (`grpc://…,cpp`): what the include scan found (its tree
//! read back by [`crate::protocol::closure_tree::mirrored`]) becomes the input root, and the compile command
//! its Command's argv ([`crate::reapi::pump_action`] runs it through a script that knows
//! where the root is). Pure: the files come with their contents.
//!
//! * Each shipped file is at its absolute path without the leading `/`; each link met on
//!   the way is a link again, its target made relative (so it stays inside the root); each
//!   directory that must exist exists, the working directory too. System headers (under the
//!   compiler's default directories) are not shipped: the worker's compiler has them.
//! * Every absolute path in the command that is not under a default directory gets
//!   [`ROOT_MARK`] in front (the source, `-I`, `-isystem`, `-iquote`, `-idirafter`,
//!   `-include`, `-imacros`, `-iprefix…`, and the old side of a prefix map); the root is
//!   mapped away first of all, so the user's own maps still win for their paths.
//! * The object is a fixed `output.o` (`output.s` for `-S`), or the `-o` as given when other
//!   outputs are named after it (`-gsplit-dwarf`), as in plain mode. A `-MD`/`-MMD` job writes
//!   a fixed `output.d` with the target a local gcc gives it (`-MQ OUTPUT` unless the
//!   command names one); the client takes the root out of it ([`deps_file`]).

use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use super::flags::{self, Category, Mode, Value};
use super::job::CompileJob;
use super::pump::NotPumped;
use crate::path_options::{PATH_OPTIONS, PREFIX_MAPS};
use crate::protocol::closure_tree::Mirrored;
use crate::protocol::deps_file;
use crate::reapi::input_tree::{BuiltTree, InputTree, relative_target};
use crate::reapi::pump_action::ROOT_MARK;

/// The object's name on the worker when the job's own `-o` need not be kept.
const OUTPUT_STEM: &str = "output";
/// The dependency file's name on the worker.
pub const DEPS_OUTPUT: &str = "output.d";
/// The file the worker's script writes its input root's path into, for the `.d` clean-up.
pub const ROOT_OUTPUT: &str = "output.root";

/// What the Action is made of, besides the compiler and the platform.
#[derive(Debug)]
pub struct PumpInputs {
    /// The compiler's arguments (without argv[0]), marked.
    pub args: Vec<String>,
    /// The working directory, absolute.
    pub cwd: String,
    pub tree: BuiltTree,
    /// The object first, then the `.dwo` and the `.d` when the job makes them.
    pub outputs: Vec<String>,
    /// The root's file, when a `.d` comes back.
    pub root_file: Option<&'static str>,
}

/// The input root and argv for `job` run in `cwd`, whose scan found `tree`, or why an
/// engine cannot take it in pump mode (then it goes preprocessed).
pub fn inputs(job: &CompileJob, cwd: &Path, tree: &Mirrored) -> Result<PumpInputs, NotPumped> {
    let not = |why: String| NotPumped::NotForEngine(why);
    let cwd_text = utf8(cwd)?;
    if let Some(word) = job.argv.iter().find(|w| w.contains(ROOT_MARK)) {
        return Err(not(format!(
            "the argument \"{word}\" holds {ROOT_MARK}, which stands for the engine's root"
        )));
    }
    let system = |path: &Path| tree.system_dirs.iter().any(|d| path.starts_with(d));
    let mut root = InputTree::new();
    let tree_error = |e: crate::reapi::input_tree::TreeError| not(e.to_string());
    for (path, content) in &tree.files {
        root.add_file(&in_root(path)?, content.clone())
            .map_err(tree_error)?;
    }
    for (link, target) in &tree.links {
        if system(target) {
            // Its target is not shipped, and a link out of the root is never made.
            return Err(not(format!(
                "the link {} leads into the compiler's own directories ({})",
                link.display(),
                target.display()
            )));
        }
        let (link, target) = (in_root(link)?, in_root(target)?);
        root.add_symlink(&link, &relative_target(&link, &target))
            .map_err(tree_error)?;
    }
    for dir in &tree.dirs {
        root.add_dir(&in_root(dir)?).map_err(tree_error)?;
    }
    let workdir = in_root(cwd)?;
    root.add_dir(&workdir).map_err(tree_error)?;

    let object = object_output(job)?;
    let mut outputs = vec![object.clone()];
    outputs.extend(named_after_output(job));
    if job.dependencies.is_some() {
        outputs.push(DEPS_OUTPUT.to_string());
    }
    let root_file = job.dependencies.is_some().then_some(ROOT_OUTPUT);
    for output in outputs.iter().map(String::as_str).chain(root_file) {
        let at = if workdir.is_empty() {
            output.to_string()
        } else {
            format!("{workdir}/{output}")
        };
        if root.has(&at) {
            return Err(not(format!(
                "the engine's output {output} would overwrite a shipped file"
            )));
        }
    }
    Ok(PumpInputs {
        args: marked_args(job, &object, &|p: &str| !system(Path::new(p))),
        cwd: cwd_text.to_string(),
        tree: root.build(),
        outputs,
        root_file,
    })
}

/// The dependency file as a local `gcc -MD` writes it, from the worker's `.d` and the root
/// the script wrote.
pub fn local_deps(deps: &[u8], root: &[u8]) -> Vec<u8> {
    deps_file::without_root(deps, &String::from_utf8_lossy(root))
}

/// The object's name in the Command (see the module comment).
fn object_output(job: &CompileJob) -> Result<String, NotPumped> {
    if job.engine_only.is_some() {
        // Other outputs are named after it, and the object records their names.
        if !crate::reapi::action::stays_inside(&job.output) {
            return Err(NotPumped::NotForEngine(format!(
                "the output \"{}\" must stay as given, and an engine only writes relative \
                 paths inside the working directory",
                job.output
            )));
        }
        return Ok(job.output.clone());
    }
    Ok(format!("{OUTPUT_STEM}{}", made_ext(job)))
}

/// What the job makes: `.s` for `-S`, else an object.
pub fn made_ext(job: &CompileJob) -> &'static str {
    if job.mode == Mode::Assemble {
        ".s"
    } else {
        ".o"
    }
}

/// What a compile of `job` writes beside its output, named after it: `-gsplit-dwarf`'s
/// `.dwo` (whose name the object records, so the Command keeps the job's own `-o`).
pub fn named_after_output(job: &CompileJob) -> Vec<String> {
    if job.engine_only.is_some() && job.mode == Mode::Compile {
        vec![dwo_beside(&job.output)]
    } else {
        Vec::new()
    }
}

/// gcc's name for the split debug info of `object`: its last extension replaced by `.dwo`.
pub fn dwo_beside(object: &str) -> String {
    Path::new(object)
        .with_extension("dwo")
        .to_string_lossy()
        .into_owned()
}

/// The compiler's arguments for the worker: the root mapped away first, every absolute
/// path `movable` marked, `-o` naming `object`, the dependency file named [`DEPS_OUTPUT`]
/// with the target a local compile gives it.
fn marked_args(job: &CompileJob, object: &str, movable: &dyn Fn(&str) -> bool) -> Vec<String> {
    let mark = |path: &str| {
        if path.starts_with('/') && movable(path) {
            format!("{ROOT_MARK}{path}")
        } else {
            path.to_string()
        }
    };
    let mut out = vec![format!("-ffile-prefix-map={ROOT_MARK}=")];
    let mut words = job.argv.iter().enumerate().skip(1);
    while let Some((i, word)) = words.next() {
        let mut next = || words.next().map(|(_, w)| w.clone()).unwrap_or_default();
        if i == job.input_index {
            out.push(mark(word));
            continue;
        }
        if PATH_OPTIONS.contains(&word.as_str()) {
            let value = next();
            out.extend([word.clone(), mark(&value)]);
            continue;
        }
        // Joined forms; `-iwithprefixbefore` before `-iwithprefix`, and `-include`
        // before `-I` would not matter (`-I` joined to `nclude…` is no path of ours).
        if let Some(option) = PATH_OPTIONS
            .iter()
            .filter(|o| word.starts_with(*o))
            .max_by_key(|o| o.len())
        {
            out.push(format!("{option}{}", mark(&word[option.len()..])));
            continue;
        }
        if let Some(map) = PREFIX_MAPS.iter().find(|m| word.starts_with(*m)) {
            out.push(match word[map.len()..].split_once('=') {
                Some((old, new)) => format!("{map}{}={new}", mark(old)),
                None => word.clone(),
            });
            continue;
        }
        match flags::lookup(word) {
            Some(m) if m.flag.category == Category::Output => {
                if m.value == Value::Next {
                    next();
                }
            }
            Some(m) if m.flag.name == "-MF" => {
                if m.value == Value::Next {
                    next();
                }
            }
            Some(m) if m.value == Value::Next => out.extend([word.clone(), next()]),
            None if flags::OTHER_SEPARATE.contains(&word.as_str()) => {
                out.extend([word.clone(), next()])
            }
            _ => out.push(word.clone()),
        }
    }
    out.extend(["-o".to_string(), object.to_string()]);
    if let Some(deps) = &job.dependencies {
        out.extend(["-MF".to_string(), DEPS_OUTPUT.to_string()]);
        if !deps.target_given {
            // What gcc's driver adds itself for `-MD` with `-o`: the target as a local
            // compile names it, not the worker's `output.o`.
            out.extend(["-MQ".to_string(), job.output.clone()]);
        }
    }
    out
}

/// `path` inside the root: absolute, UTF-8 (REAPI names are strings), without its `/`.
fn in_root(path: &Path) -> Result<String, NotPumped> {
    let text = utf8(path)?;
    match text.strip_prefix('/') {
        Some(rest) => Ok(rest.trim_end_matches('/').to_string()),
        None => Err(NotPumped::NotForEngine(format!(
            "the scan named a relative path {text}"
        ))),
    }
}

fn utf8(path: &Path) -> Result<&str, NotPumped> {
    std::str::from_utf8(path.as_os_str().as_bytes()).map_err(|_| {
        NotPumped::NotForEngine(format!(
            "the path {} is not UTF-8, and an engine's names are",
            path.display()
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::args::{Scan, scan};
    use crate::reapi::proto::Directory;
    use prost::Message;

    fn job(command: &str) -> CompileJob {
        let argv: Vec<String> = command.split(' ').map(String::from).collect();
        match scan(&argv) {
            Scan::Distribute(job) => job,
            other => panic!("{command}: {other:?}"),
        }
    }

    /// What the scan of `/home/u/p/x.c` found, with these contents for its two files.
    fn closure(contents: [&[u8]; 2]) -> Mirrored {
        Mirrored {
            files: vec![
                ("/home/u/p/x.c".into(), contents[0].to_vec()),
                ("/home/u/p/inc/a.h".into(), contents[1].to_vec()),
            ],
            links: vec![("/home/u/p/inc/l".into(), "/home/u/p/inc/real".into())],
            dirs: vec!["/home/u/p/inc/real".into()],
            system_dirs: vec!["/usr/include".into(), "/usr/lib/gcc/x/12/include".into()],
        }
    }

    fn inputs(job: &CompileJob, tree: &Mirrored) -> Result<PumpInputs, NotPumped> {
        super::inputs(job, Path::new("/home/u/p/build"), tree)
    }

    fn words(args: &[String]) -> String {
        args.join(" ")
    }

    #[test]
    fn absolute_paths_into_the_tree_are_marked_and_system_ones_are_not() {
        let j = job(
            "gcc -O2 -I/home/u/p/inc -I ../inc -isystem /usr/include/foo -iquote /home/u/q \
             -include /home/u/p/inc/a.h -idirafter/opt/x -fdebug-prefix-map=/home/u=/src \
             -c /home/u/p/x.c -o out/x.o",
        );
        let inputs = inputs(&j, &closure([b"int x;\n", b"int a;\n"])).unwrap();
        assert_eq!(
            words(&inputs.args),
            "-ffile-prefix-map=@DISTFARM_ROOT@= -O2 -I@DISTFARM_ROOT@/home/u/p/inc -I ../inc \
             -isystem /usr/include/foo -iquote @DISTFARM_ROOT@/home/u/q \
             -include @DISTFARM_ROOT@/home/u/p/inc/a.h -idirafter@DISTFARM_ROOT@/opt/x \
             -fdebug-prefix-map=@DISTFARM_ROOT@/home/u=/src -c @DISTFARM_ROOT@/home/u/p/x.c \
             -o output.o"
        );
        assert_eq!(inputs.outputs, ["output.o"]);
        assert_eq!(inputs.root_file, None);
        assert_eq!(inputs.cwd, "/home/u/p/build");
    }

    #[test]
    fn a_dependency_file_gets_a_fixed_name_and_the_local_target() {
        let j = job("gcc -c x.c -MD -MF deps/x.d -o out/x.o");
        let inputs = inputs(&j, &closure([b"", b""])).unwrap();
        assert_eq!(
            words(&inputs.args),
            "-ffile-prefix-map=@DISTFARM_ROOT@= -c x.c -MD -o output.o -MF output.d -MQ out/x.o"
        );
        assert_eq!(inputs.outputs, ["output.o", "output.d"]);
        assert_eq!(inputs.root_file, Some("output.root"));
        let j = job("gcc -c x.c -MMD -MT mine -o out/x.o");
        let inputs = super::tests::inputs(&j, &closure([b"", b""])).unwrap();
        assert_eq!(
            words(&inputs.args),
            "-ffile-prefix-map=@DISTFARM_ROOT@= -c x.c -MMD -MT mine -o output.o -MF output.d"
        );
    }

    #[test]
    fn a_split_dwarf_job_keeps_its_output_and_declares_its_dwo() {
        let j = job("gcc -g -gsplit-dwarf -c x.c -o sub/x.o");
        let inputs = inputs(&j, &closure([b"", b""])).unwrap();
        assert_eq!(inputs.outputs, ["sub/x.o", "sub/x.dwo"]);
        assert!(words(&inputs.args).ends_with("-o sub/x.o"));
        let j = job("gcc -g -gsplit-dwarf -c x.c -o ../x.o");
        assert!(matches!(
            super::tests::inputs(&j, &closure([b"", b""])),
            Err(NotPumped::NotForEngine(_))
        ));
    }

    #[test]
    fn the_root_mirrors_files_links_and_directories_at_their_absolute_paths() {
        let j = job("gcc -c /home/u/p/x.c -o x.o");
        let inputs = inputs(&j, &closure([b"int x;\n", b"int a;\n"])).unwrap();
        let blobs = &inputs.tree.blobs;
        let dir = |digest: &crate::reapi::proto::Digest| {
            let (_, bytes) = blobs.iter().find(|(d, _)| d == digest).unwrap();
            Directory::decode(&bytes[..]).unwrap()
        };
        let mut at = dir(&inputs.tree.root_digest);
        for name in ["home", "u", "p"] {
            let node = at.directories.iter().find(|d| d.name == name).unwrap();
            at = dir(node.digest.as_ref().unwrap());
        }
        let names: Vec<&str> = at.directories.iter().map(|d| d.name.as_str()).collect();
        assert_eq!(names, ["build", "inc"], "the working directory exists too");
        assert_eq!(at.files[0].name, "x.c");
        let inc = dir(at.directories[1].digest.as_ref().unwrap());
        assert_eq!(inc.files[0].name, "a.h");
        assert_eq!(inc.symlinks[0].name, "l");
        assert_eq!(inc.symlinks[0].target, "real");
        assert_eq!(inc.directories[0].name, "real");
        assert!(blobs.iter().any(|(_, b)| b == b"int a;\n"), "raw bytes");
        assert!(!blobs.iter().any(|(_, b)| b.starts_with(b"# 1")), "no text");
    }

    #[test]
    fn what_an_engine_root_cannot_hold_goes_preprocessed() {
        let j = job("gcc -c x.c -o x.o");
        let mut into_system = closure([b"", b""]);
        into_system.links = vec![("/home/u/p/inc/l".into(), "/usr/include/sys".into())];
        let mut shadowed = closure([b"", b""]);
        shadowed.files[1].0 = "/home/u/p/build/output.o".into();
        let marked = job("gcc -c x.c -DX=@DISTFARM_ROOT@ -o x.o");
        let plain = closure([b"", b""]);
        for (j, tree) in [(&j, into_system), (&j, shadowed), (&marked, plain)] {
            let result = inputs(j, &tree);
            assert!(
                matches!(result, Err(NotPumped::NotForEngine(_))),
                "{result:?}"
            );
        }
    }

    #[test]
    fn the_workers_root_leaves_the_dependency_file() {
        let deps = b"out/x.o: x.c /w/r/home/u/p/inc/a.h\n";
        assert_eq!(
            local_deps(deps, b"/w/r"),
            b"out/x.o: x.c /home/u/p/inc/a.h\n"
        );
    }
}
