//! `distfarm config`, also reached as `distcc-config`: Gentoo's `distcc-config` options, on
//! the files distcc reads.
//!
//! - The host list goes where distcc looks first for this user: `$DISTCC_DIR/hosts` when
//!   `DISTCC_DIR` is set, `/etc/distcc/hosts` for root, else `~/.distcc/hosts`. A new list is
//!   checked with the host grammar before anything is written, and written atomically; the
//!   file's comments and any block an offer keeps there (`# BEGIN distfarm …` to
//!   `# END distfarm …`) stay as they were.
//! - `DISTCC_VERBOSE` and `DISTCC_LOG` live in Gentoo's `/etc/env.d/02distcc` (root only), as
//!   `NAME="value"` lines that `env-update` turns into every login's environment.

use std::path::{Path, PathBuf};

use crate::hosts::{self, HostsError};

/// Gentoo's environment file for distcc's variables.
pub const ENV_FILE: &str = "/etc/env.d/02distcc";

/// The system-wide host list.
pub const SYSTEM_HOSTS: &str = "/etc/distcc/hosts";

/// Where `--set-hosts` writes, in distcc's order of precedence.
pub fn hosts_file(distcc_dir: Option<&Path>, home: &Path, is_root: bool) -> PathBuf {
    match distcc_dir {
        Some(dir) => dir.join("hosts"),
        None if is_root => PathBuf::from(SYSTEM_HOSTS),
        None => home.join(".distcc").join("hosts"),
    }
}

/// Why a configuration change was refused; nothing was written.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{0}; nothing was changed")]
    BadHosts(#[from] HostsError),
    #[error("the host list is empty; nothing was changed (to stop distributing, remove {0})")]
    NoHosts(PathBuf),
    #[error("{what} must be run as root (it writes {path})")]
    NotRoot { what: &'static str, path: String },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// `--set-hosts LIST`: checks `list`, then replaces the host lines of `path`, keeping its
/// comments and offer blocks. Returns the new file text.
pub fn set_hosts(path: &Path, list: &str) -> Result<String, ConfigError> {
    let parsed = hosts::parse(list, "the new host list")?;
    if parsed.is_empty() {
        return Err(ConfigError::NoHosts(path.to_path_buf()));
    }
    let old = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(source) => {
            return Err(ConfigError::Io {
                path: path.to_path_buf(),
                source,
            });
        }
    };
    let text = with_host_lines(&old, list);
    let io = |source| ConfigError::Io {
        path: path.to_path_buf(),
        source,
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    crate::user_files::write(path, text.as_bytes()).map_err(io)?;
    Ok(text)
}

/// `text` with its host lines replaced by `list` (one line, after the leading comments);
/// comment lines and `# BEGIN distfarm` … `# END distfarm` blocks are kept in place.
pub fn with_host_lines(text: &str, list: &str) -> String {
    let mut kept: Vec<&str> = Vec::new();
    let mut in_block = false;
    for line in text.lines() {
        let trimmed = line.trim_start();
        if trimmed.starts_with("# BEGIN distfarm") {
            in_block = true;
        }
        if in_block || trimmed.starts_with('#') || trimmed.is_empty() {
            kept.push(line);
        }
        if trimmed.starts_with("# END distfarm") {
            in_block = false;
        }
    }
    // The list goes after the file's opening comments, before any block.
    let header = kept
        .iter()
        .take_while(|l| l.trim_start().starts_with('#') && !is_block_start(l))
        .count();
    let mut out: Vec<&str> = kept[..header].to_vec();
    out.push(list.trim());
    out.extend(kept[header..].iter().skip_while(|l| l.trim().is_empty()));
    let mut text = out.join("\n");
    text.push('\n');
    text
}

fn is_block_start(line: &str) -> bool {
    line.trim_start().starts_with("# BEGIN distfarm")
}

/// The host list as `--get-hosts` shows it: `DISTCC_HOSTS` if set, else the first hosts file
/// that exists (`$DISTCC_DIR/hosts` or `~/.distcc/hosts`, then `/etc/distcc/hosts`), its
/// host lines only.
pub fn shown_hosts(env_hosts: Option<&str>, files: &[PathBuf]) -> Option<String> {
    if let Some(list) = env_hosts {
        return Some(list.to_string());
    }
    files.iter().find_map(|f| {
        let text = std::fs::read_to_string(f).ok()?;
        let lines: Vec<&str> = text
            .lines()
            .map(|l| l.split('#').next().unwrap_or("").trim())
            .filter(|l| !l.is_empty())
            .collect();
        Some(lines.join(" "))
    })
}

/// `NAME="value"` set in an env.d file's text, other lines kept.
pub fn with_env_value(text: &str, name: &str, value: &str) -> String {
    let line = format!("{name}=\"{value}\"");
    let mut found = false;
    let mut out: Vec<String> = text
        .lines()
        .map(|l| {
            if env_line_name(l) == Some(name) {
                found = true;
                line.clone()
            } else {
                l.to_string()
            }
        })
        .collect();
    if !found {
        out.push(line);
    }
    out.join("\n") + "\n"
}

/// The value of `NAME="value"` (or `NAME=value`) in an env.d file's text.
pub fn env_value(text: &str, name: &str) -> Option<String> {
    text.lines()
        .rev()
        .filter(|l| env_line_name(l) == Some(name))
        .find_map(|l| l.split_once('=').map(|(_, v)| v.trim().trim_matches('"')))
        .map(String::from)
}

fn env_line_name(line: &str) -> Option<&str> {
    let (name, _) = line.trim_start().split_once('=')?;
    (!name.starts_with('#')).then_some(name.trim())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_file_follows_distccs_precedence() {
        let home = Path::new("/home/me");
        let dir = Path::new("/var/tmp/portage/.distcc");
        assert_eq!(hosts_file(Some(dir), home, true), dir.join("hosts"));
        assert_eq!(hosts_file(None, home, true), Path::new("/etc/distcc/hosts"));
        assert_eq!(
            hosts_file(None, home, false),
            Path::new("/home/me/.distcc/hosts")
        );
    }

    #[test]
    fn new_host_lines_keep_comments_and_offer_blocks() {
        let old = "# my farm\n# second comment\nold1 old2/4\n\n\
                   # BEGIN distfarm offer abc\n127.0.0.1:4000/8\n# END distfarm offer abc\n\
                   stray-host\n# trailing note\n";
        let new = with_host_lines(old, "@a/8 b:3700/4,lzo");
        assert_eq!(
            new,
            "# my farm\n# second comment\n@a/8 b:3700/4,lzo\n\
             # BEGIN distfarm offer abc\n127.0.0.1:4000/8\n# END distfarm offer abc\n\
             # trailing note\n"
        );
        assert_eq!(with_host_lines("", "a b"), "a b\n");
    }

    #[test]
    fn env_values_are_set_in_place_or_appended() {
        let text = "# distcc\nDISTCC_VERBOSE=\"0\"\nDISTCC_LOG=\"\"\n";
        let set = with_env_value(text, "DISTCC_VERBOSE", "1");
        assert_eq!(set, "# distcc\nDISTCC_VERBOSE=\"1\"\nDISTCC_LOG=\"\"\n");
        assert_eq!(env_value(&set, "DISTCC_VERBOSE").as_deref(), Some("1"));
        let added = with_env_value(&set, "DISTCC_DIR", "/var/tmp/portage/.distcc");
        assert!(added.ends_with("DISTCC_DIR=\"/var/tmp/portage/.distcc\"\n"));
        assert_eq!(env_value("# DISTCC_LOG=\"x\"\n", "DISTCC_LOG"), None);
    }
}
