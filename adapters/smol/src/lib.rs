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
//! - Connections are made again on demand, with backoff; nothing is
//!   retried silently.
//! - [`Client::with_transport`] runs the client over any
//!   `futures_io::AsyncRead + AsyncWrite` transport the caller connected
//!   (TLS, a Unix socket, a pipe).
//! - Requests are traced as `kairoi_request` spans at debug level, with
//!   their queue time and round trip (no subscriber is installed).
//!
//! The API is the one of `kairoi-tokio`: switching runtimes is a change of
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

mod builder;
mod client;
mod command;
mod connection;
mod driver;

pub use builder::{ClientBuilder, RetryPolicy};
pub use client::Client;
pub use kairoi_proto::{Cause, Config, DateTime, Instruction, RequestError, Runner, Text};

/// The README's example compiles.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
