//! A blocking client for the [Kairoi](https://github.com/emerick42/kairoi)
//! job scheduler over std TCP.
//!
//! Kairoi runs *jobs* (an identifier and a UTC time) with the *rule* whose
//! pattern is the longest prefix of the job identifier, at least once after
//! their time: job handlers must be idempotent. The protocol cannot cancel
//! a job; reschedule it far ahead, or match it with a rule whose runner
//! ignores it. This crate speaks
//! its protocol, KCP, through the sans-IO core [`kairoi_proto`]:
//!
//! [`Client`] is for scripts and synchronous services: one call, one
//! outcome; [`Client::execute_all`] pipelines a batch of any size.
//!
//! ```
//! # use kairoi_test_server::TestServer;
//! use kairoi_std::{Client, DateTime, Instruction, Runner};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let server = TestServer::start()?;
//! # let addr = server.addr();
//! // `addr` is your Kairoi server, 127.0.0.1:5678 by default.
//! let mut client = Client::connect(addr)?;
//! client.set_rule("reports", "app.report.", Runner::shell("/srv/bin/report"))?;
//!
//! let when: DateTime = "2030-01-01 06:00:00".parse()?;
//! client.set_job("app.report.daily", when)?;
//!
//! // A thousand jobs in one pipelined batch: one result each, in order.
//! let batch: Vec<Instruction> = (0..1000)
//!     .map(|n| Instruction::set(format!("app.report.{n}"), when))
//!     .collect();
//! let results = client.execute_all(&batch);
//! assert!(results.iter().all(Result::is_ok));
//! # assert_eq!(server.job_count(), 1001);
//! # Ok(())
//! # }
//! ```
//!
//! # Outcomes
//!
//! Every request ends in exactly one result. A [`RequestError`] says what
//! happened to the request, which decides whether sending it again is
//! safe: [`RequestError::Rejected`] (the server answered `ERROR`),
//! [`RequestError::TimedOut`], [`RequestError::NotSent`] (never seen by the server: safe
//! to retry), [`RequestError::Unknown`] (written, then the connection ended: the
//! server may have applied it) and [`RequestError::Invalid`]. After a broken
//! connection the next call reconnects; requests are sent again only as a
//! [`RetryPolicy`] allows.
//!
//! # Testing
//!
//! To test code that schedules jobs without installing Kairoi, run it
//! against `TestServer`, a Kairoi server in memory, from the crate
//! [`kairoi-test-server`](https://docs.rs/kairoi-test-server). The feature
//! `testing` re-exports that crate as `kairoi_std::testing`.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod client;

/// The in-memory Kairoi server for tests, the crate `kairoi-test-server`
/// (feature `testing`): `kairoi_std::testing::TestServer`.
#[cfg(feature = "testing")]
pub use kairoi_test_server as testing;

pub use client::{Client, ClientBuilder, RetryPolicy};
pub use kairoi_client::stats;
pub use kairoi_client::{
    Backoff, Cause, Disconnected, OutcomeKind, RequestError, ServerAddr, Settings, Tally,
};
pub use kairoi_proto::{
    Config, ConnectionError, DateTime, DateTimeError, Instruction, Runner, SendError, Text,
};

/// The protocol core this crate drives.
pub use kairoi_proto as proto;

/// The README's examples, compiled and run as doctests.
#[cfg(doctest)]
mod readme {
    #[doc = include_str!("../README.md")]
    struct Crate;
}
