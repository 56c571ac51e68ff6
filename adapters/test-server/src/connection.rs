//! One connection of the test server: the core's `Server` between a socket
//! and the scheduler, with the faults applied.

use std::cmp::{Ordering as CmpOrdering, Reverse};
use std::collections::BinaryHeap;
use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::instant_after;
use kairoi_proto::{Instruction, Server, ServerEvent, Status, Token};

use crate::faults::Settings;
use crate::input::LossyUtf8;
use crate::lock;
use crate::shared::Shared;

/// The most bytes one read takes from the socket: 2 KiB, as the reference
/// server, so that a character cut by a read's end comes out alike (see
/// `input.rs`).
const READ_SIZE: usize = 2048;
/// The longest a connection blocks in one read before it looks at the
/// faults and the shutdown flag again.
const READ_POLL: Duration = Duration::from_millis(50);
/// The longest a connection sleeps while it does not read.
const IDLE_POLL: Duration = Duration::from_millis(5);
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
    /// The `ERROR` of an invalid body, which the reference server's
    /// connection thread writes as soon as it parses the request (the
    /// answers of valid requests come from its database loop).
    immediate: bool,
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
    out: Vec<u8>,
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
        server: Server::new(shared.config),
        input: LossyUtf8::default(),
        held: Vec::new(),
        held_until: None,
        stream,
        pending: BinaryHeap::new(),
        out: Vec::new(),
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
            let can_read = !faults.stop_reading
                && self.server.wants_input()
                && self.server.buffered_receive() < self.max_undecoded()
                && self.out.len() < MAX_UNWRITTEN;
            let wait = self.wait_time();
            if can_read {
                self.set_read_timeout(wait)?;
                match self.stream.read(&mut buf) {
                    // Closed by the server going down.
                    Ok(0) if self.stopping() => return Ok(End::Abrupt),
                    Ok(0) => {
                        // As the reference server: the end of the client's
                        // input ends the connection at once. What was
                        // answered is written; nothing else is.
                        self.out_immediate_errors();
                        return Ok(End::Flush);
                    }
                    Ok(n) => {
                        // It reads only when the core wants input: not
                        // paused, so the core takes every byte.
                        let text = self.input.decode(&buf[..n]);
                        let taken = self.server.receive(text);
                        debug_assert_eq!(taken, text.len());
                    }
                    Err(e) if is_retry(&e) => {}
                    Err(e) => return Err(e),
                }
            } else if self.pending.is_empty() || wait > Duration::ZERO {
                std::thread::sleep(wait.min(IDLE_POLL));
            }
            // The faults may have changed while this thread waited.
            let faults = self.shared.faults.snapshot();
            if let Some(end) = self.process(&faults) {
                return Ok(end);
            }
        }
    }

    /// The undecoded bytes beyond which the connection stops reading: at
    /// least one byte more than the longest message allowed, so that an
    /// unfinished message always either completes or fails.
    fn max_undecoded(&self) -> usize {
        MAX_UNDECODED.max(self.server.config().max_message_len().saturating_add(1))
    }

    /// How long to wait for input: until the next response is due, at most
    /// [`READ_POLL`], and briefly while responses wait to be written.
    fn wait_time(&self) -> Duration {
        let mut wait = READ_POLL;
        let next = self.pending.peek().map(|Reverse(p)| p.ready_at);
        for at in next.into_iter().chain(self.held_until) {
            wait = wait.min(at.saturating_duration_since(Instant::now()));
        }
        if !self.out.is_empty() {
            wait = wait.min(Duration::from_millis(1));
        }
        wait
    }

    fn set_read_timeout(&mut self, wait: Duration) -> io::Result<()> {
        // A zero timeout means "block forever" to the socket API.
        let wait = Some(wait.max(Duration::from_micros(100)));
        if self.read_timeout != wait {
            self.stream.set_read_timeout(wait)?;
            self.read_timeout = wait;
        }
        Ok(())
    }

    /// Decodes the requests read so far: invalid ones are answered at once,
    /// valid ones held for the next tick.
    fn process(&mut self, faults: &Settings) -> Option<End> {
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
                        Err(_) => {
                            let at = instant_after(now, faults.delay);
                            self.queue(request.token, Status::Error, at, true);
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
                    self.out_immediate_errors();
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
            self.queue(token, status, instant_after(ready_at, faults.delay), false);
        }
    }

    /// After the connection closed: waits for the tick, then applies the
    /// held requests, whose answers are never written.
    fn apply_held_at_tick(&mut self) {
        while let Some(tick) = self.held_until {
            if self.stopping() {
                return;
            }
            let left = tick.saturating_duration_since(Instant::now());
            if left.is_zero() {
                self.apply_held(&self.shared.faults.snapshot());
            } else {
                std::thread::sleep(left.min(IDLE_POLL));
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

    /// Moves the `ERROR`s of invalid bodies still waiting into the output
    /// buffer, in the order of their requests, and drops every other
    /// waiting answer: the connection is ending on a malformed message or
    /// at the end of the client's input.
    fn out_immediate_errors(&mut self) {
        let mut errors: Vec<Pending> = std::mem::take(&mut self.pending)
            .into_iter()
            .map(|Reverse(p)| p)
            .filter(|p| p.immediate)
            .collect();
        errors.sort_by_key(|p| p.order);
        // The core refuses to answer once the stream failed.
        for p in errors {
            answer(&mut self.out, "", p.token.identifier().as_str(), p.status);
        }
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

    fn queue(&mut self, token: Token, status: Status, ready_at: Instant, immediate: bool) {
        self.order += 1;
        self.pending.push(Reverse(Pending {
            ready_at,
            order: self.order,
            token,
            status,
            immediate,
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
            if faults.close_after.is_some_and(|n| self.answered >= n) {
                return;
            }
            self.answered += 1;
            // The reference server writes the identifier as it decoded
            // it, unquoted: the answer is written from the token before
            // the core takes it, and the core's own wire form dropped.
            let mark = self.out.len();
            if faults.malformed_responses {
                self.out.extend_from_slice(b"0 \"\\x\"\n");
            } else {
                let prefix = if faults.unmatched_responses {
                    "unmatched-"
                } else {
                    ""
                };
                answer(
                    &mut self.out,
                    prefix,
                    p.token.identifier().as_str(),
                    p.status,
                );
            }
            if self.server.respond(p.token, p.status).is_err() {
                self.out.truncate(mark);
                continue;
            }
            let len = self.server.poll_transmit().map_or(0, <[u8]>::len);
            self.server.consume_transmit(len);
        }
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
        let _ = self
            .stream
            .set_read_timeout(Some(Duration::from_millis(10)));
        while Instant::now() < deadline.min(quiet_until) && !self.stopping() {
            match self.stream.read(&mut buf) {
                Ok(0) => return,
                Ok(_) => quiet_until = Instant::now() + LINGER_QUIET,
                Err(e) if is_retry(&e) => {}
                Err(_) => return,
            }
        }
    }
}

/// Writes an answer as the reference server does: the identifier as it
/// was decoded, unquoted (one that needs quoting comes out broken, as it
/// does from the reference server), then the status.
fn answer(out: &mut Vec<u8>, prefix: &str, identifier: &str, status: Status) {
    out.extend_from_slice(prefix.as_bytes());
    out.extend_from_slice(identifier.as_bytes());
    out.push(b' ');
    out.extend_from_slice(status.as_str().as_bytes());
    out.push(b'\n');
}

/// Whether an I/O error only means "not now".
fn is_retry(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut | io::ErrorKind::Interrupted
    )
}
