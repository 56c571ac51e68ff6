//! One connection of the test server: the core's `Server` between a socket
//! and the scheduler, with the faults applied.

use std::cmp::{Ordering as CmpOrdering, Reverse};
use std::collections::BinaryHeap;
use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::instant_after;
use kairoi_proto::{IdentifierEcho, Instruction, LossyUtf8, Server, ServerEvent, Status, Token};

use crate::faults::Settings;
use crate::lock;
use crate::shared::Shared;

/// The most bytes one read takes from the socket: 2 KiB, as the reference
/// server, so that a character cut by a read's end comes out alike (see
/// [`LossyUtf8`]).
const READ_SIZE: usize = 2048;
/// How long a connection with answers waiting to be written waits at most
/// before it tries to write them again.
const WRITE_POLL: Duration = Duration::from_millis(1);
/// The longest one write blocks when the client does not read.
const WRITE_SLICE: Duration = Duration::from_millis(5);
/// Responses buffered for a client that does not read, beyond which the
/// connection stops reading requests.
pub(crate) const MAX_UNWRITTEN: usize = 256 * 1024;
/// How long a client may read none of the answers waiting for it before
/// the connection is dropped (the reference server drops it at once).
pub(crate) const PEER_STALL: Duration = Duration::from_secs(5);
/// Bytes read and not yet decoded (the core decodes no more while
/// `max_active` requests are unanswered) beyond which a connection stops
/// reading: growing the receive buffer further only costs copies.
const MAX_UNDECODED: usize = 256 * 1024;
/// How long a connection closing on a fault waits for the client to close.
const LINGER: Duration = Duration::from_secs(1);
/// A closing connection waits no longer when the client sent nothing for
/// this long.
const LINGER_QUIET: Duration = Duration::from_millis(50);

/// A response waiting for its time.
struct Pending {
    ready_at: Instant,
    order: u64,
    token: Token,
    status: Status,
}

impl PartialEq for Pending {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == CmpOrdering::Equal
    }
}
impl Eq for Pending {}
impl PartialOrd for Pending {
    fn partial_cmp(&self, other: &Self) -> Option<CmpOrdering> {
        Some(self.cmp(other))
    }
}
impl Ord for Pending {
    fn cmp(&self, other: &Self) -> CmpOrdering {
        (self.ready_at, self.order).cmp(&(other.ready_at, other.order))
    }
}

/// How a connection ends.
enum End {
    /// Flush, close the sending side, wait briefly for the client to close.
    Graceful,
    /// Write what is in the output buffer, then close at once, as the
    /// reference server does on a malformed message and at the end of the
    /// client's input. The valid requests read before are still applied,
    /// at the next tick, and never answered.
    Flush,
    /// Close at once, dropping every unwritten response.
    Abrupt,
}

/// What a read brought after [`Faults::set_stop_reading`] was turned on
/// (the read was already waiting): kept unseen until reading resumes.
///
/// [`Faults::set_stop_reading`]: crate::Faults::set_stop_reading
enum Unread {
    Bytes(Vec<u8>),
    End,
}

struct Connection<'a> {
    shared: &'a Shared,
    /// Set when the server shuts down or is taken down: the connection
    /// ends at once, answering nothing more.
    stop: &'a AtomicBool,
    stream: TcpStream,
    server: Server,
    input: LossyUtf8,
    /// Valid requests read and not yet applied: they are applied together
    /// at `held_until`, the scheduler's next tick after the first of them.
    held: Vec<(Token, Instruction)>,
    held_until: Option<Instant>,
    pending: BinaryHeap<Reverse<Pending>>,
    /// The answers to write, as the core encoded them (altered by the
    /// faults that alter answers).
    out: Vec<u8>,
    unread: Option<Unread>,
    order: u64,
    received: usize,
    answered: usize,
    /// When the one-at-a-time worker of `per_request_cost` is next free.
    worker_free_at: Instant,
    rng: u64,
    read_timeout: Option<Duration>,
    /// The last time the output buffer was empty or a write took some of
    /// it.
    last_write: Instant,
}

/// Serves one connection until it ends, or until `stop` is set.
pub(crate) fn serve(shared: &Shared, stream: TcpStream, stop: &AtomicBool) {
    let _ = stream.set_nodelay(true);
    if stream.set_write_timeout(Some(WRITE_SLICE)).is_err() {
        return;
    }
    let seed = shared.accepted.load(Ordering::Relaxed) as u64;
    let mut conn = Connection {
        shared,
        stop,
        // As the reference server, answers repeat the identifier as it was
        // decoded, unquoted.
        server: Server::new(shared.config).with_identifier_echo(IdentifierEcho::Unquoted),
        input: LossyUtf8::default(),
        held: Vec::new(),
        held_until: None,
        stream,
        pending: BinaryHeap::new(),
        out: Vec::new(),
        unread: None,
        order: 0,
        received: 0,
        answered: 0,
        worker_free_at: Instant::now(),
        rng: 0x9e37_79b9_7f4a_7c15 ^ seed.wrapping_mul(0x2545_f491_4f6c_dd1d),
        read_timeout: None,
        last_write: Instant::now(),
    };
    match conn.run() {
        Ok(End::Graceful) => conn.linger(),
        Ok(End::Flush) => {
            conn.write_out();
            let _ = conn.stream.shutdown(Shutdown::Both);
            conn.apply_held_at_tick();
        }
        Ok(End::Abrupt) | Err(_) => {
            let _ = conn.stream.shutdown(Shutdown::Both);
        }
    }
}

impl Connection<'_> {
    /// Whether the server is shutting down or going down.
    fn stopping(&self) -> bool {
        self.stop.load(Ordering::Acquire)
    }

    /// Serves until the connection ends. It blocks until something is to
    /// be done: a read, the next answer's or tick's time, a change of the
    /// faults, the server stopping (which also closes the socket); an idle
    /// connection costs no wake-up.
    fn run(&mut self) -> io::Result<End> {
        let mut buf = vec![0u8; READ_SIZE];
        loop {
            if self.stopping() {
                return Ok(End::Abrupt);
            }
            let faults = self.shared.faults.snapshot();
            self.apply_held(&faults);
            self.release(&faults);
            self.flush()?;
            if self.last_write.elapsed() >= PEER_STALL {
                // The client reads nothing: drop it, as the reference
                // server does, rather than hold its answers.
                return Ok(End::Abrupt);
            }
            if let Some(n) = faults.close_after {
                if self.answered >= n && self.out.is_empty() {
                    return Ok(End::Graceful);
                }
            }
            let wait = self.wait_time();
            if faults.stop_reading || !self.wants_input() {
                self.shared
                    .faults
                    .wait_for_change(faults.generation, wait, self.stop);
            } else if let Some(unread) = self.unread.take() {
                // Read while reading was stopped: seen now.
                let end = match unread {
                    Unread::Bytes(bytes) => self.input(&bytes),
                    Unread::End => self.input(&[]),
                };
                if let Some(end) = end {
                    return Ok(end);
                }
            } else {
                self.set_read_timeout(wait)?;
                match self.stream.read(&mut buf) {
                    // Closed by the server going down.
                    Ok(0) if self.stopping() => return Ok(End::Abrupt),
                    Ok(n) if self.shared.faults.stops_reading() => {
                        // Reading stopped while this read waited: what it
                        // brought stays unseen until reading resumes.
                        self.unread = Some(match n {
                            0 => Unread::End,
                            n => Unread::Bytes(buf[..n].to_vec()),
                        });
                    }
                    Ok(n) => {
                        if let Some(end) = self.input(&buf[..n]) {
                            return Ok(end);
                        }
                    }
                    Err(e) if is_retry(&e) => {}
                    Err(e) => return Err(e),
                }
            }
            // The faults may have changed while this thread waited.
            let faults = self.shared.faults.snapshot();
            if let Some(end) = self.process(&faults) {
                return Ok(end);
            }
        }
    }

    /// Whether the connection reads: the core wants input, and neither
    /// the undecoded bytes nor the answers waiting to be written are past
    /// their bounds.
    fn wants_input(&self) -> bool {
        self.server.wants_input()
            && self.server.buffered_receive() < self.max_undecoded()
            && self.out.len() < MAX_UNWRITTEN
    }

    /// Gives what a read brought to the core; an empty read is the end of
    /// the client's input, which ends the connection.
    fn input(&mut self, bytes: &[u8]) -> Option<End> {
        if bytes.is_empty() {
            // As the reference server: the end of the client's input ends
            // the connection at once. What was answered is written;
            // nothing else is.
            return Some(End::Flush);
        }
        // It reads only when the core wants input: not paused, so the core
        // takes every byte.
        let text = self.input.decode(bytes);
        let taken = self.server.receive(text);
        debug_assert_eq!(taken, text.len());
        None
    }

    /// The undecoded bytes beyond which the connection stops reading: at
    /// least one byte more than the longest message allowed, so that an
    /// unfinished message always either completes or fails.
    fn max_undecoded(&self) -> usize {
        MAX_UNDECODED.max(self.server.config().max_message_len().saturating_add(1))
    }

    /// How long to wait for input: until the next response or tick is due,
    /// at most [`WRITE_POLL`] while responses wait to be written, and
    /// without a limit (`None`) when nothing waits.
    fn wait_time(&self) -> Option<Duration> {
        let now = Instant::now();
        let next = self.pending.peek().map(|Reverse(p)| p.ready_at);
        let mut wait = next
            .into_iter()
            .chain(self.held_until)
            .min()
            .map(|at| at.saturating_duration_since(now));
        if !self.out.is_empty() {
            wait = Some(wait.map_or(WRITE_POLL, |w| w.min(WRITE_POLL)));
        }
        wait
    }

    fn set_read_timeout(&mut self, wait: Option<Duration>) -> io::Result<()> {
        // A zero timeout means "block forever" to the socket API.
        let wait = wait.map(|w| w.max(Duration::from_micros(100)));
        if self.read_timeout != wait {
            self.stream.set_read_timeout(wait)?;
            self.read_timeout = wait;
        }
        Ok(())
    }

    /// Decodes the requests read so far: invalid ones are answered at once,
    /// valid ones held for the next tick.
    fn process(&mut self, faults: &Settings) -> Option<End> {
        // What came due while this thread waited goes first.
        self.apply_held(faults);
        self.release(faults);
        let now = Instant::now();
        while let Some(event) = self.server.poll_event() {
            match event {
                ServerEvent::Request(request) => {
                    self.received += 1;
                    self.shared.requests.fetch_add(1, Ordering::Relaxed);
                    if faults.close_without_answer {
                        return Some(End::Abrupt);
                    }
                    if faults.close_after.is_some_and(|n| self.received > n) {
                        // Past the fault's limit: never applied, never
                        // answered; the connection closes once the first
                        // requests are answered.
                        continue;
                    }
                    match request.instruction {
                        Ok(instruction) => {
                            self.held.push((request.token, instruction));
                            if self.held_until.is_none() {
                                self.held_until = Some(self.shared.next_tick(now));
                            }
                        }
                        // As the reference server's connection thread, which
                        // writes the ERROR of an invalid body as soon as it
                        // parses it (the answers of valid requests come
                        // from its database loop): answered before the
                        // next message is decoded, which may be malformed
                        // and end the connection.
                        Err(_) if faults.delay.is_zero() => {
                            self.respond(faults, request.token, Status::Error);
                        }
                        Err(_) => {
                            let at = instant_after(now, faults.delay);
                            self.queue(request.token, Status::Error, at);
                        }
                    }
                }
                ServerEvent::Ended => {}
                ServerEvent::Failed(_) => {
                    // As the reference server: its connection thread has
                    // written the ERROR of each invalid body before the
                    // malformed message, and has handed the valid requests
                    // to its database, which applies them at its next tick,
                    // after the connection's thread died: applied, never
                    // answered.
                    return Some(End::Flush);
                }
                _ => {}
            }
        }
        None
    }

    /// At the tick, applies the held requests and queues their answers.
    fn apply_held(&mut self, faults: &Settings) {
        let Some(tick) = self.held_until.filter(|&t| t <= Instant::now()) else {
            return;
        };
        self.held_until = None;
        let held = std::mem::take(&mut self.held);
        let statuses = self.apply(faults, &held);
        for ((token, _), status) in held.into_iter().zip(statuses) {
            let mut ready_at = tick;
            if !faults.per_request_cost.is_zero() {
                self.worker_free_at =
                    instant_after(self.worker_free_at.max(tick), faults.per_request_cost);
                ready_at = self.worker_free_at;
            }
            self.queue(token, status, instant_after(ready_at, faults.delay));
        }
    }

    /// After the connection closed: waits for the tick (or the server
    /// stopping), then applies the held requests, whose answers are never
    /// written.
    fn apply_held_at_tick(&mut self) {
        while let Some(tick) = self.held_until {
            if self.stopping() {
                return;
            }
            let faults = self.shared.faults.snapshot();
            let left = tick.saturating_duration_since(Instant::now());
            if left.is_zero() {
                self.apply_held(&faults);
            } else {
                self.shared
                    .faults
                    .wait_for_change(faults.generation, Some(left), self.stop);
            }
        }
    }

    /// Applies valid requests together, as one tick of the reference
    /// server's database loop, and gives their statuses.
    fn apply(&self, faults: &Settings, valid: &[(Token, Instruction)]) -> Vec<Status> {
        if valid.is_empty() {
            return Vec::new();
        }
        let statuses: Vec<Status> = {
            let mut state = lock(&self.shared.state);
            let statuses = valid
                .iter()
                .map(|(_, instruction)| {
                    if self.shared.faults.rejects(faults, instruction) {
                        Status::Error
                    } else {
                        state.apply(instruction)
                    }
                })
                .collect();
            state.fire_due();
            statuses
        };
        self.shared.changed.notify_all();
        statuses
    }

    /// Writes the output buffer, for at most [`LINGER`].
    fn write_out(&mut self) {
        let deadline = instant_after(Instant::now(), LINGER);
        while !self.out.is_empty() && Instant::now() < deadline {
            if self.flush().is_err() {
                return;
            }
        }
    }

    fn queue(&mut self, token: Token, status: Status, ready_at: Instant) {
        self.order += 1;
        self.pending.push(Reverse(Pending {
            ready_at,
            order: self.order,
            token,
            status,
        }));
    }

    /// Moves the responses that are due into the output buffer.
    fn release(&mut self, faults: &Settings) {
        let now = Instant::now();
        let mut ready = Vec::new();
        while self
            .pending
            .peek()
            .is_some_and(|Reverse(p)| p.ready_at <= now)
        {
            if let Some(Reverse(p)) = self.pending.pop() {
                ready.push(p);
            }
        }
        if faults.shuffle {
            self.shuffle(&mut ready);
        }
        for p in ready {
            if !self.respond(faults, p.token, p.status) {
                return;
            }
        }
    }

    /// Answers a request through the core and moves the answer into the
    /// output buffer, altered as the faults say. Returns `false`, answering
    /// nothing, once the connection answered as many requests as
    /// [`Settings::close_after`] allows.
    fn respond(&mut self, faults: &Settings, token: Token, status: Status) -> bool {
        if faults.close_after.is_some_and(|n| self.answered >= n) {
            return false;
        }
        self.answered += 1;
        if self.server.respond(token, status).is_err() {
            // The stream failed: the connection is ending, unanswered.
            return true;
        }
        let answer = self.server.poll_transmit().unwrap_or_default();
        if faults.malformed_responses {
            // Not a message: an invalid escape inside quotes.
            self.out.extend_from_slice(b"0 \"\\x\"\n");
        } else {
            if faults.unmatched_responses {
                self.out.extend_from_slice(b"unmatched-");
            }
            self.out.extend_from_slice(answer);
        }
        let encoded = answer.len();
        self.server.consume_transmit(encoded);
        true
    }

    fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            self.rng ^= self.rng << 13;
            self.rng ^= self.rng >> 7;
            self.rng ^= self.rng << 17;
            let j = (self.rng % (i as u64 + 1)) as usize;
            items.swap(i, j);
        }
    }

    /// Writes what it can of the output buffer, blocking at most
    /// [`WRITE_SLICE`] when the client does not read.
    fn flush(&mut self) -> io::Result<()> {
        if self.out.is_empty() {
            self.last_write = Instant::now();
            return Ok(());
        }
        match self.stream.write(&self.out) {
            Ok(0) => Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => {
                self.out.drain(..n);
                self.last_write = Instant::now();
                Ok(())
            }
            Err(e) if is_retry(&e) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Closes the sending side after the last response, then reads what
    /// the client still sends until it closes or goes quiet, so that
    /// closing with unread bytes does not reset the connection while the
    /// client reads the last responses.
    fn linger(&mut self) {
        let _ = self.stream.shutdown(Shutdown::Write);
        let deadline = Instant::now() + LINGER;
        let mut quiet_until = Instant::now() + LINGER_QUIET;
        let mut buf = [0u8; 4096];
        // The server stopping closes the socket: the read returns then.
        while !self.stopping() {
            let left = deadline
                .min(quiet_until)
                .saturating_duration_since(Instant::now());
            if left.is_zero() || self.stream.set_read_timeout(Some(left)).is_err() {
                return;
            }
            match self.stream.read(&mut buf) {
                Ok(0) => return,
                Ok(_) => quiet_until = Instant::now() + LINGER_QUIET,
                Err(e) if is_retry(&e) => {}
                Err(_) => return,
            }
        }
    }
}

/// Whether an I/O error only means "not now".
fn is_retry(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut | io::ErrorKind::Interrupted
    )
}
