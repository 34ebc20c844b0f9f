//! What a file name says about a compile (distcc 3.4 `filename.c`): is it a source distcc
//! distributes, is it already preprocessed, what its preprocessed form and default output are
//! called. Extensions are case-sensitive and taken after the last `.` of the whole argument,
//! as distcc does (`dir.d/file` has the "extension" `d/file`, which is no source).

pub use crate::source_names::{extension, preprocessed_extension};

/// A source distcc will distribute: `.c .cc .cpp .cxx .cp .c++ .C .i .ii .m .mm .mi .mii .M`.
/// `.s`/`.S` are not (distcc is built without remote assembly), so an assembler source is
/// "no visible input file" and runs locally.
pub fn is_source(path: &str) -> bool {
    preprocessed_extension(path).is_some()
}

/// Already preprocessed (`.i .ii .mi .mii`): sent as is, no local cpp run.
pub fn is_preprocessed(path: &str) -> bool {
    matches!(extension(path), Some("i" | "ii" | "mi" | "mii"))
}

/// autoconf's test programs (`conftest.*`, `tmp.conftest.*`) always compile locally.
pub fn is_autoconf_test(path: &str) -> bool {
    let base = crate::compiler_names::basename(path);
    base.starts_with("conftest.") || base.starts_with("tmp.conftest.")
}

/// The output gcc writes when no `-o` is given: the source's basename (directory dropped)
/// with its extension replaced by `new_ext` (`.o` for `-c`, `.s` for `-S`). `None` for names
/// distcc calls "bogus" (a basename shorter than 3 characters, or no extension).
pub fn output_from_source(source: &str, new_ext: &str) -> Option<String> {
    let base = source.rsplit_once('/').map_or(source, |(_, b)| b);
    if base.len() < 3 {
        return None;
    }
    let ext = extension(base)?;
    Some(format!("{}{new_ext}", &base[..base.len() - ext.len() - 1]))
}

/// The dependency file gcc writes for `-MD`/`-MMD` without `-MF`: the output with its last
/// extension (if any) replaced by `.d` (`out/foo.o` → `out/foo.d`, `out/bar` → `out/bar.d`).
/// The target cc1 names in a dependency file it was asked for directly (`-Wp,-MD,file`):
/// the source's base name with `.o` (`sub/b.c` → `b.o`), whatever `-o` says.
pub fn cc1_dependency_target(source: &str) -> String {
    let base = source.rsplit('/').next().unwrap_or(source);
    let stem = match base.rsplit_once('.') {
        Some((stem, _)) if !stem.is_empty() => stem,
        _ => base,
    };
    format!("{stem}.o")
}

pub fn dependency_file_for(output: &str) -> String {
    let (dir, base) = match output.rsplit_once('/') {
        Some((dir, base)) => (&output[..dir.len() + 1], base),
        None => ("", output),
    };
    let stem = match base.rsplit_once('.') {
        Some((stem, _)) if !stem.is_empty() => stem,
        _ => base,
    };
    format!("{dir}{stem}.d")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_distcc_source_extension_is_a_source() {
        for name in [
            "a.c", "a.cc", "a.cpp", "a.cxx", "a.cp", "a.c++", "a.C", "a.i", "a.ii", "a.m", "a.mm",
            "a.mi", "a.mii", "a.M",
        ] {
            assert!(is_source(name), "{name}");
        }
    }

    #[test]
    fn assembler_headers_and_objects_are_not_sources() {
        for name in [
            "a.s",
            "a.S",
            "a.h",
            "a.hpp",
            "a.o",
            "a.f90",
            "a.CC",
            "a",
            "a.",
            "dir.c/file",
        ] {
            assert!(!is_source(name), "{name}");
        }
    }

    #[test]
    fn preprocessed_inputs_are_recognised() {
        assert!(
            is_preprocessed("x.i")
                && is_preprocessed("x.ii")
                && is_preprocessed("x.mi")
                && is_preprocessed("x.mii")
        );
        assert!(!is_preprocessed("x.c") && !is_preprocessed("x.s"));
    }

    #[test]
    fn preprocessed_extension_mapping_matches_distcc() {
        let cases = [
            ("a.c", ".i"),
            ("a.cpp", ".ii"),
            ("a.C", ".ii"),
            ("a.c++", ".ii"),
            ("a.m", ".mi"),
            ("a.mm", ".mii"),
            ("a.M", ".mii"),
            ("a.ii", ".ii"),
        ];
        for (src, ext) in cases {
            assert_eq!(preprocessed_extension(src), Some(ext), "{src}");
        }
    }

    #[test]
    fn default_output_drops_the_directory_and_replaces_the_extension() {
        assert_eq!(
            output_from_source("src/foo.cpp", ".o").as_deref(),
            Some("foo.o")
        );
        assert_eq!(output_from_source("foo.c", ".s").as_deref(), Some("foo.s"));
        assert_eq!(output_from_source("a.b.c", ".o").as_deref(), Some("a.b.o"));
    }

    #[test]
    fn bogus_source_names_have_no_default_output() {
        // distcc: "source file .c is bogus".
        assert_eq!(output_from_source(".c", ".o"), None);
        assert_eq!(output_from_source("dir/.c", ".o"), None);
    }

    #[test]
    fn autoconf_tests_are_detected_by_basename() {
        assert!(is_autoconf_test("conftest.c") && is_autoconf_test("/tmp/x/tmp.conftest.cpp"));
        assert!(!is_autoconf_test("myconftest.c"));
    }

    #[test]
    fn dependency_file_follows_gcc() {
        assert_eq!(dependency_file_for("out/foo.o"), "out/foo.d");
        assert_eq!(dependency_file_for("out/bar"), "out/bar.d");
        assert_eq!(dependency_file_for("out/q.obj.o"), "out/q.obj.d");
        assert_eq!(dependency_file_for("x.dir/y"), "x.dir/y.d");
        assert_eq!(dependency_file_for("foo.s"), "foo.d");
    }
}
