//! The async client's live cases (`kairoi-suite`) on Tokio.
//!
//! `KAIROI_ADDR=127.0.0.1:5678 cargo test -p kairoi-tokio -p kairoi-smol --test live -- --ignored --nocapture --test-threads 1`
//! runs them against a Kairoi server; the README says how to start the
//! reference server for them.

mod harness;

kairoi_suite::live_suite!(harness::Tokio);
