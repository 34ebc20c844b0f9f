//! Unit tests of the server's argument rules.
use super::*;

fn argv(line: &str) -> Vec<String> {
    line.split_whitespace().map(String::from).collect()
}

fn job() -> &'static Path {
    Path::new("/tmp/job")
}

#[test]
fn source_and_output_move_into_the_job_directory() {
    let p = prepare(&argv("gcc -O2 -c src/foo.c -o build/foo.o"), job()).unwrap();
    assert_eq!(p.args, argv("-O2 -c /tmp/job/input.i -o /tmp/job/output.o"));
    assert_eq!(p.source_name, "src/foo.c");
    let p = prepare(&argv("g++ -c a.cpp -obuild/a.o -S"), job()).unwrap();
    assert_eq!(p.args, argv("-c /tmp/job/input.ii -o /tmp/job/output.s -S"));
}

#[test]
fn missing_output_gets_one() {
    let p = prepare(&argv("cc -c foo.c"), job()).unwrap();
    assert_eq!(p.args, argv("-c /tmp/job/input.i -o /tmp/job/output.o"));
}

#[test]
fn option_values_are_not_taken_for_sources() {
    let p = prepare(&argv("gcc -c -D x.c -o out.o real.c"), job()).unwrap();
    assert_eq!(p.source_name, "real.c");
}

#[test]
fn source_languages_become_preprocessed_languages() {
    let p = prepare(&argv("gcc -x c -c foo.c -o foo.o"), job()).unwrap();
    assert_eq!(&p.args[..2], &argv("-x cpp-output")[..]);
    let p = prepare(&argv("g++ -xc++ -c foo.cc -o foo.o"), job()).unwrap();
    assert_eq!(&p.args[..2], &argv("-x c++-cpp-output")[..]);
    assert!(prepare(&argv("gcc -x assembler-with-cpp -c foo.c -o foo.o"), job()).is_err());
}

#[test]
fn hostile_arguments_are_refused_with_the_argument_named() {
    for bad in [
        "-B/tmp/evil",
        "-B /tmp/evil",
        "-wrapper /bin/sh,-c",
        "-fplugin=/tmp/x.so",
        "-iplugindir=/tmp",
        "-specs=/tmp/s",
        "--specs=/tmp/s",
        "@/etc/passwd",
        "-aux-info /tmp/x",
        "-dumpdir /tmp/",
        "-dumpbase /tmp/x",
        "-fdump-tree-all=/tmp/x",
        "-fopt-info-vec=/tmp/x",
        "-Wa,-adhln=/tmp/x",
        "-Wa,--MD,/tmp/d",
        "-Wa,-o,/tmp/x",
        "-Xassembler -a=/tmp/x",
        "-save-temps=obj",
        "-MD",
        "-MF /tmp/x",
        "-MMD",
        "-Wp,-MD,/tmp/x",
        "-include /etc/passwd",
        "-Xclang -load",
        "-fprofile-use=/x",
        "-E",
        "-fplugin-arg-x-y=z",
    ] {
        let line = format!("gcc -c foo.c {bad} -o foo.o");
        let err = prepare(&argv(&line), job()).unwrap_err().to_string();
        let first = bad.split_whitespace().next().unwrap();
        assert!(
            err.contains(first.split(',').next().unwrap()),
            "{line}: {err}"
        );
    }
}

#[test]
fn clang_options_that_load_code_or_name_files_are_refused() {
    for bad in [
        "-fpass-plugin=./input.i",
        "-fsanitize-coverage-allowlist=/etc/passwd",
        "-fxray-attr-list=/etc/passwd",
        "-fmodule-map-file=/etc/x",
        "-ivfsoverlay /etc/x.yaml",
        "-foptimization-record-file=/home/u/.bashrc",
        "-mllvm -info-output-file=/home/u/.bashrc",
        "-mllvm -stats-file=x",
        "-Xclang -include-pch -Xclang /tmp/x.pch",
        "-Xclang -stats-file=/tmp/x",
        "-Xarch_x86_64 -fplugin=/tmp/x.so",
        "-Xopenmp-target -fplugin=/tmp/x.so",
        "-gcc-toolchain /tmp/evil",
        "-ccc-install-dir /tmp/evil",
        "-resource-dir /tmp/evil",
        "-fcompare-debug=-fplugin=/tmp/x.so",
    ] {
        let line = format!("clang -c foo.c {bad} -o foo.o");
        assert!(prepare(&argv(&line), job()).is_err(), "{line}");
    }
    // Ordinary tuning through the same doors still passes.
    for good in [
        "-mllvm -inline-threshold=500",
        "-Xclang -fcolor-diagnostics",
    ] {
        let line = format!("clang -c foo.c {good} -o foo.o");
        assert!(prepare(&argv(&line), job()).is_ok(), "{line}");
    }
}

#[test]
fn long_option_aliases_are_refused() {
    for bad in [
        "--prefix=/tmp",
        "--prefix /tmp",
        "--plugin=/tmp/x.so",
        "--output=/tmp/x.o",
        "--for-assembler=-adhln=/tmp/x",
        "--dumpdir /tmp",
        "--dump-tree-all=/tmp/x",
        "--language=c",
        "--language c",
        "--include=/etc/passwd",
        "--specs=/tmp/s",
    ] {
        let line = format!("gcc -c foo.c {bad} -o foo.o");
        assert!(prepare(&argv(&line), job()).is_err(), "{line}");
    }
    assert!(
        prepare(
            &argv("gcc -c foo.c --param=max-inline-insns-auto=10 -o foo.o"),
            job()
        )
        .is_ok()
    );
}

#[test]
fn dump_flags_writing_into_the_job_directory_are_fine() {
    assert!(
        prepare(
            &argv("gcc -c foo.c -fdump-tree-all -save-temps -o foo.o"),
            job()
        )
        .is_ok()
    );
    assert!(prepare(&argv("gcc -c foo.c -fopt-info-vec=stderr -o foo.o"), job()).is_ok());
}

#[test]
fn not_a_compile_two_sources_and_two_outputs_are_refused() {
    assert!(prepare(&argv("gcc foo.c -o foo"), job()).is_err());
    assert!(prepare(&argv("gcc -c a.c b.c"), job()).is_err());
    assert!(prepare(&argv("gcc -c a.c -o a.o -o b.o"), job()).is_err());
    assert!(prepare(&argv("gcc -c -o a.o"), job()).is_err());
    assert!(prepare(&argv("gcc -c x.s -o x.o"), job()).is_err());
}

#[test]
fn sources_that_pull_in_server_files_are_refused() {
    assert!(check_source(b"asm(\".incbin \\\"/etc/shadow\\\"\");").is_err());
    assert!(check_source(b"#pragma GCC pch_preprocess \"/x.gch\"").is_err());
    assert!(check_source(b"int main(void) { return 0; }").is_ok());
}

#[test]
fn an_option_value_spelled_dash_o_is_not_taken_for_the_output() {
    // Found by the arg_rules fuzz target: the server looked the output up by searching for
    // "-o", and panicked when the only one was another option's value at the end.
    let prepared = prepare(&argv("gcc -c a.c -I -o"), job()).unwrap();
    let output = prepared.output.to_string_lossy().into_owned();
    assert_eq!(
        prepared.args[prepared.args.len() - 2..],
        ["-o", output.as_str()]
    );
    let prepared = prepare(&argv("gcc -c a.c -D -o -o x.o"), job()).unwrap();
    let n = prepared.args.len();
    assert_eq!(prepared.args[2..4], ["-D", "-o"]);
    assert_eq!(prepared.args[n - 2..], ["-o", output.as_str()]);
}
