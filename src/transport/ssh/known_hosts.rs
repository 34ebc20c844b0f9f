//! known_hosts, read as OpenSSH reads it: plain, wildcard, negated and hashed (`|1|salt|hmac`)
//! host patterns, `[host]:port` for ports other than 22, and `@revoked` lines. russh's own
//! helper knows none of the markers, so lines are parsed with `ssh_key` and matched here.

use std::io::Write;
use std::path::{Path, PathBuf};

use hmac::{Hmac, KeyInit, Mac};
use russh::keys::PublicKey;
use russh::keys::ssh_key::known_hosts::{Entry, HostPatterns, Marker};

/// One line that names the host.
#[derive(Debug, Clone)]
pub struct KnownKey {
    pub file: PathBuf,
    pub line: usize,
    pub revoked: bool,
    pub key: PublicKey,
}

/// What known_hosts says about the key a server offered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Trusted,
    Revoked {
        file: PathBuf,
        line: usize,
    },
    /// A key of the same type is pinned, and it is another one.
    Changed {
        file: PathBuf,
        line: usize,
    },
    /// The host is known, but only with keys of these other types.
    OtherTypes(Vec<String>),
    Unknown,
}

/// The name OpenSSH looks up: `host` on port 22, `[host]:port` otherwise.
pub fn lookup_name(host: &str, port: u16) -> String {
    if port == 22 {
        host.to_lowercase()
    } else {
        format!("[{}]:{port}", host.to_lowercase())
    }
}

/// Every entry in `files` whose host patterns match `name` (from [`lookup_name`]), in file
/// order. Missing files are skipped; unreadable lines are skipped with a debug message, as
/// OpenSSH does.
pub fn entries_for(name: &str, files: &[PathBuf]) -> Vec<KnownKey> {
    let mut found = Vec::new();
    for file in files {
        let text = match std::fs::read_to_string(file) {
            Ok(text) => text,
            Err(e) => {
                if e.kind() != std::io::ErrorKind::NotFound {
                    tracing::warn!("cannot read known_hosts file {}: {e}", file.display());
                }
                continue;
            }
        };
        found.extend(entries_in(name, file, &text));
    }
    found
}

/// The entries of one known_hosts file's `text` (read from `file`, which the entries and
/// messages name) whose host patterns match `name`, in line order.
pub fn entries_in(name: &str, file: &Path, text: &str) -> Vec<KnownKey> {
    let mut found = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let Some(entry) = parse_line(line) else {
            if !line.trim().is_empty() && !line.trim_start().starts_with('#') {
                tracing::debug!(
                    "{}:{}: unreadable known_hosts line",
                    file.display(),
                    index + 1
                );
            }
            continue;
        };
        if entry.marker() == Some(&Marker::CertAuthority) {
            continue; // we never ask for host certificates
        }
        if patterns_match(entry.host_patterns(), name) {
            found.push(KnownKey {
                file: file.to_path_buf(),
                line: index + 1,
                revoked: entry.marker() == Some(&Marker::Revoked),
                key: entry.public_key().clone(),
            });
        }
    }
    found
}

/// Decides on `offered` given the entries for the host. A revoked key loses whatever else
/// is written; then a matching key wins; then a pinned key of the same type means "changed".
pub fn verdict(entries: &[KnownKey], offered: &PublicKey) -> Verdict {
    let same_key = |k: &KnownKey| k.key.key_data() == offered.key_data();
    if let Some(k) = entries.iter().find(|k| k.revoked && same_key(k)) {
        return Verdict::Revoked {
            file: k.file.clone(),
            line: k.line,
        };
    }
    let pinned: Vec<&KnownKey> = entries.iter().filter(|k| !k.revoked).collect();
    if pinned.iter().any(|k| same_key(k)) {
        return Verdict::Trusted;
    }
    let offered_type = offered.key_data().algorithm();
    if let Some(k) = pinned
        .iter()
        .find(|k| k.key.key_data().algorithm() == offered_type)
    {
        return Verdict::Changed {
            file: k.file.clone(),
            line: k.line,
        };
    }
    if pinned.is_empty() {
        Verdict::Unknown
    } else {
        let mut types: Vec<String> = pinned
            .iter()
            .map(|k| k.key.algorithm().as_str().to_string())
            .collect();
        types.dedup();
        Verdict::OtherTypes(types)
    }
}

/// A known_hosts line for `key` under `name` (from [`lookup_name`]), hashed or plain.
pub fn line_for(name: &str, key: &PublicKey, hashed: bool) -> String {
    let mut key = key.clone();
    key.set_comment("");
    let key_text = key.to_openssh().unwrap_or_default();
    if hashed {
        use russh::keys::ssh_key::rand_core::Rng as _;
        let mut salt = [0u8; 20];
        russh::keys::key::safe_rng().fill_bytes(&mut salt);
        let mut mac = <Hmac<sha1::Sha1> as KeyInit>::new_from_slice(&salt).expect("any key size");
        mac.update(name.as_bytes());
        let hash: [u8; 20] = mac.finalize().into_bytes().into();
        let patterns = HostPatterns::HashedName {
            salt: salt.to_vec(),
            hash,
        };
        format!("{} {key_text}", patterns.to_string())
    } else {
        format!("{name} {key_text}")
    }
}

/// Appends a line for `key` to `file`, creating it (and `~/.ssh`, mode 0700) if needed.
pub fn append(file: &Path, name: &str, key: &PublicKey, hashed: bool) -> std::io::Result<()> {
    if let Some(dir) = file.parent().filter(|d| !d.as_os_str().is_empty())
        && !dir.exists()
    {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)?;
    }
    let mut text = line_for(name, key, hashed);
    text.push('\n');
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(file)?;
    // A file whose last line has no newline would glue our line to it.
    let needs_newline = std::fs::read(file)
        .map(|b| !b.is_empty() && !b.ends_with(b"\n"))
        .unwrap_or(false);
    if needs_newline {
        text.insert(0, '\n');
    }
    f.write_all(text.as_bytes())
}

/// One line, whitespace-tolerant (tabs, several spaces), comments dropped.
fn parse_line(line: &str) -> Option<Entry> {
    let mut words = line.split_whitespace();
    let first = words.next()?;
    if first.starts_with('#') {
        return None;
    }
    let mut fields = vec![first];
    let wanted = if first.starts_with('@') { 4 } else { 3 };
    fields.extend(words.take(wanted - 1));
    if fields.len() < wanted {
        return None;
    }
    fields.join(" ").parse().ok()
}

fn patterns_match(patterns: &HostPatterns, name: &str) -> bool {
    match patterns {
        HostPatterns::HashedName { salt, hash } => {
            let Ok(mut mac) = <Hmac<sha1::Sha1> as KeyInit>::new_from_slice(salt) else {
                return false;
            };
            mac.update(name.as_bytes());
            mac.verify_slice(hash).is_ok()
        }
        HostPatterns::Patterns(list) => {
            let mut matched = false;
            for pattern in list {
                let pattern = pattern.to_lowercase();
                if let Some(negated) = pattern.strip_prefix('!') {
                    if wildmatch(negated.as_bytes(), name.as_bytes()) {
                        return false; // a negated match rejects the whole line
                    }
                } else if wildmatch(pattern.as_bytes(), name.as_bytes()) {
                    matched = true;
                }
            }
            matched
        }
    }
}

/// `*` and `?` glob, as OpenSSH's `match_pattern`.
fn wildmatch(pattern: &[u8], text: &[u8]) -> bool {
    let (mut p, mut t) = (0, 0);
    let (mut star, mut star_t) = (None, 0);
    while t < text.len() {
        if p < pattern.len() && (pattern[p] == b'?' || pattern[p] == text[t]) {
            p += 1;
            t += 1;
        } else if p < pattern.len() && pattern[p] == b'*' {
            star = Some(p);
            star_t = t;
            p += 1;
        } else if let Some(s) = star {
            p = s + 1;
            star_t += 1;
            t = star_t;
        } else {
            return false;
        }
    }
    while p < pattern.len() && pattern[p] == b'*' {
        p += 1;
    }
    p == pattern.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_match_like_openssh() {
        assert!(wildmatch(b"*.example", b"x.example"));
        assert!(wildmatch(b"build?", b"build7"));
        assert!(!wildmatch(b"build?", b"build77"));
        assert!(wildmatch(b"[*]:2222", b"[b1]:2222"));
        assert!(!wildmatch(b"*.example", b"example"));
    }

    #[test]
    fn negation_rejects_the_whole_line() {
        let p = HostPatterns::Patterns(vec!["*.example".into(), "!bad.example".into()]);
        assert!(patterns_match(&p, "good.example"));
        assert!(!patterns_match(&p, "bad.example"));
    }

    #[test]
    fn port_names_use_brackets() {
        assert_eq!(lookup_name("Build1", 22), "build1");
        assert_eq!(lookup_name("build1", 2222), "[build1]:2222");
    }
}
