//! The include scanner against `gcc -M`/`g++ -M` on real projects: every file the
//! preprocessor opens must be in the scanner's closure, symlinks crossed must be recorded, and
//! a mirror built from the closure alone must preprocess the same (`support::scan_check`).
//! Each project runs in a few flag variants (search options, forced includes, `-D`/`-U` that
//! change conditionals, `--sysroot`), all compiles of one project through one `Scanner`, as
//! the agent shares it between jobs. The counts are printed (`--nocapture` shows them).

use std::path::{Path, PathBuf};

use distfarm::include_scan::Scanner;

use crate::support::CProject;
use crate::support::cproject::crate_source_dir;
use crate::support::programs::{fixture_path, require};
use crate::support::scan_check::{Compile, Tally, check, make_dependencies};

/// Checks every compile with one scanner; fails with every problem found, not just the first.
fn check_all(label: &str, compiles: &[Compile]) -> Tally {
    require("gcc", "gcc");
    require("g++", "g++");
    let scanner = Scanner::new();
    let mut tally = Tally::default();
    let failures: Vec<String> = compiles
        .iter()
        .filter_map(|compile| check(&scanner, compile, &mut tally).err())
        .collect();
    eprintln!("include scanner vs the compiler's -M, {label}: {tally}");
    assert!(
        failures.is_empty(),
        "{label}: {} of {} compiles wrong:\n{}",
        failures.len(),
        compiles.len(),
        failures.join("\n")
    );
    tally
}

fn strings(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

/// Every unit of `project` with each variant's flags in place of the project's own.
fn variants_of(project: &CProject, variants: &[Vec<String>]) -> Vec<Compile> {
    let mut out = Vec::new();
    for flags in variants {
        for unit in project.units() {
            let source = unit.source.display().to_string();
            out.push(Compile::new(
                project.compiler,
                project.root(),
                flags,
                &source,
            ));
        }
    }
    out
}

/// The `.c` files of `root/dir`, sorted, as paths relative to `root`.
fn c_sources(root: &Path, dir: &str) -> Vec<String> {
    let mut out: Vec<String> = std::fs::read_dir(root.join(dir))
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", root.join(dir).display()))
        .map(|e| e.expect("directory entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "c"))
        .map(|p| format!("{dir}/{}", p.file_name().unwrap().to_string_lossy()))
        .collect();
    out.sort();
    out
}

#[test]
fn make_rules_are_split_into_prerequisites() {
    let rule = "a.o: a.c inc/x\\ y.h \\\n /usr/include/stdio.h $$d.h\n";
    assert_eq!(
        make_dependencies(rule),
        ["a.c", "inc/x y.h", "/usr/include/stdio.h", "$d.h"]
    );
}

#[test]
fn scanner_covers_gcc_on_lua() {
    let lua = CProject::lua();
    let root = lua.root().display().to_string();
    let variants = [
        lua.units()[0].flags.clone(),
        // A computed include from -D (lua.h: `#include LUA_USER_H`), forced includes, -iquote.
        strings(&[
            "-std=c99",
            "-DLUA_USE_POSIX",
            "-DLUA_USE_APICHECK",
            "-DLUAI_ASSERT",
            "-DLUA_USER_H=\"lprefix.h\"",
            "-include",
            "lprefix.h",
            "-imacros",
            "luaconf.h",
            "-iquote",
            ".",
        ]),
        // Other conditionals, an absolute -isystem, --sysroot.
        strings(&[
            "-std=gnu99",
            "-DLUA_USE_C89",
            "-DLUA_32BITS=1",
            "-ULUA_USE_LINUX",
            "--sysroot=/",
            "-isystem",
            &root,
        ]),
    ];
    let tally = check_all("Lua 5.4", &variants_of(&lua, &variants));
    assert_eq!(tally.units, lua.units().len() * variants.len());
}

#[test]
fn scanner_covers_gcc_on_zstd() {
    let zstd = CProject::zstd();
    let root = zstd.root().to_path_buf();
    let common = root.join("common").display().to_string();
    let mut compiles = variants_of(
        &zstd,
        &[
            zstd.units()[0].flags.clone(),
            // -D/-U and forced includes change which headers are pulled in.
            strings(&[
                "-idirafter",
                &common,
                "-I.",
                "-DZSTD_NO_INTRINSICS",
                "-DZSTD_STRIP_ERROR_STRINGS",
                "-include",
                "common/zstd_deps.h",
                "-UZSTD_DISABLE_ASM",
                "-O2",
            ]),
        ],
    );
    // The legacy decoders, multithreading and debug output on; -iquote and -isystem.
    let legacy = strings(&[
        "-iquote",
        "common",
        "-isystem",
        ".",
        "-Ilegacy",
        "-DZSTD_LEGACY_SUPPORT=4",
        "-DZSTD_MULTITHREAD",
        "-DDEBUGLEVEL=2",
        "-DXXH_NAMESPACE=ZSTD_",
        "-DZSTD_DISABLE_ASM",
    ]);
    let legacy_units = zstd
        .units()
        .iter()
        .map(|u| u.source.display().to_string())
        .chain(c_sources(&root, "legacy"));
    for source in legacy_units {
        compiles.push(Compile::new("gcc", &root, &legacy, &source));
    }
    check_all("zstd 1.5 lib/", &compiles);
}

#[test]
fn scanner_covers_gcc_on_sqlite_amalgamation() {
    let dir = crate_source_dir("libsqlite3-sys").join("sqlite3");
    let variants = [
        Vec::new(),
        strings(&[
            "-DSQLITE_ENABLE_FTS5",
            "-DSQLITE_ENABLE_RTREE",
            "-DSQLITE_THREADSAFE=0",
            "-DSQLITE_DEBUG",
            "-DSQLITE_ENABLE_MATH_FUNCTIONS",
            "-DSQLITE_OMIT_LOAD_EXTENSION",
        ]),
        // `#include INC_STRINGIFY(SQLITE_CUSTOM_INCLUDE)`: a computed include through `#`.
        strings(&[
            "-DSQLITE_CUSTOM_INCLUDE=sqlite3ext.h",
            "-DSQLITE_THREADSAFE=2",
            "-DSQLITE_ENABLE_COLUMN_METADATA",
            "-D_GNU_SOURCE",
            "-O2",
        ]),
    ];
    let compiles: Vec<Compile> = variants
        .iter()
        .map(|flags| Compile::new("gcc", &dir, flags, "sqlite3.c"))
        .collect();
    check_all("SQLite amalgamation", &compiles);
}

#[test]
fn scanner_covers_gxx_on_cxx_projects() {
    let shapes = CProject::cxx_sample();
    let scan_cxx: PathBuf = fixture_path("scan_cxx");
    let variants = [
        strings(&["-std=c++17"]),
        // libstdc++'s debug and assertion modes pull in their own headers.
        strings(&[
            "-std=c++20",
            "-D_GLIBCXX_DEBUG",
            "-D_GLIBCXX_ASSERTIONS",
            "-O2",
        ]),
        // The parallel mode includes <omp.h> and more of bits/.
        strings(&["-std=c++17", "-D_GLIBCXX_PARALLEL", "-fopenmp", "-pthread"]),
    ];
    let mut compiles = variants_of(&shapes, &variants);
    for flags in &variants {
        let mut flags = flags.clone();
        flags.push("-I../cxx".into());
        compiles.push(Compile::new("g++", &scan_cxx, &flags, "algorithms.cpp"));
    }
    // g++ compiles a `.c` file as C++.
    compiles.push(Compile::new("g++", &scan_cxx, &[], "compiled_as_cxx.c"));
    check_all("C++ (tests/fixtures/cxx, scan_cxx)", &compiles);
}

/// Writes `text` at `root/rel`, making the directories.
fn write(root: &Path, rel: &str, text: &str) {
    let path = root.join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, text).unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
}

fn symlink(root: &Path, target: &str, rel: &str) {
    let path = root.join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::os::unix::fs::symlink(target, &path).unwrap();
}

#[test]
fn scanner_follows_symlinks_dotdot_and_include_next_like_gcc() {
    let dir = tempfile::tempdir().unwrap();
    let proj = std::fs::canonicalize(dir.path()).unwrap();
    // The source is a link: its quoted includes search the link's directory (src/), where
    // local.h is, not the target's.
    write(
        &proj,
        "real_src/main.c",
        "#include \"local.h\"\n\
         #include \"a.h\"\n\
         #include \"linkdir/b.h\"\n\
         #include \"sub/../c.h\"\n\
         #include \"e.h\"\n\
         #include <lib.h>\n\
         #include <stdint.h>\n\
         #include \"quoted.h\"\n\
         #define COMPUTED \"linkdir/b2.h\"\n\
         #include COMPUTED\n\
         #if __has_include(\"probed.h\")\n#define PROBED 1\n#else\n#include \"fallback.h\"\n#endif\n\
         int main(void) { return 0; }\n",
    );
    symlink(&proj, "../real_src/main.c", "src/main.c");
    write(&proj, "src/local.h", "/* beside the link */\n");
    write(&proj, "inc/a.h", "/* a */\n");
    write(&proj, "inc/real/b.h", "#include \"b_sibling.h\"\n");
    write(
        &proj,
        "inc/real/b_sibling.h",
        "/* found in real/, through linkdir */\n",
    );
    write(&proj, "inc/real/b2.h", "/* computed */\n");
    symlink(&proj, "real", "inc/linkdir");
    std::fs::create_dir_all(proj.join("inc/sub")).unwrap();
    write(&proj, "inc/c.h", "/* reached through sub/.. */\n");
    // A header that is a link to another directory: its own quoted include is searched in
    // the directory it was found in (inc/), so f.h there is the one gcc opens.
    write(&proj, "other/e.h", "#include \"f.h\"\n");
    write(&proj, "other/f.h", "#error the wrong f.h\n");
    write(&proj, "inc/f.h", "/* the right f.h */\n");
    symlink(&proj, "../other/e.h", "inc/e.h");
    // A search directory that is a link; `..` from a file found there leaves the target.
    write(&proj, "inc/deep/lib.h", "#include \"../a2.h\"\n");
    write(&proj, "inc/a2.h", "/* inc/deep/.. */\n");
    symlink(&proj, "inc/deep", "linkinc");
    // A wrapper over a system header.
    write(&proj, "wrap/stdint.h", "#include_next <stdint.h>\n");
    write(&proj, "quoted/quoted.h", "/* via -iquote with .. */\n");
    write(&proj, "inc/probed.h", "/* only probed, never included */\n");
    write(
        &proj,
        "inc/fallback.h",
        "#error not taken when probed.h is shipped\n",
    );
    write(&proj, "inc/forced.h", "#define FORCED 1\n");
    std::fs::create_dir_all(proj.join("build")).unwrap();

    let flags = strings(&[
        "-I../inc",
        "-I../linkinc",
        "-I../wrap",
        "-iquote",
        "../inc/sub/../../quoted",
        "-include",
        "../inc/forced.h",
    ]);
    let compile = Compile::new("gcc", &proj.join("build"), &flags, "../src/main.c");
    let tally = check_all("symlinks, .., include_next", std::slice::from_ref(&compile));
    assert!(tally.links_checked >= 4, "{tally}");
    // The same with absolute paths for everything.
    let at = |rel: &str| proj.join(rel).display().to_string();
    let absolute = vec![
        format!("-I{}", at("inc")),
        format!("-I{}", at("linkinc")),
        format!("-I{}", at("wrap")),
        "-iquote".into(),
        at("inc/sub/../../quoted"),
        "-include".into(),
        at("inc/forced.h"),
    ];
    let source = proj.join("src/main.c").display().to_string();
    check_all(
        "symlinks, .., include_next (absolute paths)",
        &[Compile::new("gcc", &proj.join("build"), &absolute, &source)],
    );
}

#[test]
fn scanner_resolves_search_order_corners_like_gcc() {
    let dir = tempfile::tempdir().unwrap();
    let proj = std::fs::canonicalize(dir.path()).unwrap();
    write(
        &proj,
        "src/main.c",
        "#include \"own.h\"\n\
         #include <stdio.h>\n\
         #include <dup.h>\n\
         #include \"both.h\"\n\
         #define STR_(x) #x\n\
         #define STR(x) STR_(x)\n\
         #define CAT(a, b) a##b\n\
         #include STR(CAT(gen_, part).h)\n\
         #include CONFIG_HEADER\n\
         #include NESTED\n\
         #if __has_include_next(<next_probe.h>)\n#include <next_probe.h>\n#endif\n\
         #if 0\n#include \"never_there.h\"\n#endif\n\
         #include \"bom.h\"\n#include \"old_mac.h\"\n#include \"self.h\"\n\
         int main(void) { return 0; }\n",
    );
    // Found beside the source, then `#include_next` goes on with the whole chain.
    write(&proj, "src/own.h", "#include_next \"own.h\"\n");
    write(&proj, "quote/own.h", "/* the next own.h */\n");
    // A user stdio.h in -I shadows the system's and passes on to it.
    write(&proj, "inc/stdio.h", "#include_next <stdio.h>\n");
    // The same directory as -I and -isystem: gcc keeps only the -isystem entry.
    write(&proj, "dup/dup.h", "#include_next <dup.h>\n");
    write(&proj, "after/dup.h", "/* after dup/ */\n");
    // In -iquote and -I both.
    write(&proj, "inc/both.h", "/* both */\n");
    write(&proj, "inc/gen_part.h", "#define NESTED_NAME nested.h\n");
    write(
        &proj,
        "inc/nested.h",
        "/* through a macro from another header */\n",
    );
    write(&proj, "inc/cfg.h", "/* -DCONFIG_HEADER=<cfg.h> */\n");
    write(&proj, "after/next_probe.h", "/* __has_include_next */\n");
    // Editors' leftovers: a byte order mark, classic Mac OS line ends.
    write(&proj, "inc/bom.h", "\u{feff}#include \"after_bom.h\"\n");
    write(&proj, "inc/after_bom.h", "/* after a BOM */\n");
    write(
        &proj,
        "inc/old_mac.h",
        "#define OLD_MAC 1\r#include \"after_cr.h\"\r",
    );
    write(&proj, "inc/after_cr.h", "/* after a lone CR */\n");
    // Includes itself once more (X-macro style), through the builtin name of the file.
    write(
        &proj,
        "inc/self.h",
        "#ifndef SELF_AGAIN\n#define SELF_AGAIN\n#include __FILE__\n#endif\n",
    );
    write(&proj, "chain/forced.h", "#define NESTED STR(NESTED_NAME)\n");
    let flags = strings(&[
        "-iquote",
        "../quote",
        "-iquote",
        "../inc",
        "-I../inc",
        "-I../dup",
        "-isystem",
        "../dup",
        "-idirafter",
        "../after",
        "-I../chain",
        "-DCONFIG_HEADER=<cfg.h>",
        // Not in the cwd: found through the chain.
        "-include",
        "forced.h",
    ]);
    // The same directories through -iprefix/-iwithprefix…, long spellings, -imacros and a
    // function-like -D.
    let spelled_otherwise = strings(&[
        "-iquote../quote",
        "--include-directory=../inc",
        "-iprefix",
        "../",
        "-iwithprefixbefore",
        "dup",
        "-isystem../dup",
        "-iwithprefix",
        "after",
        "-I",
        "../chain",
        "-DHEADER_OF(x)=<x.h>",
        "-DCONFIG_HEADER=HEADER_OF(cfg)",
        "-imacros",
        "forced.h",
        "--include=forced.h",
    ]);
    std::fs::create_dir_all(proj.join("build")).unwrap();
    let compiles = [flags, spelled_otherwise]
        .map(|flags| Compile::new("gcc", &proj.join("build"), &flags, "../src/main.c"));
    check_all("search order corners", &compiles);
}

#[test]
fn scanner_uses_the_sysroot_headers_like_gcc() {
    let dir = tempfile::tempdir().unwrap();
    let proj = std::fs::canonicalize(dir.path()).unwrap();
    // A minimal sysroot: its own stdio.h, no stdc-predef.h (gcc skips the pre-include).
    write(
        &proj,
        "sysroot/usr/include/stdio.h",
        "#include <sys/fake.h>\n",
    );
    write(
        &proj,
        "sysroot/usr/include/sys/fake.h",
        "#include <local_config.h>\n",
    );
    write(&proj, "sysroot/extra/extra.h", "/* -I=/extra */\n");
    write(
        &proj,
        "include/local_config.h",
        "/* a user header a system header includes */\n",
    );
    write(
        &proj,
        "main.c",
        "#include <stdio.h>\n#include <extra.h>\n#include <stddef.h>\nint main(void) { return 0; }\n",
    );
    let flags = strings(&["--sysroot=sysroot", "-I=/extra", "-Iinclude"]);
    let tally = check_all("--sysroot", &[Compile::new("gcc", &proj, &flags, "main.c")]);
    assert!(tally.compared >= 5, "{tally}");
}

#[test]
fn scanner_covers_clang_on_lua_and_cxx() {
    require("clang", "clang");
    let lua = CProject::lua().with_compiler("clang");
    let mut compiles = variants_of(&lua, &[lua.units()[0].flags.clone()]);
    let shapes = CProject::cxx_sample().with_compiler("clang++");
    compiles.extend(variants_of(&shapes, &[strings(&["-std=c++17"])]));
    compiles.push(Compile::new(
        "clang++",
        &fixture_path("scan_cxx"),
        &strings(&["-std=c++20", "-D_GLIBCXX_DEBUG", "-I../cxx"]),
        "algorithms.cpp",
    ));
    compiles.push(Compile::new(
        "clang++",
        &fixture_path("scan_cxx"),
        &[],
        "compiled_as_cxx.c",
    ));
    check_all("clang: Lua 5.4 and C++", &compiles);
}
