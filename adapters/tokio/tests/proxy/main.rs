//! The proxy in process (`kairoi_tokio::proxy`), in front of three
//! `TestServer`s: what it forwards and where, how it answers, many
//! short-lived downstream connections, and bounded memory for clients
//! that read slowly or not at all.

mod bounded;
mod fixture;
mod forwarding;
mod many;
