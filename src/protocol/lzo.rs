//! Protocol-2 body compression: one raw LZO1X-1 block per payload, no header, no length.
//!
//! `lzo1x` compresses fast (LZO1X-1) but can only decompress into a buffer of the exact final
//! size, which distcc never sends; `lzokay-native` decompresses without knowing the size.
//! Both were checked against the real distccd 3.4 (see tests/interop_*).

use super::ProtocolError;

pub fn compress(data: &[u8]) -> Vec<u8> {
    // Level 3 is `compress_1` with 14 dictionary bits: exactly miniLZO's `lzo1x_1_compress`.
    lzo1x::compress(data, lzo1x::CompressLevel::new(3))
}

/// Decompresses one block, refusing to produce more than `limit` bytes.
pub fn decompress(token: &'static str, data: &[u8], limit: u64) -> Result<Vec<u8>, ProtocolError> {
    let out =
        lzokay_native::decompress_all(data, Some(data.len().saturating_mul(4))).map_err(|e| {
            ProtocolError::Decompress {
                token,
                detail: e.to_string(),
            }
        })?;
    if out.len() as u64 > limit {
        return Err(ProtocolError::TooLong {
            token,
            len: out.len() as u64,
            limit,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_source_text() {
        let text = b"int main(void) { return 0; }\n".repeat(200);
        let packed = compress(&text);
        assert!(packed.len() < text.len() / 4);
        assert_eq!(decompress("DOTI", &packed, 1 << 20).unwrap(), text);
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        for garbage in [&b"\x00\x00\x00"[..], b"\xff\xff\xff\xff", b"\x11", b""] {
            assert!(decompress("DOTI", garbage, 1 << 20).is_err());
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
}
