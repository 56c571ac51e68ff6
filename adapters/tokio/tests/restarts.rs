//! The restart cases (`kairoi-suite`) on Tokio: a binary of its own, run
//! once, since they are big and one measures the process's memory.

mod lasting;

kairoi_suite::restart_suite!(kairoi_suite::restart::Async<lasting::Tokio>);
