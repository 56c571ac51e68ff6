//! One pass of a batch over one connection: requests go out through the
//! window while responses come back in any order, and each outcome goes to
//! the input position of its instruction.

use std::borrow::Borrow;
use std::collections::HashMap;
use std::time::{Duration, Instant};

use kairoi_client::deadline;
use kairoi_client::mux::Payload;
use kairoi_proto::{Event, Instruction, Outcome, RequestId, SendError};

use super::connection::Connection;
use crate::{Cause, RequestError};

/// Receives each request's result: its input position, its body when the
/// pass keeps bodies for a retry, and the result.
pub(crate) type Sink<'a> = dyn FnMut(usize, Option<Payload>, Result<(), RequestError>) + 'a;

/// What a pass can send: a typed instruction, borrowed or owned, or a
/// body kept for a retry.
pub(crate) trait Request {
    /// Queues it on `core`.
    fn send_on(&self, core: &mut kairoi_proto::Client) -> Result<RequestId, SendError>;
    /// A copy to send again.
    fn to_payload(&self) -> Payload;
}

/// A typed instruction of a batch.
pub(crate) struct Typed<B>(pub(crate) B);

impl<B: Borrow<Instruction>> Request for Typed<B> {
    fn send_on(&self, core: &mut kairoi_proto::Client) -> Result<RequestId, SendError> {
        core.send(self.0.borrow())
    }

    fn to_payload(&self) -> Payload {
        Payload::Typed(self.0.borrow().clone())
    }
}

impl Request for Payload {
    fn send_on(&self, core: &mut kairoi_proto::Client) -> Result<RequestId, SendError> {
        Payload::send_on(self, core)
    }

    fn to_payload(&self) -> Payload {
        self.clone()
    }
}

/// How a pass runs.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Pass {
    /// Each request's timeout, from when it enters the window.
    pub(crate) timeout: Option<Duration>,
    /// For a single call: when the whole call ends, connecting included.
    pub(crate) until: Option<Instant>,
    /// Keep a copy of each instruction in flight, for a retry.
    pub(crate) keep: bool,
}

impl Pass {
    /// Sends items over `conn` while the window has room, and reports each
    /// result to `sink`, until the items run out and every request is
    /// answered. Returns the cause when the connection ended; items not
    /// taken from `items` then are left there.
    pub(crate) fn run<Q: Request>(
        &self,
        conn: &mut Connection,
        items: &mut dyn Iterator<Item = (usize, Q)>,
        sink: &mut Sink<'_>,
    ) -> Option<Cause> {
        let mut in_flight: HashMap<RequestId, (usize, Option<Payload>)> = HashMap::new();
        // Requests that lost their connection, waiting for its cause.
        let mut lost: Vec<(usize, Option<Payload>, Outcome)> = Vec::new();
        let mut exhausted = false;
        let timeout = self.timeout.unwrap_or(Duration::MAX);
        loop {
            // One instant for the deadlines and the liveness rule, so that
            // a connection on which every request timed out is also dead.
            let now = Instant::now();
            while !exhausted && conn.core.can_send() {
                let Some((index, item)) = items.next() else {
                    exhausted = true;
                    break;
                };
                match item.send_on(&mut conn.core) {
                    Ok(id) => {
                        let at = match (deadline(now, self.timeout), self.until) {
                            (Some(a), Some(b)) => Some(a.min(b)),
                            (a, b) => a.or(b),
                        };
                        if let Some(at) = at {
                            conn.core.set_deadline(id, at);
                        }
                        let kept = self.keep.then(|| item.to_payload());
                        in_flight.insert(id, (index, kept));
                    }
                    // The request itself cannot be sent (too long, ...).
                    Err(e) => sink(index, None, Err(RequestError::Invalid(e))),
                }
            }
            conn.watch(now);
            if exhausted && in_flight.is_empty() {
                return None;
            }
            if !conn.core.is_closed() {
                conn.step(conn.liveness.deadline());
            }
            while let Some(event) = conn.core.poll_event() {
                match event {
                    Event::Outcome { id, outcome } => {
                        let Some((index, kept)) = in_flight.remove(&id) else {
                            continue;
                        };
                        match outcome {
                            // These come only with the end of the
                            // connection, before its cause.
                            Outcome::NotSent | Outcome::Unknown => {
                                lost.push((index, kept, outcome))
                            }
                            _ => {
                                // No cause is needed for these outcomes.
                                let error =
                                    RequestError::from_outcome(outcome, timeout, || Cause::Closed);
                                sink(index, kept, error.map_or(Ok(()), Err));
                            }
                        }
                    }
                    Event::Closed { error } => {
                        let cause = conn.cause_of(error);
                        for (index, kept, outcome) in lost.drain(..) {
                            let error =
                                RequestError::from_outcome(outcome, timeout, || cause.clone());
                            sink(index, kept, error.map_or(Ok(()), Err));
                        }
                        // Requests with no outcome cannot remain, but if
                        // one did it would be reported, not dropped.
                        for (_, (index, kept)) in in_flight.drain() {
                            let cause = cause.clone();
                            sink(index, kept, Err(RequestError::Unknown { cause }));
                        }
                        return Some(cause);
                    }
                    _ => {}
                }
            }
            let now = Instant::now();
            if conn.core.poll_timeout().is_some_and(|t| t <= now) {
                // Requests whose deadline passed end as timed out first.
                continue;
            }
            conn.watch(now);
            if let Some(waited) = conn.liveness.expired(now) {
                conn.abort(Cause::Unresponsive { waited });
            }
        }
    }
}
