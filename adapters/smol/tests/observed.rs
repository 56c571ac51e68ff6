//! What the async client on Smol says it did (`kairoi-suite`'s
//! observed cases): its snapshot against the outcomes its calls returned.

mod harness;

kairoi_suite::observed_suite!(kairoi_suite::restart::Async<harness::Smol>);
