//! The async client's suite (`kairoi-suite`) on smol.

struct Smol;

impl kairoi_suite::Harness for Smol {
    type Rt = kairoi_smol::Smol;

    fn block_on<F: std::future::Future>(future: F) -> F::Output {
        smol::block_on(future)
    }
}

kairoi_suite::suite!(Smol);
