//! The async client's live cases (`kairoi-suite`) on Tokio.
//!
//! `KAIROI_ADDR=127.0.0.1:5678 cargo test -p kairoi-tokio -p kairoi-smol --test live -- --nocapture --test-threads 1`
//! runs them against a Kairoi server; the README says how to start the
//! reference server for them.

struct Tokio;

impl kairoi_suite::Harness for Tokio {
    type Rt = kairoi_tokio::Tokio;

    fn block_on<F: std::future::Future>(future: F) -> F::Output {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a Tokio runtime")
            .block_on(future)
    }
}

kairoi_suite::live_suite!(Tokio);
