#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| kairoi_fuzz_harness::client_session(data));
