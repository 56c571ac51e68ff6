//! How the shared suite (`kairoi-suite`) runs on smol.

/// Each case in `smol::block_on`, drivers on smol's global executor.
pub struct Smol;

impl kairoi_suite::Harness for Smol {
    type Rt = kairoi_smol::Smol;

    fn block_on<F: std::future::Future>(future: F) -> F::Output {
        smol::block_on(future)
    }
}
