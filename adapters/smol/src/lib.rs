//! A [smol](https://docs.rs/smol) client for KCP, the protocol of the
//! Kairoi time-based job scheduler, built on the sans-IO
//! [`kairoi_proto`] core. It depends on smol and its building blocks
//! (`async-io`, `futures-lite`), never on Tokio.
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
//! - [`Client::with_transport`] runs the client over any
//!   `futures_io::AsyncRead + AsyncWrite` transport the caller connected
//!   (TLS, a Unix socket, a pipe; the reference server listens on TCP
//!   only, so such transports reach it through a proxy).
//! - Requests are traced as `kairoi_request` spans at debug level, with
//!   their queue time and round trip (no subscriber is installed).
//!
//! The client is [`kairoi_client::Client`] on the [`Smol`] runtime: the
//! same code as `kairoi-tokio`'s, so switching runtimes is a change of
//! import. Driver tasks run on smol's global executor
//! ([`smol::spawn`](https://docs.rs/smol/latest/smol/fn.spawn.html)), so
//! the client works from any executor, `smol::block_on` included.
//!
//! ```no_run
//! use kairoi_smol::{Client, DateTime, Runner};
//!
//! fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     smol::block_on(async {
//!         let client = Client::connect("127.0.0.1:5678").await?;
//!         client.set_rule("mail", "app.mail.", Runner::shell("/bin/send-mail")).await?;
//!         let when: DateTime = "2030-01-01 08:00:00".parse()?;
//!         let mut tasks = Vec::new();
//!         for n in 0..100 {
//!             let client = client.clone();
//!             tasks.push(smol::spawn(async move {
//!                 client.set_job(format!("app.mail.{n}"), when).await
//!             }));
//!         }
//!         for task in tasks {
//!             task.await?;
//!         }
//!         client.close().await;
//!         Ok(())
//!     })
//! }
//! ```

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod runtime;

pub use runtime::{Smol, SmolTimer};

/// A KCP client on smol: see [`kairoi_client::Client`].
pub type Client = kairoi_client::Client<Smol>;
/// The settings of a [`Client`]: see [`kairoi_client::ClientBuilder`].
pub type ClientBuilder = kairoi_client::ClientBuilder<Smol>;

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
