use super::*;

fn argv(line: &str) -> Vec<String> {
    line.split_whitespace().map(str::to_string).collect()
}

fn parse_line(line: &str) -> Result<Command, String> {
    parse(&argv(line), Path::new("/work/proj"))
}

fn paths(list: &[PathBuf]) -> Vec<String> {
    list.iter().map(|p| p.display().to_string()).collect()
}

#[test]
fn search_options_fill_their_chains_in_order() {
    let c = parse_line(
        "gcc -O2 -Iinc -I /abs -iquote q1 -iquoteq2 -isystem s1 -idirafter a1 -Isecond -c src/x.c -o x.o",
    )
    .unwrap();
    assert_eq!(c.source, Path::new("src/x.c"));
    assert_eq!(c.language, Some(Language::C));
    assert_eq!(paths(&c.bracket), ["inc", "/abs", "second"]);
    assert_eq!(paths(&c.quote), ["q1", "q2"]);
    assert_eq!(paths(&c.system), ["s1"]);
    assert_eq!(paths(&c.after), ["a1"]);
}

#[test]
fn forced_files_and_defines_are_read() {
    let c = parse_line("g++ -include pre.h -imacros m.h -DA -D B=2 -UC -c a.cc").unwrap();
    assert_eq!(paths(&c.forced), ["pre.h", "m.h"]);
    assert_eq!(c.defines, ["A", "B=2"]);
    assert_eq!(c.language, Some(Language::Cxx));
}

#[test]
fn long_option_spellings_are_understood() {
    let c = parse_line(
        "gcc --include-directory=inc --include-directory-after after --include=f.h -c a.c",
    )
    .unwrap();
    assert_eq!(paths(&c.bracket), ["inc"]);
    assert_eq!(paths(&c.after), ["after"]);
    assert_eq!(paths(&c.forced), ["f.h"]);
}

#[test]
fn prefix_options_build_directories() {
    let c = parse_line("gcc -iprefix /opt/p/ -iwithprefix inc -iwithprefixbefore before -c a.c")
        .unwrap();
    assert_eq!(paths(&c.after), ["/opt/p/inc"]);
    assert_eq!(paths(&c.bracket), ["/opt/p/before"]);
    assert!(parse_line("gcc -iwithprefix inc -c a.c").is_err());
}

#[test]
fn sysroot_prefixes_and_default_changing_options_are_kept() {
    let c = parse_line(
        "gcc --sysroot=../sr -I=/usr/include/extra -isystem $SYSROOT/opt -m32 -nostdinc -c a.c",
    )
    .unwrap();
    assert_eq!(paths(&c.bracket), ["../sr/usr/include/extra"]);
    assert_eq!(paths(&c.system), ["../sr/opt"]);
    assert_eq!(
        c.defaults_args,
        ["--sysroot=/work/proj/../sr", "-m32", "-nostdinc"]
    );
    let c = parse_line("clang -isysroot /sdk -target aarch64-linux-gnu -B bin -c a.c").unwrap();
    assert_eq!(
        c.defaults_args,
        [
            "-isysroot",
            "/sdk",
            "-target",
            "aarch64-linux-gnu",
            "-B/work/proj/bin"
        ]
    );
}

#[test]
fn language_comes_from_x_or_the_extension() {
    assert_eq!(
        parse_line("gcc -x c++ -c a.c").unwrap().language,
        Some(Language::Cxx)
    );
    assert_eq!(
        parse_line("gcc -x c++ -x none -c a.c").unwrap().language,
        Some(Language::C)
    );
    assert_eq!(
        parse_line("gcc -c a.mm").unwrap().language,
        Some(Language::ObjCxx)
    );
    assert_eq!(
        parse_line("gcc -c a.C").unwrap().language,
        Some(Language::Cxx)
    );
}

#[test]
fn object_files_and_option_values_are_not_sources() {
    let c = parse_line("gcc -c a.c -o out.c.o -MF dep.c -MT t.c lib.a -L dir.c").unwrap();
    assert_eq!(c.source, Path::new("a.c"));
}

#[test]
fn unmodelled_commands_give_up_with_a_reason() {
    for (line, words) in [
        ("gcc -I- -c a.c", "-I-"),
        ("gcc -imultilib x -c a.c", "-imultilib"),
        ("gcc -Xpreprocessor -I/x -c a.c", "-Xpreprocessor"),
        ("gcc -Wp,-I/x -c a.c", "-Wp,-I/x"),
        ("gcc -c a.i", "preprocessed"),
        ("gcc -x c-header -c a.h", "c-header"),
        ("gcc -c a.c b.c", "several"),
        ("gcc -c", "no C"),
        ("gcc -c -", "standard input"),
        ("gcc @args -c a.c", "response file"),
        ("clang -include-pch p.pch -c a.c", "precompiled"),
        ("gcc -ifancy x -c a.c", "-ifancy"),
    ] {
        let reason = parse_line(line).expect_err(line);
        assert!(reason.contains(words), "{line}: {reason}");
    }
}

#[test]
fn wp_dependency_options_are_harmless() {
    let c = parse_line("gcc -Wp,-MD,dep.d,-DX=1 -c a.c").unwrap();
    assert_eq!(c.defines, ["X=1"]);
}

#[test]
fn cxx_drivers_compile_dot_c_as_cxx() {
    let lang = |line: &str| parse_line(line).unwrap().language;
    assert_eq!(lang("g++ -c a.c"), Some(Language::Cxx));
    assert_eq!(lang("/usr/bin/clang++-14 -c a.c"), Some(Language::Cxx));
    assert_eq!(lang("x86_64-linux-gnu-g++-12 -c a.c"), Some(Language::Cxx));
    assert_eq!(lang("gcc -c a.c"), Some(Language::C));
    assert_eq!(lang("g++ -x c -c a.c"), Some(Language::C));
}
