//! A dependency (`.d`) file written where the compile ran, made the one a local `gcc -MD`
//! writes: the place it ran (a distccd job root, an engine worker's input root) removed from
//! every name, and the first rule wrapped again as gcc wraps it, since gcc measured its lines
//! with the longer names. Used by the server (pump mode) and by the client (an engine's
//! pump-mode job). Pure.

/// `deps` with `root` removed from the front of every path under it (`ROOT/home/u/a.h`
/// becomes `/home/u/a.h`; a name that merely starts with the same letters is left alone),
/// the first rule wrapped again.
pub fn without_root(deps: &[u8], root: &str) -> Vec<u8> {
    let text = String::from_utf8_lossy(deps);
    let root = root.trim_end_matches('/');
    let text = text.replace(&format!("{root}/"), "/");
    rewrap_first_rule(&text).into_bytes()
}

/// gcc's make_write (libcpp/mkdeps.cc): names after the first go on the same line while the
/// line stays within 72 columns, otherwise after " \\\n ". Later rules (-MP's phony targets)
/// are one per line already.
pub fn rewrap_first_rule(text: &str) -> String {
    const COLUMNS: usize = 72;
    let joined = text.replace("\\\n", "");
    let (rule, rest) = joined.split_once('\n').unwrap_or((&joined, ""));
    let Some(colon) = rule
        .find(": ")
        .or_else(|| rule.strip_suffix(':').map(str::len))
    else {
        return text.to_string();
    };
    let targets = make_words(&rule[..colon]);
    let prerequisites = make_words(&rule[colon + 1..]);
    let mut out = String::new();
    let mut column = 0;
    let write = |out: &mut String, name: &str, column: &mut usize| {
        if *column > 0 {
            if *column + name.len() > COLUMNS {
                out.push_str(" \\\n");
                *column = 0;
            }
            *column += 1;
            out.push(' ');
        }
        *column += name.len();
        out.push_str(name);
    };
    for name in &targets {
        write(&mut out, name, &mut column);
    }
    out.push(':');
    column += 1;
    for name in &prerequisites {
        write(&mut out, name, &mut column);
    }
    out.push('\n');
    out.push_str(rest);
    out
}

/// The names of a make rule side: whitespace separates them unless a backslash escapes it.
fn make_words(side: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut chars = side.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                word.push(c);
                if let Some(next) = chars.next() {
                    word.push(next);
                }
            }
            c if c.is_whitespace() => {
                if !word.is_empty() {
                    words.push(std::mem::take(&mut word));
                }
            }
            c => word.push(c),
        }
    }
    if !word.is_empty() {
        words.push(word);
    }
    words
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_root_leaves_every_name_and_the_rule_is_wrapped_as_gcc_wraps_it() {
        let root = "/w/exec/abcdef0123456789/root";
        let deps = format!(
            "output.o: x.c {root}/home/u/p/inc/a.h \\\n {root}/home/u/p/inc/b.h /usr/include/stdio.h\n\n\
             {root}/home/u/p/inc/a.h:\n"
        );
        assert_eq!(
            String::from_utf8(without_root(deps.as_bytes(), root)).unwrap(),
            // 70 columns without the root: one line again.
            "output.o: x.c /home/u/p/inc/a.h /home/u/p/inc/b.h /usr/include/stdio.h\n\n\
             /home/u/p/inc/a.h:\n"
        );
    }

    #[test]
    fn a_name_that_only_starts_like_the_root_is_kept() {
        let deps = b"x.o: /w/rootless/a.h /w/root/b.h\n";
        assert_eq!(
            without_root(deps, "/w/root"),
            b"x.o: /w/rootless/a.h /b.h\n".to_vec()
        );
    }

    #[test]
    fn escaped_spaces_stay_inside_one_name() {
        assert_eq!(make_words(" a\\ b.h  c.h"), vec!["a\\ b.h", "c.h"]);
    }
}
