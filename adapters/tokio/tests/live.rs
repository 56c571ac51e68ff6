//! The async client's live cases (`kairoi-suite`) on Tokio: the batch
//! cases against the server at `KAIROI_ADDR`, and the restart case, which
//! starts and restarts a reference server of its own from the binary at
//! `KAIROI_REFERENCE_BIN`. The README's live check says how to run them.

mod harness;

kairoi_suite::live_suite!(harness::Tokio);
kairoi_suite::live_restart_suite!(kairoi_suite::restart::Async<harness::SharedTokio>);
