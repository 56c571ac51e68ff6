//! Building blocks for multiplexing adapters (`kairoi-tokio`,
//! `kairoi-smol`): the bookkeeping of one connection shared by many
//! callers, independent of any runtime.
//!
//! An adapter's driver task owns a [`Mux`] and its transport. Callers send
//! it [`Command`]s over a channel; each request carries a [`Reply`], the
//! adapter's way back to its caller. The driver loop is then only I/O:
//!
//! 1. [`Mux::handle`] each command (and [`Mux::handles_dropped`] when the
//!    channel ends), then [`Mux::admit`] queued requests into the window;
//! 2. write [`Mux::poll_transmit`] and [`Mux::consume_transmit`];
//! 3. read into [`Mux::receive`] / [`Mux::receive_eof`], or report
//!    [`Mux::transport_failed`];
//! 4. [`Mux::poll_events`] wakes callers; once [`Mux::closed_cause`] is
//!    set, close the channel, [`Job::reject`] what is left in it, call
//!    [`Mux::settle`] and end;
//! 5. sleep until [`Mux::next_deadline`], then [`Mux::handle_timeout`].

use std::boxed::Box;
use std::collections::{HashMap, VecDeque};
use std::io;
use std::string::String;
use std::time::{Duration, Instant};
use std::vec::Vec;

use crate::client::{Client, Event, Outcome, RequestId};
use crate::config::Config;
use crate::instruction::Instruction;
use crate::request_error::{Cause, RequestError};

mod support;

pub use support::{Load, Reconnect, RetryPolicy, backoff, instant_after, least_loaded, retry};

/// A request body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Body {
    /// A typed instruction.
    Typed(Instruction),
    /// Any arguments (see [`Client::send_arguments`]).
    Raw(Vec<String>),
}

/// The way back to one request's caller.
pub trait Reply {
    /// Whether the caller stopped waiting: a request still queued is then
    /// dropped without being sent.
    fn is_closed(&self) -> bool;

    /// Called once the request is handed to the state machine as `id`,
    /// after waiting `queued` for room in the window.
    fn sent(&mut self, id: RequestId, queued: Duration) {
        let _ = (id, queued);
    }

    /// Delivers the result: `Ok(())` for `OK`.
    fn send(self, result: Result<(), RequestError>);
}

/// One request on its way to a driver.
#[derive(Debug)]
pub struct Job<R> {
    /// Names the request for [`Command::Cancel`].
    pub ticket: u64,
    /// What to send.
    pub body: Body,
    /// When the request times out, queue time included.
    pub deadline: Instant,
    /// When the caller submitted it.
    pub queued_at: Instant,
    /// The way back to the caller.
    pub reply: R,
}

impl<R> Job<R> {
    /// A request submitted `now`, timing out `timeout` later.
    pub fn new(ticket: u64, body: Body, now: Instant, timeout: Duration, reply: R) -> Self {
        Job {
            ticket,
            body,
            deadline: instant_after(now, timeout),
            queued_at: now,
            reply,
        }
    }
}

impl<R: Reply> Job<R> {
    /// Answers a request that will never be sent.
    pub fn reject(self, cause: Cause) {
        self.reply.send(Err(RequestError::NotSent { cause }));
    }
}

/// What callers send to a connection's driver.
#[derive(Debug)]
pub enum Command<R> {
    /// Send a request.
    Send(Box<Job<R>>),
    /// The caller of this ticket stopped waiting.
    Cancel(u64),
    /// Finish the requests already submitted, then close; abort at the
    /// deadline.
    Close {
        /// When to abort what is still active.
        deadline: Instant,
    },
}

struct Waiter<R> {
    ticket: u64,
    reply: R,
}

/// The state of one multiplexed connection: the protocol state machine,
/// requests waiting for room in the window, and the callers waiting for
/// their outcome.
pub struct Mux<R> {
    core: Client<Instant>,
    queue: VecDeque<Job<R>>,
    waiters: HashMap<RequestId, Waiter<R>>,
    tickets: HashMap<u64, RequestId>,
    /// Requests ended by the connection's end, answered once its cause is
    /// known.
    ended: Vec<(Waiter<R>, Outcome)>,
    closing: Option<Instant>,
    transport_error: Option<Cause>,
    closed: Option<Cause>,
    eof: bool,
    request_timeout: Duration,
    close_timeout: Duration,
}

impl<R> core::fmt::Debug for Mux<R> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Mux")
            .field("queued", &self.queue.len())
            .field("waiting", &self.waiters.len())
            .field("closing", &self.closing)
            .field("closed", &self.closed)
            .finish()
    }
}

impl<R: Reply> Mux<R> {
    /// A connection with the limits of `config`. `request_timeout` is
    /// reported in [`RequestError::TimedOut`]; `close_timeout` bounds how
    /// long submitted requests are finished once every handle is gone.
    pub fn new(config: Config, request_timeout: Duration, close_timeout: Duration) -> Self {
        Mux {
            core: Client::new(config),
            queue: VecDeque::new(),
            waiters: HashMap::new(),
            tickets: HashMap::new(),
            ended: Vec::new(),
            closing: None,
            transport_error: None,
            closed: None,
            eof: false,
            request_timeout,
            close_timeout,
        }
    }

    /// Takes one command from a caller.
    pub fn handle(&mut self, command: Command<R>) {
        match command {
            Command::Send(job) if self.closing.is_some() || self.closed.is_some() => {
                job.reject(Cause::Closed);
            }
            Command::Send(job) => self.queue.push_back(*job),
            Command::Cancel(ticket) => {
                // A ticket still queued is skipped by `admit`: its reply is
                // closed.
                if let Some(id) = self.tickets.remove(&ticket) {
                    self.waiters.remove(&id);
                    self.core.cancel(id);
                }
            }
            Command::Close { deadline } => self.start_closing(deadline),
        }
    }

    /// Every handle is gone: finish what was submitted, within the close
    /// timeout.
    pub fn handles_dropped(&mut self, now: Instant) {
        self.start_closing(instant_after(now, self.close_timeout));
    }

    fn start_closing(&mut self, deadline: Instant) {
        self.closing = Some(self.closing.map_or(deadline, |d| d.min(deadline)));
    }

    /// Moves queued requests into the state machine while the window has
    /// room; drops those whose caller left, times out those past their
    /// deadline.
    pub fn admit(&mut self, now: Instant) {
        while let Some(job) = self.queue.front() {
            if job.reply.is_closed() {
                self.queue.pop_front();
                continue;
            }
            if job.deadline > now && !self.core.can_send() {
                break;
            }
            let Some(mut job) = self.queue.pop_front() else {
                break;
            };
            if job.deadline <= now {
                job.reply.send(Err(RequestError::TimedOut {
                    timeout: self.request_timeout,
                }));
                continue;
            }
            let sent = match &job.body {
                Body::Typed(instruction) => self.core.send(instruction),
                Body::Raw(arguments) => self.core.send_arguments(arguments),
            };
            match sent {
                Ok(id) => {
                    self.core.set_deadline(id, job.deadline);
                    job.reply
                        .sent(id, now.saturating_duration_since(job.queued_at));
                    self.tickets.insert(job.ticket, id);
                    let waiter = Waiter {
                        ticket: job.ticket,
                        reply: job.reply,
                    };
                    self.waiters.insert(id, waiter);
                }
                Err(e) => job.reply.send(Err(RequestError::Invalid(e))),
            }
        }
        if self.closing.is_some() && self.queue.is_empty() {
            self.core.close();
        }
    }

    /// The bytes to write next (see [`Client::poll_transmit`]).
    pub fn poll_transmit(&self) -> Option<&[u8]> {
        self.core.poll_transmit()
    }

    /// Records that `n` bytes were written.
    pub fn consume_transmit(&mut self, n: usize) {
        self.core.consume_transmit(n);
    }

    /// Whether reading is still useful: no end of stream yet and open.
    pub fn wants_read(&self) -> bool {
        !self.eof && !self.core.is_closed()
    }

    /// Takes bytes read from the transport.
    pub fn receive(&mut self, bytes: &[u8]) {
        self.core.receive(bytes);
    }

    /// The transport reached the end of stream.
    pub fn receive_eof(&mut self) {
        self.eof = true;
        self.core.receive_eof();
    }

    /// The transport failed: every request ends, with this as the cause.
    pub fn transport_failed(&mut self, error: io::Error) {
        if !self.core.is_closed() {
            self.transport_error = Some(Cause::from(error));
            self.core.abort();
        }
    }

    /// Wakes the callers of finished requests. Returns whether anything
    /// happened.
    pub fn poll_events(&mut self) -> bool {
        let mut progress = false;
        while let Some(event) = self.core.poll_event() {
            progress = true;
            match event {
                Event::Outcome { id, outcome } => {
                    let Some(waiter) = self.waiters.remove(&id) else {
                        continue;
                    };
                    self.tickets.remove(&waiter.ticket);
                    match outcome {
                        // These come only with the end of the connection,
                        // before its cause.
                        Outcome::NotSent | Outcome::Unknown => self.ended.push((waiter, outcome)),
                        _ => self.resolve(waiter.reply, outcome, || Cause::Closed),
                    }
                }
                Event::Closed { error } => {
                    let cause = match (self.transport_error.take(), error) {
                        (Some(io), _) => io,
                        (None, Some(e)) => Cause::Protocol(e),
                        (None, None) => Cause::Closed,
                    };
                    self.closed = Some(cause);
                }
            }
        }
        progress
    }

    /// Why the connection ended, once it has: close the command channel,
    /// [`Job::reject`] what is left in it, then [`Mux::settle`].
    pub fn closed_cause(&self) -> Option<&Cause> {
        self.closed.as_ref()
    }

    /// Answers every request still held, once the connection has ended.
    pub fn settle(&mut self) {
        let Some(cause) = self.closed.clone() else {
            return;
        };
        for (waiter, outcome) in std::mem::take(&mut self.ended) {
            self.resolve(waiter.reply, outcome, || cause.clone());
        }
        for job in self.queue.drain(..) {
            job.reject(cause.clone());
        }
    }

    /// When [`Mux::handle_timeout`] is due next.
    pub fn next_deadline(&mut self) -> Option<Instant> {
        [
            self.core.poll_timeout(),
            self.queue.front().map(|j| j.deadline),
            self.closing,
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Times out requests past their deadline, and aborts a close that
    /// took too long.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.core.handle_timeout(now);
        if self.closing.is_some_and(|d| d <= now) {
            self.core.abort();
        }
        self.admit(now);
    }

    /// Whether the connection has ended (its cause is known).
    pub fn is_closed(&self) -> bool {
        self.closed.is_some()
    }

    fn resolve(&self, reply: R, outcome: Outcome, cause: impl FnOnce() -> Cause) {
        let result = match RequestError::from_outcome(outcome, self.request_timeout, cause) {
            None => Ok(()),
            Some(e) => Err(e),
        };
        reply.send(result);
    }
}
