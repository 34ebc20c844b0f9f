//! A plain-mode job as an Action: the preprocessed text is the whole input root (one file
//! under a fixed name), the Command is the compiler's argv naming that file and a fixed
//! output, and the platform says which workers may run it. Pure: the caller brings the
//! text, the argv and the compiler's identity. Why the key is the same in every checkout:
//! see [`super`].

use super::digest;
use super::proto::{Action, Command, Digest, Directory, FileNode, Platform, command};

/// The output's name in the Action (`output.o`, or `output.s` for `-S`).
pub const OUTPUT_STEM: &str = "output";
/// The input's name in the input root (`input.i`, `input.ii`, …).
pub const INPUT_STEM: &str = "input";
/// The one variable a compile sees: where gcc's driver finds `as` when its own directories
/// do not have it. Fixed, so that the client's `PATH` is not part of the key.
pub const PATH: &str = "/usr/local/bin:/usr/bin:/bin";

/// What one plain-mode compile is made of.
#[derive(Debug, Clone)]
pub struct Compile<'a> {
    /// The compiler's absolute path (`/usr/bin/gcc`): workers have it at the same place.
    pub compiler: &'a str,
    /// The argv the server side gets (`CompileJob::remote_argv`): argv[0] is replaced by
    /// `compiler`, the word equal to `input` by the input root's file, and the `-o` value
    /// by the fixed output.
    pub argv: &'a [String],
    /// The source as it appears in `argv`.
    pub input: &'a str,
    /// The preprocessed text's extension (`.i`, `.ii`, `.mi`, `.mii`).
    pub preprocessed_ext: &'a str,
    /// The preprocessed text, as it is to be compiled.
    pub text: &'a [u8],
    /// `.o` for `-c`, `.s` for `-S`.
    pub output_ext: &'a str,
    /// The job's own `-o` path, kept in the Command when the compiler names other outputs
    /// after it (`-gsplit-dwarf` writes `x.dwo` beside `x.o`, and the object names it):
    /// relative, inside the working directory. `None`: the fixed `output.o`.
    pub output_as_given: Option<&'a str>,
    /// Outputs the compile may write besides the object (the `.dwo`), relative like it.
    pub extra_outputs: &'a [String],
    /// What the workers must be ([`super::platform::properties`]).
    pub platform: Platform,
}

/// An Action and every blob it needs in the CAS.
#[derive(Debug, Clone)]
pub struct Prepared {
    pub action: Action,
    pub action_digest: Digest,
    pub command: Command,
    /// The Action, the Command, the input root Directory and the text, by digest.
    pub blobs: Vec<(Digest, Vec<u8>)>,
}

impl Prepared {
    /// The object's path in the ActionResult: the Command's first output ([`prepare`] and
    /// [`from_blobs`](Self::from_blobs) make sure it has one).
    pub fn output_path(&self) -> &str {
        &self.command.output_paths[0]
    }

    /// Whether the Command declares `path` as an output: the object, or one that may be
    /// missing from a result (the `.dwo` of [`Compile::extra_outputs`]).
    pub fn declares(&self, path: &str) -> bool {
        self.command.output_paths.iter().any(|p| p == path)
    }

    /// The blobs as they travel to the agent, which runs the Action on its kept channel
    /// (`protocol::agent_engine`): the Action first, its Command second.
    pub fn into_blobs(self) -> Vec<Vec<u8>> {
        self.blobs.into_iter().map(|(_, bytes)| bytes).collect()
    }

    /// The Action again from [`into_blobs`](Self::into_blobs)' list; the digests are
    /// computed here, from the bytes that arrived, and the outputs read from the Command.
    pub fn from_blobs(blobs: Vec<Vec<u8>>) -> Result<Prepared, String> {
        use prost::Message;
        let [action, command, ..] = &blobs[..] else {
            return Err("an Action and its Command are needed".into());
        };
        let action = Action::decode(&action[..]).map_err(|e| format!("the Action: {e}"))?;
        let command = Command::decode(&command[..]).map_err(|e| format!("the Command: {e}"))?;
        if command.output_paths.is_empty() {
            return Err("the Command declares no output".into());
        }
        let blobs: Vec<_> = blobs
            .into_iter()
            .map(|bytes| (digest::of_bytes(&bytes), bytes))
            .collect();
        Ok(Prepared {
            action,
            action_digest: blobs[0].0.clone(),
            command,
            blobs,
        })
    }
}

/// Why an argv cannot become a Command.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, serde::Serialize, serde::Deserialize)]
pub enum ActionError {
    #[error("the compile command names no source file \"{0}\" to replace with the input root's")]
    NoInput(String),
    #[error("the compile command has no -o OUTPUT to replace with the action's output")]
    NoOutput,
    #[error("the compiler must be named by an absolute path for a remote engine (got \"{0}\")")]
    RelativeCompiler(String),
    #[error(
        "the identity of {0} (its version and target) is not known, and an engine's workers \
         are chosen by it"
    )]
    UnknownCompiler(String),
    #[error(
        "the output \"{0}\" must stay as given (other outputs are named after it), and an \
         engine only writes relative paths inside the working directory"
    )]
    OutputOutsideRoot(String),
}

/// Builds the Action for `compile`.
pub fn prepare(compile: &Compile<'_>) -> Result<Prepared, ActionError> {
    if !compile.compiler.starts_with('/') {
        return Err(ActionError::RelativeCompiler(compile.compiler.to_string()));
    }
    let input_name = format!("{INPUT_STEM}{}", compile.preprocessed_ext);
    let output_path = match compile.output_as_given {
        Some(given) if stays_inside(given) => given.to_string(),
        Some(given) => return Err(ActionError::OutputOutsideRoot(given.to_string())),
        None => format!("{OUTPUT_STEM}{}", compile.output_ext),
    };
    let arguments = substitute(compile, &input_name, &output_path)?;
    let outputs: Vec<String> = std::iter::once(output_path)
        .chain(compile.extra_outputs.iter().cloned())
        .collect();
    let text_digest = digest::of_bytes(compile.text);
    let root = Directory {
        files: vec![FileNode {
            name: input_name,
            digest: Some(text_digest.clone()),
            is_executable: false,
            node_properties: None,
        }],
        ..Directory::default()
    };
    let (root_bytes, root_digest) = digest::of_message(&root);
    Ok(assemble(
        arguments,
        String::new(),
        outputs,
        compile.platform.clone(),
        root_digest.clone(),
        vec![
            (root_digest, root_bytes),
            (text_digest, compile.text.to_vec()),
        ],
    ))
}

/// The Command (`arguments` run in `working_directory`, `outputs` declared) and the Action
/// on the input root `root_digest`, as engines of every REAPI version read them; the blobs
/// are the Action's, the Command's, then `input_blobs` (the root and what it holds).
pub(super) fn assemble(
    arguments: Vec<String>,
    working_directory: String,
    outputs: Vec<String>,
    platform: Platform,
    root_digest: Digest,
    input_blobs: Vec<(Digest, Vec<u8>)>,
) -> Prepared {
    #[allow(deprecated)] // `output_files` and `platform`: set for older engines, see below
    let command = Command {
        arguments,
        environment_variables: vec![command::EnvironmentVariable {
            name: "PATH".into(),
            value: PATH.into(),
        }],
        // `output_paths` since v2.1; `output_files` for engines older than that.
        output_files: outputs.clone(),
        output_paths: outputs,
        working_directory,
        // In the Command before v2.2, in the Action since.
        platform: Some(platform.clone()),
        ..Command::default()
    };
    let (command_bytes, command_digest) = digest::of_message(&command);
    let action = Action {
        command_digest: Some(command_digest.clone()),
        input_root_digest: Some(root_digest),
        platform: Some(platform),
        ..Action::default()
    };
    let (action_bytes, action_digest) = digest::of_message(&action);
    let mut blobs = vec![
        (action_digest.clone(), action_bytes),
        (command_digest, command_bytes),
    ];
    blobs.extend(input_blobs);
    Prepared {
        blobs,
        action,
        action_digest,
        command,
    }
}

/// A relative path with no `..`: the engine's worker writes it inside the working directory.
pub fn stays_inside(path: &str) -> bool {
    use std::path::Component;
    let path = std::path::Path::new(path);
    path.components().next().is_some()
        && path.components().all(|c| matches!(c, Component::Normal(_)))
}

/// The argv with the compiler, the input and the output replaced.
fn substitute(
    compile: &Compile<'_>,
    input: &str,
    output: &str,
) -> Result<Vec<String>, ActionError> {
    let mut argv = Vec::with_capacity(compile.argv.len());
    argv.push(compile.compiler.to_string());
    let (mut saw_input, mut saw_output) = (false, false);
    let mut words = compile.argv.iter().skip(1);
    while let Some(word) = words.next() {
        if word.starts_with("-o") {
            // `-o X` and `-oX` alike: one spelling, one key.
            if word == "-o" {
                words.next();
            }
            argv.extend(["-o".to_string(), output.to_string()]);
            saw_output = true;
        } else if !saw_input && word == compile.input {
            argv.push(input.to_string());
            saw_input = true;
        } else {
            argv.push(word.clone());
        }
    }
    if !saw_input {
        return Err(ActionError::NoInput(compile.input.to_string()));
    }
    if !saw_output {
        return Err(ActionError::NoOutput);
    }
    Ok(argv)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reapi::platform;

    fn argv(words: &str) -> Vec<String> {
        words.split(' ').map(String::from).collect()
    }

    fn compile<'a>(argv: &'a [String], input: &'a str, text: &'a [u8]) -> Compile<'a> {
        Compile {
            compiler: "/usr/bin/gcc",
            argv,
            input,
            preprocessed_ext: ".i",
            text,
            output_ext: ".o",
            output_as_given: None,
            extra_outputs: &[],
            platform: platform::properties("GCC 12", &[]),
        }
    }

    #[test]
    fn an_action_sent_as_blobs_is_the_same_action() {
        let words = argv("gcc -O2 -c x.c -o x.o");
        let prepared = prepare(&compile(&words, "x.c", b"int x;\n")).unwrap();
        let again = Prepared::from_blobs(prepared.clone().into_blobs()).unwrap();
        assert_eq!(again.action_digest, prepared.action_digest);
        assert_eq!(again.action, prepared.action);
        assert_eq!(again.command, prepared.command);
        assert_eq!(again.blobs, prepared.blobs);
        assert_eq!(again.output_path(), "output.o");
        assert!(Prepared::from_blobs(vec![b"not an action".to_vec()]).is_err());
    }

    #[test]
    fn the_command_names_fixed_relative_files_and_no_directory() {
        let words = argv("gcc -O2 -c /home/a/p/src/x.c -o /home/a/p/build/x.o");
        let prepared = prepare(&compile(&words, "/home/a/p/src/x.c", b"int x;\n")).unwrap();
        assert_eq!(
            prepared.command.arguments,
            argv("/usr/bin/gcc -O2 -c input.i -o output.o")
        );
        assert_eq!(prepared.command.working_directory, "");
        assert_eq!(prepared.command.output_paths, vec!["output.o"]);
        assert_eq!(prepared.output_path(), "output.o");
        assert_eq!(prepared.blobs.len(), 4);
        assert!(
            prepared
                .blobs
                .iter()
                .all(|(d, bytes)| digest::matches(d, bytes))
        );
        assert_eq!(prepared.blobs[0].0, prepared.action_digest);
    }

    #[test]
    fn the_same_compile_in_another_directory_has_the_same_key() {
        let alice = argv("gcc -O2 -c /home/alice/p/x.c -o /home/alice/p/x.o");
        let bob = argv("gcc -O2 -c ../src/x.c -ox.o");
        let a = prepare(&compile(&alice, "/home/alice/p/x.c", b"int x;\n")).unwrap();
        let b = prepare(&compile(&bob, "../src/x.c", b"int x;\n")).unwrap();
        assert_eq!(a.action_digest, b.action_digest);
    }

    #[test]
    fn text_options_compiler_and_platform_are_all_in_the_key() {
        let words = argv("gcc -O2 -c x.c -o x.o");
        let base = prepare(&compile(&words, "x.c", b"int x;\n")).unwrap();
        let other_text = prepare(&compile(&words, "x.c", b"int y;\n")).unwrap();
        let o3 = argv("gcc -O3 -c x.c -o x.o");
        let other_options = prepare(&compile(&o3, "x.c", b"int x;\n")).unwrap();
        let mut clang = compile(&words, "x.c", b"int x;\n");
        clang.compiler = "/usr/bin/clang";
        let other_compiler = prepare(&clang).unwrap();
        let mut gcc13 = compile(&words, "x.c", b"int x;\n");
        gcc13.platform = platform::properties("GCC 13", &[]);
        let other_platform = prepare(&gcc13).unwrap();
        for other in [other_text, other_options, other_compiler, other_platform] {
            assert_ne!(base.action_digest, other.action_digest);
        }
    }

    #[test]
    fn a_split_dwarf_compile_keeps_its_output_name_and_declares_the_dwo() {
        let words = argv("gcc -g -gsplit-dwarf -c x.c -o sub/x.o");
        let extra = vec!["sub/x.dwo".to_string()];
        let mut split = compile(&words, "x.c", b"int x;\n");
        split.output_as_given = Some("sub/x.o");
        split.extra_outputs = &extra;
        let prepared = prepare(&split).unwrap();
        assert_eq!(
            prepared.command.arguments,
            argv("/usr/bin/gcc -g -gsplit-dwarf -c input.i -o sub/x.o")
        );
        assert_eq!(prepared.command.output_paths, ["sub/x.o", "sub/x.dwo"]);
        let again = Prepared::from_blobs(prepared.into_blobs()).unwrap();
        assert_eq!(again.output_path(), "sub/x.o");
        assert!(again.declares("sub/x.dwo") && !again.declares("x.dwo"));
        for outside in ["/tmp/x.o", "../x.o", "a/../../x.o", ""] {
            split.output_as_given = Some(outside);
            assert_eq!(
                prepare(&split).unwrap_err(),
                ActionError::OutputOutsideRoot(outside.into()),
                "{outside:?}"
            );
        }
    }

    #[test]
    fn a_command_without_its_files_or_with_a_bare_compiler_is_refused() {
        let words = argv("gcc -c x.c");
        assert_eq!(
            prepare(&compile(&words, "x.c", b"")).unwrap_err(),
            ActionError::NoOutput
        );
        let words = argv("gcc -c x.c -o x.o");
        assert_eq!(
            prepare(&compile(&words, "y.c", b"")).unwrap_err(),
            ActionError::NoInput("y.c".into())
        );
        let mut bare = compile(&words, "x.c", b"");
        bare.compiler = "gcc";
        assert_eq!(
            prepare(&bare).unwrap_err(),
            ActionError::RelativeCompiler("gcc".into())
        );
    }
}
