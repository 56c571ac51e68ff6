//! A sans-IO implementation of KCP, the text protocol of the
//! [Kairoi](https://github.com/emerick42/kairoi) time-based job scheduler.
//!
//! Applications send a Kairoi server *rules* (which runner handles which
//! job-identifier prefix) and *jobs* (an identifier and a UTC time); the
//! server runs each job at least once after its time, so job handlers must
//! be idempotent. The protocol has no instruction to cancel a job:
//! reschedule it far ahead, or match it with a rule whose runner ignores
//! it. This
//! crate is the protocol without the I/O: [`Client`] and [`Server`] are pure
//! state machines that turn bytes into events and commands into bytes. They
//! never touch a socket or a clock, so the same code runs in a blocking
//! program, any async runtime, a custom event loop, a fuzzer or a test.
//! Ready-made adapters live in the `kairoi-std`, `kairoi-tokio` and
//! `kairoi-smol` crates.
//!
//! The traps of the reference server are closed here: identifiers are
//! short base-36 counters (the server echoes them unquoted), responses are
//! matched by identifier in any order, an argument is quoted exactly when
//! it needs it (empty, or holding a space, a quote or a line feed) so that
//! no value can inject a request or leave a quote open, and every request
//! ends in exactly one [`Outcome`], even when the connection dies. The
//! protocol, with what the reference server really does, is in
//! `docs/protocol.md` of the repository.
//!
//! # The run loop
//!
//! A connection is driven by one loop that moves bytes and time between
//! the transport and the [`Client`]. Each turn:
//!
//! 1. **Commands.** Queue requests with [`Client::send`] (typed) or
//!    [`Client::send_arguments`] (raw), each with a deadline if it has one
//!    ([`Client::set_deadline`]); [`Client::close`] when there will be no
//!    more.
//! 2. **Transmit.** Write [`Client::poll_transmit`] to the transport and
//!    report what it took with [`Client::consume_transmit`] (this is how
//!    [`Outcome::NotSent`] is told from [`Outcome::Unknown`]); or hand
//!    everything over with [`Client::transmit_into`].
//! 3. **Wait** for the transport to be readable (or writable, while bytes
//!    remain), no later than [`Client::poll_timeout`].
//! 4. **Inputs.** Feed what it read to [`Client::receive`] (0 bytes:
//!    [`Client::receive_eof`]; an error: [`Client::abort`]); if the wait
//!    ended at the deadline, call [`Client::handle_timeout`] with the
//!    current time.
//! 5. **Events.** Drain [`Client::poll_event`] until `None`: one
//!    [`Event::Outcome`] per request, and [`Event::Closed`] last, when the
//!    connection is over; then close the transport.
//!
//! When each output is worth polling again:
//!
//! - [`Client::poll_transmit`]: after a command (`send`, `send_arguments`),
//!   and after `consume_transmit` left bytes;
//! - [`Client::poll_event`]: after `receive`, `receive_eof`,
//!   `handle_timeout`, `abort`, `cancel` or `close`;
//! - [`Client::poll_timeout`]: after `send`, `set_deadline`, `cancel`,
//!   `receive` and `handle_timeout` (a deadline was added, or a request
//!   ended).
//!
//! Any call order is legal: commands only queue, polls drain, and a
//! spurious [`Client::handle_timeout`] (before any deadline) does nothing.
//! Time must never go backwards: the client compares instants only, so a
//! clock that jumps back delays timeouts until it has caught up, and one
//! that jumps forward times requests out early; use a monotonic clock
//! (`std::time::Instant`). Keep reading while you write: the reference
//! server drops a connection whose responses are not read.
//!
//! ```no_run
//! use std::io::{ErrorKind, Read, Write};
//! use std::net::TcpStream;
//! use std::time::{Duration, Instant};
//! use kairoi_proto::{Client, Config, DateTime, Event, Instruction, Runner};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let mut socket = TcpStream::connect("127.0.0.1:5678")?;
//! let mut client = Client::new(Config::default());
//! // 1. Commands: a rule and three jobs, each with five seconds to answer.
//! let deadline = Instant::now() + Duration::from_secs(5);
//! let rule = client.send(&Instruction::rule_set("mail", "app.mail.", Runner::shell("/bin/send-mail")))?;
//! client.set_deadline(rule, deadline);
//! let when: DateTime = "2030-01-01 08:00:00".parse()?;
//! for n in 0..3 {
//!     let id = client.send(&Instruction::set(format!("app.mail.{n}"), when))?;
//!     client.set_deadline(id, deadline);
//! }
//! client.close(); // no more requests: Event::Closed comes once all have ended
//! let mut buf = [0u8; 4096];
//! loop {
//!     // 2. Transmit (a blocking socket takes all of a small batch).
//!     while let Some(bytes) = client.poll_transmit() {
//!         let written = socket.write(bytes)?;
//!         client.consume_transmit(written);
//!     }
//!     // 3. Wait, no later than the next deadline.
//!     let wait = client.poll_timeout().map(|t| t.saturating_duration_since(Instant::now()));
//!     socket.set_read_timeout(wait.map(|w| w.max(Duration::from_millis(1))))?;
//!     // 4. Inputs: bytes, the end of the stream, an error, or the time.
//!     match socket.read(&mut buf) {
//!         Ok(0) => client.receive_eof(),
//!         Ok(n) => client.receive(&buf[..n]),
//!         Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
//!             client.handle_timeout(Instant::now());
//!         }
//!         Err(e) if e.kind() == ErrorKind::Interrupted => {}
//!         Err(_) => client.abort(),
//!     }
//!     // 5. Events: every request ends exactly once, then the connection.
//!     while let Some(event) = client.poll_event() {
//!         match event {
//!             Event::Outcome { id, outcome } => println!("request {id}: {outcome:?}"),
//!             Event::Closed { error } => {
//!                 println!("closed: {error:?}");
//!                 return Ok(());
//!             }
//!             _ => {}
//!         }
//!     }
//! }
//! # }
//! ```
//!
//! `examples/custom_event_loop.rs` runs the same loop over several
//! non-blocking connections with `mio`.
//!
//! # The server role
//!
//! [`Server`] is the other side: [`Server::receive`] takes request bytes,
//! [`Server::poll_event`] yields each [`Request`] with its typed
//! [`Instruction`] (texts that share the receive buffer, no copy), and
//! [`Server::respond`] queues the answer, in any order, for
//! [`Server::poll_transmit`]. [`Server::poll_event_ref`] yields the same
//! requests borrowed from the receive buffer until the next call
//! ([`InstructionRef`], [`TextRef`]): no allocation and no reference count
//! per request, for servers that look at a request and copy only what they
//! keep. Either way the [`Token`] owns the identifier, so answers can come
//! later. Answers quote the identifier as needed, so that any identifier
//! round-trips; [`IdentifierEcho::Unquoted`] writes it back as the
//! reference server does, for a server that must answer exactly as Kairoi.
//!
//! # Several servers
//!
//! Kairoi has no cluster mode: an application runs several servers and
//! spreads its jobs over them by identifier. [`placement::place`] is that
//! placement, a fixed function of the identifier and the servers' names
//! (rendezvous hashing with XXH64), written out step by step in
//! [`placement`] so that clients in any language agree on it.
//!
//! # Limits
//!
//! [`Config`] bounds the longest message (64 KiB), the arguments per
//! message (64) and the active requests (1,024). Limits are checked on the
//! bytes, so the result never depends on how TCP split them.
//!
//! # Features
//!
//! - `std` (default): `std::time::Instant` as the default time type,
//!   `std::error::Error`, [`DateTime`] conversions with `SystemTime`.
//!   Without it the crate is `no_std` with `alloc`.
//! - `jiff-1`, `chrono-04`, `time-03`: [`DateTime`] conversions.
//! - `arbitrary`: `Arbitrary` implementations of the public types, for
//!   fuzzing.

#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]
#![cfg_attr(docsrs, feature(doc_auto_cfg))]

extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

pub mod client;
mod config;
mod datetime;
pub mod error;
mod instruction;
pub mod placement;
pub mod server;
mod text;
pub mod wire;

pub use client::{Cancelled, Client, DefaultTime, Event, Outcome, RequestId};
pub use config::Config;
pub use datetime::DateTime;
pub use error::{
    ConnectionError, DateTimeError, DecodeError, EncodeError, InstructionError, RespondError,
    SendError,
};
pub use instruction::{
    Argument, Arguments, BodyRef, Instruction, InstructionRef, Runner, RunnerRef,
};
pub use server::{
    IdentifierEcho, InvalidInstruction, InvalidInstructionRef, LossyUtf8, Request, RequestRef,
    Server, ServerEvent, ServerEventRef, Status, Token,
};
pub use text::{Text, TextRef};

/// The README's examples, compiled as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct Readme;
