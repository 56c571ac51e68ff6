//! The request queue of one multiplexed connection, shared by every async
//! runtime: the protocol state machine, the requests waiting for room in
//! the window, the callers waiting for their outcome, and the liveness
//! rule. It does no I/O and reads no clock: a driver moves bytes and time.
//!
//! A driver owns a [`Mux`] and its transport. Callers send it
//! [`Command`]s over a channel; each request carries a [`Reply`], the way
//! back to its caller. The driver loop is then only I/O:
//!
//! 1. [`Mux::handle`] each command (and [`Mux::handles_dropped`] when the
//!    channel ends), then [`Mux::admit`] queued requests into the window;
//! 2. write [`Mux::poll_transmit`] and [`Mux::consume_transmit`];
//! 3. read into [`Mux::receive`] / [`Mux::receive_eof`], or report
//!    [`Mux::fail`];
//! 4. [`Mux::poll_events`] wakes callers; once [`Mux::closed_cause`] is
//!    set, close the channel, [`Submission::reject`] what is left in it, call
//!    [`Mux::settle`] and end;
//! 5. sleep until [`Mux::next_deadline`], then [`Mux::handle_timeout`].

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use kairoi_proto::{Client, Event, Instruction, Outcome, RequestId, SendError};

use crate::liveness::Liveness;
use crate::time::deadline;
use crate::{Cause, RequestError, Settings};

/// What a request sends: a typed instruction, or raw arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Payload {
    /// A typed instruction.
    Typed(Instruction),
    /// Any arguments (see [`Client::send_arguments`]).
    Raw(Vec<String>),
}

impl Payload {
    /// Queues it on `core` ([`Client::send`] or [`Client::send_arguments`]).
    pub fn send_on<I: Copy + Ord>(&self, core: &mut Client<I>) -> Result<RequestId, SendError> {
        match self {
            Payload::Typed(instruction) => core.send(instruction),
            Payload::Raw(arguments) => core.send_arguments(arguments),
        }
    }
}

/// The way back to one request's caller.
pub trait Reply {
    /// Whether the caller stopped waiting: a request still queued is then
    /// dropped without being sent.
    fn is_closed(&self) -> bool;

    /// Called once the request is handed to the state machine as `id`,
    /// after waiting `queued` for room in the window.
    fn admitted(&mut self, id: RequestId, queued: Duration) {
        let _ = (id, queued);
    }

    /// Delivers the result: `Ok(())` for `OK`.
    fn deliver(self, result: Result<(), RequestError>);
}

/// One request on its way to a driver.
#[derive(Debug)]
pub struct Submission<R> {
    /// Names the request for [`Command::Cancel`].
    pub ticket: u64,
    /// What to send.
    pub body: Payload,
    /// When the caller submitted it.
    pub queued_at: Instant,
    /// The way back to the caller.
    pub reply: R,
}

impl<R: Reply> Submission<R> {
    /// Answers a request that will never be sent.
    pub fn reject(self, cause: Cause) {
        self.reply.deliver(Err(RequestError::NotSent { cause }));
    }
}

/// What callers send to a connection's driver.
#[derive(Debug)]
pub enum Command<R> {
    /// Send a request.
    Send(Box<Submission<R>>),
    /// The caller of this ticket stopped waiting.
    Cancel(u64),
    /// Finish the requests already submitted, then close; abort at the
    /// deadline (`None`: no limit).
    Close {
        /// When to abort what is still active.
        deadline: Option<Instant>,
    },
}

struct Waiter<R> {
    ticket: u64,
    reply: R,
}

/// The state of one multiplexed connection.
pub struct Mux<R> {
    core: Client<Instant>,
    queue: VecDeque<Submission<R>>,
    waiters: HashMap<RequestId, Waiter<R>>,
    tickets: HashMap<u64, RequestId>,
    /// Requests ended by the connection's end, answered once its cause is
    /// known.
    ended: Vec<(Waiter<R>, Outcome)>,
    closing: bool,
    close_deadline: Option<Instant>,
    failure: Option<Cause>,
    closed: Option<Cause>,
    eof: bool,
    liveness: Liveness,
    request_timeout: Option<Duration>,
    close_timeout: Option<Duration>,
}

impl<R> std::fmt::Debug for Mux<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mux")
            .field("queued", &self.queue.len())
            .field("waiting", &self.waiters.len())
            .field("closing", &self.closing)
            .field("closed", &self.closed)
            .finish()
    }
}

impl<R: Reply> Mux<R> {
    /// A connection with the limits, window and timeouts of `settings`.
    pub fn new(settings: &Settings) -> Self {
        Mux {
            core: Client::new(settings.config),
            queue: VecDeque::new(),
            waiters: HashMap::new(),
            tickets: HashMap::new(),
            ended: Vec::new(),
            closing: false,
            close_deadline: None,
            failure: None,
            closed: None,
            eof: false,
            liveness: Liveness::new(settings.request_timeout),
            request_timeout: settings.request_timeout,
            close_timeout: settings.close_timeout,
        }
    }

    /// Takes one command from a caller.
    pub fn handle(&mut self, command: Command<R>) {
        match command {
            Command::Send(job) if self.closing || self.closed.is_some() => {
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
        self.start_closing(deadline(now, self.close_timeout));
    }

    fn start_closing(&mut self, at: Option<Instant>) {
        self.close_deadline = match (self.closing, self.close_deadline, at) {
            (false, _, at) => at,
            (true, Some(old), Some(new)) => Some(old.min(new)),
            (true, old, new) => old.or(new),
        };
        self.closing = true;
    }

    /// Moves queued requests into the state machine while the window has
    /// room, each timing out a request timeout after `now`; drops those
    /// whose caller left.
    pub fn admit(&mut self, now: Instant) {
        while let Some(job) = self.queue.front() {
            if job.reply.is_closed() {
                self.queue.pop_front();
                continue;
            }
            if !self.core.can_send() {
                break;
            }
            let Some(mut job) = self.queue.pop_front() else {
                break;
            };
            match job.body.send_on(&mut self.core) {
                Ok(id) => {
                    if let Some(at) = deadline(now, self.request_timeout) {
                        self.core.set_deadline(id, at);
                    }
                    job.reply
                        .admitted(id, now.saturating_duration_since(job.queued_at));
                    self.tickets.insert(job.ticket, id);
                    let waiter = Waiter {
                        ticket: job.ticket,
                        reply: job.reply,
                    };
                    self.waiters.insert(id, waiter);
                }
                Err(e) => job.reply.deliver(Err(RequestError::Invalid(e))),
            }
        }
        if self.closing && self.queue.is_empty() {
            self.core.close();
        }
        self.watch(now);
    }

    /// Arms or disarms the liveness rule.
    fn watch(&mut self, now: Instant) {
        self.liveness.watch(now, &self.core);
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

    /// Takes bytes read from the transport at `now`.
    pub fn receive(&mut self, now: Instant, bytes: &[u8]) {
        self.liveness.heard(now);
        self.core.receive(bytes);
    }

    /// The transport reached the end of stream.
    pub fn receive_eof(&mut self) {
        self.eof = true;
        self.core.receive_eof();
    }

    /// Ends the connection now: every request ends, with this as the cause
    /// (a transport error, or the liveness rule).
    pub fn fail(&mut self, cause: Cause) {
        if !self.core.is_closed() {
            self.failure = Some(cause);
            self.core.abort();
        }
    }

    /// Wakes the callers of finished requests. Returns whether anything
    /// happened.
    pub fn poll_events(&mut self, now: Instant) -> bool {
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
                    let cause = match (self.failure.take(), error) {
                        (Some(cause), _) => cause,
                        (None, Some(e)) => Cause::Protocol(e),
                        (None, None) => Cause::Closed,
                    };
                    self.closed = Some(cause);
                }
                _ => {}
            }
        }
        if progress {
            self.watch(now);
        }
        progress
    }

    /// Why the connection ended, once it has: close the command channel,
    /// [`Submission::reject`] what is left in it, then [`Mux::settle`].
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
            self.liveness.deadline(),
            self.close_deadline,
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Times out requests past their deadline, drops a connection that
    /// broke the liveness rule, and aborts a close that took too long.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.core.handle_timeout(now);
        if let Some(waited) = self.liveness.expired(now) {
            self.fail(Cause::Unresponsive { waited });
        }
        if self.close_deadline.is_some_and(|d| d <= now) {
            self.core.abort();
        }
        self.admit(now);
    }

    /// Whether the connection has ended (its cause is known).
    pub fn is_closed(&self) -> bool {
        self.closed.is_some()
    }

    fn resolve(&self, reply: R, outcome: Outcome, cause: impl FnOnce() -> Cause) {
        let timeout = self.request_timeout.unwrap_or(Duration::MAX);
        let result = match RequestError::from_outcome(outcome, timeout, cause) {
            None => Ok(()),
            Some(e) => Err(e),
        };
        reply.deliver(result);
    }
}
