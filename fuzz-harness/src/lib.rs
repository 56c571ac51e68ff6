//! The bodies of the fuzz targets of `kairoi-proto`, shared by the
//! cargo-fuzz crate (`fuzz/`) and this crate's corpus replay in `cargo test`.
//!
//! Each function takes the raw input of one target, builds its own
//! [`arbitrary::Unstructured`] from it, drives the decoder or a state
//! machine, and panics on the first broken invariant. Any byte string is a
//! valid input: a short one simply ends the session early. The seed corpus
//! under `fuzz/corpus/<target>/` is replayed through these functions by
//! `cargo test`, and the [`seed`] builders write inputs in their format.
//!
//! | target | drives | checks |
//! | --- | --- | --- |
//! | [`decode_messages`] | [`Decoder`](kairoi_proto::wire::Decoder) | no panic; a simple reference parser, the whole input and any chunking give the same messages and outcome; buffered bytes stay within the limit plus one chunk |
//! | [`client_session`] | [`Client`](kairoi_proto::Client) against a [`Server`](kairoi_proto::Server) | exactly one outcome per request, none after `Closed`, `Closed` once and last, `in_flight` and `poll_timeout` consistent, the wire always well-formed, outcomes consistent with what the server side received |
//! | [`server_session`] | [`Server`](kairoi_proto::Server) | requests match a plain decoder of the same bytes, responses in any order decode to the right identifiers and statuses, backpressure and the end of stream are consistent |
//! | [`roundtrip`](fn@roundtrip) | [`encode_message`](kairoi_proto::wire::encode_message), [`Client`](kairoi_proto::Client), [`Server`](kairoi_proto::Server) | arguments and instructions come back identical, with the same number of arguments and messages |
//!
//! The harness drives `kairoi-proto` through its public API only. It is
//! not published.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

extern crate alloc;

mod client;
mod decode;
mod input;
mod roundtrip;
pub mod seed;
mod server;

pub use client::client_session;
pub use decode::decode_messages;
pub use roundtrip::roundtrip;
pub use server::server_session;
