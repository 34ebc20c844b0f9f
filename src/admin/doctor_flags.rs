//! `-march=native`, `-mtune=native` and `-mcpu=native` where a build picks up its flags:
//! `CFLAGS` and `CXXFLAGS` in the environment, and `CFLAGS`, `CXXFLAGS` and `COMMON_FLAGS` in
//! Portage's `make.conf` (a file or a directory of files) — each with the explicit flags it means on this machine
//! ([`crate::native_flags`] asks gcc, as the wrapper does).

use std::ffi::OsString;
use std::path::Path;

use crate::native_flags::{self, NATIVE_FLAGS};

/// Variables of make.conf that reach the compiler.
const MAKE_CONF_VARIABLES: [&str; 3] = ["COMMON_FLAGS", "CFLAGS", "CXXFLAGS"];

/// One native flag found somewhere.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NativeFlag {
    /// `CFLAGS` (environment) or `/etc/portage/make.conf: CFLAGS`.
    pub origin: String,
    pub flag: String,
    /// What it means here, when gcc could say.
    pub explicit: Option<Vec<String>>,
    /// The same flags also turn on debug info: such jobs stay local.
    pub with_debug_info: bool,
}

/// Where the flags come from: (origin, text).
pub fn sources(
    cflags: Option<&str>,
    cxxflags: Option<&str>,
    make_conf: &Path,
) -> Vec<(String, String)> {
    let mut found = Vec::new();
    for (name, value) in [("CFLAGS", cflags), ("CXXFLAGS", cxxflags)] {
        if let Some(value) = value {
            found.push((format!("{name} (environment)"), value.to_string()));
        }
    }
    // Portage also takes a directory of files, read in name order.
    let files: Vec<std::path::PathBuf> = match std::fs::read_dir(make_conf) {
        Ok(entries) => {
            let mut files: Vec<_> = entries.flatten().map(|e| e.path()).collect();
            files.sort();
            files
        }
        Err(_) => vec![make_conf.to_path_buf()],
    };
    for file in files {
        if let Ok(text) = std::fs::read_to_string(&file) {
            for (name, value) in assignments(&text) {
                if MAKE_CONF_VARIABLES.contains(&name.as_str()) {
                    found.push((format!("{}: {name}", file.display()), value));
                }
            }
        }
    }
    found
}

/// `NAME="value"`, `NAME='value'` and `NAME=value` lines of a make.conf (bash syntax; only
/// what a person writes there by hand).
fn assignments(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter_map(|line| {
            let line = line.trim();
            if line.starts_with('#') {
                return None;
            }
            let (name, value) = line.split_once('=')?;
            let name = name.trim().trim_start_matches("export ").trim();
            if !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return None;
            }
            let value = value.trim();
            let value = value
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .or_else(|| value.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')))
                .unwrap_or(value);
            Some((name.to_string(), value.to_string()))
        })
        .collect()
}

/// Every native flag in `sources`, with what it means for `compiler` (gcc) here.
pub fn native_flags(
    sources: &[(String, String)],
    compiler: Option<&Path>,
    path: Option<&OsString>,
    cache: &Path,
) -> Vec<NativeFlag> {
    let mut found = Vec::new();
    for (origin, text) in sources {
        let words: Vec<&str> = text.split_whitespace().collect();
        let with_debug_info = crate::debug_info::asked_for(words.iter().copied());
        for word in &words {
            if NATIVE_FLAGS.contains(word) {
                let explicit =
                    compiler.and_then(|gcc| native_flags::meaning(gcc, word, path, 0, cache));
                found.push(NativeFlag {
                    origin: origin.clone(),
                    flag: word.to_string(),
                    explicit,
                    with_debug_info,
                });
            }
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn make_conf_assignments_are_read_with_their_quotes_removed() {
        let text = "# x\nCOMMON_FLAGS=\"-O2 -march=native -pipe\"\nCFLAGS=\"${COMMON_FLAGS}\"\n\
                    MAKEOPTS='-j8'\nCXXFLAGS=-O2\n";
        assert_eq!(
            assignments(text),
            [
                (
                    "COMMON_FLAGS".to_string(),
                    "-O2 -march=native -pipe".to_string()
                ),
                ("CFLAGS".to_string(), "${COMMON_FLAGS}".to_string()),
                ("MAKEOPTS".to_string(), "-j8".to_string()),
                ("CXXFLAGS".to_string(), "-O2".to_string()),
            ]
        );
    }
}
