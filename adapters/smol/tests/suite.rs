//! The async client's suite (`kairoi-suite`) on smol.

mod harness;

kairoi_suite::suite!(harness::Smol);
