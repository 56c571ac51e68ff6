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
//! - Connections are made again on demand, with backoff; nothing is
//!   retried silently.
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
//! With the `codec` feature, [`codec::KcpCodec`] plugs KCP messages into a
//! `tokio_util::codec::Framed` stack.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod builder;
mod client;
#[cfg(feature = "codec")]
pub mod codec;
mod command;
mod connection;
mod driver;

pub use builder::{ClientBuilder, RetryPolicy};
pub use client::Client;
pub use kairoi_proto::{Cause, Config, DateTime, Instruction, RequestError, Runner, Text};
