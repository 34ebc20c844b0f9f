//! The bodies of distfarm's fuzz targets, one module per parser (see `checks`), and the
//! allocation counter they check claimed lengths with. `fuzz_targets/*.rs` are one line
//! each; the main crate's `tests/fuzz_checks.rs` runs the same bodies on stable.

#[path = "checks/mod.rs"]
pub mod checks;

#[global_allocator]
static ALLOCATOR: checks::memory::Counting = checks::memory::Counting;
