//! SHA-256 digests as REAPI writes them: the lowercase hex hash and the size in bytes.

use prost::Message;
use sha2::{Digest as _, Sha256};

use super::proto::Digest;

/// The digest of `bytes`.
pub fn of_bytes(bytes: &[u8]) -> Digest {
    Digest {
        hash: hex(&Sha256::digest(bytes)),
        size_bytes: bytes.len() as i64,
    }
}

/// A message's wire bytes and their digest (what the CAS stores for an Action, a Command or
/// a Directory). prost writes fields in field-number order, so equal messages give equal
/// bytes, as the API asks.
pub fn of_message(message: &impl Message) -> (Vec<u8>, Digest) {
    let bytes = message.encode_to_vec();
    let digest = of_bytes(&bytes);
    (bytes, digest)
}

/// Whether `bytes` are what `digest` names: the size and the hash.
pub fn matches(digest: &Digest, bytes: &[u8]) -> bool {
    digest.size_bytes == bytes.len() as i64 && digest.hash == hex(&Sha256::digest(bytes))
}

/// `hash/size`, as digests appear in messages and in ByteStream resource names.
pub fn display(digest: &Digest) -> String {
    format!("{}/{}", digest.hash, digest.size_bytes)
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes.iter().fold(String::with_capacity(64), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_are_lowercase_sha256_hex_and_size() {
        let d = of_bytes(b"abc");
        assert_eq!(
            d.hash,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(d.size_bytes, 3);
        assert_eq!(of_bytes(b"").size_bytes, 0);
    }

    #[test]
    fn matching_checks_size_and_hash() {
        let d = of_bytes(b"abc");
        assert!(matches(&d, b"abc"));
        assert!(!matches(&d, b"abd"));
        let wrong_size = Digest {
            size_bytes: 4,
            ..d.clone()
        };
        assert!(!matches(&wrong_size, b"abc"));
        assert_eq!(display(&d), format!("{}/3", d.hash));
    }
}
