//! The cases of a client over several servers (`kairoi-suite`) on the
//! blocking client.

mod blocking;

kairoi_suite::shard_suite!(blocking::Blocking);
