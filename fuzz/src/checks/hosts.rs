//! The host grammar (`DISTCC_HOSTS` and host files): tokens built from the grammar's pieces
//! (users, names, IPv6 brackets, ports, `/N`, `,lzo,cpp,down,auth`, `:COMMAND`, `:tcp:`,
//! list options, `+zeroconf`, comments) in any order and spacing. Never a panic; and a list
//! that parses means the same when its hosts are written back out: each host's `text`
//! (what `--show-hosts` prints) parses to that same host again.

use std::path::PathBuf;

use arbitrary::Arbitrary;
use distfarm::hosts::{self, HostList};

use super::{Word, structured};

const PIECES: &[&str] = &[
    "localhost",
    "@",
    "bob@",
    "build1",
    "[::1]",
    "[fe80::1%eth0]",
    "::1",
    "[",
    "]",
    ":",
    ":3632",
    ":0",
    ":65536",
    ":99999",
    "/",
    "/4",
    "/0",
    "/-3",
    "/4x",
    ",lzo",
    ",cpp",
    ",down",
    ",auth",
    ",lzofoo",
    ",",
    ":distccd",
    ":/opt/bin/distccd",
    ":tcp:3632",
    ":tcp:10.0.0.1:3632",
    ":tcp:",
    ":tcp:host:",
    "--randomize",
    "--localslots=",
    "--localslots_cpp=",
    "--localslots/",
    "8",
    "--other",
    "+zeroconf",
    "+zeroconfX",
    "=",
    "10.0.0.2",
    "host.example",
    "-",
    "%",
];
const SPACES: &[&str] = &[
    " ",
    "\t",
    "\n",
    "\r\n",
    "\x0b",
    "\x0c",
    "  ",
    "# a comment\n",
    "#",
];

#[derive(Arbitrary, Debug)]
pub struct Input {
    pub tokens: Vec<Token>,
    /// Also read as the second of two host files (the first is missing).
    pub as_file: bool,
}

#[derive(Arbitrary, Debug)]
pub struct Token {
    pub pieces: Vec<Word>,
    pub space: Word,
}

impl Input {
    fn text(&self) -> String {
        let mut text = String::new();
        for token in &self.tokens {
            for piece in &token.pieces {
                text.push_str(piece.pick(PIECES));
            }
            text.push_str(token.space.pick(SPACES));
        }
        text
    }
}

pub fn fuzz(bytes: &[u8]) {
    structured(bytes, check);
}

pub fn check(input: Input) {
    let text = input.text();
    let parsed = hosts::parse(&text, "$DISTCC_HOSTS");
    if input.as_file {
        let files = [
            (PathBuf::from("/nonexistent/hosts"), None),
            (PathBuf::from("/etc/distcc/hosts"), Some(text.clone())),
        ];
        let from_file = hosts::load(None, &files);
        assert_eq!(
            from_file.as_ref().map(|l| &l.hosts).ok(),
            parsed.as_ref().map(|l| &l.hosts).ok(),
            "a host file and $DISTCC_HOSTS read the same text differently"
        );
    }
    let Ok(list) = parsed else { return };
    written_back_out(&list);
}

fn written_back_out(list: &HostList) {
    for host in &list.hosts {
        assert!(!host.text.is_empty(), "an empty host token");
        let again = hosts::parse(&host.text, "again")
            .unwrap_or_else(|e| panic!("{:?} parsed once but not again: {e}", host.text));
        assert_eq!(again.hosts.as_slice(), std::slice::from_ref(host));
        let _ = (
            host.lock_name(0),
            host.backoff_name(),
            host.protocol_version(),
        );
    }
    let _ = list.total_slots();
}
