//! The async client's live cases (`kairoi-suite`) on smol.
//!
//! `KAIROI_ADDR=127.0.0.1:5678 cargo test -p kairoi-tokio -p kairoi-smol --test live -- --nocapture --test-threads 1`
//! runs them against a Kairoi server; the README says how to start the
//! reference server for them.

struct Smol;

impl kairoi_suite::Harness for Smol {
    type Rt = kairoi_smol::Smol;

    fn block_on<F: std::future::Future>(future: F) -> F::Output {
        smol::block_on(future)
    }
}

kairoi_suite::live_suite!(Smol);
