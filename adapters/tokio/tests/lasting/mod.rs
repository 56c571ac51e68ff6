//! A Tokio harness whose runtime outlives each `block_on`, for the cases
//! of a `BatchClient` (`kairoi_suite::restart::Async`): a client connected
//! in one `block_on` keeps its drivers running between the calls of a
//! case.

use std::sync::OnceLock;

/// Every case on one multi-threaded Tokio runtime of two workers, made
/// once per test binary.
pub struct Tokio;

impl kairoi_suite::Harness for Tokio {
    type Rt = kairoi_tokio::Tokio;

    fn block_on<F: std::future::Future>(future: F) -> F::Output {
        static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
        RUNTIME
            .get_or_init(|| {
                tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .enable_all()
                    .build()
                    .expect("a Tokio runtime")
            })
            .block_on(future)
    }
}
