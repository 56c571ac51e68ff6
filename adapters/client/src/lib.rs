//! What every Kairoi client of this workspace shares, outside the sans-IO
//! core: [`RequestError`] and [`Cause`] (what happened to a request, and
//! why its connection ended), [`RetryPolicy`], [`Backoff`] with jitter,
//! the [`Liveness`] rule, [`Settings`] (one set of option names and
//! defaults for all three clients), [`ServerAddr`], [`Tally`] (requests
//! counted by how they ended), and the one request
//! engine: the slot of a multiplexed connection ([`mux`]) and the feeder
//! of batches and retries ([`feed`]).
//!
//! With the `async` feature it also holds the one async client,
//! [`Client`], generic over a small [`Runtime`] trait (spawn, timer,
//! connect, resolve): `kairoi-tokio` and `kairoi-smol` are this client
//! with their runtime's glue. Applications use those crates, or the
//! blocking `kairoi-std`, which re-export what they need from here.
//!
//! # One timeout rule for every client
//!
//! - A single call (`execute`, `set_job`, ...) never waits longer than
//!   its request timeout in all, reconnecting included.
//! - A batch admits its requests as the window frees up; each request's
//!   timeout starts when it enters the window, so a batch of any size
//!   completes while the server keeps answering, and the client holds at
//!   most a window per connection of it at once.
//! - A connection with active requests from which nothing is read for a
//!   request timeout is declared dead ([`Cause::Unresponsive`]) and
//!   replaced; what it had written ends [`RequestError::Unknown`].
//! - A request with no connection waits for one, while reconnect attempts
//!   back off with jitter, until its deadline, then ends
//!   [`RequestError::NotSent`] with the last connect error; a batch rides
//!   out a restart, and stops waiting once the server has been unreachable
//!   for a whole request timeout ([`Disconnected`]).
//!
//! # One engine
//!
//! [`mux::Mux`] decides the fate of every request of a connection slot
//! (admission into the window, deadlines, outcomes, the cause of an end,
//! liveness, when to connect again) and [`feed::Feeder`] feeds every
//! batch and every retry. Neither does I/O or reads a clock: the async
//! client drives them from a task per connection, the blocking client of
//! `kairoi-std` from the caller's thread.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod addr;
mod backoff;
mod calls;
mod error;
pub mod feed;
mod in_order;
mod liveness;
#[cfg(feature = "async")]
mod load;
mod metrics;
pub mod mux;
mod observe;
mod retry;
mod settings;
pub mod shard;
pub mod stats;
mod tally;
mod time;

#[cfg(feature = "async")]
mod asynch;

pub use addr::ServerAddr;
pub use backoff::{Backoff, Reconnect};
pub use error::{Cause, RequestError};
pub use in_order::InOrder;
pub use liveness::Liveness;
pub use retry::RetryPolicy;
pub use settings::{Disconnected, Settings};
pub use tally::{OutcomeKind, Tally};
pub use time::{deadline, instant_after};

#[cfg(feature = "async")]
pub use asynch::{Client, ClientBuilder, Runtime, Timer};

/// The protocol core the clients drive.
pub use kairoi_proto as proto;
