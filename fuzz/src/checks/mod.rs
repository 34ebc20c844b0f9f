//! One module per fuzz target: each has an `Input` (derived `Arbitrary`: well-formed
//! messages with occasional corruptions, where plain bytes would never get past the first
//! token) and `fuzz(bytes)`, the target's whole body. A round trip or a differential is
//! checked wherever one exists; every decode of peer bytes runs under
//! [`memory::bounded`].
//!
//! The same file is compiled by the fuzz crate (`cargo +nightly fuzz`) and by the main
//! crate's stable test `fuzz_checks`, which replays seeds and regressions and a few thousand
//! pseudo-random inputs per target.

use arbitrary::{Arbitrary, Unstructured};

pub mod memory;
pub mod wire;

pub mod agent;
pub mod arg_rules;
pub mod assembly;
pub mod client_args;
pub mod client_args_gcc;
pub mod hashed_tree;
pub mod hosts;
pub mod known_hosts;
pub mod lzo;
pub mod pump_tree;
pub mod reply;
pub mod request;
pub mod ssh_config;

/// A target's body: whatever bytes libFuzzer (or the stable replay) hands it.
pub type Body = fn(&[u8]);

/// Every target: its name (as in `fuzz_targets/NAME.rs`, `seeds/NAME/`, `regressions/NAME/`)
/// and its body.
pub const TARGETS: &[(&str, Body)] = &[
    ("request", request::fuzz),
    ("reply", reply::fuzz),
    ("lzo", lzo::fuzz),
    ("pump_tree", pump_tree::fuzz),
    ("hashed_tree", hashed_tree::fuzz),
    ("agent", agent::fuzz),
    ("hosts", hosts::fuzz),
    ("ssh_config", ssh_config::fuzz),
    ("known_hosts", known_hosts::fuzz),
    ("arg_rules", arg_rules::fuzz),
    ("assembly", assembly::fuzz),
    ("client_args", client_args::fuzz),
    ("client_args_gcc", client_args_gcc::fuzz),
];

/// Builds `T` from the bytes the way libfuzzer-sys does for a typed target (inputs that
/// do not make a `T` are skipped), and checks it.
pub fn structured<T: for<'a> Arbitrary<'a>>(bytes: &[u8], check: impl FnOnce(T)) {
    if let Ok(input) = T::arbitrary_take_rest(Unstructured::new(bytes)) {
        check(input);
    }
}

/// A word from a vocabulary, or free text.
#[derive(Arbitrary, Debug, Clone)]
pub struct Word {
    pub index: u8,
    pub free: String,
}

impl Word {
    pub fn pick<'a>(&'a self, vocabulary: &'a [&'a str]) -> &'a str {
        // About one word in four is free text.
        let i = self.index as usize % (vocabulary.len() + vocabulary.len() / 3 + 1);
        vocabulary.get(i).copied().unwrap_or(&self.free)
    }
}
