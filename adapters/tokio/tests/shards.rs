//! The cases of a client over several servers (`kairoi-suite`) on the
//! async client on Tokio.

mod harness;

kairoi_suite::shard_suite!(kairoi_suite::restart::Async<harness::SharedTokio>);
