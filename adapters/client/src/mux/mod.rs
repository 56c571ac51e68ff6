//! The request engine of one connection slot, shared by every client: the
//! protocol state machine of the current connection, the requests waiting
//! for room in the window or for a connection, the callers waiting for
//! their outcome, the liveness rule, and when to connect again. It does no
//! I/O and reads no clock: a driver moves bytes and time, the async driver
//! from a task, the blocking one from the caller's thread.
//!
//! A slot outlives its connections. Requests are handed to it as
//! [`Command`]s, each with a [`Reply`], the way back to its caller. The
//! driver loop is then only I/O:
//!
//! 1. [`Mux::handle`] each command (and [`Mux::handles_dropped`] when the
//!    callers are gone);
//! 2. when [`Mux::wants_connect`], start a connection attempt
//!    ([`Mux::connecting`]) and report its end ([`Mux::connected`] or
//!    [`Mux::connect_failed`]);
//! 3. [`Mux::admit`] queued requests into the window;
//! 4. while [`Mux::is_up`]: write [`Mux::poll_transmit`] and
//!    [`Mux::consume_transmit`]; read into [`Mux::receive`] /
//!    [`Mux::receive_eof`], or report [`Mux::fail`];
//! 5. [`Mux::poll_events`] answers callers; once the slot is no longer
//!    [`Mux::is_up`], drop the transport; once [`Mux::closed_cause`] is
//!    set, [`Submission::reject`] what callers still send, and end;
//! 6. sleep until [`Mux::next_deadline`], then [`Mux::handle_timeout`].
//!
//! What a request does while the slot has no connection is the
//! [`Disconnected`] setting.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use kairoi_proto::{Client, Config, Event, Instruction, Outcome, RequestId, SendError};

use crate::liveness::Liveness;
use crate::stats::ServerCounters;
use crate::time::{deadline, earliest};
use crate::{Backoff, Cause, Disconnected, Reconnect, RequestError, Settings};

mod lifecycle;

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

    /// Delivers the result (`Ok(())` for `OK`), with the body given back
    /// for a caller that may send it again.
    fn deliver(self, result: Result<(), RequestError>, body: Payload);
}

/// One request on its way to a slot.
#[derive(Debug)]
pub struct Submission<R> {
    /// Names the request for [`Command::Cancel`].
    pub ticket: u64,
    /// What to send.
    pub body: Payload,
    /// When the caller submitted it.
    pub queued_at: Instant,
    /// When the request ends whatever happens: a single call's deadline.
    /// `None` for a request of a batch, whose time starts when it enters
    /// the window. Once admitted, the request's own deadline is kept here,
    /// so that a request that goes out again on a new connection keeps it.
    pub deadline: Option<Instant>,
    /// The way back to the caller.
    pub reply: R,
    /// The request's span (from [`Next::Submit`](crate::feed::Next)):
    /// the engine records the request's identifier, its time in the queue
    /// and its round trip into it.
    pub span: tracing::Span,
}

impl<R: Reply> Submission<R> {
    /// Answers a request that will never be sent.
    pub fn reject(self, cause: Cause) {
        self.finish(Err(RequestError::NotSent { cause }));
    }

    fn finish(self, result: Result<(), RequestError>) {
        // The span closes with its caller's copy: this one goes first.
        drop(self.span);
        self.reply.deliver(result, self.body);
    }

    /// Records the round trip of a request admitted at `admitted`.
    fn answered(&self, admitted: Instant, now: Instant) {
        let rtt = now.saturating_duration_since(admitted).as_micros();
        self.span
            .record("rtt_us", u64::try_from(rtt).unwrap_or(u64::MAX));
    }
}

/// What callers send to a slot's driver.
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

/// Whether the slot has a transport.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Transport {
    Down,
    Connecting,
    Up,
}

/// The engine of one connection slot.
pub struct Mux<R> {
    config: Config,
    request_timeout: Option<Duration>,
    close_timeout: Option<Duration>,
    backoff: Backoff,
    behaviour: Disconnected,
    /// Whether a new connection may replace one that ended.
    reconnects: bool,
    core: Client<Instant>,
    transport: Transport,
    reconnect: Reconnect,
    /// Why the last connection ended.
    last_end: Option<Cause>,
    /// The last connection ended while it carried requests: connect again
    /// even with nothing queued, so that a pool comes back whole after a
    /// restart.
    redial: bool,
    queue: VecDeque<Submission<R>>,
    /// No queued request's deadline is before this (it may be earlier
    /// than the earliest: it is recomputed when it passes).
    queue_deadline: Option<Instant>,
    /// The requests in the window, with when each was admitted.
    waiters: HashMap<RequestId, (Submission<R>, Instant)>,
    /// Requests ended by the connection's end, answered once its cause is
    /// known.
    ended: Vec<(Submission<R>, Outcome)>,
    closing: bool,
    close_deadline: Option<Instant>,
    failure: Option<Cause>,
    closed: Option<Cause>,
    eof: bool,
    liveness: Liveness,
    counters: Arc<ServerCounters>,
    /// The queued and in-window requests last published to `counters`.
    published: (usize, usize),
}

impl<R> std::fmt::Debug for Mux<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mux")
            .field("transport", &self.transport)
            .field("queued", &self.queue.len())
            .field("waiting", &self.waiters.len())
            .field("closing", &self.closing)
            .field("closed", &self.closed)
            .finish()
    }
}

impl<R: Reply> Mux<R> {
    /// A slot with the limits, window, timeouts and reconnect rules of
    /// `settings`, with no connection yet. `reconnects` says whether a
    /// connection that ends may be replaced (not for a transport the
    /// caller made).
    pub fn new(settings: &Settings, reconnects: bool) -> Self {
        Mux {
            config: settings.config,
            request_timeout: settings.request_timeout,
            close_timeout: settings.close_timeout,
            backoff: settings.backoff,
            behaviour: settings.disconnected,
            reconnects,
            core: Client::new(settings.config),
            transport: Transport::Down,
            reconnect: Reconnect::default(),
            last_end: None,
            redial: false,
            queue: VecDeque::new(),
            queue_deadline: None,
            waiters: HashMap::new(),
            ended: Vec::new(),
            closing: false,
            close_deadline: None,
            failure: None,
            closed: None,
            eof: false,
            liveness: Liveness::new(settings.request_timeout),
            counters: Arc::default(),
            published: (0, 0),
        }
    }

    /// Keeps its server's counters in `counters` (shared with the other
    /// slots of the server and with the client's snapshot).
    pub fn counting(mut self, counters: Arc<ServerCounters>) -> Self {
        self.counters = counters;
        self
    }

    /// Publishes the queued and in-window requests to the counters.
    pub(super) fn publish(&mut self) {
        let now = (self.queue.len(), self.waiters.len());
        if now != self.published {
            self.counters.load(self.published, now);
            self.published = now;
        }
    }

    /// Takes one command from a caller at `now`.
    pub fn handle(&mut self, command: Command<R>, now: Instant) {
        match command {
            Command::Send(job) => self.submit(*job, now),
            Command::Cancel(ticket) => {
                // A ticket still queued is skipped by `admit`: its reply is
                // closed. Cancels are rare: a scan of the window is cheaper
                // than a second map kept for every request.
                let id = self
                    .waiters
                    .iter()
                    .find_map(|(id, (job, _))| (job.ticket == ticket).then_some(*id));
                if let Some(id) = id {
                    self.waiters.remove(&id);
                    self.core.cancel(id);
                    self.publish();
                }
            }
            Command::Close { deadline } => self.start_closing(deadline),
        }
    }

    /// Takes one request at `now` (as [`Command::Send`] does): queued, or
    /// refused at once when the slot is closing, or with
    /// [`Disconnected::FailFast`] while the server cannot be reached.
    pub fn submit(&mut self, job: Submission<R>, now: Instant) {
        if self.closing || self.closed.is_some() {
            return job.reject(Cause::Closed);
        }
        match self.refusal(now) {
            Some(cause) => job.reject(cause),
            None => {
                self.note_deadline(job.deadline);
                self.queue.push_back(job);
                self.publish();
            }
        }
    }

    /// Keeps the earliest deadline of the queue.
    fn note_deadline(&mut self, at: Option<Instant>) {
        self.queue_deadline = earliest(self.queue_deadline, at);
    }

    /// Every handle is gone: finish what was submitted, within the close
    /// timeout.
    pub fn handles_dropped(&mut self, now: Instant) {
        self.start_closing(deadline(now, self.close_timeout));
    }

    fn start_closing(&mut self, at: Option<Instant>) {
        self.close_deadline = match (self.closing, self.close_deadline, at) {
            (false, _, at) => at,
            (true, old, new) => earliest(old, new),
        };
        self.closing = true;
    }

    /// Moves queued requests into the state machine while the window has
    /// room, each timing out a request timeout after `now` (or at its
    /// caller's deadline, if earlier); drops those whose caller left. With
    /// no connection, ends the requests that stop waiting for one.
    pub fn admit(&mut self, now: Instant) {
        if self.transport != Transport::Up {
            self.expire(now);
            self.publish();
            return;
        }
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
                    let at = earliest(job.deadline, deadline(now, self.request_timeout));
                    if let Some(at) = at {
                        self.core.set_deadline(id, at);
                    }
                    job.deadline = at;
                    if !job.span.is_disabled() {
                        let queued = now.saturating_duration_since(job.queued_at).as_micros();
                        job.span.record("id", tracing::field::display(id));
                        job.span
                            .record("queue_us", u64::try_from(queued).unwrap_or(u64::MAX));
                    }
                    self.waiters.insert(id, (job, now));
                }
                Err(e) => job.finish(Err(RequestError::Invalid(e))),
            }
        }
        if self.closing && self.queue.is_empty() {
            self.core.close();
        }
        self.liveness.watch(now, &self.core);
        self.publish();
    }

    /// The bytes to write next (see [`Client::poll_transmit`]).
    pub fn poll_transmit(&self) -> Option<&[u8]> {
        self.core.poll_transmit()
    }

    /// Records that `n` bytes were written.
    pub fn consume_transmit(&mut self, n: usize) {
        self.counters.wrote(n);
        self.core.consume_transmit(n);
    }

    /// Whether reading is still useful: connected, no end of stream yet.
    pub fn wants_read(&self) -> bool {
        self.transport == Transport::Up && !self.eof && !self.core.is_closed()
    }

    /// Takes bytes read from the transport at `now`.
    pub fn receive(&mut self, now: Instant, bytes: &[u8]) {
        self.counters.read(bytes.len());
        self.liveness.heard(now);
        self.core.receive(bytes);
    }

    /// The transport reached the end of stream.
    pub fn receive_eof(&mut self) {
        self.eof = true;
        self.core.receive_eof();
    }

    /// Ends the connection now: every request on it ends, with this as the
    /// cause (a transport error, or the liveness rule).
    pub fn fail(&mut self, cause: Cause) {
        if self.transport == Transport::Up && !self.core.is_closed() {
            self.failure = Some(cause);
            self.core.abort();
        }
    }

    /// Answers the callers of finished requests. Returns whether anything
    /// happened. Once the connection has ended, [`Mux::is_up`] is false:
    /// the driver drops its transport.
    pub fn poll_events(&mut self, now: Instant) -> bool {
        let mut progress = false;
        while let Some(event) = self.core.poll_event() {
            progress = true;
            match event {
                Event::Outcome { id, outcome } => {
                    let Some((job, admitted)) = self.waiters.remove(&id) else {
                        continue;
                    };
                    match outcome {
                        // These come only with the end of the connection,
                        // before its cause.
                        Outcome::NotSent | Outcome::Unknown => self.ended.push((job, outcome)),
                        _ => {
                            job.answered(admitted, now);
                            self.resolve(job, outcome, || Cause::Closed);
                        }
                    }
                }
                Event::Closed { error } => {
                    let cause = match (self.failure.take(), error) {
                        (Some(cause), _) => cause,
                        (None, Some(e)) => Cause::Protocol(e),
                        (None, None) => Cause::Closed,
                    };
                    self.connection_ended(now, cause);
                }
                _ => {}
            }
        }
        if progress && self.transport == Transport::Up {
            self.liveness.watch(now, &self.core);
        }
        if progress {
            self.publish();
        }
        progress
    }

    /// Why the slot has ended for good, once it has (closed, or a caller's
    /// transport that ended): [`Submission::reject`] what callers still
    /// send with it.
    pub fn closed_cause(&self) -> Option<&Cause> {
        self.closed.as_ref()
    }

    /// Whether the slot has ended for good.
    pub fn is_closed(&self) -> bool {
        self.closed.is_some()
    }

    /// When [`Mux::handle_timeout`] is due next.
    pub fn next_deadline(&mut self) -> Option<Instant> {
        let waiting = !self.queue.is_empty() || self.redial;
        let times = match self.transport {
            Transport::Up => [
                self.core.poll_timeout(),
                self.liveness.deadline(),
                self.close_deadline,
                self.queue_deadline,
            ],
            Transport::Connecting => [self.queue_deadline, self.close_deadline, None, None],
            Transport::Down => {
                // The next attempt; and, if the server becomes unreachable
                // before it, that instant, when batch requests stop
                // waiting.
                let next = self.reconnect.next_attempt().filter(|_| waiting);
                let unreachable = self
                    .reconnect
                    .unreachable_at(self.request_timeout)
                    .filter(|u| next.is_some_and(|n| *u < n));
                [self.queue_deadline, self.close_deadline, next, unreachable]
            }
        };
        times.into_iter().flatten().min()
    }

    /// Times out requests past their deadline, drops a connection that
    /// broke the liveness rule, aborts a close that took too long, and
    /// ends the requests that stop waiting for a connection.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.transport == Transport::Up {
            self.core.handle_timeout(now);
            if let Some(waited) = self.liveness.expired(now) {
                tracing::warn!(
                    server = self.counters.name().map(|n| n.as_ref()),
                    ?waited,
                    active = self.waiters.len(),
                    "nothing read from the server while requests were active: connection declared unresponsive"
                );
                self.fail(Cause::Unresponsive { waited });
            }
            if self.close_deadline.is_some_and(|d| d <= now) {
                self.core.abort();
            }
        }
        // With no connection, `admit` only ends what stops waiting.
        match self.transport {
            Transport::Up => self.admit(now),
            _ => self.expire(now),
        }
        self.publish();
    }

    /// Requests the slot holds: queued, in the window, or ending.
    pub fn load(&self) -> usize {
        self.queue.len() + self.waiters.len() + self.ended.len()
    }

    fn resolve(&self, job: Submission<R>, outcome: Outcome, cause: impl FnOnce() -> Cause) {
        let timeout = self.request_timeout.unwrap_or(Duration::MAX);
        let result = match RequestError::from_outcome(outcome, timeout, cause) {
            None => Ok(()),
            Some(e) => Err(e),
        };
        job.finish(result);
    }
}

impl<R> Drop for Mux<R> {
    /// A slot that goes away leaves nothing in its server's gauges.
    fn drop(&mut self) {
        self.counters.load(self.published, (0, 0));
        if self.transport == Transport::Up {
            self.counters.connection_ended(&Cause::Closed);
            crate::metrics::connections(self.counters.name(), -1.0);
            tracing::info!(
                server = self.counters.name().map(|n| n.as_ref()),
                "connection closed"
            );
        }
    }
}

#[cfg(test)]
mod tests;
