//! `DISTCC_CMDLIST`: distccd's list of the only commands it runs (`serve.c
//! dcc_remap_compiler`, `stringmap.c`). One path per line; a request's compiler matches an
//! entry when their last `DISTCC_CMDLIST_NUMWORDS` slash-separated words are equal (1: the
//! basename), and the entry, as written in the list, is what runs. So with
//! `/opt/cross/gcc-12/bin/arm-linux-gnueabihf-gcc` listed, a client's
//! `arm-linux-gnueabihf-gcc` or `/usr/local/bin/arm-linux-gnueabihf-gcc` runs that file.

use std::path::{Path, PathBuf};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandList {
    source: PathBuf,
    words: i64,
    /// (key: the entry's last words, entry), in file order: the first match wins.
    entries: Vec<(String, String)>,
}

#[derive(Debug, thiserror::Error)]
#[error(
    "cannot read DISTCC_CMDLIST {path}: {source} (distccd would then run any compiler; \
     distfarm will not start: fix the file or unset DISTCC_CMDLIST)"
)]
pub struct UnreadableCommandList {
    path: PathBuf,
    source: std::io::Error,
}

impl CommandList {
    /// Reads the list named by `DISTCC_CMDLIST`. distccd treats an unreadable list as
    /// "everything allowed"; we refuse to start instead, so that a typo never opens the
    /// server to every program.
    pub fn load(path: &Path, words: i64) -> Result<CommandList, UnreadableCommandList> {
        let bytes = std::fs::read(path).map_err(|source| UnreadableCommandList {
            path: path.to_path_buf(),
            source,
        })?;
        Ok(CommandList::parse(
            path,
            &String::from_utf8_lossy(&bytes),
            words,
        ))
    }

    /// Each line is one entry; only the trailing newline is taken off (`fgets`), as distccd
    /// does. Empty lines, which distccd reads out of bounds, are skipped.
    pub fn parse(source: &Path, text: &str, words: i64) -> CommandList {
        let entries = text
            .split('\n')
            .filter(|line| !line.is_empty())
            .map(|line| (last_words(line, words).to_string(), line.to_string()))
            .collect();
        CommandList {
            source: source.to_path_buf(),
            words,
            entries,
        }
    }

    /// The entry that `compiler` (argv[0] as the client sent it) stands for.
    pub fn lookup(&self, compiler: &str) -> Option<&str> {
        let key = last_words(compiler, self.words);
        self.entries
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, entry)| entry.as_str())
    }

    /// Where the list came from, for messages.
    pub fn source(&self) -> &Path {
        &self.source
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// stringmap.c's key: scanning back from the end, stop after the `words`-th `/` and keep what
/// follows it; with fewer slashes (the first byte is never looked at) the whole string.
/// `words` of 0 or less behaves as 1, as in distccd.
fn last_words(text: &str, words: i64) -> &str {
    let bytes = text.as_bytes();
    let mut seen = 0i64;
    for pos in (1..bytes.len()).rev() {
        if bytes[pos] == b'/' {
            seen += 1;
            if seen >= words {
                return &text[pos + 1..];
            }
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(text: &str, words: i64) -> CommandList {
        CommandList::parse(Path::new("cmdlist"), text, words)
    }

    /// The cases of stringmap.c's own test program.
    #[test]
    fn matches_the_last_words_as_distccs_stringmap_does() {
        let one = list("/foo/bar/bletch\n", 1);
        for (asked, found) in [
            ("/bar/bletch", Some("/foo/bar/bletch")),
            ("bletch", Some("/foo/bar/bletch")),
            ("/whatever/bletch", Some("/foo/bar/bletch")),
            ("baz", None),
            ("/foo/bar/bletch", Some("/foo/bar/bletch")),
        ] {
            assert_eq!(one.lookup(asked), found, "{asked}");
        }

        let gcc = list("/usr/bin/gcc\n/usr/bin/cc\n", 1);
        assert_eq!(gcc.lookup("/usr/bin/gcc"), Some("/usr/bin/gcc"));
        assert_eq!(gcc.lookup("cc"), Some("/usr/bin/cc"));
        assert_eq!(gcc.lookup("g77"), None);

        let two = list(
            "/usr/bin/i686-blah-blah/gcc\n/usr/bin/i386-blah-blah/gcc\n",
            2,
        );
        for (asked, found) in [
            (
                "/usr/bin/i686-blah-blah/gcc",
                Some("/usr/bin/i686-blah-blah/gcc"),
            ),
            ("i386-blah-blah/gcc", Some("/usr/bin/i386-blah-blah/gcc")),
            (
                "/elsewhere/i686-blah-blah/gcc",
                Some("/usr/bin/i686-blah-blah/gcc"),
            ),
            ("gcc", None),
            ("g77", None),
        ] {
            assert_eq!(two.lookup(asked), found, "{asked}");
        }
    }

    #[test]
    fn first_entry_wins_empty_lines_are_skipped_and_only_the_newline_is_stripped() {
        let l = list("\n/a/gcc\n/b/gcc\n/c/clang \n", 1);
        assert_eq!(l.len(), 3);
        assert_eq!(l.lookup("gcc"), Some("/a/gcc"));
        assert_eq!(l.lookup("clang"), None);
        assert_eq!(l.lookup("clang "), Some("/c/clang "));
    }

    #[test]
    fn zero_or_negative_words_behave_as_one() {
        for words in [0, -3] {
            assert_eq!(list("/x/y/gcc\n", words).lookup("gcc"), Some("/x/y/gcc"));
        }
    }
}
