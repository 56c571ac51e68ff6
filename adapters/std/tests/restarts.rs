//! The restart cases (`kairoi-suite`) on the blocking client: a binary of
//! its own, run once, since they are big and one measures the process's
//! memory.

mod blocking;

kairoi_suite::restart_suite!(blocking::Blocking);
