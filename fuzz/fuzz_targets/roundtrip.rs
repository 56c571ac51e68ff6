#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| kairoi_fuzz_harness::roundtrip(data));
