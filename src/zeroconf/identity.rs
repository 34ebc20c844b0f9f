//! Which compiler a machine offers or wants, as distcc tells (`gcc-id.c`): `cc -dumpversion`
//! and `cc -dumpmachine`, the first word of each. A server announces them; a client uses
//! only servers whose pair matches its own.

use std::ffi::OsStr;
use std::process::{Command, Stdio};

/// The compiler distcc asks, on both sides (a `cc` link to gcc on Debian and Gentoo).
pub const COMPILER: &str = "cc";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompilerIdentity {
    /// `cc -dumpversion`, e.g. `12`.
    pub version: String,
    /// `cc -dumpmachine`, e.g. `x86_64-linux-gnu`.
    pub machine: String,
}

impl CompilerIdentity {
    /// Asks `cc` found on `path` (the process's `PATH` when `None`).
    pub fn of_cc(path: Option<&OsStr>) -> Result<CompilerIdentity, String> {
        Ok(CompilerIdentity {
            version: first_word(path, "-dumpversion")?,
            machine: first_word(path, "-dumpmachine")?,
        })
    }

    /// The DNS-SD subtype a server registers and distcc's clients browse
    /// (`dcc_make_dnssd_subtype`): `_<machine>--<version>._sub._distcc._tcp`.
    pub fn subtype(&self) -> String {
        format!(
            "_{}--{}._sub.{}",
            dns_label(&self.machine),
            dns_label(&self.version),
            super::SERVICE_TYPE
        )
    }

    /// Whether `other` is the same compiler as distcc compares them: through the subtype,
    /// i.e. after its character clean-up.
    pub fn same_as(&self, other: &CompilerIdentity) -> bool {
        self.same_version(&other.version) && self.same_machine(&other.machine)
    }

    pub fn same_version(&self, version: &str) -> bool {
        dns_label(&self.version) == dns_label(version)
    }

    pub fn same_machine(&self, machine: &str) -> bool {
        dns_label(&self.machine) == dns_label(machine)
    }
}

/// distcc's `strip_bad_chars` after its 63-byte cut: lower-case letters and digits stay,
/// upper case is lowered, anything else becomes `-`.
pub fn dns_label(text: &str) -> String {
    text.bytes()
        .take(63)
        .map(|b| match b {
            b'a'..=b'z' | b'0'..=b'9' => b as char,
            b'A'..=b'Z' => b.to_ascii_lowercase() as char,
            _ => '-',
        })
        .collect()
}

fn first_word(path: Option<&OsStr>, option: &str) -> Result<String, String> {
    let mut command = Command::new(COMPILER);
    command
        .arg(option)
        .stdin(Stdio::null())
        .stderr(Stdio::null());
    if let Some(path) = path {
        command.env("PATH", path);
    }
    let output = command
        .output()
        .map_err(|e| format!("`{COMPILER} {option}` could not run: {e}"))?;
    let text = String::from_utf8_lossy(&output.stdout);
    let word = text
        .lines()
        .next()
        .and_then(|l| l.split_whitespace().next())
        .unwrap_or("");
    if !output.status.success() || word.is_empty() {
        return Err(format!(
            "`{COMPILER} {option}` gave no answer ({})",
            output.status
        ));
    }
    Ok(word.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gcc(version: &str, machine: &str) -> CompilerIdentity {
        CompilerIdentity {
            version: version.into(),
            machine: machine.into(),
        }
    }

    #[test]
    fn subtype_is_distccs() {
        assert_eq!(
            gcc("12", "x86_64-linux-gnu").subtype(),
            "_x86-64-linux-gnu--12._sub._distcc._tcp.local."
        );
        assert_eq!(
            gcc("4.9.2", "ARM-Linux").subtype(),
            "_arm-linux--4-9-2._sub._distcc._tcp.local."
        );
    }

    #[test]
    fn compared_after_distccs_clean_up() {
        let ours = gcc("12", "x86_64-linux-gnu");
        assert!(ours.same_as(&gcc("12", "x86-64-linux-gnu")));
        assert!(!ours.same_as(&gcc("13", "x86_64-linux-gnu")));
        assert!(!ours.same_as(&gcc("12", "aarch64-linux-gnu")));
    }
}
