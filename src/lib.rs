//! A sans-IO implementation of KCP, the text protocol of the
//! [Kairoi](https://github.com/emerick42/kairoi) time-based job scheduler.
//!
//! Applications send a Kairoi server *rules* (which runner handles which
//! job-identifier prefix) and *jobs* (an identifier and a UTC time). This
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
//! 1. Queue requests with [`Client::send`] (typed) or
//!    [`Client::send_arguments`] (raw); optionally give each a deadline
//!    with [`Client::set_deadline`].
//! 2. Write [`Client::poll_transmit`] to the socket and report how much was
//!    written with [`Client::consume_transmit`].
//! 3. Feed what the socket reads to [`Client::receive`], or call
//!    [`Client::receive_eof`] when it reads 0 bytes.
//! 4. Drain [`Client::poll_event`] until `None`: one [`Event::Outcome`] per
//!    request, and [`Event::Closed`] last, when the connection is over.
//! 5. Wait for the socket no later than [`Client::poll_timeout`], and call
//!    [`Client::handle_timeout`] when that instant has passed.
//!
//! Any call order is legal: commands only queue, polls drain. Keep reading
//! while you write: the reference server drops a connection whose
//! responses are not read.
//!
//! ```no_run
//! use std::io::{Read, Write};
//! use std::net::TcpStream;
//! use kairoi_proto::{Client, Config, DateTime, Event, Instruction, Runner};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let mut socket = TcpStream::connect("127.0.0.1:5678")?;
//! let mut client = Client::new(Config::default());
//! client.send(&Instruction::rule_set("mail", "app.mail.", Runner::shell("/bin/send-mail")))?;
//! let when: DateTime = "2030-01-01 08:00:00".parse()?;
//! for n in 0..3 {
//!     client.send(&Instruction::set(format!("app.mail.{n}"), when))?;
//! }
//! client.close(); // no more requests: Event::Closed comes once all are answered
//! let mut buf = [0u8; 4096];
//! loop {
//!     while let Some(bytes) = client.poll_transmit() {
//!         let written = socket.write(bytes)?;
//!         client.consume_transmit(written);
//!     }
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
//!     match socket.read(&mut buf)? {
//!         0 => client.receive_eof(),
//!         n => client.receive(&buf[..n]),
//!     }
//! }
//! # }
//! ```
//!
//! (This loop writes everything before reading, which is fine for a few
//! requests; a real adapter reads and writes at the same time and waits
//! until [`Client::poll_timeout`].)
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
//! later.
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
//! - `arbitrary`: `Arbitrary` implementations for fuzzing, and the bodies
//!   of the fuzz targets in the `fuzzing` module.

#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]
#![cfg_attr(docsrs, feature(doc_auto_cfg))]

extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

mod body;
pub mod client;
mod config;
mod datetime;
pub mod error;
#[cfg(feature = "arbitrary")]
pub mod fuzzing;
mod instruction;
mod instruction_ref;
pub mod server;
mod text;
mod text_ref;
pub mod wire;

pub use body::BodyRef;
pub use client::{Cancelled, Client, Event, Outcome, RequestId};
pub use config::Config;
pub use datetime::DateTime;
pub use error::{
    ConnectionError, DateTimeError, DecodeError, EncodeError, InstructionError, RespondError,
    SendError,
};
pub use instruction::{Argument, Arguments, Instruction, Runner};
pub use instruction_ref::{InstructionRef, RunnerRef};
pub use server::{
    InvalidInstruction, InvalidInstructionRef, Request, RequestRef, Server, ServerEvent,
    ServerEventRef, Status, Token,
};
pub use text::Text;
pub use text_ref::TextRef;

/// The README's examples, compiled as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct Readme;
