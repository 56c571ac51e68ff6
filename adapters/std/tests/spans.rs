//! The blocking client's request spans (`kairoi-suite`'s span case): a
//! binary of its own, since it installs a global subscriber.

mod blocking;

kairoi_suite::span_suite!(blocking::Blocking);
