//! Preprocessed text made independent of where the build runs: line markers
//! (`# 12 "/home/alice/zstd/lib/foo.h" 2`) that name files under a base directory are
//! rewritten relative to the working directory, as ccache's `base_dir` does. See the
//! module comment of [`super`] for why this leaves a non-`-g` object unchanged.

use std::borrow::Cow;
use std::path::{Component, Path};

/// `text` with every line marker that names a file under `base` rewritten to that file's
/// path relative to `cwd` (both absolute). Markers naming other files (`/usr/include/…`,
/// `<built-in>`), names with escapes, and every other line are left as they are. Borrowed
/// when nothing changes.
pub fn relative_to<'t>(text: &'t [u8], cwd: &Path, base: &Path) -> Cow<'t, [u8]> {
    let (Some(cwd), Some(base)) = (cwd.to_str(), base.to_str()) else {
        return Cow::Borrowed(text);
    };
    let base = base.trim_end_matches('/');
    if base.is_empty() || !cwd.starts_with('/') {
        return Cow::Borrowed(text);
    }
    let mut out: Option<Vec<u8>> = None;
    let mut at = 0;
    for line in text.split_inclusive(|&b| b == b'\n') {
        if let Some((start, end, name)) = marker_name(line) {
            let under_base = name
                .strip_prefix(base)
                .is_some_and(|rest| rest.starts_with('/'));
            if under_base {
                let relative = relative_path(name, cwd);
                let out = out.get_or_insert_with(|| {
                    let mut v = Vec::with_capacity(text.len());
                    v.extend_from_slice(&text[..at]);
                    v
                });
                out.extend_from_slice(&line[..start]);
                out.extend_from_slice(relative.as_bytes());
                out.extend_from_slice(&line[end..]);
                at += line.len();
                continue;
            }
        }
        if let Some(out) = &mut out {
            out.extend_from_slice(line);
        }
        at += line.len();
    }
    match out {
        Some(out) => Cow::Owned(out),
        None => Cow::Borrowed(text),
    }
}

/// A line marker's file name (`# DIGITS "NAME"…`, or `#line DIGITS "NAME"`): the byte
/// range of NAME within `line`, and NAME. `None` for other lines and for names with
/// backslash escapes.
fn marker_name(line: &[u8]) -> Option<(usize, usize, &str)> {
    let rest = line
        .strip_prefix(b"# ")
        .or_else(|| line.strip_prefix(b"#line "))?;
    let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
    if digits == 0 || rest.get(digits..digits + 2) != Some(b" \"") {
        return None;
    }
    let start = line.len() - rest.len() + digits + 2;
    let len = line[start..].iter().position(|&b| b == b'"')?;
    let name = std::str::from_utf8(&line[start..start + len]).ok()?;
    if name.contains('\\') {
        return None;
    }
    Some((start, start + len, name))
}

/// `path` relative to `dir`, lexically (both absolute; `.` and empty components ignored).
fn relative_path(path: &str, dir: &str) -> String {
    let parts = |p: &'_ str| -> Vec<String> {
        Path::new(p)
            .components()
            .filter_map(|c| match c {
                Component::Normal(s) => Some(s.to_string_lossy().into_owned()),
                Component::ParentDir => Some("..".to_string()),
                _ => None,
            })
            .collect()
    };
    let (to, from) = (parts(path), parts(dir));
    let common = to
        .iter()
        .zip(&from)
        .take_while(|(a, b)| a == b && a.as_str() != "..")
        .count();
    let mut out: Vec<&str> = vec![".."; from.len() - common];
    out.extend(to[common..].iter().map(String::as_str));
    if out.is_empty() {
        ".".to_string()
    } else {
        out.join("/")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rewrite(text: &str, cwd: &str, base: &str) -> String {
        String::from_utf8(relative_to(text.as_bytes(), Path::new(cwd), Path::new(base)).into())
            .unwrap()
    }

    #[test]
    fn markers_under_the_working_directory_become_relative() {
        let text = "# 0 \"/home/a/zstd/lib/x.c\"\n# 1 \"/usr/include/stdio.h\" 1 3 4\n\
                    # 1 \"/home/a/zstd/lib/common/h.h\" 1\nint x;\n# 5 \"/home/a/zstd/lib/x.c\" 2\n";
        assert_eq!(
            rewrite(text, "/home/a/zstd/lib", "/home/a/zstd/lib"),
            "# 0 \"x.c\"\n# 1 \"/usr/include/stdio.h\" 1 3 4\n\
             # 1 \"common/h.h\" 1\nint x;\n# 5 \"x.c\" 2\n"
        );
    }

    #[test]
    fn two_checkouts_give_the_same_text() {
        let text = |root: &str| {
            format!(
                "# 0 \"{root}/src/a.c\"\n# 1 \"{root}/include/a.h\" 1\nint a;\n\
                 # 2 \"{root}/src/a.c\" 2\n"
            )
        };
        let alice = rewrite(
            &text("/home/alice/p"),
            "/home/alice/p/build",
            "/home/alice/p",
        );
        let bob = rewrite(&text("/srv/ci/42/p"), "/srv/ci/42/p/build", "/srv/ci/42/p");
        assert_eq!(alice, bob);
        assert!(alice.starts_with("# 0 \"../src/a.c\"\n# 1 \"../include/a.h\" 1\n"));
    }

    #[test]
    fn other_lines_and_files_outside_the_base_are_left_alone() {
        let text = "# 1 \"<built-in>\"\n# 1 \"/home/ab/x.h\"\nchar *s = \"# 1 \\\"/home/a/x\\\"\";\n\
                    #pragma once\n# 1 \"/home/a/x\\\\y.h\"\n";
        let out = relative_to(text.as_bytes(), Path::new("/home/a"), Path::new("/home/a"));
        assert!(matches!(out, Cow::Borrowed(_)), "nothing to rewrite");
        // `#line` directives kept by -E (-fpreprocessed input) count too; no final newline.
        assert_eq!(
            rewrite("#line 3 \"/home/a/x.c\"", "/home/a", "/home/a"),
            "#line 3 \"x.c\""
        );
    }

    #[test]
    fn relative_paths_climb_out_of_the_working_directory() {
        assert_eq!(relative_path("/r/src/a.c", "/r/build/x"), "../../src/a.c");
        assert_eq!(relative_path("/r/a.c", "/r"), "a.c");
        assert_eq!(relative_path("/r", "/r"), ".");
        assert_eq!(relative_path("/r/./a//b.h", "/r/"), "a/b.h");
    }
}
