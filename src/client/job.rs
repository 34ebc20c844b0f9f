//! A compile the scan found distributable, and the command lines derived from it: the local
//! preprocessor run and the argv the server receives (distcc 3.4 `cpp.c`, `strip.c`).

use super::flags::{self, Category, Mode, Value};
use super::source;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompileJob {
    /// The compile command: argv[0] is the compiler, `-Wp,` options are expanded, and
    /// `-o OUTPUT` is appended when none was given. This is also what runs locally if the
    /// job falls back.
    pub argv: Vec<String>,
    /// The source file as written on the command line.
    pub input: String,
    /// Where `input` is in `argv`.
    pub input_index: usize,
    /// The output file, explicit or derived (source basename with `.o`, or `.s` for `-S`).
    pub output: String,
    /// `output` came from the command line rather than being derived.
    pub output_explicit: bool,
    /// `Compile` for `-c`, `Assemble` for `-S` (which wins if both are given).
    pub mode: Mode,
    /// The input is already preprocessed (`.i .ii .mi .mii`): no local cpp run.
    pub preprocessed: bool,
    /// The extension of the preprocessed text (`.i`, `.ii`, `.mi`, `.mii`): name the temp
    /// file with it, since the server goes by the extension.
    pub preprocessed_ext: &'static str,
    /// `-MD`/`-MMD` was given: the local cpp run writes a dependency file.
    pub dependencies: Option<Dependencies>,
    /// Why no distcc host may take the job, when only an engine may (`-gsplit-dwarf`: the
    /// `.dwo` written beside the object would stay on the server).
    pub engine_only: Option<&'static str>,
}

/// The dependency file a `-MD`/`-MMD` compile writes during the local preprocessor run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dependencies {
    /// Where it is written: the `-MF` value, or the output with its extension replaced by
    /// `.d` (what gcc does when it compiles locally).
    pub file: String,
    /// `-MF` was on the command line.
    pub file_given: bool,
    /// `-MT` or `-MQ` was on the command line.
    pub target_given: bool,
}

impl Dependencies {
    /// `None` unless the argv has `-MD` or `-MMD`.
    pub(super) fn from_argv(argv: &[String], output: &str) -> Option<Self> {
        let mut wanted = false;
        let mut file = None;
        let mut target_given = false;
        let mut i = 1;
        while i < argv.len() {
            let word = argv[i].as_str();
            i += 1;
            let Some(m) = flags::lookup(word) else {
                continue;
            };
            let value = match m.value {
                Value::Next
                    if matches!(
                        m.flag.category,
                        Category::DependencyValue | Category::Output
                    ) =>
                {
                    i += 1;
                    argv.get(i - 1).map(String::as_str)
                }
                Value::Joined(v) => Some(v),
                _ => None,
            };
            match (m.flag.category, m.flag.name) {
                (Category::Dependency, "-MD" | "-MMD") => wanted = true,
                (Category::DependencyValue, "-MF") => file = value.map(str::to_string),
                (Category::DependencyValue, _) => target_given = true,
                _ => {}
            }
        }
        wanted.then(|| Dependencies {
            file_given: file.is_some(),
            file: file.unwrap_or_else(|| source::dependency_file_for(output)),
            target_given,
        })
    }
}

impl CompileJob {
    pub fn compiler(&self) -> &str {
        &self.argv[0]
    }

    /// The local preprocessor command, whose stdout is the preprocessed text: the argv with
    /// every `-o X`/`-oX` removed and every `-c`/`-S` replaced by `-E` (`cpp.c`).
    ///
    /// Unlike distcc, a `-MD`/`-MMD` compile also gets `-MF <output>.d` and `-MQ <output>`
    /// unless it names them itself: without `-o`, gcc would otherwise write `foo.d` in the
    /// current directory with the target `foo.o`, not `out/foo.d` with `out/foo.o` as a
    /// local `gcc -c -MD -o out/foo.o` does (gcc adds exactly these two options itself).
    pub fn preprocess_argv(&self) -> Vec<String> {
        let mut out = Vec::with_capacity(self.argv.len() + 4);
        let mut words = self.argv.iter();
        while let Some(word) = words.next() {
            match word.as_str() {
                "-o" => {
                    words.next();
                }
                w if w.starts_with("-o") => {}
                "-c" | "-S" => out.push("-E".to_string()),
                _ => out.push(word.clone()),
            }
        }
        if let Some(deps) = &self.dependencies {
            if !deps.file_given {
                out.extend(["-MF".to_string(), deps.file.clone()]);
            }
            if !deps.target_given {
                out.extend(["-MQ".to_string(), self.output.clone()]);
            }
        }
        out
    }

    /// The argv sent to the server: preprocessor, dependency and linker options removed
    /// (with their separate values) as distcc's `dcc_strip_local_args` does, plus
    /// `-Xpreprocessor X`; the separate value of an option that stays stays with it. The
    /// source name and `-o OUTPUT` stay; the server substitutes its own files for them.
    pub fn remote_argv(&self) -> Vec<String> {
        let mut out = Vec::with_capacity(self.argv.len());
        let mut words = self.argv.iter();
        while let Some(word) = words.next() {
            match flags::lookup(word) {
                Some(m) if m.flag.category.stripped_for_remote() => {
                    if m.value == Value::Next {
                        words.next();
                    }
                }
                // A kept option keeps its separate value, whatever that looks like
                // (`-Xassembler -DX`): stripping the value would hand the option the next
                // word instead. distcc's strip does not know this and breaks such lines.
                Some(m) if m.value == Value::Next => {
                    out.push(word.clone());
                    out.extend(words.next().cloned());
                }
                // So does one outside the table (`--param -MD`): found by the client_args
                // fuzz target.
                None if flags::OTHER_SEPARATE.contains(&word.as_str()) => {
                    out.push(word.clone());
                    out.extend(words.next().cloned());
                }
                _ => out.push(word.clone()),
            }
        }
        out
    }

    /// For clang, `-fdebug-compilation-dir=CWD`, unless the command names its own. gcc's
    /// preprocessed output carries the working directory (`# 1 "/dir//"`) for `-g`; clang's
    /// does not, so its debug info would name the server's job directory (distcc's: the
    /// server's `/tmp`) instead of where the build runs.
    pub fn compilation_dir_option(&self, cwd: &std::path::Path) -> Option<String> {
        let own = self.argv.iter().any(|a| {
            a.starts_with("-fdebug-compilation-dir") || a.starts_with("-ffile-compilation-dir")
        });
        let compiler = self.argv.first()?;
        let cwd = cwd.to_str()?;
        (crate::compiler_names::is_clang(compiler) && !own)
            .then(|| format!("-fdebug-compilation-dir={cwd}"))
    }

    /// The dependency file the local preprocessor run writes, if any.
    pub fn dependency_file(&self) -> Option<&str> {
        self.dependencies.as_ref().map(|d| d.file.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::super::args::{Scan, scan};
    use super::*;

    fn job(cmd: &str) -> CompileJob {
        let argv: Vec<String> = cmd.split_whitespace().map(String::from).collect();
        match scan(&argv) {
            Scan::Distribute(job) => job,
            other => panic!("{cmd}: expected Distribute, got {other:?}"),
        }
    }

    fn words(v: &[String]) -> String {
        v.join(" ")
    }

    #[test]
    fn clang_jobs_name_the_client_directory_for_debug_info() {
        let cwd = std::path::Path::new("/home/me/src");
        assert_eq!(
            job("clang -g -c a.c")
                .compilation_dir_option(cwd)
                .as_deref(),
            Some("-fdebug-compilation-dir=/home/me/src")
        );
        assert!(
            job("clang++-14 -c a.cc")
                .compilation_dir_option(cwd)
                .is_some()
        );
        assert!(job("gcc -g -c a.c").compilation_dir_option(cwd).is_none());
        assert!(
            job("clang -g -fdebug-compilation-dir=. -c a.c")
                .compilation_dir_option(cwd)
                .is_none()
        );
    }

    #[test]
    fn preprocess_argv_drops_output_and_replaces_c_with_e() {
        let j = job("gcc -O2 -c src/foo.c -o out/foo.o -DX");
        assert_eq!(words(&j.preprocess_argv()), "gcc -O2 -E src/foo.c -DX");
        let j = job("gcc -c foo.c -oout.o");
        assert_eq!(words(&j.preprocess_argv()), "gcc -E foo.c");
    }

    #[test]
    fn preprocess_argv_of_derived_output_drops_the_appended_o() {
        let j = job("gcc -c foo.c");
        assert_eq!(words(&j.argv), "gcc -c foo.c -o foo.o");
        assert_eq!(words(&j.preprocess_argv()), "gcc -E foo.c");
    }

    #[test]
    fn preprocess_argv_replaces_every_c_and_s() {
        let j = job("gcc -c -S -c foo.c");
        assert_eq!(words(&j.preprocess_argv()), "gcc -E -E -E foo.c");
    }

    #[test]
    fn md_without_mf_writes_the_dep_file_beside_the_output() {
        let j = job("gcc -MD -c sub/foo.c -o out/foo.o");
        assert_eq!(j.dependency_file(), Some("out/foo.d"));
        assert_eq!(
            words(&j.preprocess_argv()),
            "gcc -MD -E sub/foo.c -MF out/foo.d -MQ out/foo.o"
        );
    }

    #[test]
    fn md_with_mf_and_mt_is_left_alone() {
        let j = job("gcc -MMD -MF deps/x.d -MT x -c x.c -o x.o");
        assert_eq!(j.dependency_file(), Some("deps/x.d"));
        assert_eq!(
            words(&j.preprocess_argv()),
            "gcc -MMD -MF deps/x.d -MT x -E x.c"
        );
    }

    #[test]
    fn md_with_joined_mf_only_gets_a_target() {
        let j = job("gcc -MD -MFx.d -c x.c -o o/x.o");
        assert_eq!(j.dependency_file(), Some("x.d"));
        assert_eq!(
            words(&j.preprocess_argv()),
            "gcc -MD -MFx.d -E x.c -MQ o/x.o"
        );
    }

    #[test]
    fn wp_md_is_expanded_into_md_mf_with_the_target_cc1_would_name() {
        let j = job("gcc -Wp,-MD,.deps/foo.Po -c src/foo.c -o out/foo.o");
        assert_eq!(j.dependency_file(), Some(".deps/foo.Po"));
        // gcc -Wp,-MD names `foo.o` (cc1's own default), not `out/foo.o` as -MD would.
        assert_eq!(
            words(&j.preprocess_argv()),
            "gcc -MD -MF .deps/foo.Po -E src/foo.c -MQ foo.o"
        );
        assert_eq!(words(&j.remote_argv()), "gcc -c src/foo.c -o out/foo.o");
        let named = job("gcc -Wp,-MMD,x.d -MT mine -c src/foo.c -o out/foo.o");
        assert_eq!(
            words(&named.preprocess_argv()),
            "gcc -MMD -MF x.d -MT mine -E src/foo.c"
        );
    }

    #[test]
    fn no_dependency_file_without_md() {
        assert_eq!(job("gcc -MF x.d -c x.c").dependency_file(), None);
        assert_eq!(job("gcc -c x.c").dependencies, None);
    }

    #[test]
    fn preprocessed_input_has_no_dependency_file() {
        let j = job("gcc -MD -c x.i");
        assert!(j.preprocessed);
        assert_eq!(j.dependency_file(), None);
    }

    #[test]
    fn remote_argv_strips_exactly_what_distcc_strips() {
        // The same command through the real distcc 3.4 gives
        // `gcc -c x.c -iquote q -Xpreprocessor -P -o x.o`; we also drop `-Xpreprocessor -P`.
        let j = job(
            "gcc -c x.c -I inc -DFOO -D BAR -include x.h -isystem /s -MD -MT t -nostdinc \
                     -Wl,-z -L/lib -lm -stdlib=libc++ -iquote q -Xpreprocessor -P -o x.o",
        );
        assert_eq!(words(&j.remote_argv()), "gcc -c x.c -iquote q -o x.o");
    }

    #[test]
    fn remote_argv_strips_separate_and_joined_forms() {
        let j = job(
            "cc -c a.c -U X -UY -I. -Idir -L lib -l m -MF a.d -MTa -MQ b -MD -MMD -MG -MP \
                     -undef -nostdinc++ -imacros m.h -iprefix p -iwithprefix w -iwithprefixbefore wb \
                     -idirafter d -isystemsys -O2 -g",
        );
        assert_eq!(words(&j.remote_argv()), "cc -c a.c -O2 -g -o a.o");
    }

    #[test]
    fn remote_argv_keeps_the_value_of_an_option_outside_the_table() {
        // Stripping `-MD` would hand `--param` the `-c` after it on the server.
        let j = job("cc c.C -S --param -MD -c");
        assert_eq!(words(&j.remote_argv()), "cc c.C -S --param -MD -c -o c.s");
        let j = job("gcc -c a.c -iquote -I -Xlinker -lm");
        assert_eq!(
            words(&j.remote_argv()),
            "gcc -c a.c -iquote -I -Xlinker -lm -o a.o"
        );
    }

    #[test]
    fn remote_argv_keeps_joined_forms_distcc_keeps() {
        // distcc strips `-include`/`-idirafter` only with a separate value.
        let j = job("gcc -c a.c -idirafterfoo -O1");
        assert_eq!(
            words(&j.remote_argv()),
            "gcc -c a.c -idirafterfoo -O1 -o a.o"
        );
    }

    #[test]
    fn remote_argv_keeps_source_output_language_and_codegen_options() {
        let j = job("g++ -x c++ -std=c++17 -fPIC -O2 -Wall -c src/a.cc -o obj/a.o");
        assert_eq!(
            words(&j.remote_argv()),
            "g++ -x c++ -std=c++17 -fPIC -O2 -Wall -c src/a.cc -o obj/a.o"
        );
    }
}
