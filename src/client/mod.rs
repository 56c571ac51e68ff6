//! The client role: identifiers, the table of active requests, outcomes.

use alloc::collections::{BinaryHeap, VecDeque};
use bytes::{BufMut, BytesMut};
use core::cmp::Reverse;

use crate::config::Config;
use crate::error::{ConnectionError, SendError};
use crate::instruction::Instruction;
use crate::wire::{Decoder, encode_message_checked, transmit};

mod id;
mod receive;
mod table;

pub use id::RequestId;
use table::{Entry, Table};

/// How a request ended. Every request gets exactly one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Outcome {
    /// The server answered `OK`: the instruction is applied.
    Ok,
    /// The server answered `ERROR`: invalid body, or a job that is running
    /// right now. Retry only after fixing the cause.
    Rejected,
    /// The connection ended before the request's last byte was written: the
    /// server never saw it. Safe to retry.
    NotSent,
    /// The request was written, then the connection ended before the
    /// response: the server may or may not have applied it.
    Unknown,
    /// No response before the request's deadline. If none of its bytes had
    /// been written it was withdrawn and is never sent; otherwise the server
    /// may still apply it, and its late response is absorbed.
    TimedOut,
}

impl Outcome {
    /// Whether the server applied the request.
    pub fn is_ok(&self) -> bool {
        matches!(self, Outcome::Ok)
    }

    /// Whether sending the same request again cannot apply it twice.
    pub fn is_safe_to_retry(&self) -> bool {
        matches!(self, Outcome::NotSent)
    }
}

/// What a [`Client`] reports, from [`Client::poll_event`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// A request ended.
    Outcome {
        /// The request.
        id: RequestId,
        /// How it ended.
        outcome: Outcome,
    },
    /// The connection is closed: after [`Client::close`] once no request is
    /// active (`error` is `None`), at a clean end of stream, or on a fatal
    /// error. It is the last event; every request active then already got
    /// its outcome in an earlier event. Close the transport.
    Closed {
        /// Why, when it was not a clean close.
        error: Option<ConnectionError>,
    },
}

/// What [`Client::cancel`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Cancelled {
    /// No byte had been written: the request is withdrawn and never sent.
    Withdrawn,
    /// Some bytes were written: the server may apply it. Its identifier
    /// stays reserved and its late response is absorbed.
    Abandoned,
}

/// How far a table may span, in multiples of `max_active`, before abandoned
/// requests at its front are forgotten.
const SPAN_FACTOR: usize = 16;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Open,
    Closing,
    Closed,
}

/// The default time type of [`Client`]: `std::time::Instant` with the
/// `std` feature, else a `Duration` since a start of the caller's choice.
#[cfg(feature = "std")]
pub type DefaultTime = std::time::Instant;
/// The default time type of [`Client`]: `std::time::Instant` with the
/// `std` feature, else a `Duration` since a start of the caller's choice.
#[cfg(not(feature = "std"))]
pub type DefaultTime = core::time::Duration;

/// The client role of KCP, as a sans-IO state machine.
///
/// It turns instructions into request bytes and response bytes into
/// [`Event`]s, matching responses to requests by identifier, in any
/// order. It does no I/O and reads no clock: time is passed in as the
/// type `I` ([`DefaultTime`] by default; any `Copy + Ord` type, such as a
/// `Duration` since a start, works).
///
/// Methods come in four classes:
/// - inputs, what the transport and the clock say:
///   [`receive`](Client::receive), [`receive_eof`](Client::receive_eof),
///   [`handle_timeout`](Client::handle_timeout);
/// - commands, which only queue work or decide locally:
///   [`send`](Client::send), [`send_arguments`](Client::send_arguments),
///   [`set_deadline`](Client::set_deadline), [`cancel`](Client::cancel),
///   [`close`](Client::close), [`abort`](Client::abort) (also for a
///   transport error);
/// - outputs, drained by the caller:
///   [`poll_transmit`](Client::poll_transmit) with
///   [`consume_transmit`](Client::consume_transmit), or
///   [`transmit_into`](Client::transmit_into);
///   [`poll_event`](Client::poll_event);
///   [`poll_timeout`](Client::poll_timeout);
/// - getters such as [`in_flight`](Client::in_flight).
///
/// Any call order is legal. See the crate docs for the run loop.
#[derive(Debug)]
pub struct Client<I = DefaultTime> {
    config: Config,
    decoder: Decoder,
    tx: BytesMut,
    /// Requests with bytes in `tx`, in order: (sequence, length).
    segments: VecDeque<(u64, usize)>,
    /// Bytes of the front segment already written.
    front_written: usize,
    table: Table<I>,
    deadlines: BinaryHeap<Reverse<(I, u64)>>,
    events: VecDeque<Event>,
    state: State,
    eof: bool,
}

#[cfg(feature = "std")]
impl Client<std::time::Instant> {
    /// A client on a new connection, with `std::time::Instant` as time.
    pub fn new(config: Config) -> Self {
        Self::with_time_type(config)
    }
}

impl<I: Copy + Ord> Client<I> {
    /// A client on a new connection, with any time type `I`.
    pub fn with_time_type(config: Config) -> Self {
        Client {
            config,
            decoder: Decoder::new(config),
            tx: BytesMut::new(),
            segments: VecDeque::new(),
            front_written: 0,
            table: Table::new(),
            deadlines: BinaryHeap::new(),
            events: VecDeque::new(),
            state: State::Open,
            eof: false,
        }
    }

    // ----- getters -----

    /// The limits in force.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Requests sent that have no outcome yet.
    pub fn in_flight(&self) -> usize {
        self.table.active()
    }

    /// Requests that got their outcome (timed out or cancelled) after some
    /// of their bytes were written, whose late response is still awaited.
    /// They count towards [`Config::max_active`].
    pub fn abandoned(&self) -> usize {
        self.table.abandoned()
    }

    /// Whether a request can be sent now without [`SendError::TooManyActive`].
    pub fn can_send(&self) -> bool {
        self.check_can_send().is_ok()
    }

    /// Whether the connection is closed ([`Event::Closed`] was queued).
    pub fn is_closed(&self) -> bool {
        self.state == State::Closed
    }

    /// Deadlines held, those of finished requests included until they are
    /// dropped (by the polls, or once they outnumber the active requests).
    pub fn pending_deadlines(&self) -> usize {
        self.deadlines.len()
    }

    /// Bytes waiting in [`Client::poll_transmit`].
    pub fn buffered_transmit(&self) -> usize {
        self.tx.len()
    }

    /// Bytes received and not yet decoded.
    pub fn buffered_receive(&self) -> usize {
        self.decoder.buffered()
    }

    // ----- commands -----

    /// Queues a typed instruction and returns its identifier.
    ///
    /// Nothing is written until [`Client::poll_transmit`]. On error nothing
    /// is queued.
    pub fn send(&mut self, instruction: &Instruction) -> Result<RequestId, SendError> {
        self.check_can_send()?;
        let count = instruction.argument_count() + 1;
        self.check_arguments(count)?;
        let start = self.tx.len();
        self.write_identifier();
        instruction.encode_body(&mut self.tx);
        self.tx.put_u8(b'\n');
        self.commit(start)
    }

    /// Queues a request with any body, for instructions the typed layer
    /// does not know. The body needs at least one argument; each is
    /// quoted as needed, so no value can change the message's shape.
    ///
    /// ```
    /// # use kairoi_proto::{Client, Config};
    /// let mut client = Client::new(Config::default());
    /// client.send_arguments(["UNSET", "app.job.1"])?;
    /// assert_eq!(client.poll_transmit(), Some(&b"0 UNSET app.job.1\n"[..]));
    /// # Ok::<(), kairoi_proto::SendError>(())
    /// ```
    pub fn send_arguments<A: AsRef<str>>(
        &mut self,
        body: impl IntoIterator<Item = A>,
    ) -> Result<RequestId, SendError> {
        self.check_can_send()?;
        let mut buf = id::scratch();
        let id = RequestId(self.table.next_sequence()).encode(&mut buf);
        let args = core::iter::once(Arg::Id(id)).chain(body.into_iter().map(Arg::Body));
        let start = self.tx.len();
        encode_message_checked(&mut self.tx, args, &self.config)?;
        self.commit(start)
    }

    /// Gives an active request a deadline; [`Client::handle_timeout`] at or
    /// after it ends the request with [`Outcome::TimedOut`]. Returns whether
    /// the request was active.
    pub fn set_deadline(&mut self, id: RequestId, deadline: I) -> bool {
        let slot = match self.table.get(id.0) {
            Some(Entry::Queued { .. }) => Entry::Queued {
                deadline: Some(deadline),
            },
            Some(Entry::Written { .. }) => Entry::Written {
                deadline: Some(deadline),
            },
            _ => return false,
        };
        self.table.set(id.0, slot);
        // Entries of finished requests are dropped lazily by the polls; a
        // caller that never polls must not grow the heap without bound.
        if self.deadlines.len() >= 2 * self.table.active() + 64 {
            let table = &self.table;
            self.deadlines.retain(|&Reverse((d, seq))| {
                table.get(seq).is_some_and(|s| s.deadline() == Some(d))
            });
        }
        self.deadlines.push(Reverse((deadline, id.0)));
        true
    }

    /// Gives up on an active request without an outcome event: the caller
    /// no longer waits for it. Returns `None` when it was not active.
    pub fn cancel(&mut self, id: RequestId) -> Option<Cancelled> {
        let slot = self.table.get(id.0)?;
        if !slot.is_active() {
            return None;
        }
        let result = self.withdraw_or_abandon(id.0, slot);
        self.compact_transmit();
        self.maybe_finish_close();
        Some(result)
    }

    /// Stops new requests. Once no request is active, [`Event::Closed`]
    /// with no error is queued and the transport can be closed.
    pub fn close(&mut self) {
        if self.state == State::Open {
            self.state = State::Closing;
            self.maybe_finish_close();
        }
    }

    // ----- inputs -----

    /// Takes bytes read from the transport. Decoding happens in
    /// [`Client::poll_event`], or here once more than twice the longest
    /// message is buffered, so memory stays bounded even for a caller that
    /// receives many times between polls. Ignored once closed.
    pub fn receive(&mut self, bytes: &[u8]) {
        if self.state == State::Closed || self.eof {
            return;
        }
        self.decoder.extend(bytes);
        // A caller that receives again and again without polling must not
        // grow the buffer without bound: past twice the longest message,
        // responses are decoded now and their events queued (at most one
        // per active request, so the queue is bounded too).
        if self.decoder.buffered() > self.config.max_message_len().saturating_mul(2) {
            self.decode_into_queue();
        }
    }

    /// Decodes every whole response buffered, queueing their events.
    fn decode_into_queue(&mut self) {
        while self.state != State::Closed {
            match self.decoder.next_frame() {
                Ok(Some(count)) => {
                    // The outcome goes before anything the response queued
                    // (`Closed`, when it ended a close).
                    let at = self.events.len();
                    if let Some(event) = self.on_response(count) {
                        self.events.insert(at, event);
                    }
                }
                Ok(None) => break,
                Err(e) => self.fail(ConnectionError::Malformed(e)),
            }
        }
    }

    /// Says the server closed the connection (a read returned 0 bytes).
    /// Responses still buffered are decoded first.
    pub fn receive_eof(&mut self) {
        self.eof = true;
    }

    /// Ends every request whose deadline is at or before `now` with
    /// [`Outcome::TimedOut`].
    pub fn handle_timeout(&mut self, now: I) {
        if self.state == State::Closed {
            return;
        }
        while let Some(&Reverse((deadline, seq))) = self.deadlines.peek() {
            if deadline > now {
                break;
            }
            self.deadlines.pop();
            let Some(slot) = self.table.get(seq) else {
                continue;
            };
            if slot.deadline() != Some(deadline) {
                continue;
            }
            self.withdraw_or_abandon(seq, slot);
            self.events.push_back(Event::Outcome {
                id: RequestId(seq),
                outcome: Outcome::TimedOut,
            });
        }
        self.compact_transmit();
        self.maybe_finish_close();
    }

    /// Ends the connection now, for a transport error or a local decision:
    /// every active request gets [`Outcome::NotSent`] or
    /// [`Outcome::Unknown`], then [`Event::Closed`] with
    /// [`ConnectionError::Aborted`].
    pub fn abort(&mut self) {
        self.fail(ConnectionError::Aborted);
    }

    // ----- outputs -----

    /// The bytes to write to the transport next, or `None` when there are
    /// none. After writing, call [`Client::consume_transmit`] with how many
    /// bytes were written: this is how the client tells
    /// [`Outcome::NotSent`] from [`Outcome::Unknown`].
    #[must_use]
    pub fn poll_transmit(&self) -> Option<&[u8]> {
        transmit::pending(&self.tx)
    }

    /// Records that the first `written` bytes of
    /// [`Client::poll_transmit`] were written to the transport.
    pub fn consume_transmit(&mut self, written: usize) {
        let mut n = transmit::consume(&mut self.tx, written);
        while n > 0 {
            let Some(&(seq, len)) = self.segments.front() else {
                break;
            };
            let rest = len - self.front_written;
            if n < rest {
                self.front_written += n;
                break;
            }
            n -= rest;
            self.front_written = 0;
            self.segments.pop_front();
            if let Some(Entry::Queued { deadline }) = self.table.get(seq) {
                self.table.set(seq, Entry::Written { deadline });
            }
        }
    }

    /// Moves every pending byte into `out` and counts it as written.
    ///
    /// Use this when the transport always takes whole buffers. Requests
    /// whose bytes are then lost with the connection are reported
    /// [`Outcome::Unknown`] rather than [`Outcome::NotSent`].
    pub fn transmit_into(&mut self, out: &mut BytesMut) -> usize {
        let n = transmit::copy_all(&self.tx, out);
        self.consume_transmit(n);
        n
    }

    /// The next event, or `None` when there is none until more input.
    ///
    /// Call it until it returns `None` after each input.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<Event> {
        if self.events.is_empty() && self.state != State::Closed {
            if let Some(event) = self.matched_response() {
                return Some(event);
            }
        }
        self.poll_event_general()
    }

    /// [`Client::poll_event`] beyond its fast path.
    #[inline(never)]
    fn poll_event_general(&mut self) -> Option<Event> {
        loop {
            if let Some(event) = self.events.pop_front() {
                return Some(event);
            }
            if self.state == State::Closed {
                return None;
            }
            if let Some(event) = self.matched_response() {
                return Some(event);
            }
            match self.decoder.next_frame() {
                // The queue is empty here, so the outcome goes out first
                // directly; anything queued meanwhile (`Closed`) follows.
                Ok(Some(count)) => {
                    if let Some(event) = self.on_response(count) {
                        return Some(event);
                    }
                }
                Ok(None) if self.eof => self.on_eof(),
                Ok(None) => return None,
                Err(e) => self.fail(ConnectionError::Malformed(e)),
            }
        }
    }

    /// The earliest deadline of an active request, when to call
    /// [`Client::handle_timeout`] next. It takes `&mut self` because it
    /// drops, on the way, the deadlines of requests that already ended, so
    /// that the instant it returns is never earlier than needed (and an
    /// idle connection is never woken for nothing).
    #[must_use]
    pub fn poll_timeout(&mut self) -> Option<I> {
        while let Some(&Reverse((deadline, seq))) = self.deadlines.peek() {
            match self.table.get(seq) {
                Some(slot) if slot.deadline() == Some(deadline) => return Some(deadline),
                _ => {
                    self.deadlines.pop();
                }
            }
        }
        None
    }

    // ----- internals -----

    fn check_can_send(&self) -> Result<(), SendError> {
        match self.state {
            State::Closed => return Err(SendError::Closed),
            State::Closing => return Err(SendError::Closing),
            State::Open => {}
        }
        let limit = self.config.max_active();
        if self.table.active() + self.table.abandoned() >= limit {
            return Err(SendError::TooManyActive { limit });
        }
        if self.table.span() >= self.max_span()
            && !self
                .table
                .get(self.table.oldest())
                .is_some_and(|s| s == Entry::Abandoned)
        {
            return Err(SendError::Stalled {
                oldest: RequestId(self.table.oldest()),
                span: self.table.span(),
            });
        }
        Ok(())
    }

    fn max_span(&self) -> usize {
        self.config.max_active().saturating_mul(SPAN_FACTOR)
    }

    fn check_arguments(&self, count: usize) -> Result<(), SendError> {
        let limit = self.config.max_arguments();
        if count > limit {
            Err(SendError::TooManyArguments { count, limit })
        } else {
            Ok(())
        }
    }

    fn write_identifier(&mut self) {
        let mut buf = id::scratch();
        let id = RequestId(self.table.next_sequence());
        self.tx.extend_from_slice(id.encode(&mut buf));
    }

    /// Registers the request encoded at `tx[start..]`, or undoes it.
    fn commit(&mut self, start: usize) -> Result<RequestId, SendError> {
        let len = self.tx.len() - start;
        let limit = self.config.max_message_len();
        if len > limit {
            self.tx.truncate(start);
            return Err(SendError::MessageTooLong { len, limit });
        }
        self.table.trim(self.max_span());
        let seq = self.table.push(None);
        self.segments.push_back((seq, len));
        Ok(RequestId(seq))
    }

    /// Whether any byte of the queued request `seq` was written.
    fn is_touched(&self, seq: u64) -> bool {
        self.front_written > 0 && self.segments.front().is_some_and(|&(s, _)| s == seq)
    }

    fn withdraw_or_abandon(&mut self, seq: u64, slot: Entry<I>) -> Cancelled {
        if matches!(slot, Entry::Queued { .. }) && !self.is_touched(seq) {
            // Its segment is dropped by `compact_transmit`.
            self.table.set(seq, Entry::Done);
            Cancelled::Withdrawn
        } else {
            self.table.set(seq, Entry::Abandoned);
            Cancelled::Abandoned
        }
    }

    /// Removes the bytes of withdrawn requests (segments whose request is
    /// no longer queued) from the transmit buffer, in one pass.
    ///
    /// A segment partly written is always kept, whatever became of its
    /// request (a late response absorbed, or forgotten by `trim`): its
    /// first bytes are on the wire, so the rest must follow or the next
    /// request would be glued to them.
    fn compact_transmit(&mut self) {
        let withdrawn = |table: &Table<I>, seq: u64| {
            !matches!(
                table.get(seq),
                Some(Entry::Queued { .. }) | Some(Entry::Abandoned)
            )
        };
        if !self
            .segments
            .iter()
            .any(|&(seq, _)| withdrawn(&self.table, seq))
        {
            return;
        }
        let (mut read, mut write) = (0, 0);
        let mut first = true;
        let table = &self.table;
        let tx = &mut self.tx;
        let front_written = self.front_written;
        self.segments.retain(|&(seq, len)| {
            let touched = first && front_written > 0;
            let bytes = if first { len - front_written } else { len };
            first = false;
            let keep = touched || !withdrawn(table, seq);
            if keep {
                tx.copy_within(read..read + bytes, write);
                write += bytes;
            }
            read += bytes;
            keep
        });
        self.tx.truncate(write);
    }

    fn maybe_finish_close(&mut self) {
        if self.state == State::Closing && self.table.active() == 0 {
            self.finish(None);
        }
    }

    /// Closes on a fatal error: every active request gets its outcome.
    fn fail(&mut self, error: ConnectionError) {
        if self.state != State::Closed {
            self.finish(Some(error));
        }
    }

    fn finish(&mut self, error: Option<ConnectionError>) {
        for (seq, slot) in self.table.drain_active() {
            let outcome = match slot {
                Entry::Written { .. } => Outcome::Unknown,
                _ => Outcome::NotSent,
            };
            self.events.push_back(Event::Outcome {
                id: RequestId(seq),
                outcome,
            });
        }
        self.events.push_back(Event::Closed { error });
        self.state = State::Closed;
        self.tx.clear();
        self.segments.clear();
        self.front_written = 0;
        self.deadlines.clear();
    }
}

/// An argument of a raw request: the identifier, then the caller's body.
enum Arg<'a, A> {
    Id(&'a [u8]),
    Body(A),
}

impl<A: AsRef<str>> AsRef<[u8]> for Arg<'_, A> {
    fn as_ref(&self) -> &[u8] {
        match self {
            Arg::Id(id) => id,
            Arg::Body(arg) => arg.as_ref().as_bytes(),
        }
    }
}
