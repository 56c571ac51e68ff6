//! One pass of a batch over one connection: requests go out through the
//! window while responses come back in any order, and each outcome goes to
//! the input position of its instruction.

use std::borrow::Borrow;
use std::collections::HashMap;
use std::time::{Duration, Instant};

use kairoi_proto::{Event, Instruction, Outcome, RequestId};

use super::connection::Connection;
use crate::{Cause, RequestError};

/// Receives each instruction's result: its input position, the
/// instruction itself when the pass keeps instructions for a retry, and
/// the result.
pub(crate) type Sink<'a> = dyn FnMut(usize, Option<Instruction>, Result<(), RequestError>) + 'a;

/// How a pass runs.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Pass {
    pub(crate) window: usize,
    pub(crate) timeout: Option<Duration>,
    /// Keep a copy of each instruction in flight, for a retry.
    pub(crate) keep: bool,
}

/// How long to wait for late responses when only timed-out requests fill
/// the window and no request timeout is set.
const CLOG_WAIT: Duration = Duration::from_secs(30);

impl Pass {
    /// Sends every item over `conn` and reports each result to `sink`.
    /// Returns the cause when the connection ended; the items not sent
    /// then are reported [`RequestError::NotSent`].
    pub(crate) fn run<B: Borrow<Instruction>>(
        &self,
        conn: &mut Connection,
        items: &mut dyn Iterator<Item = (usize, B)>,
        sink: &mut Sink<'_>,
    ) -> Option<Cause> {
        let mut in_flight: HashMap<RequestId, (usize, Option<Instruction>)> = HashMap::new();
        // Requests that lost their connection, waiting for its cause.
        let mut lost: Vec<(usize, Option<Instruction>, Outcome)> = Vec::new();
        let mut items = items.peekable();
        let mut clogged_until: Option<Instant> = None;
        loop {
            while in_flight.len() < self.window && conn.core.can_send() {
                let Some((index, item)) = items.next() else {
                    break;
                };
                let instruction = item.borrow();
                match conn.core.send(instruction) {
                    Ok(id) => {
                        if let Some(timeout) = self.timeout {
                            conn.core.set_deadline(id, Instant::now() + timeout);
                        }
                        let kept = self.keep.then(|| instruction.clone());
                        in_flight.insert(id, (index, kept));
                    }
                    // The request itself cannot be sent (too long, ...).
                    Err(e) => sink(index, None, Err(RequestError::Invalid(e))),
                }
            }
            let exhausted = items.peek().is_none();
            if exhausted && in_flight.is_empty() {
                return None;
            }
            let mut wake = None;
            if in_flight.is_empty() && !exhausted && !conn.core.can_send() {
                // Only requests that timed out earlier hold the window:
                // wait a while for their late responses.
                let until = *clogged_until
                    .get_or_insert_with(|| Instant::now() + self.timeout.unwrap_or(CLOG_WAIT));
                if Instant::now() >= until {
                    conn.abort(Cause::Clogged {
                        count: conn.core.abandoned(),
                    });
                }
                wake = Some(until);
            } else {
                clogged_until = None;
            }
            if !conn.core.is_closed() {
                conn.step(wake);
            }
            while let Some(event) = conn.core.poll_event() {
                match event {
                    Event::Outcome { id, outcome } => {
                        let Some((index, kept)) = in_flight.remove(&id) else {
                            continue;
                        };
                        let timeout = self.timeout.unwrap_or_default();
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
                        let timeout = self.timeout.unwrap_or_default();
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
                        for (index, item) in items {
                            let kept = self.keep.then(|| item.borrow().clone());
                            let cause = cause.clone();
                            sink(index, kept, Err(RequestError::NotSent { cause }));
                        }
                        return Some(cause);
                    }
                    _ => {}
                }
            }
            if let Some(timeout) = self.timeout {
                if conn.is_stalled(timeout) {
                    conn.abort(Cause::Stalled { waited: timeout });
                }
            }
        }
    }
}
