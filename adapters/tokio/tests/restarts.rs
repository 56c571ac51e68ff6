//! The restart cases (`kairoi-suite`) on Tokio: a binary of its own, run
//! once, since they are big and one measures the process's memory.

use std::sync::OnceLock;

/// Every case on one multi-threaded Tokio runtime of two workers, which
/// outlives each `block_on`: a client's drivers keep running between the
/// calls of a case.
struct Tokio;

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

kairoi_suite::restart_suite!(kairoi_suite::restart::Async<Tokio>);
