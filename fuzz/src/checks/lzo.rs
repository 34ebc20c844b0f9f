//! The protocol-2 LZO decoder (ours: distcc sends no length). Round trip: whatever the
//! `lzo1x` compressor makes at any level (level 3 is what distfarm and miniLZO send) decodes
//! to the original. Differential: on arbitrary bytes, whenever ours decodes, `lzo1x`'s own
//! decoder (told the length) yields the same bytes. Never a panic, never more than the limit.

use arbitrary::Arbitrary;
use distfarm::protocol::{ProtocolError, lzo};

use super::memory::bounded;
use super::wire::{Body, Corruption, corrupt};

#[derive(Arbitrary, Debug)]
pub enum Input {
    /// Compressed by `lzo1x` at `level` (1–12), then perhaps corrupted.
    Compressed {
        data: Body,
        level: u8,
        corruptions: Vec<Corruption>,
    },
    /// Any bytes, decoded under a small limit.
    Raw { bytes: Vec<u8>, limit: u16 },
}

pub fn fuzz(bytes: &[u8]) {
    super::structured(bytes, check);
}

pub fn check(input: Input) {
    match input {
        Input::Compressed {
            data,
            level,
            corruptions,
        } => {
            let data = data.bytes();
            if data.is_empty() {
                return; // an empty body travels as length 0, never compressed
            }
            let level = lzo1x::CompressLevel::new(1 + level % 12);
            let packed = lzo1x::compress(&data, level);
            let packed = corrupt(packed, &corruptions);
            let got = bounded("lzo", packed.len(), || {
                lzo::decompress("DOTI", &packed, u64::MAX)
            });
            if corruptions.is_empty() {
                assert!(
                    got.as_ref().is_ok_and(|out| *out == data),
                    "lzo1x level {level:?} output of {} bytes did not decode back: {:?}",
                    data.len(),
                    got.map(|o| o.len())
                );
                // And under the exact limit, and refused one byte under it.
                assert!(lzo::decompress("DOTI", &packed, data.len() as u64).is_ok());
                assert!(matches!(
                    lzo::decompress("DOTI", &packed, data.len() as u64 - 1),
                    Err(ProtocolError::TooLong { .. })
                ));
            } else {
                differential(&packed, got);
            }
        }
        Input::Raw { bytes, limit } => {
            let got = bounded("lzo", bytes.len(), || {
                lzo::decompress("DOTI", &bytes, u64::from(limit))
            });
            if let Ok(out) = &got {
                assert!(out.len() <= limit as usize);
            }
            differential(&bytes, got);
        }
    }
}

/// What ours decoded, `lzo1x` decodes the same when told the length.
fn differential(packed: &[u8], ours: Result<Vec<u8>, ProtocolError>) {
    let Ok(ours) = ours else { return };
    let mut theirs = vec![0u8; ours.len()];
    if let Ok(()) = lzo1x::decompress(packed, &mut theirs) {
        assert_eq!(ours, theirs, "lzo1x decodes {packed:?} differently");
    }
}
