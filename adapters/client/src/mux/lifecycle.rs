//! The connection lifecycle of a slot: when to connect, what a connection
//! that ends leaves behind, and which requests stop waiting for the next
//! one ([`Disconnected`]).

use std::time::Instant;

use kairoi_proto::{Client, Outcome};

use super::{Mux, Reply, Submission, Transport};
use crate::liveness::Liveness;
use crate::{Cause, Disconnected, RequestError};

impl<R: Reply> Mux<R> {
    /// Whether a transport is attached.
    pub fn is_up(&self) -> bool {
        self.transport == Transport::Up
    }

    /// Whether the driver should start a connection attempt at `now`:
    /// there is no connection, requests wait for one, and no backoff runs.
    pub fn wants_connect(&self, now: Instant) -> bool {
        self.transport == Transport::Down
            && self.reconnects
            && self.closed.is_none()
            && !self.closing
            && (!self.queue.is_empty() || self.redial)
            && self.reconnect.backing_off(now).is_none()
    }

    /// A connection attempt started.
    pub fn connecting(&mut self) {
        if self.transport == Transport::Down {
            self.transport = Transport::Connecting;
        }
    }

    /// A transport is attached at `now`: a new connection, with an empty
    /// window, takes the queued requests.
    pub fn connected(&mut self, now: Instant) {
        self.counters.connected();
        crate::metrics::connections(self.counters.name(), 1.0);
        tracing::info!(
            server = self.counters.name().map(|n| n.as_ref()),
            "connected"
        );
        self.core = Client::new(self.config);
        self.transport = Transport::Up;
        self.redial = false;
        self.eof = false;
        self.failure = None;
        self.reconnect.succeeded();
        self.liveness = Liveness::new(self.request_timeout);
        self.admit(now);
    }

    /// A connection attempt failed at `now`: the next one backs off.
    pub fn connect_failed(&mut self, now: Instant, cause: Cause) {
        self.counters.connect_failed(&cause);
        self.transport = Transport::Down;
        self.reconnect.failed(now, &self.backoff, cause.clone());
        tracing::warn!(
            server = self.counters.name().map(|n| n.as_ref()),
            %cause,
            retry_in_ms = self
                .reconnect
                .next_attempt()
                .map_or(0, |t| t.saturating_duration_since(now).as_millis() as u64),
            "connection attempt failed"
        );
        if self.behaviour == Disconnected::FailFast {
            self.reject_queue(|_| true, RequestError::NotSent { cause });
        }
        self.expire(now);
        self.publish();
    }

    /// The connection ended with `cause`: what it had written ends
    /// `Unknown`; what it had not goes out on the next connection when the
    /// slot waits for one, else ends `NotSent`.
    pub(super) fn connection_ended(&mut self, now: Instant, cause: Cause) {
        self.counters.connection_ended(&cause);
        crate::metrics::connections(self.counters.name(), -1.0);
        let server = self.counters.name().map(|n| n.as_ref());
        match (&cause, self.ended.len()) {
            (Cause::Closed, 0) => tracing::info!(server, "connection closed"),
            (cause, active) => tracing::warn!(server, %cause, active, "connection ended"),
        }
        self.transport = Transport::Down;
        self.last_end = Some(cause.clone());
        let again = self.reconnects && self.behaviour == Disconnected::Wait && !self.closing;
        self.redial = again && !self.ended.is_empty();
        let mut requeued = Vec::new();
        for (job, outcome) in std::mem::take(&mut self.ended) {
            if again && outcome == Outcome::NotSent {
                requeued.push(job);
            } else {
                self.resolve(job, outcome, || cause.clone());
            }
        }
        for job in requeued.into_iter().rev() {
            self.note_deadline(job.deadline);
            self.queue.push_front(job);
        }
        if self.closing || !self.reconnects {
            self.closed = Some(cause.clone());
        }
        if !again {
            self.reject_queue(|_| true, RequestError::NotSent { cause });
        }
        self.expire(now);
        self.publish();
    }

    /// The cause to refuse a new request with at `now`, if it is refused:
    /// with [`Disconnected::FailFast`], while there is no connection and
    /// the backoff after a failed attempt runs.
    pub(super) fn refusal(&self, now: Instant) -> Option<Cause> {
        if self.transport != Transport::Down || self.behaviour != Disconnected::FailFast {
            return None;
        }
        self.reconnect.backing_off(now).cloned()
    }

    /// Ends the queued requests that stop waiting at `now`: those past
    /// their deadline; with no connection, all of them once the slot
    /// closes; and the requests of batches (which have no deadline of
    /// their own) once the server is unreachable and no attempt is due.
    pub(super) fn expire(&mut self, now: Instant) {
        let down = self.transport == Transport::Down;
        if down && self.closing && self.closed.is_none() {
            self.closed = Some(self.wait_cause());
        }
        let all = down && (self.closing || self.closed.is_some());
        let batches = down
            && self.reconnect.backing_off(now).is_some()
            && self.reconnect.unreachable(now, self.request_timeout);
        if self.queue.is_empty() || !all && !batches && self.queue_deadline.is_none_or(|d| d > now)
        {
            return;
        }
        let error = match self.transport {
            // It waited for room in the window past its deadline.
            Transport::Up => RequestError::TimedOut {
                timeout: self.request_timeout.unwrap_or_default(),
            },
            _ => RequestError::NotSent {
                cause: self.wait_cause(),
            },
        };
        self.reject_queue(
            |job| match job.deadline {
                Some(d) => all || d <= now,
                None => all || batches,
            },
            error,
        );
    }

    /// Why requests waiting for a connection do not get one: the last
    /// failed attempt's error, else why the last connection ended.
    fn wait_cause(&self) -> Cause {
        self.reconnect
            .last_error()
            .or(self.last_end.as_ref())
            .cloned()
            .unwrap_or(Cause::Closed)
    }

    /// Ends the queued requests that `ends` picks with `error`, keeping the
    /// others in order, and recomputes the earliest queued deadline.
    fn reject_queue(&mut self, ends: impl Fn(&Submission<R>) -> bool, error: RequestError) {
        self.queue_deadline = None;
        for job in std::mem::take(&mut self.queue) {
            if ends(&job) {
                job.finish(Err(error.clone()));
            } else {
                self.note_deadline(job.deadline);
                self.queue.push_back(job);
            }
        }
    }
}
