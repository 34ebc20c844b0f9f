#![no_main]
// The body is distfarm_fuzz::checks::client_args_gcc (also run on stable by tests/fuzz_checks.rs).
libfuzzer_sys::fuzz_target!(|bytes: &[u8]| distfarm_fuzz::checks::client_args_gcc::fuzz(bytes));
