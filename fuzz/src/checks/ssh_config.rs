//! ssh_config as distfarm reads it (ssh2-config, plus `Match` translation, `%` tokens,
//! `ProxyJump` chains, the raw keywords): lines built from real keywords and values, in
//! `Host` and `Match` blocks. Never a panic; a resolved host keeps the overrides it was
//! given, and its jump chain is bounded.

use std::path::{Path, PathBuf};

use arbitrary::Arbitrary;
use distfarm::transport::ssh::{SshSettings, resolve_text};

use super::{Word, structured};

const KEYWORDS: &[&str] = &[
    "Host",
    "Match",
    "HostName",
    "Port",
    "User",
    "IdentityFile",
    "IdentitiesOnly",
    "UserKnownHostsFile",
    "GlobalKnownHostsFile",
    "HostKeyAlias",
    "HashKnownHosts",
    "StrictHostKeyChecking",
    "ConnectTimeout",
    "ServerAliveInterval",
    "ServerAliveCountMax",
    "ProxyJump",
    "Compression",
    "IdentityAgent",
    "ProxyCommand",
    "CanonicalizeHostname",
    "ciphers",
    "=",
    "#",
];
const VALUES: &[&str] = &[
    "*",
    "build1",
    "b*",
    "!bad",
    "all",
    "originalhost",
    "host",
    "exec",
    "true",
    "%h",
    "%p",
    "%r",
    "%u",
    "%n",
    "%d",
    "%%",
    "%",
    "~",
    "~/.ssh/id_ed25519",
    "yes",
    "no",
    "accept-new",
    "ask",
    "off",
    "none",
    "22",
    "0",
    "65536",
    "-1",
    "10",
    "me@bastion:2222",
    "ssh://[::1]:2200",
    "a,b,c",
    "[",
    "@x",
    "\"quoted value\"",
    "SSH_AUTH_SOCK",
    ",",
];
const ALIASES: &[&str] = &[
    "build1",
    "BUILD1",
    "a",
    "b",
    "bastion",
    "x.example",
    "::1",
    "",
];

#[derive(Arbitrary, Debug)]
pub struct Input {
    pub lines: Vec<Line>,
    pub alias: Word,
    pub user: Option<String>,
    pub port: Option<u16>,
}

#[derive(Arbitrary, Debug)]
pub struct Line {
    pub indent: bool,
    pub keyword: Word,
    pub equals: bool,
    pub values: Vec<Word>,
}

impl Input {
    fn text(&self) -> String {
        let mut text = String::new();
        for line in &self.lines {
            let keyword = line.keyword.pick(KEYWORDS);
            // `Include` reads other files (globbed) from this machine: not input here.
            if keyword
                .trim_start()
                .to_ascii_lowercase()
                .starts_with("include")
            {
                continue;
            }
            if line.indent {
                text.push_str("  ");
            }
            text.push_str(keyword);
            text.push_str(if line.equals { "=" } else { " " });
            let values: Vec<&str> = line.values.iter().map(|v| v.pick(VALUES)).collect();
            text.push_str(&values.join(" "));
            text.push('\n');
        }
        text
    }
}

pub fn fuzz(bytes: &[u8]) {
    structured(bytes, check);
}

pub fn check(input: Input) {
    let text = input.text();
    if text
        .lines()
        .any(|l| l.trim_start().to_ascii_lowercase().starts_with("include"))
    {
        return;
    }
    let settings = SshSettings {
        config_file: Some(PathBuf::from("/fuzz/ssh_config")),
        home: PathBuf::from("/home/fuzz"),
        agent_socket: None,
        user: "fuzz".into(),
    };
    let alias = input.alias.pick(ALIASES);
    let user = input.user.as_deref().filter(|u| !u.is_empty());
    let resolved = resolve_text(
        &text,
        Path::new("/fuzz/ssh_config"),
        alias,
        user,
        input.port,
        &settings,
    );
    let Ok(host) = resolved else { return };
    if let Some(user) = user {
        assert_eq!(host.user, user, "ssh -l must win over the file");
    }
    if let Some(port) = input.port {
        assert_eq!(host.port, port, "ssh -p must win over the file");
    }
    assert!(
        host.proxy_jump.len() <= 16,
        "a jump chain of {}",
        host.proxy_jump.len()
    );
    let _ = (host.known_hosts_name(), host.description());
}
