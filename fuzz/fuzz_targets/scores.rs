#![no_main]
libfuzzer_sys::fuzz_target!(|bytes: &[u8]| transformer_mt_fuzz::scores(bytes));
