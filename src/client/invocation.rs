//! How the wrapper was called (distcc 3.4 `distcc.c main`, `implicit.c`): as itself with a
//! compiler (`distfarm gcc -c x.c`), as itself without one (`distfarm -c x.c` → `cc`), or
//! under a compiler's name through a symlink (masquerade: `gcc -c x.c`); and the wrapper's own
//! options before the compiler (`distfarm --summary gcc -c x.c`).

use super::source;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Invocation {
    /// `--help` as the first argument.
    Help,
    /// `--version`.
    Version,
    /// `--show-hosts`: print each host token.
    ShowHosts,
    /// `-j`: print the sum of the hosts' slot limits.
    Jobs,
    /// `--scan-includes`: a pump-mode diagnostic distfarm does not have.
    ScanIncludes,
    /// The wrapper's name with no arguments: "missing option/operand", exit 101.
    MissingOperand,
    /// `distcc gcc -c x.c`: the first argument is the compiler, kept verbatim (may be a path).
    Explicit { compiler: String },
    /// `distcc -c x.c`: the first argument is an option, a source or an object; the compiler
    /// is `cc`.
    Implicit,
    /// Called as `gcc`, `cc`, `x86_64-linux-gnu-g++`…: the compiler is that basename.
    Masquerade { name: String },
}

/// The wrapper's own options, given before the compiler as distcc's leading options are
/// (`distfarm --summary gcc -c x.c`). Only under the wrapper's own name: through a
/// masquerade link every argument is the compiler's.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WrapperOptions {
    /// `--summary`: as `DISTFARM_SUMMARY=1`, the build's summary line when it ends.
    pub summary: bool,
}

/// The option that asks for the build's summary line.
pub const SUMMARY_OPTION: &str = "--summary";

/// Takes the wrapper's own options off the front of `args`; the rest is classified by
/// [`invocation`]. No compiler is named `--summary` and no compiler option is spelt so, so
/// taking it never takes a word of a compile's command line.
pub fn wrapper_options<'a>(argv0: &str, args: &'a [String]) -> (WrapperOptions, &'a [String]) {
    let mut options = WrapperOptions::default();
    if !is_wrapper_name(crate::compiler_names::basename(argv0)) {
        return (options, args);
    }
    let mut rest = args;
    while let Some((first, after)) = rest.split_first() {
        match first.as_str() {
            SUMMARY_OPTION => options.summary = true,
            _ => break,
        }
        rest = after;
    }
    (options, rest)
}

/// The compiler `distcc -c x.c` runs.
pub const IMPLICIT_COMPILER: &str = "cc";

/// A program name that means the wrapper itself rather than a compiler.
pub fn is_wrapper_name(basename: &str) -> bool {
    basename.contains("distcc") || basename.contains("distfarm")
}

/// Classify a call. `argv0` may be a path; `args` are the arguments after it.
pub fn invocation(argv0: &str, args: &[String]) -> Invocation {
    let name = crate::compiler_names::basename(argv0);
    if !is_wrapper_name(name) {
        return Invocation::Masquerade {
            name: name.to_string(),
        };
    }
    let Some(first) = args.first() else {
        return Invocation::MissingOperand;
    };
    match first.as_str() {
        "--help" => Invocation::Help,
        "--version" => Invocation::Version,
        "--show-hosts" => Invocation::ShowHosts,
        "-j" => Invocation::Jobs,
        "--scan-includes" if args.len() < 2 => Invocation::MissingOperand,
        "--scan-includes" => Invocation::ScanIncludes,
        f if f.starts_with('-') || source::is_source(f) || source::extension(f) == Some("o") => {
            Invocation::Implicit
        }
        f => Invocation::Explicit {
            compiler: f.to_string(),
        },
    }
}

impl Invocation {
    /// The compiler command line (argv[0] = the compiler) for the three compile forms;
    /// `None` for the informational ones.
    pub fn compiler_argv(&self, args: &[String]) -> Option<Vec<String>> {
        match self {
            Invocation::Explicit { .. } => Some(args.to_vec()),
            Invocation::Implicit => Some(
                std::iter::once(IMPLICIT_COMPILER.to_string())
                    .chain(args.iter().cloned())
                    .collect(),
            ),
            Invocation::Masquerade { name } => Some(
                std::iter::once(name.clone())
                    .chain(args.iter().cloned())
                    .collect(),
            ),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn explicit_compiler_is_kept_verbatim() {
        let a = args("/opt/gcc/bin/gcc -c x.c");
        let inv = invocation("/usr/bin/distcc", &a);
        assert_eq!(
            inv,
            Invocation::Explicit {
                compiler: "/opt/gcc/bin/gcc".into()
            }
        );
        assert_eq!(
            inv.compiler_argv(&a).unwrap(),
            args("/opt/gcc/bin/gcc -c x.c")
        );
    }

    #[test]
    fn option_source_or_object_first_means_implicit_cc() {
        for a in ["-c x.c", "x.c -c", "x.o -o prog"] {
            let a = args(a);
            let inv = invocation("distfarm", &a);
            assert_eq!(inv, Invocation::Implicit, "{a:?}");
            assert_eq!(inv.compiler_argv(&a).unwrap()[0], "cc");
        }
    }

    #[test]
    fn other_names_are_masquerade_with_the_basename() {
        let a = args("-c x.c");
        let inv = invocation("/usr/lib/distcc/x86_64-linux-gnu-g++", &a);
        assert_eq!(
            inv,
            Invocation::Masquerade {
                name: "x86_64-linux-gnu-g++".into()
            }
        );
        assert_eq!(
            inv.compiler_argv(&a).unwrap(),
            args("x86_64-linux-gnu-g++ -c x.c")
        );
    }

    #[test]
    fn wrapper_names_contain_distcc_or_distfarm() {
        assert!(
            is_wrapper_name("distcc")
                && is_wrapper_name("distfarm")
                && is_wrapper_name("my-distcc-2")
        );
        assert!(!is_wrapper_name("gcc"));
        assert_eq!(
            invocation("./distfarm-dev", &args("gcc -c x.c")),
            Invocation::Explicit {
                compiler: "gcc".into()
            }
        );
    }

    #[test]
    fn informational_first_arguments() {
        assert_eq!(invocation("distcc", &args("--help")), Invocation::Help);
        assert_eq!(
            invocation("distcc", &args("--version")),
            Invocation::Version
        );
        assert_eq!(
            invocation("distcc", &args("--show-hosts")),
            Invocation::ShowHosts
        );
        assert_eq!(invocation("distcc", &args("-j")), Invocation::Jobs);
        assert_eq!(
            invocation("distcc", &args("--scan-includes gcc -c x.c")),
            Invocation::ScanIncludes
        );
        assert_eq!(
            invocation("distcc", &args("--scan-includes")),
            Invocation::MissingOperand
        );
        assert_eq!(Invocation::Help.compiler_argv(&[]), None);
    }

    #[test]
    fn informational_flags_only_count_first() {
        // `distcc gcc --version` asks gcc, not distcc.
        assert_eq!(
            invocation("distcc", &args("gcc --version")),
            Invocation::Explicit {
                compiler: "gcc".into()
            }
        );
    }

    #[test]
    fn leading_summary_options_are_the_wrappers_and_the_rest_is_the_compile() {
        let a = args("--summary gcc -c x.c");
        let (options, rest) = wrapper_options("/usr/bin/distfarm", &a);
        assert!(options.summary);
        assert_eq!(rest, args("gcc -c x.c"));
        assert_eq!(
            invocation("distfarm", rest),
            Invocation::Explicit {
                compiler: "gcc".into()
            }
        );
        let a = args("--summary -c x.c");
        let (options, rest) = wrapper_options("distcc", &a);
        assert!(options.summary);
        assert_eq!(invocation("distcc", rest), Invocation::Implicit);
        // Only in front: after the compiler it is the compiler's argument.
        let a = args("gcc --summary -c x.c");
        assert_eq!(
            wrapper_options("distfarm", &a),
            (WrapperOptions::default(), &a[..])
        );
        // Through a masquerade link every word is the compiler's.
        let a = args("--summary -c x.c");
        assert_eq!(
            wrapper_options("gcc", &a),
            (WrapperOptions::default(), &a[..])
        );
        let a = args("--summary");
        let (_, rest) = wrapper_options("distfarm", &a);
        assert_eq!(invocation("distfarm", rest), Invocation::MissingOperand);
    }

    #[test]
    fn wrapper_without_arguments_is_missing_operand() {
        assert_eq!(invocation("distcc", &[]), Invocation::MissingOperand);
        // A masqueraded compiler with no arguments is still just the compiler.
        assert_eq!(
            invocation("gcc", &[]),
            Invocation::Masquerade { name: "gcc".into() }
        );
    }
}
