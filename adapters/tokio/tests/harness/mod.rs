//! How the shared suite (`kairoi-suite`) runs on Tokio.

#![allow(dead_code)]

use std::sync::OnceLock;

/// A multi-threaded Tokio runtime of two workers.
fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a Tokio runtime")
}

/// Each case on a runtime of its own.
pub struct Tokio;

impl kairoi_suite::Harness for Tokio {
    type Rt = kairoi_tokio::Tokio;

    fn block_on<F: std::future::Future>(future: F) -> F::Output {
        runtime().block_on(future)
    }
}

/// Every call on one runtime that outlives each `block_on`: a client's
/// drivers keep running between the calls of a case.
pub struct SharedTokio;

impl kairoi_suite::Harness for SharedTokio {
    type Rt = kairoi_tokio::Tokio;

    fn block_on<F: std::future::Future>(future: F) -> F::Output {
        static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
        RUNTIME.get_or_init(runtime).block_on(future)
    }
}
