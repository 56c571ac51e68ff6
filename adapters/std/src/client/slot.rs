//! One connection slot of the blocking client: the engine's [`Mux`] and
//! the socket it drives, in the calling thread.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use kairoi_client::mux::{self, Mux, Payload, Submission};
use kairoi_client::stats::ServerCounters;
use kairoi_client::{ServerAddr, Settings};

use super::socket::Socket;
use crate::{Cause, RequestError};

/// A request's end: its input position, the result, and the body.
pub(crate) type Done = (usize, Result<(), RequestError>, Option<Payload>);

/// The longest a slot with nothing to wait for sleeps before it looks at
/// the batch again.
const IDLE: Duration = Duration::from_millis(5);

/// The requests of a slot that ended, in the order they did.
type Finished = Arc<Mutex<VecDeque<Done>>>;

/// The way back from the engine to the call that sent a request.
#[derive(Debug)]
pub(crate) struct QueueReply {
    finished: Finished,
    index: usize,
}

impl mux::Reply for QueueReply {
    fn is_closed(&self) -> bool {
        false
    }

    fn deliver(self, result: Result<(), RequestError>, body: Payload) {
        let mut finished = self.finished.lock().unwrap_or_else(PoisonError::into_inner);
        finished.push_back((self.index, result, Some(body)));
    }
}

/// One connection slot: reconnects when its requests need it, with
/// backoff and jitter after failed attempts.
#[derive(Debug)]
pub(crate) struct Slot {
    /// The position of its server in the client.
    pub(crate) server: usize,
    target: ServerAddr,
    pub(crate) mux: Mux<QueueReply>,
    socket: Option<Socket>,
    finished: Finished,
    next_ticket: u64,
}

impl Slot {
    /// A slot of the server at position `server`, at `target`, not
    /// connected yet.
    pub(crate) fn new(
        settings: &Settings,
        server: usize,
        target: ServerAddr,
        counters: Arc<ServerCounters>,
    ) -> Self {
        Slot {
            server,
            target,
            mux: Mux::new(settings, true).counting(counters),
            socket: None,
            finished: Finished::default(),
            next_ticket: 0,
        }
    }

    /// Connects now (for a client's first connection, with no limit but
    /// the settings' timeouts, or within `until`); the engine learns how
    /// the attempt ended.
    pub(crate) fn connect(
        &mut self,
        settings: &Settings,
        until: Option<Instant>,
    ) -> Result<(), Cause> {
        self.mux.connecting();
        match Socket::open(&self.target, settings, until) {
            Ok(socket) => {
                self.socket = Some(socket);
                self.mux.connected(Instant::now());
                Ok(())
            }
            Err(cause) => {
                self.mux.connect_failed(Instant::now(), cause.clone());
                Err(cause)
            }
        }
    }

    /// Whether a connection is up.
    pub(crate) fn is_up(&self) -> bool {
        self.mux.is_up()
    }

    /// The open socket, if any.
    pub(crate) fn socket(&self) -> Option<&Socket> {
        self.socket.as_ref()
    }

    /// Takes the socket out, to close it.
    pub(crate) fn take_socket(&mut self) -> Option<Socket> {
        self.socket.take()
    }

    /// Hands a request to the engine; its end comes back through
    /// [`Slot::finished`].
    pub(crate) fn submit(
        &mut self,
        index: usize,
        body: Payload,
        span: tracing::Span,
        deadline: Option<Instant>,
    ) {
        let job = Submission {
            ticket: self.next_ticket,
            body,
            queued_at: Instant::now(),
            deadline,
            reply: QueueReply {
                finished: self.finished.clone(),
                index,
            },
            span,
        };
        self.next_ticket = self.next_ticket.wrapping_add(1);
        self.mux.submit(job, Instant::now());
    }

    /// The next request that ended, if any.
    pub(crate) fn finished(&self) -> Option<Done> {
        let mut finished = self.finished.lock().unwrap_or_else(PoisonError::into_inner);
        finished.pop_front()
    }

    /// Before a call: what arrived on an idle connection is read, so that
    /// one the server closed meanwhile is not written to.
    pub(crate) fn refresh(&mut self) {
        if let Some(socket) = &mut self.socket {
            socket.refresh(&mut self.mux);
        }
        self.settle(Instant::now());
    }

    /// One turn of the engine: due deadlines, a connection attempt when
    /// one is wanted, admission into the window, then I/O (or a sleep when
    /// down) until the next deadline or `wake`.
    pub(crate) fn turn(&mut self, settings: &Settings, wake: Option<Instant>) {
        let now = Instant::now();
        if self.mux.next_deadline().is_some_and(|t| t <= now) {
            self.mux.handle_timeout(now);
            self.settle(now);
        }
        if self.socket.is_none() && self.mux.wants_connect(now) {
            // The attempt is bounded by what waits (the deadlines while
            // connecting); a failure is the engine's to report: it backs
            // off.
            self.mux.connecting();
            let until = self.mux.next_deadline();
            let _ = self.connect(settings, until);
        }
        self.mux.admit(Instant::now());
        // A slot that holds nothing only waits to look at the call again.
        let idle = (self.mux.load() == 0).then(|| Instant::now() + IDLE);
        let until = [self.mux.next_deadline(), wake, idle]
            .into_iter()
            .flatten()
            .min();
        match &mut self.socket {
            Some(socket) => socket.step(&mut self.mux, until),
            None if self.mux.wants_connect(Instant::now()) => {}
            None => {
                let now = Instant::now();
                let nap = until.map_or(IDLE, |t| t.saturating_duration_since(now));
                std::thread::sleep(nap.min(Duration::from_secs(1)));
            }
        }
        self.settle(Instant::now());
    }

    /// Hands finished requests to their callers; drops the socket of a
    /// connection that ended.
    fn settle(&mut self, now: Instant) {
        self.mux.poll_events(now);
        if !self.mux.is_up() {
            self.socket = None;
        }
    }
}
