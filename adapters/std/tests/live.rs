//! The blocking client's live case (`kairoi-suite`): a batch through a
//! restart of the reference server, which the case starts and restarts
//! itself from the binary at `KAIROI_REFERENCE_BIN`. The README's live
//! check says how to run it.

mod blocking;

kairoi_suite::live_restart_suite!(blocking::Blocking);
