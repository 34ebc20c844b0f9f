//! The include scanner against `gcc -M`/`g++ -M` (and clang's) on real projects — Lua, zstd,
//! SQLite's amalgamation, C++ with much of the standard library: every file the preprocessor
//! opens must be in the scanner's closure, symlinks crossed must be recorded, and a mirror
//! built from the closure alone must preprocess the same (`support::scan_check`). Each project
//! runs in a few flag variants (search options, forced includes, `-D`/`-U` that change
//! conditionals, `--sysroot`), all compiles of one project through one `Scanner`. The counts
//! are printed (`--nocapture` shows them). Small synthetic trees: `include_scan_trees.rs`.

use std::path::{Path, PathBuf};

use crate::support::CProject;
use crate::support::cproject::crate_source_dir;
use crate::support::programs::{fixture_path, require};
use crate::support::scan_check::{Compile, check_all, make_dependencies, strings};

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
