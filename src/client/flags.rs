//! The static table of compiler options the client has an opinion about. It says what an
//! option *is*; `args.rs` decides what to do about it.
//!
//! Every rule of distcc 3.4's client scan (`arg.c dcc_scan_args`) and argument stripper
//! (`strip.c dcc_strip_local_args`) is here with distcc's exact matching (exact word, word
//! prefix, separate value). Entries marked `distfarm_only` are ours: options whose effect
//! depends on files or programs on this machine, or that write files next to the output, so a
//! remote compile would be wrong or be refused by a server. Running more jobs locally than
//! distcc does is always safe; distributing one distcc would not is not (a 3.4 server re-runs
//! the same scan and drops the connection), so nothing here is more permissive than distcc.

/// How an option is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Form {
    /// Exactly this word, no value.
    Exact,
    /// Exactly this word; the next word is its value.
    Separate,
    /// Any word starting with this text (the rest is the value, possibly empty).
    Joined,
    /// This word with the value in the next word, or the value joined on.
    SeparateOrJoined,
}

/// What the compiler does with it `-c`, `-S`, `-E`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// `-c`: compile to an object.
    Compile,
    /// `-S`: compile to assembly.
    Assemble,
    /// `-E`: preprocess only.
    Preprocess,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Category {
    Mode(Mode),
    /// `-o`.
    Output,
    /// `-x LANG`.
    Language,
    /// Only matters to the preprocessor: stripped from the argv sent to the server.
    PreprocessorOnly,
    /// Only matters to the linker: stripped from the argv sent to the server.
    LinkerOnly,
    /// `-MD -MMD -MG -MP`: dependency output as a side effect of cpp, which runs locally.
    /// Stripped from the remote argv.
    Dependency,
    /// `-MF -MT -MQ FILE`: name the dependency file or target. Stripped from the remote argv;
    /// the scan skips the value.
    DependencyValue,
    /// `-M`, `-MM`, and every other `-M…`: dependency generation instead of compiling.
    DependencyOnly,
    /// `-Wa,…` / `-Xassembler X`: local when it makes the assembler write or read a file
    /// (`-a…` listings, `--MD`, `-o`, `@file`).
    Assembler,
    /// `-Xclang X`: local when X loads a plugin or names an extra output file.
    ClangFrontend,
    /// `-fopt-info…=FILE`: local when the report goes to a file rather than stderr/stdout.
    ReportToFile,
    /// The job must run on this machine, for this reason.
    LocalOnly(&'static str),
    /// Only a Remote Execution API engine may take the job (it sends back every output the
    /// compile writes); with no engine among the hosts it runs here, for this reason.
    EngineOnly(&'static str),
}

impl Category {
    /// Removed (with its value) from the argv the server receives.
    pub fn stripped_for_remote(self) -> bool {
        matches!(
            self,
            Category::PreprocessorOnly
                | Category::LinkerOnly
                | Category::Dependency
                | Category::DependencyValue
        )
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Flag {
    pub name: &'static str,
    pub form: Form,
    pub category: Category,
    /// Not a rule of distcc 3.4 (see the module comment).
    pub distfarm_only: bool,
}

/// Where an option's value is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Value<'a> {
    None,
    /// In the next argv word.
    Next,
    /// Joined to the option (`-ofoo.o`, `-DX`); may be empty.
    Joined(&'a str),
}

/// A table entry matched against one argv word.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Match<'a> {
    pub flag: &'static Flag,
    pub value: Value<'a>,
}

// Reasons a job stays local. Shown to users, so they say why.
// The native flags reach the scan only when they could not be expanded (`crate::native_flags`).
pub const MARCH_NATIVE: &str =
    "-march=native generates code for this machine (kept with -g, or for clang)";
pub const MTUNE_NATIVE: &str = "-mtune=native tunes for this machine (kept with -g, or for clang)";
pub const MCPU_NATIVE: &str =
    "-mcpu=native generates code for this machine (kept with -g, or for clang)";
pub const LTO: &str = "-flto compiles are not worth distributing";
pub const SPECS: &str = "spec files live on this machine (and distccd refuses -specs=)";
pub const PROFILE: &str = "the compiler reads or writes profile or coverage data on this machine";
pub const REPO: &str = "-frepo writes .rpo files next to the output";
pub const DUMPS: &str = "compiler dumps are written next to the output";
pub const PLUGIN: &str = "compiler plugins live on this machine (and distccd refuses -fplugin=)";
pub const PROGRAMS: &str = "the option makes the compiler run programs from this machine";
pub const SAVE_TEMPS: &str = "-save-temps writes intermediate files next to the output";
pub const EXTRA_OUTPUT: &str = "the option writes an extra file next to the output";
pub const LOCAL_FILE: &str = "the option makes the compiler read a file on this machine";
pub const MODULES: &str = "modules need this machine's module files and cache";
pub const NO_OBJECT: &str =
    "the option makes gcc print information or only check the syntax: it writes no object";

const fn f(name: &'static str, form: Form, category: Category) -> Flag {
    Flag {
        name,
        form,
        category,
        distfarm_only: false,
    }
}

const fn ours(name: &'static str, form: Form, category: Category) -> Flag {
    Flag {
        name,
        form,
        category,
        distfarm_only: true,
    }
}

use Category::*;
use Form::*;

/// The table. Lookup picks the longest matching name, so `-MD` (exact) wins over `-M…`
/// (prefix), and `-MF` over `-M`. Names are unique.
pub static FLAGS: &[Flag] = &[
    f("-c", Exact, Mode(self::Mode::Compile)),
    f("-S", Exact, Mode(self::Mode::Assemble)),
    f("-E", Exact, Mode(self::Mode::Preprocess)),
    f("-o", SeparateOrJoined, Output),
    f("-x", SeparateOrJoined, Language),
    // Dependency generation.
    f("-MD", Exact, Dependency),
    f("-MMD", Exact, Dependency),
    f("-MG", Exact, Dependency),
    f("-MP", Exact, Dependency),
    f("-MF", SeparateOrJoined, DependencyValue),
    f("-MT", SeparateOrJoined, DependencyValue),
    f("-MQ", SeparateOrJoined, DependencyValue),
    f("-M", Joined, DependencyOnly),
    // Preprocessor-only (strip.c), with distcc's exact forms.
    f("-D", SeparateOrJoined, PreprocessorOnly),
    f("-U", SeparateOrJoined, PreprocessorOnly),
    f("-I", SeparateOrJoined, PreprocessorOnly),
    f("-isystem", SeparateOrJoined, PreprocessorOnly),
    f("-include", Separate, PreprocessorOnly),
    f("-imacros", Separate, PreprocessorOnly),
    f("-iprefix", Separate, PreprocessorOnly),
    f("-iwithprefix", Separate, PreprocessorOnly),
    f("-iwithprefixbefore", Separate, PreprocessorOnly),
    f("-idirafter", Separate, PreprocessorOnly),
    f("-Wp,", Joined, PreprocessorOnly),
    // distcc strips it; it selects C++ headers (and the library when linking).
    f("-stdlib", Joined, PreprocessorOnly),
    f("-undef", Exact, PreprocessorOnly),
    f("-nostdinc", Exact, PreprocessorOnly),
    f("-nostdinc++", Exact, PreprocessorOnly),
    // distcc sends it, but it is a preprocessor option by definition (and our server refuses it).
    ours("-Xpreprocessor", Separate, PreprocessorOnly),
    // Linker-only.
    f("-L", SeparateOrJoined, LinkerOnly),
    f("-l", SeparateOrJoined, LinkerOnly),
    f("-Wl,", Joined, LinkerOnly),
    f("-Wa,", Joined, Assembler),
    ours("-Xassembler", Separate, Assembler),
    ours("-Xclang", Separate, ClangFrontend),
    ours("-fopt-info", Joined, ReportToFile),
    // distcc 3.4's local-only rules.
    f("-march=native", Exact, LocalOnly(MARCH_NATIVE)),
    f("-mtune=native", Exact, LocalOnly(MTUNE_NATIVE)),
    f("-flto", Exact, LocalOnly(LTO)),
    f("-specs=", Joined, LocalOnly(SPECS)),
    f("-fprofile-arcs", Exact, LocalOnly(PROFILE)),
    f("-ftest-coverage", Exact, LocalOnly(PROFILE)),
    f("--coverage", Exact, LocalOnly(PROFILE)),
    f("-fprofile-generate", Joined, LocalOnly(PROFILE)),
    f("-fprofile-use", Joined, LocalOnly(PROFILE)),
    f("-fauto-profile", Joined, LocalOnly(PROFILE)),
    f("-fprofile-correction", Exact, LocalOnly(PROFILE)),
    f("-frepo", Exact, LocalOnly(REPO)),
    f("-dr", Joined, LocalOnly(DUMPS)),
    // Ours.
    ours("-mcpu=native", Exact, LocalOnly(MCPU_NATIVE)),
    ours("-specs", Separate, LocalOnly(SPECS)),
    ours("--specs", Joined, LocalOnly(SPECS)),
    // -fprofile-instr-generate/-use, -fprofile-sample-use, -fprofile-dir, -fprofile-update…
    ours("-fprofile", Joined, LocalOnly(PROFILE)),
    ours("-fcs-profile-generate", Joined, LocalOnly(PROFILE)),
    ours("-fcoverage", Joined, LocalOnly(PROFILE)),
    ours("-fdump-", Joined, LocalOnly(DUMPS)),
    ours("-fplugin", Joined, LocalOnly(PLUGIN)),
    ours("-fpass-plugin", Joined, LocalOnly(PLUGIN)),
    ours("-iplugindir", Joined, LocalOnly(PLUGIN)),
    ours("-B", SeparateOrJoined, LocalOnly(PROGRAMS)),
    ours("-wrapper", Separate, LocalOnly(PROGRAMS)),
    ours("-save-temps", Joined, LocalOnly(SAVE_TEMPS)),
    ours("-gsplit-dwarf", Joined, EngineOnly(EXTRA_OUTPUT)),
    ours("-fstack-usage", Exact, LocalOnly(EXTRA_OUTPUT)),
    ours("-fcallgraph-info", Joined, LocalOnly(EXTRA_OUTPUT)),
    ours("-aux-info", Separate, LocalOnly(EXTRA_OUTPUT)),
    // clang writes the trace next to the output.
    ours("-ftime-trace", Joined, LocalOnly(EXTRA_OUTPUT)),
    ours("-fcrash-diagnostics-dir", Joined, LocalOnly(EXTRA_OUTPUT)),
    ours("-fproc-stat-report", Joined, LocalOnly(EXTRA_OUTPUT)),
    ours("-dumpdir", Joined, LocalOnly(EXTRA_OUTPUT)),
    ours("-dumpbase", Joined, LocalOnly(EXTRA_OUTPUT)),
    ours("-fsanitize-blacklist=", Joined, LocalOnly(LOCAL_FILE)),
    ours("-fsanitize-ignorelist=", Joined, LocalOnly(LOCAL_FILE)),
    ours("-include-pch", Separate, LocalOnly(LOCAL_FILE)),
    ours("-fmodule", Joined, LocalOnly(MODULES)),
    ours("-fcxx-modules", Exact, LocalOnly(MODULES)),
    // gcc prints and stops (`-dumpversion`, `-print-…`, `-###`) or writes no object
    // (`-fsyntax-only`): the server would send back no object. Found by the differential
    // check against `gcc -###` (fuzz target `client_args_gcc`).
    ours("-fsyntax-only", Exact, LocalOnly(NO_OBJECT)),
    ours("-###", Exact, LocalOnly(NO_OBJECT)),
    ours("-dumpversion", Exact, LocalOnly(NO_OBJECT)),
    ours("-dumpfullversion", Exact, LocalOnly(NO_OBJECT)),
    ours("-dumpmachine", Exact, LocalOnly(NO_OBJECT)),
    ours("-dumpspecs", Exact, LocalOnly(NO_OBJECT)),
    ours("-print-", Joined, LocalOnly(NO_OBJECT)),
];

/// gcc's (and clang's) options outside the table whose value is the next word. The scan
/// does not read them (nor does distcc's), but a word after one of them is no input file.
pub static OTHER_SEPARATE: &[&str] = &[
    "-A",
    "-T",
    "-Xlinker",
    "-e",
    "-u",
    "-z",
    "-iquote",
    "-isysroot",
    "-imultilib",
    "-imultiarch",
    "--param",
    "--sysroot",
    "-mllvm",
    "-target",
    "-arch",
    "-Xanalyzer",
    "-iframework",
    "-ivfsoverlay",
    "-isystem-after",
    "-cxx-isystem",
];

/// The long options (`--…`) a job may be distributed with: exact names, and prefixes of
/// those that join their value with `=`. gcc reads other long options as its short ones
/// (`--output` is `-o`, `--compile` `-c`, `--include` `-include`), which distcc's scan
/// (ours and a 3.4 server's) does not, so those compiles stay here.
pub static DISTRIBUTABLE_LONG: &[&str] = &[
    "--param",
    "--sysroot",
    "--pedantic",
    "--pedantic-errors",
    "--all-warnings",
    "--extra-warnings",
    "--no-warnings",
    "--ansi",
    "--trigraphs",
    "--pipe",
    "--debug",
    "--optimize",
    "--pie",
    "--no-pie",
];
pub static DISTRIBUTABLE_LONG_JOINED: &[&str] = &[
    "--param=",
    "--sysroot=",
    "--std=",
    "--target=",
    "--gcc-toolchain=",
    "--warn-",
    "--machine-",
    "--optimize=",
    "--debug=",
];

/// Whether a long option (`--…`) not in the table lets a job be distributed.
pub fn long_option_distributable(word: &str) -> bool {
    DISTRIBUTABLE_LONG.contains(&word)
        || DISTRIBUTABLE_LONG_JOINED
            .iter()
            .any(|p| word.starts_with(p))
}

/// The table entry for one argv word, if any: the longest name that matches.
pub fn lookup(word: &str) -> Option<Match<'_>> {
    let mut best: Option<Match<'_>> = None;
    for flag in FLAGS {
        let value = match flag.form {
            Exact | Separate if word != flag.name => continue,
            Exact => Value::None,
            Separate => Value::Next,
            SeparateOrJoined if word == flag.name => Value::Next,
            Joined | SeparateOrJoined => match word.strip_prefix(flag.name) {
                Some(rest) => Value::Joined(rest),
                None => continue,
            },
        };
        if best.is_none_or(|b| flag.name.len() > b.flag.name.len()) {
            best = Some(Match { flag, value });
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    fn category(word: &str) -> Option<Category> {
        lookup(word).map(|m| m.flag.category)
    }

    #[test]
    fn names_are_unique() {
        for (i, a) in FLAGS.iter().enumerate() {
            assert!(
                FLAGS[i + 1..].iter().all(|b| b.name != a.name),
                "{} twice",
                a.name
            );
        }
    }

    #[test]
    fn exact_dependency_flags_win_over_the_m_prefix() {
        assert_eq!(category("-MD"), Some(Dependency));
        assert_eq!(category("-MMD"), Some(Dependency));
        assert_eq!(category("-MF"), Some(DependencyValue));
        assert_eq!(category("-MFdeps.d"), Some(DependencyValue));
        assert_eq!(category("-M"), Some(DependencyOnly));
        assert_eq!(category("-MM"), Some(DependencyOnly));
        // Not exactly -MD, so distcc treats it like -M.
        assert_eq!(category("-MDx"), Some(DependencyOnly));
    }

    #[test]
    fn separate_and_joined_values() {
        assert_eq!(lookup("-o").unwrap().value, Value::Next);
        assert_eq!(lookup("-ofoo.o").unwrap().value, Value::Joined("foo.o"));
        assert_eq!(lookup("-DX=1").unwrap().value, Value::Joined("X=1"));
        assert_eq!(lookup("-include").unwrap().value, Value::Next);
        // distcc strips only the separate form of -include and friends.
        assert_eq!(lookup("-includefoo.h"), None);
        assert_eq!(
            lookup("-iwithprefixbefore").unwrap().flag.name,
            "-iwithprefixbefore"
        );
    }

    #[test]
    fn distcc_local_rules_match_exactly_or_by_prefix_as_distcc_does() {
        assert_eq!(category("-march=native"), Some(LocalOnly(MARCH_NATIVE)));
        assert_eq!(category("-march=native2"), None);
        assert_eq!(category("-flto"), Some(LocalOnly(LTO)));
        // distcc 3.4 only refuses the exact word.
        assert_eq!(category("-flto=auto"), None);
        assert_eq!(category("-fprofile-generate=dir"), Some(LocalOnly(PROFILE)));
        assert!(!lookup("-fprofile-generate=dir").unwrap().flag.distfarm_only);
        assert_eq!(category("-drtl"), Some(LocalOnly(DUMPS)));
    }

    #[test]
    fn unrelated_options_are_not_in_the_table() {
        for word in [
            "-O2",
            "-g",
            "-Wall",
            "-fPIC",
            "-std=c11",
            "-EB",
            "-static",
            "-iquote",
            "-march=x86-64",
            "-fno-modules",
        ] {
            assert_eq!(lookup(word), None, "{word}");
        }
    }

    #[test]
    fn stripped_categories() {
        assert!(PreprocessorOnly.stripped_for_remote() && LinkerOnly.stripped_for_remote());
        assert!(Dependency.stripped_for_remote() && DependencyValue.stripped_for_remote());
        assert!(!Output.stripped_for_remote() && !Language.stripped_for_remote());
    }
}
