//! A pump-mode job as an Action (a `grpc://…,cpp` host): the input root mirrors this
//! machine's absolute paths — the source and its header closure each at its own path
//! without the leading `/` ([`super::input_tree`]) — the Command runs in the mirrored
//! working directory, and the worker's compiler brings its own system headers (its
//! identity is in the platform). Pure: the caller brings the files and the arguments.
//!
//! # The command
//!
//! A worker puts the input root wherever it likes, so the compiler's absolute paths can
//! only be known there. The client writes every absolute path that lies in the shipped tree
//! with [`ROOT_MARK`] in front of it (`-I@DISTFARM_ROOT@/home/u/p/inc`), and the Command is
//! `/bin/sh -c` [`SCRIPT`] with the compiler's argv as positional parameters: the script
//! finds the root (`cd` up as many levels as the working directory is deep, `pwd -P`),
//! replaces the mark in each word and runs the words as they are. No user text is ever part
//! of the script, so nothing needs quoting. The client also puts
//! `-ffile-prefix-map=@DISTFARM_ROOT@=` first, so `__FILE__`, the debug info's compilation
//! directory and its line tables name this machine's paths: the object is the one a local
//! `gcc -c` (and with `-g` a local `gcc -g -c`) makes.
//!
//! gcc writes the `.d` file of `-MD`/`-MMD` with the root in every shipped header's name
//! (prefix maps do not apply to it). The script writes the root it found into one more
//! declared output ([`Compile::root_file`]) and the client removes it from the `.d`, in
//! Rust, rather than the script running `sed` with a worker path turned into a pattern.
//!
//! # The cache key in this mode
//!
//! The Command holds the working directory and the absolute paths the build gave, and the
//! input root holds every shipped file under its absolute path: the key depends on where
//! the build runs, besides the files' contents, the options, the compiler and the platform.
//! The same checkout path on another machine (or a second build of the same tree) hits the
//! cache; another checkout path does not — sharing across checkouts stays plain mode's.

use super::action::{ActionError, Prepared};
use super::input_tree::BuiltTree;
use super::proto::Platform;

/// Stands for the input root's absolute path on the worker, in the compiler's arguments.
pub const ROOT_MARK: &str = "@DISTFARM_ROOT@";

/// The shell that runs [`SCRIPT`]: every REAPI Linux worker has it.
pub const SHELL: &str = "/bin/sh";

/// `$0` of the script (shown in the shell's own messages).
const SCRIPT_NAME: &str = "distfarm-pump";

/// The script of every pump-mode Command; its arguments, in order: the path from the working
/// directory up to the input root, the file to write the root's path into (empty: none),
/// the compiler and its arguments. Exit 125 (the script's own failure) is distinct from the
/// compiler's statuses.
pub const SCRIPT: &str = r#"up=$1 root_file=$2
shift 2
root=$(cd -P -- "$up" && pwd -P) || exit 125
case $root in
/ | *=* | *'
'*)
    echo "distfarm-pump: the input root \"$root\" cannot be mapped away by -ffile-prefix-map" >&2
    exit 125 ;;
esac
mark=@DISTFARM_ROOT@
for word do
    shift
    case $word in
    *"$mark"*) word=${word%%"$mark"*}$root${word#*"$mark"} ;;
    esac
    set -- "$@" "$word"
done
"$@" || exit
if [ -n "$root_file" ]; then
    printf '%s' "$root" > "$root_file" || exit 125
fi
"#;

/// What one pump-mode compile is made of.
#[derive(Debug, Clone)]
pub struct Compile<'a> {
    /// The compiler's absolute path (`/usr/bin/gcc`): workers have it at the same place.
    pub compiler: &'a str,
    /// Its arguments (argv without argv[0]), [`ROOT_MARK`] in front of every absolute path
    /// into the shipped tree.
    pub args: &'a [String],
    /// The working directory, absolute (mirrored in the input root).
    pub cwd: &'a str,
    /// The input root.
    pub tree: BuiltTree,
    /// The outputs, relative to the working directory: the object first.
    pub outputs: &'a [String],
    /// The output the script writes the root's path into, relative like them (when a `.d`
    /// file is among the outputs, for the client to remove the root from it).
    pub root_file: Option<&'a str>,
    /// What the workers must be ([`super::platform::properties`]).
    pub platform: Platform,
}

/// Builds the Action for `compile`.
pub fn prepare(compile: Compile<'_>) -> Result<Prepared, ActionError> {
    if !compile.compiler.starts_with('/') {
        return Err(ActionError::RelativeCompiler(compile.compiler.to_string()));
    }
    let working_directory = compile.cwd.trim_start_matches('/').to_string();
    let depth = working_directory
        .split('/')
        .filter(|s| !s.is_empty())
        .count();
    let up = if depth == 0 {
        ".".to_string()
    } else {
        vec![".."; depth].join("/")
    };
    let mut arguments = vec![
        SHELL.to_string(),
        "-c".to_string(),
        SCRIPT.to_string(),
        SCRIPT_NAME.to_string(),
        up,
        compile.root_file.unwrap_or("").to_string(),
        compile.compiler.to_string(),
    ];
    arguments.extend(compile.args.iter().cloned());
    let outputs: Vec<String> = compile
        .outputs
        .iter()
        .cloned()
        .chain(compile.root_file.map(str::to_string))
        .collect();
    if outputs.is_empty() {
        return Err(ActionError::NoOutput);
    }
    Ok(super::action::assemble(
        arguments,
        working_directory,
        outputs,
        compile.platform,
        compile.tree.root_digest,
        compile.tree.blobs,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reapi::digest;
    use crate::reapi::input_tree::InputTree;
    use crate::reapi::platform;

    fn tree() -> BuiltTree {
        let mut tree = InputTree::new();
        tree.add_file("home/u/p/x.c", b"#include \"a.h\"\n".to_vec())
            .unwrap();
        tree.add_file("home/u/p/inc/a.h", b"int a;\n".to_vec())
            .unwrap();
        tree.build()
    }

    fn words(text: &str) -> Vec<String> {
        text.split(' ').map(String::from).collect()
    }

    fn compile<'a>(args: &'a [String], outputs: &'a [String]) -> Compile<'a> {
        Compile {
            compiler: "/usr/bin/gcc",
            args,
            cwd: "/home/u/p",
            tree: tree(),
            outputs,
            root_file: None,
            platform: platform::properties("GCC 12", &[]),
        }
    }

    #[test]
    fn the_command_is_the_script_with_the_argv_as_its_parameters() {
        let args = words(
            "-ffile-prefix-map=@DISTFARM_ROOT@= -I@DISTFARM_ROOT@/home/u/p/inc -c x.c -o output.o",
        );
        let outputs = vec!["output.o".to_string()];
        let prepared = prepare(compile(&args, &outputs)).unwrap();
        let argv = &prepared.command.arguments;
        assert_eq!(&argv[..4], ["/bin/sh", "-c", SCRIPT, "distfarm-pump"]);
        assert_eq!(&argv[4..7], ["../../..", "", "/usr/bin/gcc"]);
        assert_eq!(&argv[7..], &args[..]);
        assert_eq!(prepared.command.working_directory, "home/u/p");
        assert_eq!(prepared.command.output_paths, ["output.o"]);
        assert_eq!(prepared.output_path(), "output.o");
        assert!(prepared.blobs.iter().all(|(d, b)| digest::matches(d, b)));
        assert_eq!(prepared.blobs[0].0, prepared.action_digest);
        let again = Prepared::from_blobs(prepared.clone().into_blobs()).unwrap();
        assert_eq!(again.action_digest, prepared.action_digest);
    }

    #[test]
    fn the_root_file_is_declared_after_the_other_outputs() {
        let args = words("-c x.c -MD -MF output.d -o output.o");
        let outputs = vec!["output.o".to_string(), "output.d".to_string()];
        let mut with_deps = compile(&args, &outputs);
        with_deps.root_file = Some("output.root");
        let prepared = prepare(with_deps).unwrap();
        assert_eq!(
            prepared.command.output_paths,
            ["output.o", "output.d", "output.root"]
        );
        assert_eq!(prepared.command.arguments[5], "output.root");
    }

    #[test]
    fn the_working_directory_and_the_files_are_in_the_key() {
        let args = words("-c x.c -o output.o");
        let outputs = vec!["output.o".to_string()];
        let base = prepare(compile(&args, &outputs)).unwrap();
        let mut elsewhere = compile(&args, &outputs);
        elsewhere.cwd = "/home/v/p";
        let elsewhere = prepare(elsewhere).unwrap();
        let mut other_header = compile(&args, &outputs);
        let mut tree = InputTree::new();
        tree.add_file("home/u/p/x.c", b"#include \"a.h\"\n".to_vec())
            .unwrap();
        tree.add_file("home/u/p/inc/a.h", b"int b;\n".to_vec())
            .unwrap();
        other_header.tree = tree.build();
        let other_header = prepare(other_header).unwrap();
        assert_ne!(base.action_digest, elsewhere.action_digest);
        assert_ne!(base.action_digest, other_header.action_digest);
        assert_eq!(
            base.action_digest,
            prepare(compile(&args, &outputs)).unwrap().action_digest
        );
    }

    #[test]
    fn the_root_directory_as_working_directory_needs_no_climb() {
        let args = words("-c x.c -o output.o");
        let outputs = vec!["output.o".to_string()];
        let mut at_root = compile(&args, &outputs);
        at_root.cwd = "/";
        let prepared = prepare(at_root).unwrap();
        assert_eq!(prepared.command.working_directory, "");
        assert_eq!(prepared.command.arguments[4], ".");
    }

    /// The script itself, run by the system's `/bin/sh` in a mirrored tree: each marked word
    /// gets the root, a word with quotes, spaces or `$` reaches the command unchanged, and
    /// the root file holds the root.
    #[test]
    fn the_script_puts_the_root_in_place_of_the_mark_and_nothing_else() {
        let root = tempfile::tempdir().unwrap();
        let root_path = std::fs::canonicalize(root.path()).unwrap();
        let workdir = root_path.join("home/u/p");
        std::fs::create_dir_all(&workdir).unwrap();
        let output = std::process::Command::new(SHELL)
            .args(["-c", SCRIPT, SCRIPT_NAME, "../../..", "root.txt", "printf"])
            .args([
                "[%s]\\n",
                "-I@DISTFARM_ROOT@/home/u/p/inc",
                "-ffile-prefix-map=@DISTFARM_ROOT@=",
                "it's a \"$HOME\" `x` *",
                "",
            ])
            .current_dir(&workdir)
            .output()
            .unwrap();
        assert!(output.status.success(), "{output:?}");
        let root = root_path.display();
        assert_eq!(
            String::from_utf8(output.stdout).unwrap(),
            format!(
                "[-I{root}/home/u/p/inc]\n[-ffile-prefix-map={root}=]\n\
                 [it's a \"$HOME\" `x` *]\n[]\n"
            )
        );
        assert_eq!(
            std::fs::read_to_string(workdir.join("root.txt")).unwrap(),
            root.to_string()
        );
        let failed = std::process::Command::new(SHELL)
            .args(["-c", SCRIPT, SCRIPT_NAME, "../../..", "root2.txt", "false"])
            .current_dir(&workdir)
            .status()
            .unwrap();
        assert_eq!(failed.code(), Some(1), "the compiler's status");
        assert!(!workdir.join("root2.txt").exists());
    }
}
