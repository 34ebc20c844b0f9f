//! What the protocol targets share: a runtime to drive the async readers over a byte
//! slice, the writer side to build well-formed input, and corruptions applied to the bytes
//! afterwards (so most inputs get deep into a parser before something is wrong).

use std::future::Future;

use arbitrary::Arbitrary;
use distfarm::protocol::{Limits, TokenReader, TokenWriter};

thread_local! {
    static RUNTIME: tokio::runtime::Runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("a current-thread runtime");
}

/// Runs a future to completion (the readers' timeouts need a runtime with time).
pub fn block_on<F: Future>(future: F) -> F::Output {
    RUNTIME.with(|rt| rt.block_on(future))
}

/// The bytes a [`TokenWriter`] produced through `write`.
pub fn encode<E: std::fmt::Debug>(
    write: impl FnOnce(&mut TokenWriter<Vec<u8>>) -> Result<(), E>,
) -> Vec<u8> {
    let mut w = TokenWriter::new(Vec::new());
    write(&mut w).expect("well-formed input encodes");
    block_on(w.flush()).expect("writing to memory");
    w.into_inner()
}

/// A reader over `bytes` with the limits a real server uses.
pub fn reader(bytes: &[u8]) -> TokenReader<&[u8]> {
    TokenReader::new(bytes, Limits::default())
}

/// A body: arbitrary bytes, or a repeated unit (compressible, so LZO has matches to find).
#[derive(Arbitrary, Debug, Clone)]
pub enum Body {
    Bytes(Vec<u8>),
    Repeated { unit: Vec<u8>, times: u16 },
}

/// Bodies are kept under this so one input cannot ask the encoder for megabytes.
const MAX_BODY: usize = 1 << 14;

impl Body {
    pub fn bytes(&self) -> Vec<u8> {
        match self {
            Body::Bytes(b) => b.clone(),
            Body::Repeated { unit, times } => {
                let times = if unit.is_empty() { 0 } else { *times as usize };
                let times = times.min(MAX_BODY / unit.len().max(1));
                unit.repeat(times)
            }
        }
    }
}

/// One change to well-formed bytes. Positions wrap around the length.
#[derive(Arbitrary, Debug, Clone)]
pub enum Corruption {
    Flip {
        at: u16,
        xor: u8,
    },
    Truncate {
        at: u16,
    },
    Insert {
        at: u16,
        bytes: Vec<u8>,
    },
    Remove {
        at: u16,
        len: u8,
    },
    /// Rewrites the value of the `nth` packet header (4 letters, 8 hex digits): lying lengths.
    Lie {
        nth: u8,
        value: u32,
    },
}

pub fn corrupt(mut bytes: Vec<u8>, corruptions: &[Corruption]) -> Vec<u8> {
    for c in corruptions {
        let at = |at: u16, len: usize| at as usize % (len + 1);
        match c {
            Corruption::Flip { at: a, xor } => {
                if !bytes.is_empty() {
                    let i = *a as usize % bytes.len();
                    bytes[i] ^= xor;
                }
            }
            Corruption::Truncate { at: a } => {
                let i = at(*a, bytes.len());
                bytes.truncate(i);
            }
            Corruption::Insert { at: a, bytes: more } => {
                let i = at(*a, bytes.len());
                bytes.splice(i..i, more.iter().copied());
            }
            Corruption::Remove { at: a, len } => {
                let i = at(*a, bytes.len());
                let end = (i + *len as usize).min(bytes.len());
                bytes.drain(i..end);
            }
            Corruption::Lie { nth, value } => {
                let headers = header_positions(&bytes);
                if !headers.is_empty() {
                    let i = headers[*nth as usize % headers.len()];
                    bytes[i + 4..i + 12].copy_from_slice(format!("{value:08x}").as_bytes());
                }
            }
        }
    }
    bytes
}

/// Where something that looks like a packet header starts.
fn header_positions(bytes: &[u8]) -> Vec<usize> {
    (0..bytes.len().saturating_sub(11))
        .filter(|&i| {
            bytes[i..i + 4].iter().all(u8::is_ascii_uppercase)
                && bytes[i + 4..i + 12].iter().all(u8::is_ascii_hexdigit)
        })
        .collect()
}
