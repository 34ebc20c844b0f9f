//! The client reading a server's answer: `DONE STAT SERR SOUT DOTO` (and `DOTD` after a
//! protocol-3 success), in every version. A well-formed answer reads back as sent (less what
//! the protocol drops: the object of a failed compile); a corrupted one is an error.

use arbitrary::Arbitrary;
use distfarm::protocol::{Response, Version};

use super::memory::bounded;
use super::wire::{Body, Corruption, block_on, corrupt, encode, reader};

#[derive(Arbitrary, Debug)]
pub struct Input {
    pub version: u8,
    /// The client expects this `DONE`; a server answering another is an error.
    pub answer_another_version: bool,
    pub status: u32,
    pub fail: bool,
    pub stderr: Body,
    pub stdout: Body,
    pub object: Body,
    pub deps: Option<Body>,
    pub corruptions: Vec<Corruption>,
}

pub fn fuzz(bytes: &[u8]) {
    super::structured(bytes, check);
}

pub fn check(input: Input) {
    let version = [Version::V1, Version::V2, Version::V3][input.version as usize % 3];
    let wire_version = version.number();
    let status = if input.fail { input.status | 1 } else { 0 };
    let sent = Response {
        status,
        stderr: input.stderr.bytes(),
        stdout: input.stdout.bytes(),
        object: input.object.bytes(),
        deps: input.deps.as_ref().map(Body::bytes),
    };
    let answered = if input.answer_another_version {
        wire_version + 1
    } else {
        wire_version
    };
    let bytes = encode(|w| block_on(sent.write(w, answered, version)));
    let bytes = corrupt(bytes, &input.corruptions);
    let got = bounded("reply", bytes.len(), || {
        block_on(Response::read(&mut reader(&bytes), wire_version, version))
    });
    if !input.corruptions.is_empty() {
        return;
    }
    if input.answer_another_version {
        assert!(got.is_err(), "an answer in another version was taken");
        return;
    }
    let success = status == 0;
    let expected = Response {
        object: if success { sent.object.clone() } else { vec![] },
        deps: (version == Version::V3 && success).then(|| sent.deps.clone().unwrap_or_default()),
        ..sent
    };
    assert_eq!(got.expect("a well-formed answer reads back"), expected);
}
