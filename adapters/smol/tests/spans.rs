//! The request spans of the async client on Smol (`kairoi-suite`'s
//! span case): a binary of its own, since it installs a global
//! subscriber.

mod harness;

kairoi_suite::span_suite!(kairoi_suite::restart::Async<harness::Smol>);
