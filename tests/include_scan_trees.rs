//! The include scanner against `gcc -M` on small trees built for the corners real projects
//! rarely show: symlinked sources, headers and search directories, `..` through links,
//! `#include_next` over system headers, `__has_include` deciding what is opened, search-chain
//! de-duplication, every spelling of the search options, computed includes, `--sysroot`,
//! byte order marks and classic Mac OS line ends (`support::scan_check`).

use std::path::Path;

use crate::support::scan_check::{Compile, check_all, strings};

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
