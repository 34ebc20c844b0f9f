//! One entry's bytes: the key it answers, in full, the whole answer, and the server files it
//! was made with (pump mode, see `server_files`), under a SHA-256 of everything before it.
//! A truncated, altered or foreign entry decodes to a `Damage`, never to an answer.
//!
//! ```text
//! MAGIC | key (u64 length, bytes) | status u32 | stderr | stdout | object
//!       | deps (u8 0/1, then length and bytes when 1)
//!       | server files (u64 count, then path and identity, each length and bytes)
//!       | sha256 of all of the above
//! ```
//! Integers are little-endian; lengths are u64.

use sha2::{Digest, Sha256};

use super::server_files::Manifest;
use crate::protocol::Response;

const MAGIC: &[u8; 16] = b"distfarm-cache1\n";
const CHECKSUM_LEN: usize = 32;

/// Why an entry's bytes are not an answer to the key asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub(super) enum Damage {
    #[error("it is shorter than its checksum")]
    Truncated,
    #[error("its checksum does not match its content")]
    Checksum,
    #[error("it is not in this version's format")]
    Format,
    #[error("it answers another key")]
    OtherKey,
}

/// What an entry holds besides its key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Stored {
    pub(super) response: Response,
    pub(super) server_files: Manifest,
}

pub(super) fn encode(key: &[u8], response: &Response, server_files: &Manifest) -> Vec<u8> {
    let size = MAGIC.len()
        + 8 * 5
        + 5
        + key.len()
        + response.stderr.len()
        + response.stdout.len()
        + response.object.len()
        + response.deps.as_ref().map_or(0, Vec::len)
        + server_files
            .iter()
            .map(|(p, i)| 16 + p.len() + i.len())
            .sum::<usize>()
        + CHECKSUM_LEN;
    let mut out = Vec::with_capacity(size);
    out.extend_from_slice(MAGIC);
    put_bytes(&mut out, key);
    out.extend_from_slice(&response.status.to_le_bytes());
    put_bytes(&mut out, &response.stderr);
    put_bytes(&mut out, &response.stdout);
    put_bytes(&mut out, &response.object);
    match &response.deps {
        None => out.push(0),
        Some(deps) => {
            out.push(1);
            put_bytes(&mut out, deps);
        }
    }
    out.extend_from_slice(&(server_files.len() as u64).to_le_bytes());
    for (path, identity) in server_files {
        put_bytes(&mut out, path);
        put_bytes(&mut out, identity);
    }
    let checksum = Sha256::digest(&out);
    out.extend_from_slice(&checksum);
    out
}

/// The answer in `bytes`, if they are whole and answer exactly `key`.
pub(super) fn decode(bytes: &[u8], key: &[u8]) -> Result<Stored, Damage> {
    if bytes.len() < MAGIC.len() + CHECKSUM_LEN {
        return Err(Damage::Truncated);
    }
    let (body, checksum) = bytes.split_at(bytes.len() - CHECKSUM_LEN);
    if Sha256::digest(body).as_slice() != checksum {
        return Err(Damage::Checksum);
    }
    let mut reader = Reader { rest: body };
    if reader.take(MAGIC.len())? != MAGIC {
        return Err(Damage::Format);
    }
    if reader.bytes()? != key {
        return Err(Damage::OtherKey);
    }
    let status = u32::from_le_bytes(reader.take(4)?.try_into().expect("4 bytes"));
    let stderr = reader.bytes()?.to_vec();
    let stdout = reader.bytes()?.to_vec();
    let object = reader.bytes()?.to_vec();
    let deps = match reader.take(1)? {
        [0] => None,
        [1] => Some(reader.bytes()?.to_vec()),
        _ => return Err(Damage::Format),
    };
    let count = u64::from_le_bytes(reader.take(8)?.try_into().expect("8 bytes"));
    let mut server_files = Manifest::new();
    for _ in 0..count {
        let path = reader.bytes()?.to_vec();
        server_files.push((path, reader.bytes()?.to_vec()));
    }
    if !reader.rest.is_empty() {
        return Err(Damage::Format);
    }
    Ok(Stored {
        response: Response {
            status,
            stderr,
            stdout,
            object,
            deps,
        },
        server_files,
    })
}

fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend_from_slice(&(bytes.len() as u64).to_le_bytes());
    out.extend_from_slice(bytes);
}

struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], Damage> {
        if self.rest.len() < n {
            return Err(Damage::Format);
        }
        let (taken, rest) = self.rest.split_at(n);
        self.rest = rest;
        Ok(taken)
    }

    fn bytes(&mut self) -> Result<&'a [u8], Damage> {
        let len = u64::from_le_bytes(self.take(8)?.try_into().expect("8 bytes"));
        let len = usize::try_from(len).map_err(|_| Damage::Format)?;
        self.take(len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer() -> Response {
        Response {
            status: 0,
            stderr: b"foo.c:1: warning: unused\n".to_vec(),
            stdout: Vec::new(),
            object: b"\x7fELF object".to_vec(),
            deps: Some(b"foo.o: foo.c\n".to_vec()),
        }
    }

    fn files() -> Manifest {
        vec![(b"/usr/include/stdio.h".to_vec(), b"identity".to_vec())]
    }

    #[test]
    fn an_entry_answers_its_own_key_with_every_part_of_the_answer() {
        let bytes = encode(b"key one", &answer(), &files());
        let stored = decode(&bytes, b"key one").unwrap();
        assert_eq!(stored.response, answer());
        assert_eq!(stored.server_files, files());
        let plain = Response {
            deps: None,
            ..answer()
        };
        let stored = decode(&encode(b"k", &plain, &vec![]), b"k").unwrap();
        assert_eq!(stored.response, plain);
        assert!(stored.server_files.is_empty());
    }

    #[test]
    fn another_key_is_never_answered() {
        let bytes = encode(b"key one", &answer(), &files());
        assert_eq!(decode(&bytes, b"key two"), Err(Damage::OtherKey));
        assert_eq!(decode(&bytes, b"key on"), Err(Damage::OtherKey));
    }

    #[test]
    fn truncated_or_altered_entries_are_damaged() {
        let bytes = encode(b"key", &answer(), &files());
        for cut in [0, 10, bytes.len() / 2, bytes.len() - 1] {
            assert!(decode(&bytes[..cut], b"key").is_err(), "cut at {cut}");
        }
        for at in [0, 20, bytes.len() / 2, bytes.len() - 1] {
            let mut altered = bytes.clone();
            altered[at] ^= 0x40;
            assert!(decode(&altered, b"key").is_err(), "byte {at} altered");
        }
    }
}
