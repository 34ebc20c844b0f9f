//! The tri-state decision: is this command line a compile we can send to another machine, a
//! compile that must stay here, or not a compile at all? Rules are distcc 3.4's
//! (`arg.c dcc_scan_args`, first match wins), applied to the option table in `flags.rs`.
//!
//! The decision to distribute never differs from distcc's except toward running locally: a
//! 3.4 server repeats this scan on the argv it receives and drops the connection when it
//! disagrees, which the client would see as a dead host.

use super::flags::{self, Category, Mode, Value};
use super::job::{CompileJob, Dependencies};
use super::source;

/// What to do with a command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scan {
    /// A single compile that may run remotely.
    Distribute(CompileJob),
    /// A compile (the argv has `-c` or `-S`) that must run here, for this reason.
    Local(&'static str),
    /// Not a compile (linking, `-M`, `--version`, …): run the command here as it is.
    NotCompile(&'static str),
}

impl Scan {
    pub fn reason(&self) -> Option<&'static str> {
        match self {
            Scan::Distribute(_) => None,
            Scan::Local(r) | Scan::NotCompile(r) => Some(r),
        }
    }

    /// `-E` jobs take a slot from the preprocessor pool (`--localslots_cpp`, distcc's
    /// `EXIT_LOCAL_CPP`); every other local run takes one from `--localslots`.
    pub fn uses_cpp_slot(&self) -> bool {
        matches!(self, Scan::Local(r) if *r == PREPROCESS_ONLY)
    }
}

// Reasons, in distcc's words where it has them.
pub const PREPROCESS_ONLY: &str = "-E only preprocesses";
pub const DEPENDENCIES_ONLY: &str = "-M/-MM generate dependencies instead of compiling";
pub const NOT_A_COMPILE: &str = "no -c or -S: the compiler is not called to compile (linking?)";
pub const NO_INPUT: &str = "no source file distcc can distribute (assembler, Fortran, stdin…)";
pub const TWO_INPUTS: &str = "more than one source file";
pub const TWO_OUTPUTS: &str = "more than one output (linking?)";
pub const AUTOCONF: &str = "autoconf test programs are compiled locally";
pub const OUTPUT_TO_STDOUT: &str = "-o - writes to stdout";
pub const BOGUS_SOURCE: &str = "no output name can be derived from the source name";
pub const LANGUAGE: &str = "-x with a language other than C, C++ or Objective-C (or joined -xLANG)";
pub const ASSEMBLER_FILES: &str =
    "the assembler is asked to write or read a file (listing, --MD, -o, @file)";
pub const RESPONSE_FILE: &str =
    "@file response files are not expanded; the compiler reads them here";
pub const MISSING_VALUE: &str = "an option is missing its value";
pub const SERVER_SCANS_OTHERWISE: &str =
    "what the server would be sent (options stripped) scans as another command";
pub const STRIPPED_VALUE: &str = "a preprocessor or linker option takes a value that reads as an option or a file (-I -S, -D -c): the server would see another command";
pub const LONG_OPTION: &str = "a long option (--output, --compile, --include…) that gcc reads as a short one and distcc's scan does not read";
pub const OTHER_INPUT: &str = "another input file gcc would read (an object, a library, an assembler source, stdin): the server has none of them";
pub const VALUE_READ: &str = "an option's value is a word the scan reads (-Xassembler a.c, --sysroot -c): gcc would run another command";
pub const COMPILER_IS_OPTION: &str = "the compiler name starts with '-'";
pub const NO_COMPILER: &str = "empty command line";

/// `-Wp,a,b,c` → `a b c`, and `-Wp,-MD,file` / `-Wp,-MMD,file` → `-MD -MF file` /
/// `-MMD -MF file` (`arg.c dcc_expand_preprocessor_options`), so that every later rule sees
/// plain options. Empty pieces (`-Wp,` or `-Wp,a,,b`) are dropped rather than passed on as
/// empty arguments as distcc does.
pub fn expand_preprocessor_options(argv: &[String]) -> Vec<String> {
    let mut out = Vec::with_capacity(argv.len());
    for arg in argv {
        let Some(list) = arg.strip_prefix("-Wp,") else {
            out.push(arg.clone());
            continue;
        };
        let mut pieces = list.split(',');
        while let Some(piece) = pieces.next() {
            if piece.is_empty() {
                continue;
            }
            out.push(piece.to_string());
            if piece == "-MD" || piece == "-MMD" {
                // distcc warns and goes on when the file name is missing.
                if let Some(file) = pieces.next() {
                    out.push("-MF".to_string());
                    out.push(file.to_string());
                }
            }
        }
    }
    out
}

/// Whether a `-Wp,` option asks cc1 for a dependency file (`-Wp,-MD,file`, `-Wp,-MMD,file`).
fn dependencies_through_wp(argv: &[String]) -> bool {
    argv.iter()
        .filter_map(|a| a.strip_prefix("-Wp,"))
        .any(|list| list.split(',').any(|p| p == "-MD" || p == "-MMD"))
}

/// Decide what to do with `argv` (argv[0] is the compiler). A job goes out only if what
/// the server is sent (`remote_argv`) scans as a compile too: the server repeats the scan,
/// and an option whose value is stripped before sending (`-Xassembler -Wp,-MD,a.d`) would
/// leave it reading the next word instead.
pub fn scan(argv: &[String]) -> Scan {
    let scanned = scan_words(argv);
    let Scan::Distribute(job) = &scanned else {
        return scanned;
    };
    match scan_words(&job.remote_argv()) {
        Scan::Distribute(there) if there.input == job.input && there.output == job.output => {}
        _ => return Scan::Local(SERVER_SCANS_OTHERWISE),
    }
    // The `-o` appended for a derived output must not become the value of a last option
    // under any driver's reading (`-Xclang -iquote` for gcc, which knows no -Xclang).
    if !job.output_explicit && takes_separate_value(&job.argv[job.argv.len() - 3]) {
        return Scan::Local(MISSING_VALUE);
    }
    if wp_list_is_a_value(argv) {
        return Scan::Local(VALUE_READ);
    }
    if preprocessor_words_end_wanting_a_value(&job.argv) {
        return Scan::Local(MISSING_VALUE);
    }
    match gcc_reads_otherwise(&job.argv, job.input_index) {
        Some(reason) => Scan::Local(reason),
        None => scanned,
    }
}

/// Whether a `-Wp,…` word is the separate value of an option (`--param -Wp,-MD,a.d`): the
/// scan expands every `-Wp,` list into options of their own before reading anything, so
/// the server would be sent `--param -MD` (found by `client_args_gcc`).
fn wp_list_is_a_value(argv: &[String]) -> bool {
    let mut words = argv.iter().skip(1);
    while let Some(word) = words.next() {
        if takes_separate_value(word) && words.next().is_some_and(|v| v.starts_with("-Wp,")) {
            return true;
        }
    }
    false
}

/// Whether the words gcc passes on to the preprocessor (`-Xpreprocessor W`, `-Wp,a,b`) end
/// with an option that wants a separate value (`-Xpreprocessor -iquote`). gcc hands those
/// words to cc1 together, just before the source, so that option would take the source
/// as its value and cc1 would compile stdin (found by `client_args_gcc`).
fn preprocessor_words_end_wanting_a_value(argv: &[String]) -> bool {
    let mut words: Vec<&str> = Vec::new();
    let mut i = 1;
    while i < argv.len() {
        let a = argv[i].as_str();
        if a == "-Xpreprocessor" {
            words.extend(argv.get(i + 1).map(String::as_str));
            i += 1;
        } else if let Some(list) = a.strip_prefix("-Wp,") {
            words.extend(list.split(',').filter(|p| !p.is_empty()));
        } else if takes_separate_value(a) {
            i += 1;
        }
        i += 1;
    }
    let mut j = 0;
    while j < words.len() {
        if takes_separate_value(words[j]) {
            if j + 1 == words.len() {
                return true;
            }
            j += 1;
        }
        j += 1;
    }
    false
}

/// The scan itself, of the words as they are.
fn scan_words(argv: &[String]) -> Scan {
    let Some(compiler) = argv.first() else {
        return Scan::NotCompile(NO_COMPILER);
    };
    let cc1_names_target = dependencies_through_wp(argv);
    let argv = expand_preprocessor_options(argv);
    // Whether this is a compile at all decides Local vs NotCompile for every early exit
    // below; which rule fired first is distcc's order and does not change the outcome.
    let compiles = argv[1..].iter().any(|a| a == "-c" || a == "-S");
    let give_up = |reason| {
        if compiles {
            Scan::Local(reason)
        } else {
            Scan::NotCompile(reason)
        }
    };
    if compiler.starts_with('-') {
        // distcc exits 101 ("unrecognized distcc option"); `invocation` never produces this.
        return Scan::NotCompile(COMPILER_IS_OPTION);
    }
    // distcc 3.4 expands @file (libiberty) before scanning; we don't, so we can't see inside.
    if argv[1..].iter().any(|a| a.starts_with('@')) {
        return give_up(RESPONSE_FILE);
    }

    let mut mode_c = false;
    let mut mode_s = false;
    let mut input: Option<usize> = None;
    let mut output: Option<String> = None;
    let mut stripped_value_read = false;
    let mut value_missing = false;
    let mut engine_only = None;
    let mut i = 1;
    while i < argv.len() {
        let a = argv[i].as_str();
        if !a.starts_with('-') {
            if source::is_source(a) {
                if input.is_some() {
                    return give_up(TWO_INPUTS);
                }
                input = Some(i);
            } else if a.ends_with(".o") {
                // distcc takes a bare `foo.o` as the output (and a 3.4 server repeats
                // that); gcc reads it as an input, so such a compile ends up local
                // (`gcc_reads_otherwise`).
                if output.replace(a.to_string()).is_some() {
                    return give_up(TWO_OUTPUTS);
                }
            }
            i += 1;
            continue;
        }
        let Some(m) = flags::lookup(a) else {
            i += 1;
            continue;
        };
        let next = argv.get(i + 1).map(String::as_str);
        match m.flag.category {
            Category::Mode(Mode::Preprocess) => return Scan::Local(PREPROCESS_ONLY),
            Category::Mode(Mode::Compile) => mode_c = true,
            Category::Mode(Mode::Assemble) => mode_s = true,
            Category::DependencyOnly => return give_up(DEPENDENCIES_ONLY),
            Category::LocalOnly(reason) => return give_up(reason),
            Category::EngineOnly(reason) => engine_only = Some(reason),
            Category::DependencyValue => {
                if m.value == Value::Next {
                    if next.is_none() {
                        return give_up(MISSING_VALUE);
                    }
                    i += 1;
                }
            }
            Category::Assembler => {
                let words: Vec<&str> = match m.value {
                    Value::Joined(list) => list.split(',').collect(),
                    _ => match next {
                        Some(v) => vec![v],
                        None => return give_up(MISSING_VALUE),
                    },
                };
                // distcc's test, then the parts our server refuses as well.
                let distcc = a.contains(",-a") || a.contains("--MD");
                let files = |w: &&str| ["-a", "--MD", "-o", "@"].iter().any(|p| w.starts_with(p));
                if distcc || words.iter().any(files) {
                    return give_up(ASSEMBLER_FILES);
                }
            }
            Category::ClangFrontend => {
                let Some(v) = next else {
                    return give_up(MISSING_VALUE);
                };
                if ["-load", "-plugin", "-add-plugin", "-fplugin"]
                    .iter()
                    .any(|p| v.starts_with(p))
                {
                    return give_up(flags::PLUGIN);
                }
                if ["-o", "-dependency-file", "-header-include-file"]
                    .iter()
                    .any(|p| v.starts_with(p))
                {
                    return give_up(flags::EXTRA_OUTPUT);
                }
            }
            Category::ReportToFile => {
                if let Value::Joined(v) = m.value
                    && let Some((_, to)) = v.split_once('=')
                    && to != "stderr"
                    && to != "stdout"
                {
                    return give_up(flags::EXTRA_OUTPUT);
                }
            }
            Category::Language => {
                // distcc checks the word after `-x` (prefix `c`, `objective-c` or `go`), even
                // for the joined form `-xc`, where that word is not the language; a 3.4
                // server repeats the check, so joined `-xLANG` is local here. For `-x LANG`
                // we accept only the C-family languages a server can compile from
                // preprocessed text (a subset of what distcc lets through).
                match (m.value, next) {
                    // `-x` as the last word: distcc ignores it, but the `-o` it appends
                    // for a derived output would become the language; the compiler
                    // complains about it here instead.
                    (Value::Next, None) => return give_up(MISSING_VALUE),
                    (Value::Next, Some(lang)) if language_distributable(lang) => {}
                    _ => return give_up(LANGUAGE),
                }
            }
            Category::Output => {
                let value = match m.value {
                    Value::Joined(v) => v,
                    _ => {
                        // distcc reads past the end here and sends `-o -o x.o`.
                        let Some(v) = next else {
                            return give_up(MISSING_VALUE);
                        };
                        i += 1;
                        v
                    }
                };
                if output.replace(value.to_string()).is_some() {
                    return give_up(TWO_OUTPUTS);
                }
            }
            // Not looked at by the scan, and their separate values are not skipped (distcc
            // doesn't either, and the server repeats this scan). But `remote_argv` strips
            // such an option with its value, so a value the scan reads (`-I -S`, `-D a.c`)
            // would make the server see another command than the one decided on here.
            Category::PreprocessorOnly | Category::LinkerOnly | Category::Dependency => {
                // Decided last, so that distcc's own reasons come first. A missing value
                // would be the `-o` appended for a derived output.
                match (m.value, next) {
                    (Value::Next, Some(v)) if scan_reads(v) => stripped_value_read = true,
                    (Value::Next, None) => value_missing = true,
                    _ => {}
                }
            }
        }
        i += 1;
    }

    if !mode_c && !mode_s {
        return Scan::NotCompile(NOT_A_COMPILE);
    }
    let Some(input) = input else {
        return Scan::Local(NO_INPUT);
    };
    let input_name = argv[input].clone();
    if source::is_autoconf_test(&input_name) {
        return Scan::Local(AUTOCONF);
    }
    let mut argv = argv;
    let (output, output_explicit) = match output {
        Some(out) => (out, true),
        None => {
            // `-S` wins over `-c`: it stops earlier.
            let ext = if mode_s { ".s" } else { ".o" };
            let Some(out) = source::output_from_source(&input_name, ext) else {
                return Scan::Local(BOGUS_SOURCE);
            };
            argv.push("-o".to_string());
            argv.push(out.clone());
            (out, false)
        }
    };
    if output == "-" {
        return Scan::Local(OUTPUT_TO_STDOUT);
    }
    // gcc: "output filename may not be empty"; the server would write its own name.
    if output.is_empty() {
        return Scan::Local(MISSING_VALUE);
    }
    if stripped_value_read {
        return Scan::Local(STRIPPED_VALUE);
    }
    if value_missing {
        return Scan::Local(MISSING_VALUE);
    }
    let preprocessed = source::is_preprocessed(&input_name);
    let preprocessed_ext =
        source::preprocessed_extension(&input_name).expect("a source has an extension");
    let mut dependencies = Dependencies::from_argv(&argv, &output);
    if let Some(deps) = &mut dependencies
        && cc1_names_target
        && !deps.target_given
    {
        // `-Wp,-MD,file` reaches cc1 itself, which names the target after the source
        // (`sub/b.c` → `b.o`), where the `-MD -MF file` it is expanded into would have the
        // driver name it after `-o`. Naming it keeps local, remote and fallback runs alike.
        argv.extend([
            "-MQ".to_string(),
            source::cc1_dependency_target(&input_name),
        ]);
        deps.target_given = true;
    }
    Scan::Distribute(CompileJob {
        argv,
        input: input_name,
        input_index: input,
        output,
        output_explicit,
        mode: if mode_s {
            Mode::Assemble
        } else {
            Mode::Compile
        },
        preprocessed,
        preprocessed_ext,
        dependencies: if preprocessed { None } else { dependencies },
        engine_only,
    })
}

/// Whether the scan gives `word` a meaning of its own: an option it knows, a response
/// file, a source, or an object taken for the output.
fn scan_reads(word: &str) -> bool {
    if word.starts_with('-') {
        flags::lookup(word).is_some()
    } else {
        word.starts_with('@') || source::is_source(word) || word.ends_with(".o")
    }
}

/// Where gcc reads a distributable command otherwise than distcc's scan, which skips no
/// option's value and knows no long option (found by the differential check against
/// `gcc -###`, fuzz target `client_args_gcc`): words read the way gcc reads them.
///
/// - A long option gcc reads as a short one (`--output x.o` is `-o x.o`, `--assemble`
///   `-S`, `--include x.h` `-include x.h`): only those known to be harmless go out.
/// - A separate value the scan read as a word of its own: the source (`-Xassembler a.c`,
///   which gcc does not compile), a mode (`--sysroot -c`, which makes gcc link).
/// - An input file besides the source at `input`, i.e. any word that is neither an option
///   nor an option's separate value: gcc links objects and libraries, and ignores them
///   with `-c` unless they are missing (as on a server, where that is an error); assembles
///   `.s`; precompiles a header; reads stdin for `-`. distcc ignores such words, or takes a
///   `foo.o` for the output, which gcc does not. So is a word passed on by `-Xpreprocessor`,
///   `-Xassembler` or `-Xclang` that is no option: one more input file to cc1 (whose
///   second file is its output), `as` or clang's front end.
fn gcc_reads_otherwise(argv: &[String], input: usize) -> Option<&'static str> {
    let mut i = 1;
    while i < argv.len() {
        let a = argv[i].as_str();
        i += 1;
        if a == "-" || !a.starts_with('-') {
            if i - 1 != input {
                return Some(OTHER_INPUT);
            }
            continue;
        }
        let known = flags::lookup(a);
        if known.is_none() && a.starts_with("--") && !flags::long_option_distributable(a) {
            return Some(LONG_OPTION);
        }
        if flags::OTHER_SEPARATE.contains(&a) || known.is_some_and(|m| m.value == Value::Next) {
            // Only `-o` and `-MF`-like values are skipped by the scan.
            let skipped = known.is_some_and(|m| {
                matches!(
                    m.flag.category,
                    Category::Output | Category::DependencyValue
                )
            });
            let value = argv.get(i).map(String::as_str);
            if !skipped && value.is_some_and(decides) {
                return Some(VALUE_READ);
            }
            // A word passed on as it is: to the preprocessor, assembler or clang's front
            // end, a word that is no option is one more input file.
            let passed_on = ["-Xpreprocessor", "-Xassembler", "-Xclang"].contains(&a);
            if passed_on && value.is_some_and(|v| !v.starts_with('-')) {
                return Some(OTHER_INPUT);
            }
            i += 1;
        }
    }
    None
}

/// Whether `word` is an option whose value is the next word (table or not).
fn takes_separate_value(word: &str) -> bool {
    flags::OTHER_SEPARATE.contains(&word)
        || flags::lookup(word).is_some_and(|m| m.value == Value::Next)
}

/// Whether the scan's decision reads `word`: a source, a bare object (the output to
/// distcc), a response file, a mode, an output, a language.
fn decides(word: &str) -> bool {
    match flags::lookup(word) {
        Some(m) => matches!(
            m.flag.category,
            Category::Mode(_) | Category::Output | Category::Language
        ),
        None => !word.starts_with('-') && scan_reads(word),
    }
}

/// The `-x` languages we distribute: C, C++, Objective-C(++) and their preprocessed forms.
/// distcc lets through anything starting with `c`, `objective-c` or `go` (`c-header`, `cuda`,
/// `go`…); this is a subset.
fn language_distributable(lang: &str) -> bool {
    matches!(
        lang,
        "c" | "c++"
            | "objective-c"
            | "objective-c++"
            | "cpp-output"
            | "c++-cpp-output"
            | "objective-c-cpp-output"
            | "objective-c++-cpp-output"
    )
}

#[cfg(test)]
#[path = "args_tests.rs"]
mod tests;
