//! Protocol-2 body compression: one raw LZO1X-1 block per payload, no header, no length.
//!
//! Compression is `lzo1x`'s LZO1X-1 (byte-identical to distcc's miniLZO, checked against the
//! captured transcripts). Decompression is ours: distcc never sends the decompressed size,
//! `lzo1x` needs it, and a general decoder that grows its output freely lets a hostile
//! 30-byte body ask for gigabytes (a match length is extended 255 bytes per zero byte). This
//! decoder checks every literal run and match against the limit before it writes.

use super::ProtocolError;

pub fn compress(data: &[u8]) -> Vec<u8> {
    // Level 3 is `compress_1` with 14 dictionary bits: exactly miniLZO's `lzo1x_1_compress`.
    lzo1x::compress(data, lzo1x::CompressLevel::new(3))
}

/// Decompresses one block, refusing to produce more than `limit` bytes.
pub fn decompress(token: &'static str, data: &[u8], limit: u64) -> Result<Vec<u8>, ProtocolError> {
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    let mut decoder = Decoder {
        src: data,
        pos: 0,
        out: Vec::with_capacity(data.len().saturating_mul(3).min(limit)),
        limit,
    };
    decoder.run().map_err(|problem| match problem {
        Problem::OverLimit(len) => ProtocolError::TooLong {
            token,
            len: len as u64,
            limit: limit as u64,
        },
        Problem::Corrupt(detail) => ProtocolError::Decompress {
            token,
            detail: detail.to_string(),
        },
    })?;
    Ok(decoder.out)
}

enum Problem {
    OverLimit(usize),
    Corrupt(&'static str),
}

/// What an instruction byte below 16 means depends on what came before it.
#[derive(Clone, Copy)]
enum After {
    /// The start, or a match with no trailing literals: a literal run.
    Match,
    /// A match followed by 1–3 literals: a 2-byte match, distance 1–1024.
    ShortLiterals,
    /// A literal run of 4 or more: a 3-byte match, distance 2049–3072.
    LongLiterals,
}

struct Decoder<'a> {
    src: &'a [u8],
    pos: usize,
    out: Vec<u8>,
    limit: usize,
}

impl Decoder<'_> {
    fn byte(&mut self) -> Result<usize, Problem> {
        let b = *self
            .src
            .get(self.pos)
            .ok_or(Problem::Corrupt("the stream ends in an instruction"))?;
        self.pos += 1;
        Ok(b as usize)
    }

    /// A length continued by zero bytes (255 each) and a final non-zero byte.
    fn extended_length(&mut self, base: usize) -> Result<usize, Problem> {
        let mut len = base;
        loop {
            match self.byte()? {
                0 => {
                    len = len
                        .checked_add(255)
                        .ok_or(Problem::Corrupt("length overflow"))?
                }
                b => {
                    return len
                        .checked_add(b)
                        .ok_or(Problem::Corrupt("length overflow"));
                }
            }
        }
    }

    fn room_for(&self, len: usize) -> Result<(), Problem> {
        match self.out.len().checked_add(len) {
            Some(total) if total <= self.limit => Ok(()),
            Some(total) => Err(Problem::OverLimit(total)),
            None => Err(Problem::OverLimit(usize::MAX)),
        }
    }

    fn literals(&mut self, len: usize) -> Result<(), Problem> {
        self.room_for(len)?;
        let end = self
            .pos
            .checked_add(len)
            .filter(|end| *end <= self.src.len());
        let end = end.ok_or(Problem::Corrupt(
            "a literal run goes past the end of the stream",
        ))?;
        self.out.extend_from_slice(&self.src[self.pos..end]);
        self.pos = end;
        Ok(())
    }

    /// Copies `len` bytes from `distance` back; the copy may overlap what it writes.
    fn copy_match(&mut self, distance: usize, len: usize) -> Result<(), Problem> {
        if distance == 0 || distance > self.out.len() {
            return Err(Problem::Corrupt(
                "a match reaches before the start of the output",
            ));
        }
        self.room_for(len)?;
        let start = self.out.len() - distance;
        // What a match appends repeats with period `distance` (a run of zeros in an object
        // is distance 1), so whole periods can be copied from `start` at once, the copy
        // doubling each time, instead of a byte at a time.
        if distance >= len {
            self.out.extend_from_within(start..start + len);
            return Ok(());
        }
        self.out.reserve(len);
        let mut remaining = len;
        while remaining > 0 {
            let periods = (self.out.len() - start) / distance * distance;
            let chunk = remaining.min(periods);
            self.out.extend_from_within(start..start + chunk);
            remaining -= chunk;
        }
        Ok(())
    }

    fn run(&mut self) -> Result<(), Problem> {
        let mut after = After::Match;
        if let Some(&first) = self.src.first().filter(|b| **b > 17) {
            self.pos = 1;
            let len = first as usize - 17;
            self.literals(len)?;
            after = if len < 4 {
                After::ShortLiterals
            } else {
                After::LongLiterals
            };
        }
        loop {
            let insn = self.byte()?;
            // Every match says how many literals follow it in the low bits of this byte.
            let (len, distance, tail_bits) = match insn {
                0..=15 => match after {
                    After::Match => {
                        let len = if insn == 0 {
                            self.extended_length(15)? + 3
                        } else {
                            insn + 3
                        };
                        self.literals(len)?;
                        after = After::LongLiterals;
                        continue;
                    }
                    After::ShortLiterals => (2, 1 + (insn >> 2) + (self.byte()? << 2), insn),
                    After::LongLiterals => (3, 2049 + (insn >> 2) + (self.byte()? << 2), insn),
                },
                16..=31 => {
                    let len = match insn & 7 {
                        0 => self.extended_length(7)? + 2,
                        n => n + 2,
                    };
                    let (low, high) = (self.byte()?, self.byte()?);
                    let distance = 16384 + ((insn & 8) << 11) + (high << 6) + (low >> 2);
                    if distance == 16384 {
                        // The end-of-stream marker; nothing may follow it.
                        return match self.pos == self.src.len() {
                            true => Ok(()),
                            false => Err(Problem::Corrupt("bytes after the end-of-stream marker")),
                        };
                    }
                    (len, distance, low)
                }
                32..=63 => {
                    let len = match insn & 31 {
                        0 => self.extended_length(31)? + 2,
                        n => n + 2,
                    };
                    let (low, high) = (self.byte()?, self.byte()?);
                    (len, 1 + (high << 6) + (low >> 2), low)
                }
                _ => {
                    let len = if insn >= 128 {
                        5 + ((insn >> 5) & 3)
                    } else {
                        3 + ((insn >> 5) & 1)
                    };
                    (len, 1 + ((insn >> 2) & 7) + (self.byte()? << 3), insn)
                }
            };
            self.copy_match(distance, len)?;
            let tail = tail_bits & 3;
            self.literals(tail)?;
            after = if tail == 0 {
                After::Match
            } else {
                After::ShortLiterals
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(data: &[u8]) {
        let packed = compress(data);
        let back = decompress("DOTI", &packed, data.len() as u64)
            .unwrap_or_else(|e| panic!("{} bytes: {e}", data.len()));
        assert!(back == data, "{} bytes came back different", data.len());
    }

    #[test]
    fn round_trips_text_binary_runs_and_sizes() {
        round_trip(b"");
        round_trip(b"a");
        round_trip(b"int main(void) { return 0; }\n");
        round_trip(&b"int main(void) { return 0; }\n".repeat(2000));
        round_trip(&vec![0u8; 300_000]);
        // A pseudo-random byte stream (xorshift), incompressible, and a half-repetitive one.
        let mut x: u32 = 0x1234_5678;
        let noise: Vec<u8> = (0..200_000)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                x as u8
            })
            .collect();
        round_trip(&noise);
        let mixed: Vec<u8> = noise
            .chunks(64)
            .flat_map(|c| c.iter().chain(b"struct lua_State *L;\n".iter()).copied())
            .collect();
        round_trip(&mixed);
        for len in 1..300 {
            round_trip(&noise[..len]);
        }
    }

    #[test]
    fn overlapping_matches_of_every_short_period_round_trip() {
        // A match shorter back than it is long copies what it is writing: each period from
        // 1 to 40 bytes, repeated far past one copy, between literals.
        for period in 1..=40u8 {
            let unit: Vec<u8> = (0..period).map(|i| i.wrapping_mul(37) ^ period).collect();
            let mut data = b"head".to_vec();
            data.extend(unit.repeat(700 / period as usize + 3));
            data.extend_from_slice(b"tail");
            round_trip(&data);
        }
        // A real object's mix of zero runs and code.
        round_trip(&std::fs::read(std::env::current_exe().unwrap()).unwrap()[..1 << 20]);
    }

    #[test]
    fn real_sources_round_trip() {
        for dir in ["src/protocol", "src/server", "src/client"] {
            for entry in std::fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_file() {
                    round_trip(&std::fs::read(path).unwrap());
                }
            }
        }
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        for garbage in [
            &b"\x00\x00\x00"[..],
            b"\xff\xff\xff\xff",
            b"\x11",
            b"",
            b"\x12abc\x40\x00",
            b"\x20\x00",
        ] {
            assert!(decompress("DOTI", garbage, 1 << 20).is_err(), "{garbage:?}");
        }
    }

    #[test]
    fn output_over_the_limit_is_refused() {
        let packed = compress(&vec![b'a'; 100_000]);
        assert!(matches!(
            decompress("DOTO", &packed, 1000),
            Err(ProtocolError::TooLong { .. })
        ));
    }

    #[test]
    fn a_tiny_bomb_is_refused_before_it_allocates() {
        // One literal, then a match of distance 1 whose length is extended by 100,000 zero
        // bytes (~25 MB of output from ~100 KB of input), then the end marker.
        let mut bomb = vec![18, b'a', 32];
        bomb.extend(std::iter::repeat_n(0u8, 100_000));
        bomb.extend([1, 0, 0, 0x11, 0, 0]);
        assert!(matches!(
            decompress("DOTI", &bomb, 1 << 20),
            Err(ProtocolError::TooLong { .. })
        ));
        let unbounded = decompress("DOTI", &bomb, u64::MAX).unwrap();
        assert_eq!(unbounded.len(), 1 + 2 + 31 + 255 * 100_000 + 1);
    }
}
