//! Tests for `args.rs`, one per rule. Where a comment quotes distcc, the real
//! `DISTCC_VERBOSE=1 distcc …` 3.4 printed that decision.

use super::*;
use crate::client::flags as reasons;

fn argv(cmd: &str) -> Vec<String> {
    cmd.split_whitespace().map(String::from).collect()
}

fn run(cmd: &str) -> Scan {
    scan(&argv(cmd))
}

fn job(cmd: &str) -> CompileJob {
    match run(cmd) {
        Scan::Distribute(job) => job,
        other => panic!("{cmd}: expected Distribute, got {other:?}"),
    }
}

fn local(cmd: &str) -> &'static str {
    match run(cmd) {
        Scan::Local(reason) => reason,
        other => panic!("{cmd}: expected Local, got {other:?}"),
    }
}

fn not_compile(cmd: &str) -> &'static str {
    match run(cmd) {
        Scan::NotCompile(reason) => reason,
        other => panic!("{cmd}: expected NotCompile, got {other:?}"),
    }
}

#[test]
fn plain_compile_is_distributed_with_derived_output() {
    let j = job("gcc -O2 -c src/hello.c");
    assert_eq!(j.compiler(), "gcc");
    assert_eq!((j.input.as_str(), j.input_index), ("src/hello.c", 3));
    assert_eq!((j.output.as_str(), j.output_explicit), ("hello.o", false));
    assert_eq!(j.argv, argv("gcc -O2 -c src/hello.c -o hello.o"));
    assert_eq!(
        (j.mode, j.preprocessed, j.preprocessed_ext),
        (Mode::Compile, false, ".i")
    );
}

#[test]
fn explicit_output_separate_or_joined() {
    let j = job("gcc -c a.c -o out/a.o");
    assert_eq!((j.output.as_str(), j.output_explicit), ("out/a.o", true));
    assert_eq!(j.argv, argv("gcc -c a.c -o out/a.o"));
    assert_eq!(job("gcc -c a.c -oout/a.o").output, "out/a.o");
}

#[test]
fn output_without_extension_is_fine() {
    assert_eq!(job("gcc -c x.c -o out/x").output, "out/x");
}

#[test]
fn a_bare_object_is_an_input_gcc_ignores_so_the_compile_stays_local() {
    // distcc takes `x.o` for the output; gcc writes `y.o` and ignores `x.o` (a linker
    // input, unused with -c). Found by the differential check against `gcc -###`.
    assert_eq!(local("gcc -c y.c x.o"), OTHER_INPUT);
}

#[test]
fn dash_s_derives_a_dot_s_output_and_wins_over_dash_c() {
    let j = job("gcc -S x.cpp");
    assert_eq!(
        (j.output.as_str(), j.mode, j.preprocessed_ext),
        ("x.s", Mode::Assemble, ".ii")
    );
    assert_eq!(job("gcc -c -S x.c").output, "x.s");
}

#[test]
fn preprocessed_inputs_are_distributed_as_they_are() {
    for (src, ext) in [
        ("x.i", ".i"),
        ("x.ii", ".ii"),
        ("x.mi", ".mi"),
        ("x.mii", ".mii"),
    ] {
        let j = job(&format!("gcc -c {src}"));
        assert!(j.preprocessed, "{src}");
        assert_eq!(j.preprocessed_ext, ext);
    }
}

#[test]
fn objective_c_and_cxx_sources_are_distributed() {
    assert_eq!(job("clang -c a.m").preprocessed_ext, ".mi");
    assert_eq!(job("clang -c a.mm").preprocessed_ext, ".mii");
    assert_eq!(job("g++ -c a.C").preprocessed_ext, ".ii");
}

#[test]
fn dash_e_runs_locally_in_the_cpp_pool() {
    // distcc: "-E call for cpp must be local" (EXIT_LOCAL_CPP).
    assert_eq!(local("gcc -E x.c"), PREPROCESS_ONLY);
    assert!(run("gcc -E x.c").uses_cpp_slot());
    assert_eq!(local("gcc -c -E x.c"), PREPROCESS_ONLY);
    assert!(!run("gcc -march=native -c x.c").uses_cpp_slot());
}

#[test]
fn dash_m_and_mm_run_locally() {
    // distcc: "-M implies -E (maybe) and must be local".
    assert_eq!(not_compile("gcc -M x.c"), DEPENDENCIES_ONLY);
    assert_eq!(local("gcc -MM -c x.c"), DEPENDENCIES_ONLY);
    assert_eq!(local("gcc -MJ db.json -c x.c"), DEPENDENCIES_ONLY);
}

#[test]
fn dependency_side_options_are_distributable() {
    for opts in [
        "-MD",
        "-MMD",
        "-MG",
        "-MP",
        "-MF x.d",
        "-MFx.d",
        "-MT t",
        "-MTt",
        "-MQ q",
        "-MQq",
        "-MD -MP -MF d/x.d -MT x.o",
    ] {
        job(&format!("gcc {opts} -c x.c"));
    }
}

#[test]
fn dependency_value_is_not_taken_for_a_source_or_output() {
    // The value after -MF/-MT/-MQ is skipped, even when it looks like a source or an object.
    let j = job("gcc -MT foo.o -MF other.c -c x.c -o x.o");
    assert_eq!((j.input.as_str(), j.output.as_str()), ("x.c", "x.o"));
}

#[test]
fn dependency_option_without_value_runs_locally() {
    // distcc reads past the end of argv here.
    assert_eq!(local("gcc -c x.c -MF"), MISSING_VALUE);
}

#[test]
fn march_native_runs_locally() {
    // distcc: "-march=native generates code for local machine; must be local".
    assert_eq!(local("gcc -march=native -c x.c"), reasons::MARCH_NATIVE);
}

#[test]
fn mtune_native_runs_locally() {
    assert_eq!(local("gcc -mtune=native -c x.c"), reasons::MTUNE_NATIVE);
}

#[test]
fn mcpu_native_runs_locally_unlike_distcc() {
    // distcc 3.4 distributes this (checked): the remote CPU would be used.
    assert_eq!(local("gcc -mcpu=native -c x.c"), reasons::MCPU_NATIVE);
}

#[test]
fn other_march_values_are_distributed() {
    job("gcc -march=x86-64-v3 -mtune=generic -c x.c");
}

#[test]
fn flto_runs_locally_but_flto_with_a_value_does_not() {
    // distcc 3.4 matches the exact word only.
    assert_eq!(local("gcc -flto -c x.c"), reasons::LTO);
    job("gcc -flto=auto -c x.c");
}

#[test]
fn assembler_listing_or_deps_runs_locally() {
    // distcc: "-Wa,-adhln must be local".
    assert_eq!(local("gcc -Wa,-adhln=x.lst -c x.c"), ASSEMBLER_FILES);
    assert_eq!(local("gcc -Wa,--noexecstack,-alh -c x.c"), ASSEMBLER_FILES);
    assert_eq!(local("gcc -Wa,--MD,x.d -c x.c"), ASSEMBLER_FILES);
    job("gcc -Wa,--noexecstack -c x.c");
}

#[test]
fn assembler_output_or_response_file_runs_locally_unlike_distcc() {
    assert_eq!(local("gcc -Wa,-o,x.o -c x.c"), ASSEMBLER_FILES);
    assert_eq!(local("gcc -Wa,@opts -c x.c"), ASSEMBLER_FILES);
    assert_eq!(local("gcc -Xassembler -adhln -c x.c"), ASSEMBLER_FILES);
    assert_eq!(local("gcc -c x.c -Xassembler"), MISSING_VALUE);
    job("gcc -Xassembler --noexecstack -c x.c");
}

#[test]
fn clang_frontend_plugins_and_outputs_run_locally() {
    assert_eq!(
        local("clang -Xclang -load -Xclang p.so -c x.c"),
        reasons::PLUGIN
    );
    assert_eq!(
        local("clang -Xclang -add-plugin -Xclang p -c x.c"),
        reasons::PLUGIN
    );
    assert_eq!(
        local("clang -Xclang -dependency-file -Xclang x.d -c x.c"),
        reasons::EXTRA_OUTPUT
    );
    job("clang -Xclang -fno-pch-timestamp -c x.c");
}

#[test]
fn opt_info_to_a_file_runs_locally() {
    assert_eq!(
        local("gcc -fopt-info-vec=vec.txt -c x.c"),
        reasons::EXTRA_OUTPUT
    );
    job("gcc -fopt-info-vec -c x.c");
    job("gcc -fopt-info-missed=stderr -c x.c");
}

#[test]
fn specs_run_locally() {
    assert_eq!(local("gcc -specs=my.specs -c x.c"), reasons::SPECS);
    assert_eq!(local("gcc --specs=my.specs -c x.c"), reasons::SPECS);
    assert_eq!(local("gcc -specs my.specs -c x.c"), reasons::SPECS);
}

#[test]
fn profiling_and_coverage_run_locally() {
    for opt in [
        "-fprofile-arcs",
        "-ftest-coverage",
        "--coverage",
        "-fprofile-generate",
        "-fprofile-generate=dir",
        "-fprofile-use",
        "-fprofile-use=x.profdata",
        "-fauto-profile=x.afdo",
        "-fprofile-correction",
        // Ours: clang's forms distcc misses.
        "-fprofile-instr-generate",
        "-fprofile-instr-use=x.profdata",
        "-fprofile-sample-use=x.prof",
        "-fcs-profile-generate",
        "-fcoverage-mapping",
    ] {
        assert_eq!(
            local(&format!("gcc {opt} -c x.c")),
            reasons::PROFILE,
            "{opt}"
        );
    }
}

#[test]
fn frepo_runs_locally() {
    assert_eq!(local("g++ -frepo -c x.cc"), reasons::REPO);
}

#[test]
fn rtl_dumps_run_locally() {
    // distcc: "gcc's debug option -dr may write extra files; running locally".
    assert_eq!(local("gcc -dr -c x.c"), reasons::DUMPS);
    assert_eq!(local("gcc -fdump-tree-all -c x.c"), reasons::DUMPS);
}

#[test]
fn x_with_c_family_languages_is_distributed() {
    for lang in [
        "c",
        "c++",
        "objective-c",
        "objective-c++",
        "cpp-output",
        "c++-cpp-output",
        "objective-c-cpp-output",
        "objective-c++-cpp-output",
    ] {
        job(&format!("gcc -x {lang} -c x.c"));
    }
}

#[test]
fn x_with_other_languages_runs_locally() {
    // distcc: "gcc's -x handling is complex; running locally for assembler".
    assert_eq!(local("gcc -x assembler -c x.c"), LANGUAGE);
    assert_eq!(local("gcc -x assembler-with-cpp -c x.c"), LANGUAGE);
    assert_eq!(local("gcc -x none -c x.c"), LANGUAGE);
    assert_eq!(local("gcc -x f95 -c x.c"), LANGUAGE);
}

#[test]
fn x_with_header_cuda_or_go_runs_locally_unlike_distcc() {
    // distcc distributes any language starting with "c" or "go".
    assert_eq!(local("gcc -x c-header -c x.c"), LANGUAGE);
    assert_eq!(local("clang -x cuda -c x.c"), LANGUAGE);
    assert_eq!(local("gccgo -x go -c x.c"), LANGUAGE);
}

#[test]
fn joined_x_runs_locally() {
    // distcc looks at the *next* word: `-xc -c x.c` → "running locally for -c"; a 3.4
    // server repeats that check, so joined -xLANG is never sent.
    assert_eq!(local("gcc -xc -c x.c"), LANGUAGE);
    // distcc would distribute this one (the next word starts with "c"), and its server accept it.
    assert_eq!(local("gcc -xc++ cfile.cc -c"), LANGUAGE);
    assert_eq!(local("gcc -xassembler cfile.c -c"), LANGUAGE);
}

#[test]
fn x_as_the_last_word_stays_local() {
    // distcc ignores it; found by the client_args fuzz target: with a derived output the
    // `-o` appended after it becomes its language on the server (`-x -o a.o`).
    assert_eq!(local("gcc -c -x"), MISSING_VALUE);
    assert_eq!(local("gcc -c a.i -x"), MISSING_VALUE);
    // Likewise any option whose value would be that `-o`.
    assert_eq!(local("cc d.M -c -Xclang -Xpreprocessor"), MISSING_VALUE);
    assert_eq!(local("cc -c a.c -I"), MISSING_VALUE);
}

#[test]
fn a_preprocessor_option_passed_on_without_its_value_stays_local() {
    // gcc hands -Xpreprocessor/-Wp words to cc1 just before the source: `-iquote dir/x.c`,
    // and cc1 would compile stdin. Found by the client_args_gcc fuzz target.
    assert_eq!(
        local("gcc -Xpreprocessor -iquote dir/x.c -c"),
        MISSING_VALUE
    );
    // With its value in the same list it is an ordinary preprocessor option.
    assert!(matches!(
        scan(&argv("gcc -c -Wp,-include,x.h a.c")),
        Scan::Distribute(_)
    ));
}

#[test]
fn two_sources_run_locally() {
    // distcc: "do we have two inputs?  i give up".
    assert_eq!(local("gcc -c x.c y.c"), TWO_INPUTS);
}

#[test]
fn two_outputs_run_locally() {
    // distcc: "called for link?  i give up".
    assert_eq!(local("gcc -c x.c -o a.o -o b.o"), TWO_OUTPUTS);
    assert_eq!(local("gcc -c x.c -o a.o b.o"), TWO_OUTPUTS);
}

#[test]
fn linking_objects_is_not_a_compile() {
    // distcc gives up on the second .o first; without -c/-S it is a link either way.
    assert_eq!(not_compile("gcc a.o b.o -o prog"), TWO_OUTPUTS);
    assert_eq!(not_compile("gcc a.o -o prog"), TWO_OUTPUTS);
    assert_eq!(not_compile("gcc main.o -lm"), NOT_A_COMPILE);
}

#[test]
fn missing_dash_c_is_not_a_compile() {
    // distcc: "compiler apparently called not for compile".
    assert_eq!(not_compile("gcc x.c -o x"), NOT_A_COMPILE);
    assert_eq!(not_compile("gcc --version"), NOT_A_COMPILE);
    assert_eq!(not_compile("gcc"), NOT_A_COMPILE);
}

#[test]
fn local_only_option_without_dash_c_is_not_a_compile() {
    assert_eq!(
        not_compile("gcc -march=native x.c -o x"),
        reasons::MARCH_NATIVE
    );
}

#[test]
fn no_source_runs_locally() {
    // distcc: "no visible input file".
    assert_eq!(local("gcc -c"), NO_INPUT);
    assert_eq!(local("gfortran -c x.f90"), NO_INPUT);
    assert_eq!(local("gcc -c -x c -"), NO_INPUT);
}

#[test]
fn assembler_sources_run_locally() {
    // `.s`/`.S` are not sources to distcc at all.
    assert_eq!(local("gcc -c a.s"), NO_INPUT);
    assert_eq!(local("gcc -c a.S -o a.o"), NO_INPUT);
}

#[test]
fn conftest_runs_locally() {
    // distcc: "autoconf tests are run locally: conftest.c".
    assert_eq!(local("gcc -c conftest.c"), AUTOCONF);
    assert_eq!(
        local("gcc -c -o conftest.o /tmp/x/tmp.conftest.cpp"),
        AUTOCONF
    );
}

#[test]
fn output_to_stdout_runs_locally() {
    // distcc: "output to stdout?  running locally".
    assert_eq!(local("gcc -c x.c -o -"), OUTPUT_TO_STDOUT);
}

#[test]
fn dash_o_without_value_runs_locally() {
    // distcc 3.4 sends `-o -o x.o` here.
    assert_eq!(local("gcc -c x.c -o"), MISSING_VALUE);
}

#[test]
fn bogus_source_name_runs_locally() {
    // distcc: "source file .c is bogus".
    assert_eq!(local("gcc -c .c"), BOGUS_SOURCE);
}

#[test]
fn response_files_run_locally() {
    assert_eq!(local("gcc @args.rsp -c x.c"), RESPONSE_FILE);
    assert_eq!(not_compile("gcc @args.rsp"), RESPONSE_FILE);
}

#[test]
fn plugins_and_foreign_programs_run_locally() {
    assert_eq!(local("gcc -fplugin=./p.so -c x.c"), reasons::PLUGIN);
    assert_eq!(local("gcc -fplugin-arg-p-x=1 -c x.c"), reasons::PLUGIN);
    assert_eq!(local("clang -fpass-plugin=p.so -c x.c"), reasons::PLUGIN);
    assert_eq!(local("gcc -B./stage1 -c x.c"), reasons::PROGRAMS);
    assert_eq!(local("gcc -B ./stage1 -c x.c"), reasons::PROGRAMS);
    assert_eq!(local("gcc -wrapper gdb,--args -c x.c"), reasons::PROGRAMS);
}

#[test]
fn options_writing_extra_files_run_locally() {
    assert_eq!(local("gcc -save-temps -c x.c"), reasons::SAVE_TEMPS);
    assert_eq!(local("gcc -save-temps=obj -c x.c"), reasons::SAVE_TEMPS);
    assert_eq!(
        job("gcc -gsplit-dwarf -c x.c").engine_only,
        Some(reasons::EXTRA_OUTPUT)
    );
    assert_eq!(local("gcc -fstack-usage -c x.c"), reasons::EXTRA_OUTPUT);
    assert_eq!(local("gcc -aux-info x.aux -c x.c"), reasons::EXTRA_OUTPUT);
    assert_eq!(local("clang -ftime-trace -c x.c"), reasons::EXTRA_OUTPUT);
}

#[test]
fn options_reading_local_files_run_locally() {
    assert_eq!(
        local("clang -fsanitize=address -fsanitize-ignorelist=ign.txt -c x.c"),
        reasons::LOCAL_FILE
    );
    assert_eq!(
        local("clang -include-pch x.pch -c x.c"),
        reasons::LOCAL_FILE
    );
    assert_eq!(local("clang++ -fmodules -c x.cc"), reasons::MODULES);
    assert_eq!(local("g++ -fmodules-ts -c x.cc"), reasons::MODULES);
}

#[test]
fn ordinary_options_are_distributed() {
    job(
        "gcc -O2 -g -Wall -Werror -fPIC -std=gnu11 -pthread -fsanitize=address -ffile-prefix-map=/a=/b -c x.c",
    );
}

#[test]
fn option_values_are_not_skipped_like_distcc() {
    // distcc does not skip -I/-D values: a value that looks like a source counts as one.
    assert_eq!(local("gcc -I dir.c -c x.c"), TWO_INPUTS);
}

#[test]
fn first_matching_rule_wins() {
    assert_eq!(local("gcc -march=native -E -c x.c"), reasons::MARCH_NATIVE);
    assert_eq!(local("gcc -E -march=native -c x.c"), PREPROCESS_ONLY);
}

#[test]
fn wp_options_are_expanded() {
    let expanded =
        expand_preprocessor_options(&argv("gcc -Wp,-MD,dep.d,-DX -Wp,-MMD,b.d -Wp,-P -c x.c"));
    assert_eq!(
        expanded,
        argv("gcc -MD -MF dep.d -DX -MMD -MF b.d -P -c x.c")
    );
    // distcc 3.4: `-Wp,-MMD` without a file becomes just `-MMD`.
    assert_eq!(
        expand_preprocessor_options(&argv("gcc -Wp,-MMD -c x.c")),
        argv("gcc -MMD -c x.c")
    );
    assert_eq!(
        expand_preprocessor_options(&argv("gcc -Wp, -Wp,a,,b")),
        argv("gcc a b")
    );
}

#[test]
fn wp_expansion_is_in_the_job_argv() {
    let j = job("gcc -Wp,-MD,.deps/x.Po -c x.c");
    assert_eq!(j.argv, argv("gcc -MD -MF .deps/x.Po -c x.c -o x.o -MQ x.o"));
    assert_eq!(j.input_index, 5);
}

#[test]
fn wp_with_dash_m_runs_locally() {
    assert_eq!(local("gcc -Wp,-M -c x.c"), DEPENDENCIES_ONLY);
}

#[test]
fn compiler_starting_with_dash_is_refused() {
    assert_eq!(not_compile("-c x.c"), COMPILER_IS_OPTION);
    assert_eq!(scan(&[]), Scan::NotCompile(NO_COMPILER));
}

#[test]
fn reasons_are_exposed() {
    assert_eq!(run("gcc -c x.c").reason(), None);
    assert_eq!(run("gcc -E x.c").reason(), Some(PREPROCESS_ONLY));
}

#[test]
fn a_stripped_option_whose_value_the_scan_reads_stays_local() {
    // Found by the client_args fuzz target: `-I -S` made the scan see -S, and remote_argv
    // then stripped `-I -S`, so the server was sent a command with no -c or -S at all.
    assert_eq!(local("g++ c.C -I -S"), STRIPPED_VALUE);
    assert_eq!(local("gcc -c x.c -D -c"), STRIPPED_VALUE);
    assert_eq!(local("gcc -c x.c -D y.c"), TWO_INPUTS); // distcc's reason comes first
    assert_eq!(local("gcc -c x.c -L -o x.o"), STRIPPED_VALUE);
    // An assembler option whose value is stripped: the server, repeating the scan, would
    // read the appended `-o` as its value (found by the fuzz target too).
    assert_eq!(
        local("g++ c.C -I c++ -c -Wp,-MD,a.d -Xassembler -Xassembler -Wp,-MD,a.d"),
        SERVER_SCANS_OTHERWISE
    );
    // ... or scans with another output: `-I assembler` stripped leaves `-MF` taking `foo.o`.
    assert_eq!(
        local("g++ c.C -I c++ -c -Xassembler -Xassembler -Xassembler -MF -I assembler foo.o"),
        SERVER_SCANS_OTHERWISE
    );
    // Values the scan does not read are stripped with their option as before.
    let j = job("gcc -c x.c -I inc -D X=1 -o x.o");
    assert_eq!(j.remote_argv(), argv("gcc -c x.c -o x.o"));
}

#[test]
fn a_kept_options_value_is_never_stripped_from_it() {
    // Found by the client_args fuzz target: `-Xassembler -DX=1` lost its value to the
    // strip, and the server's `-Xassembler` took the next word (`-o`) instead.
    let j = job("gcc -c a.i -Xassembler -DX=1 -DY");
    assert_eq!(j.remote_argv(), argv("gcc -c a.i -Xassembler -DX=1 -o a.o"));
    assert!(matches!(scan(&j.remote_argv()), Scan::Distribute(_)));
}

// Found by the differential check against `gcc -###` (fuzz target `client_args_gcc`,
// RELIABILITY.md): each of these was distributed, and gcc does something else with it.

#[test]
fn another_input_file_keeps_the_compile_local() {
    // A library gcc ignores with -c here but cannot find on the server (an error there);
    // an assembler source it assembles as well; stdin; a header it precompiles.
    for cmd in [
        "gcc -c a.c lib.a",
        "gcc -c a.c a.s",
        "gcc -c a.c -",
        "gcc -c a.c x.h",
        "gcc -c -x c a.c noext",
        // cc1 gets x.h as an input too; as assembles b.s into the object too.
        "gcc -S a.c -Xpreprocessor x.h",
        "gcc -c a.c -Xassembler b.s",
    ] {
        assert_eq!(local(cmd), OTHER_INPUT, "{cmd}");
    }
}

#[test]
fn option_values_are_not_taken_for_other_inputs() {
    job("gcc -c a.c -iquote inc -Xlinker x -T s -u main --param max-inline-insns-single=10");
    job("gcc -c a.c -I inc -L lib -l m -x c -include x.h -MF a.d -MT t -o a.o");
    job("gcc -c a.c --sysroot / -isysroot /");
}

#[test]
fn options_that_make_gcc_write_no_object_stay_local() {
    for opt in [
        "-fsyntax-only",
        "-###",
        "-dumpversion",
        "-dumpmachine",
        "-print-search-dirs",
        "-print-file-name=libc.so",
    ] {
        assert_eq!(
            local(&format!("gcc -c a.c {opt}")),
            reasons::NO_OBJECT,
            "{opt}"
        );
    }
}

#[test]
fn long_options_gcc_reads_as_short_ones_stay_local() {
    // gcc: `--output x.o` is `-o x.o`, `--assemble` is `-S`, `--preprocess` is `-E`,
    // `--include x.h` is `-include x.h`; the scan would derive `a.o`, compile, and send
    // an `-include` the server cannot read.
    for opt in [
        "--output x.o",
        "--output=x.o",
        "--assemble",
        "--preprocess",
        "--dependencies",
        "--include x.h",
        "--language c++",
        "--version",
        "--help",
    ] {
        assert_eq!(local(&format!("gcc -c a.c {opt}")), LONG_OPTION, "{opt}");
    }
    job("gcc -c a.c --param=max-inline-insns-single=10 --std=c11 --sysroot=/ --pedantic");
}

#[test]
fn a_value_the_scan_reads_as_its_own_word_stays_local() {
    // distcc reads `..c` as the source; gcc hands it to the assembler and compiles nothing.
    assert_eq!(local("gcc -S -Xassembler ..c"), VALUE_READ);
    assert_eq!(local("gcc -c -iquote a.c"), VALUE_READ);
    // The scan reads -c; gcc takes it for the sysroot and links m.m.
    assert_eq!(local("gcc --sysroot -c m.m"), VALUE_READ);
    assert_eq!(local("gcc -c a.c -Xassembler -c"), VALUE_READ);
    // The scan expands -Wp, first, so --param would be sent `-MD` as its value.
    assert_eq!(local("gcc -S --param -Wp,-MD,a.d d.M"), VALUE_READ);
    // -o's and -MT's values are skipped by the scan too.
    job("gcc -c a.c -MT a.c -o x.o");
}

#[test]
fn a_last_option_that_would_swallow_the_appended_output_stays_local() {
    // Found by the client_args_gcc campaign: gcc knows no -Xclang, so -iquote is an
    // option of its own there, and on the server it took the appended `-o`.
    assert_eq!(local("gcc -S d.M -Xclang -iquote"), MISSING_VALUE);
    assert_eq!(local("gcc -c a.c -iquote"), MISSING_VALUE);
    job("gcc -c a.c -iquote inc");
}

#[test]
fn an_empty_output_name_stays_local() {
    // Found by the client_args_gcc campaign: gcc refuses `-o ""`, a server does not.
    let argv = vec![
        "gcc".to_string(),
        "-c".into(),
        "a.c".into(),
        "-o".into(),
        String::new(),
    ];
    assert_eq!(scan(&argv), Scan::Local(MISSING_VALUE));
}
