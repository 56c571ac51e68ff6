//! The async client's suite (`kairoi-suite`) on Tokio.

mod harness;

kairoi_suite::suite!(harness::Tokio);
