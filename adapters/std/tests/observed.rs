//! What the blocking client says it did (`kairoi-suite`'s observed
//! cases): its snapshot against the outcomes its calls returned.

mod blocking;

kairoi_suite::observed_suite!(blocking::Blocking);
