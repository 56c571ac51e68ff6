//! A [Tokio](https://tokio.rs) client for KCP, the protocol of the Kairoi
//! time-based job scheduler, built on the sans-IO
//! [`kairoi_proto`] core.
//!
//! - [`Client`] is `Clone + Send + Sync`: clones share one connection, or a
//!   pool of them, and requests from many tasks are pipelined together.
//! - Every request ends in exactly one result: `Ok(())` for `OK`, or a
//!   [`RequestError`] that says whether the server rejected it, it timed
//!   out, it was never sent, or its outcome is unknown.
//! - Every future is cancellation-safe (see each method's
//!   `# Cancel safety`).
//! - One timeout rule: a single call ends within its request timeout in
//!   all, reconnecting included; a batch ([`Client::execute_each`],
//!   [`Client::execute_all`]) streams through the window, each request
//!   timed from when it enters it; a connection that reads nothing for a
//!   request timeout while requests are active is replaced.
//! - Connections are made again on demand, with backoff and jitter, the
//!   address resolved again each time; nothing is retried silently.
//! - Requests are traced as `kairoi_request` spans at debug level, with
//!   their queue time and round trip (no subscriber is installed).
//!
//! ```no_run
//! use kairoi_tokio::{Client, DateTime, Runner};
//!
//! # #[tokio::main] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let client = Client::connect("127.0.0.1:5678").await?;
//! client.set_rule("mail", "app.mail.", Runner::shell("/bin/send-mail")).await?;
//! let when: DateTime = "2030-01-01 08:00:00".parse()?;
//! let mut tasks = Vec::new();
//! for n in 0..100 {
//!     let client = client.clone();
//!     tasks.push(tokio::spawn(async move { client.set_job(format!("app.mail.{n}"), when).await }));
//! }
//! for task in tasks {
//!     task.await??;
//! }
//! client.close().await;
//! # Ok(()) }
//! ```
//!
//! The client is [`kairoi_client::Client`] on the [`Tokio`] runtime: the
//! same code as `kairoi-smol`'s, so switching runtimes is a change of
//! import. [`Client::with_transport`] takes any `futures-io` transport; a
//! Tokio one is adapted with `tokio_util::compat`:
//!
//! ```no_run
//! use tokio_util::compat::TokioAsyncReadCompatExt;
//! # async fn run() -> std::io::Result<()> {
//! let stream = tokio::net::TcpStream::connect("127.0.0.1:5678").await?;
//! let client = kairoi_tokio::Client::with_transport(stream.compat(), kairoi_tokio::Client::builder());
//! # Ok(()) }
//! ```
//!
//! With the `codec` feature, [`codec::KcpCodec`] plugs KCP messages into a
//! `tokio_util::codec::Framed` stack.
//!
//! The server side, for fronts that speak Kairoi's protocol to their own
//! clients:
//!
//! - feature `serve`: `serve::serve`, the serving loop of a
//!   Kairoi-compatible server (accept, the core's `Server` role on each
//!   connection with bounded memory, each request handed to a `Handler`);
//! - feature `proxy`: `proxy::Proxy`, several Kairoi servers behind one
//!   address, built on `serve` and this crate's client (what
//!   `kairoi-cli proxy` runs).

#![forbid(unsafe_code)]
#![warn(missing_docs)]

#[cfg(feature = "codec")]
pub mod codec;
#[cfg(feature = "proxy")]
pub mod proxy;
mod runtime;
#[cfg(feature = "serve")]
pub mod serve;

pub use runtime::{Tokio, TokioTimer};

/// A KCP client on Tokio: see [`kairoi_client::Client`].
pub type Client = kairoi_client::Client<Tokio>;
/// The settings of a [`Client`]: see [`kairoi_client::ClientBuilder`].
pub type ClientBuilder = kairoi_client::ClientBuilder<Tokio>;

pub use kairoi_client::stats;
pub use kairoi_client::{
    Backoff, Cause, Disconnected, OutcomeKind, RequestError, RetryPolicy, ServerAddr, Settings,
    Tally,
};
pub use kairoi_proto::{Config, DateTime, Instruction, Runner, Text};

/// The README's example compiles.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
