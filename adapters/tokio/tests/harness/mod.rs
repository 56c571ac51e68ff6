//! How the shared suite (`kairoi-suite`) runs on Tokio.

/// Each case on a multi-threaded Tokio runtime of two workers.
pub struct Tokio;

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
