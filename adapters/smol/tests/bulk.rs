//! The async client's bulk case (`kairoi-suite`) on smol: a binary of
//! its own, since it measures the process's memory.

mod harness;

kairoi_suite::bulk_suite!(harness::Smol);
