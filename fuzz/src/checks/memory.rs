//! Counts the bytes a thread has allocated, so a check can say "decoding these N bytes never
//! held more than a bound proportional to N": a parser that allocates by a length the peer
//! claimed, before the bytes arrive, breaks it at once (`ARGV7fffffff` and a closed socket).
//! The counter is installed as the global allocator by the fuzz crate and by the stable
//! test; without it [`bounded`] checks nothing.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

pub struct Counting;

thread_local! {
    static LIVE: Cell<usize> = const { Cell::new(0) };
    static PEAK: Cell<usize> = const { Cell::new(0) };
}

fn grew(n: usize) {
    let _ = LIVE.try_with(|live| {
        let now = live.get().saturating_add(n);
        live.set(now);
        let _ = PEAK.try_with(|peak| peak.set(peak.get().max(now)));
    });
}

fn shrank(n: usize) {
    let _ = LIVE.try_with(|live| live.set(live.get().saturating_sub(n)));
}

// SAFETY: every call is passed to `System` unchanged; only the counters are added.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            grew(layout.size());
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            grew(layout.size());
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        shrank(layout.size());
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            shrank(layout.size());
            grew(new_size);
        }
        p
    }
}

/// Fixed headroom: the runtime, error strings, small vectors.
pub const HEADROOM: usize = 1 << 20;
/// Bytes a decoder may hold per byte it was given. LZO legitimately expands up to ~255
/// times (a zero byte extends a match by 255) and a growing vector doubles: 1024 covers
/// that, and is still far below what a lying 32-bit length asks for.
pub const PER_INPUT_BYTE: usize = 1024;

/// Runs `decode` on `len` bytes of input and fails if it ever held more than
/// `HEADROOM + PER_INPUT_BYTE × len` bytes more than before.
pub fn bounded<R>(what: &str, len: usize, decode: impl FnOnce() -> R) -> R {
    let before = LIVE.with(Cell::get);
    PEAK.with(|peak| peak.set(before));
    let result = decode();
    let held = PEAK.with(Cell::get).saturating_sub(before);
    let bound = HEADROOM + PER_INPUT_BYTE * len;
    assert!(
        held <= bound,
        "{what}: decoding {len} bytes held {held} bytes at once (bound {bound}): \
         something allocated by a claimed length before the bytes arrived"
    );
    result
}

/// Whether [`Counting`] is the global allocator of this binary (the stable test checks it,
/// so a missing counter cannot pass silently).
pub fn counting() -> bool {
    let before = LIVE.with(Cell::get);
    let probe = std::hint::black_box(vec![0u8; 4096]);
    let during = LIVE.with(Cell::get);
    drop(probe);
    during >= before + 4096
}
