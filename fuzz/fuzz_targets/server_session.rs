#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| kairoi_fuzz_harness::server_session(data));
