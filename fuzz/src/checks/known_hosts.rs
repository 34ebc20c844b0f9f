//! known_hosts as distfarm reads it: lines with markers (`@revoked`, `@cert-authority`,
//! others), plain, wildcard, negated, `[host]:port` and hashed (`|1|salt|hmac`) patterns,
//! real keys or garbage, in any spacing. Differential: every entry found for a name is one
//! a reference reading of the generated line (OpenSSH's glob and negation rules) says
//! matches; the verdict on an offered key agrees with the entries.

use std::path::Path;

use arbitrary::Arbitrary;
use distfarm::transport::ssh::known_hosts::{Verdict, entries_in, lookup_name, verdict};
use hmac::{Hmac, KeyInit, Mac};
use russh::keys::PublicKey;

use super::{Word, structured};

const KEYS: &[&str] = &[
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKW/Qy/iTPK/KdiPBJwI9qqV0A7TlQlhIt7ks/PVwI5a",
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOJCqlNA1fwDJWbmo+oEJ5JR4KpMKMejOaoXB+i5pfy8",
    "ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBJGp5m6wyhpi7N5Q0ptn1GdItHS7+2d9+EWFXSR5/7vuZQ23djpo1tVcMkPYSeMwF+sD8fuUcXeZj348YsK1kPM=",
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKW/Qy/iTPK/KdiPBJwI9qqV0A7TlQlhIt7ks/PVwI",
    "ssh-rsa AAAA",
    "ssh-ed25519",
];
const MARKERS: &[&str] = &["@revoked", "@cert-authority", "@other", "#", "@"];
const PATTERNS: &[&str] = &[
    "build1",
    "BUILD1",
    "build?",
    "b*",
    "*",
    "*.example",
    "x.example",
    "!build1",
    "!*",
    "[build1]:2222",
    "[*]:2222",
    "[build1]:22",
    "10.0.0.2",
    "::1",
    "",
    "?",
    "**",
    "b*1",
];
const HOSTS: &[&str] = &["build1", "Build1", "x.example", "10.0.0.2", "::1", "b1", ""];
const SPACES: &[&str] = &[" ", "\t", "  ", " \t "];

#[derive(Arbitrary, Debug)]
pub struct Input {
    pub lines: Vec<Line>,
    pub host: Word,
    pub port_2222: bool,
    pub offered: u8,
}

#[derive(Arbitrary, Debug)]
pub struct Line {
    pub marker: Option<Word>,
    pub patterns: Vec<Pattern>,
    pub key: Word,
    pub comment: Option<String>,
    pub space: Word,
}

#[derive(Arbitrary, Debug)]
pub enum Pattern {
    Plain(Word),
    /// `|1|salt|hmac` of this host name.
    Hashed {
        name: Word,
        salt: [u8; 20],
    },
}

impl Pattern {
    fn text(&self) -> String {
        match self {
            Pattern::Plain(word) => plain(word),
            Pattern::Hashed { name, salt } => {
                let mut mac =
                    <Hmac<sha1::Sha1> as KeyInit>::new_from_slice(salt).expect("any key size");
                mac.update(name.pick(HOSTS).as_bytes());
                let hash = mac.finalize().into_bytes();
                format!("|1|{}|{}", base64(salt), base64(&hash))
            }
        }
    }

    /// The reference: does this pattern name `name` (`Some(false)` for a negated match)?
    fn names(&self, name: &str) -> Option<bool> {
        match self {
            Pattern::Plain(word) => {
                let p = plain(word).to_lowercase();
                match p.strip_prefix('!') {
                    Some(negated) => glob(negated.as_bytes(), name.as_bytes()).then_some(false),
                    None => glob(p.as_bytes(), name.as_bytes()).then_some(true),
                }
            }
            Pattern::Hashed { name: hashed, .. } => (hashed.pick(HOSTS) == name).then_some(true),
        }
    }
}

/// A plain pattern: free text cannot hold the separators of the line (space, comma).
fn plain(word: &Word) -> String {
    word.pick(PATTERNS)
        .chars()
        .filter(|c| !c.is_whitespace() && *c != ',')
        .collect()
}

impl Line {
    fn text(&self) -> String {
        // Free text separates only by its whitespace (else it would add a field).
        let space: String = self
            .space
            .pick(SPACES)
            .chars()
            .filter(|c| c.is_whitespace())
            .collect();
        let space = if space.is_empty() {
            " "
        } else {
            space.as_str()
        };
        let mut words = Vec::new();
        if let Some(marker) = self.marker() {
            words.push(marker);
        }
        let patterns: Vec<String> = self.patterns.iter().map(Pattern::text).collect();
        words.push(patterns.join(","));
        words.push(self.key.pick(KEYS).to_string());
        if let Some(comment) = &self.comment {
            words.push(comment.replace(['\n', '\r'], " "));
        }
        words.join(space).replace(['\n', '\r'], " ")
    }

    /// The marker word: free text is made one (`@…`), else it would be a host pattern.
    fn marker(&self) -> Option<String> {
        let word = self.marker.as_ref()?.pick(MARKERS);
        let word: String = word.chars().filter(|c| !c.is_whitespace()).collect();
        Some(match word.starts_with(['@', '#']) {
            true => word,
            false => format!("@{word}"),
        })
    }

    /// The reference: may an entry from this line be found for `name`?
    fn may_match(&self, name: &str) -> bool {
        let mut matched = false;
        for p in &self.patterns {
            match p.names(name) {
                Some(false) => return false,
                Some(true) => matched = true,
                None => {}
            }
        }
        matched
    }
}

/// OpenSSH's `match_pattern`: `*` any run, `?` one character (recursive, as written there).
fn glob(pattern: &[u8], text: &[u8]) -> bool {
    match pattern.split_first() {
        None => text.is_empty(),
        Some((b'*', rest)) => (0..=text.len()).any(|i| glob(rest, &text[i..])),
        Some((b'?', rest)) => !text.is_empty() && glob(rest, &text[1..]),
        Some((c, rest)) => text.first() == Some(c) && glob(rest, &text[1..]),
    }
}

fn base64(bytes: &[u8]) -> String {
    const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (b[0] as u32) << 16 | (b[1] as u32) << 8 | b[2] as u32;
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(A[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

pub fn fuzz(bytes: &[u8]) {
    structured(bytes, check);
}

pub fn check(input: Input) {
    // Patterns longer than this make the reference glob slow, not the parser.
    if input.lines.iter().any(|l| l.patterns.len() > 16) {
        return;
    }
    let text: Vec<String> = input.lines.iter().map(Line::text).collect();
    let text = text.join("\n");
    let name = lookup_name(
        input.host.pick(HOSTS),
        if input.port_2222 { 2222 } else { 22 },
    );
    let found = entries_in(&name, Path::new("/fuzz/known_hosts"), &text);
    for entry in &found {
        let line = &input.lines[entry.line - 1];
        assert!(
            line.may_match(&name),
            "line {} ({:?}, {:?}) was taken for {name:?}",
            entry.line,
            line.text(),
            line.patterns
        );
        assert_eq!(
            entry.revoked,
            line.marker().is_some_and(|m| m == "@revoked")
        );
    }
    let offered_text = KEYS[input.offered as usize % 3];
    let offered = PublicKey::from_openssh(offered_text).expect("a valid key");
    let same = |k: &&distfarm::transport::ssh::known_hosts::KnownKey| {
        k.key.key_data() == offered.key_data()
    };
    match verdict(&found, &offered) {
        Verdict::Trusted => assert!(found.iter().any(|k| !k.revoked && same(&k))),
        Verdict::Revoked { line, .. } => {
            assert!(
                found
                    .iter()
                    .any(|k| k.revoked && k.line == line && same(&k))
            )
        }
        Verdict::Changed { .. } => assert!(!found.iter().any(|k| same(&k))),
        Verdict::OtherTypes(_) | Verdict::Unknown => {
            assert!(!found.iter().any(|k| same(&k)))
        }
    }
}
