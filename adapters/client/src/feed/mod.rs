//! [`Feeder`]: the one feeder of batches and retries, shared by every
//! client. It takes requests from the caller's iterator as room frees up,
//! routes each to its server ([`Shards`]), keeps the failed ones that the
//! [`RetryPolicy`] resends until their backoff ends, and decides what the
//! caller is told. It does no I/O and reads no clock: a client submits
//! what [`Feeder::next`] (or [`Feeder::next_for`] one server) gives and
//! hands each result back to [`Feeder::complete`].
//!
//! It holds only the requests that are ready, in a window or waiting for
//! a retry: never more than its limit per server, whatever the batch's
//! size. A request whose server has no room waits at the head of the
//! batch, so a slow server sets the pace of the whole batch. A request
//! that goes to every server (a rule) is sent to each, and its one result
//! combines theirs; a retry resends it only where it failed.

use std::collections::{HashMap, VecDeque};
use std::iter::Enumerate;
use std::sync::Arc;
use std::time::Instant;

use tracing::Span;

use crate::mux::Payload;
use crate::observe::Observer;
use crate::shard::{Route, Shards};
use crate::stats::Counters;
use crate::time::instant_after;
use crate::{Cause, OutcomeKind, RequestError, RetryPolicy};

/// What to do next for a batch.
#[derive(Debug)]
pub enum Next {
    /// Submit this request to the server at position `server`.
    Submit {
        /// The request's input position.
        index: usize,
        /// The server's position in the client.
        server: usize,
        /// What to send.
        body: Payload,
        /// The request's span, for its attempt to record into.
        span: Span,
    },
    /// Report this result to the caller now: the request was not
    /// submitted (its server is unreachable).
    Report(usize, Result<(), RequestError>),
}

/// A result of one request.
type Outcome = Result<(), RequestError>;

/// The part of a batch that goes to one server.
#[derive(Debug)]
struct Lane {
    /// Requests taken for this server and not yet completed: ready, in a
    /// client, or waiting for a retry.
    held: usize,
    /// Taken and not yet submitted, in input order.
    ready: VecDeque<(usize, Payload)>,
    /// Waiting for their retry's backoff, in the order they are due
    /// (every wait is the same).
    due: VecDeque<(Instant, usize, Payload)>,
    /// Whether the client has a connection to this server.
    connected: bool,
    /// The server was found unreachable with no connection: its requests
    /// are reported `NotSent` with this at once.
    drain: Option<Cause>,
}

/// A request sent to every server, waiting for their results.
#[derive(Debug)]
struct Fanout {
    waiting: usize,
    results: Vec<Option<Outcome>>,
}

/// Feeds one batch (or one single call) to a client.
#[derive(Debug)]
pub struct Feeder<I> {
    items: Enumerate<I>,
    exhausted: bool,
    /// A request taken whose server has no room yet.
    next: Option<(usize, Payload, Route)>,
    shards: Shards,
    lanes: Vec<Lane>,
    limit: usize,
    /// Requests taken and not yet reported to the caller.
    open: usize,
    retry: RetryPolicy,
    /// A single call's deadline: no attempt starts after it.
    deadline: Option<Instant>,
    /// Resends made so far, by input position and server.
    resent: HashMap<(usize, usize), u32>,
    fanouts: HashMap<usize, Fanout>,
    /// Results to report that no server gave (unreachable servers).
    reports: VecDeque<(usize, Outcome)>,
    observer: Observer,
}

impl<I: Iterator<Item = Payload>> Feeder<I> {
    /// A batch of `items` over the servers of `shards`, at most `limit`
    /// held at once for each server, resent as `retry` allows; all
    /// attempts start before `deadline`, if any. Every server counts as
    /// connected until [`Feeder::set_connected`] says otherwise.
    pub fn new(
        items: I,
        shards: &Shards,
        limit: usize,
        retry: RetryPolicy,
        deadline: Option<Instant>,
    ) -> Self {
        let lanes = (0..shards.len())
            .map(|_| Lane {
                held: 0,
                ready: VecDeque::new(),
                due: VecDeque::new(),
                connected: true,
                drain: None,
            })
            .collect();
        Feeder {
            items: items.enumerate(),
            exhausted: false,
            next: None,
            shards: shards.clone(),
            lanes,
            limit: limit.max(1),
            open: 0,
            retry,
            deadline,
            resent: HashMap::new(),
            fanouts: HashMap::new(),
            reports: VecDeque::new(),
            observer: Observer::default(),
        }
    }

    /// Counts every request's outcome, as the caller sees it, in
    /// `counters` (and each server's part in its server's counters).
    pub fn counting(mut self, counters: &Arc<Counters>) -> Self {
        self.observer = Observer::new(Some(Arc::clone(counters)));
        self
    }

    /// Says whether the client has a connection to the server at
    /// `server` now. Without one, the feeder takes nothing new for it but
    /// one request to make a connection.
    pub fn set_connected(&mut self, server: usize, connected: bool) {
        if let Some(lane) = self.lanes.get_mut(server) {
            lane.connected = connected;
            if connected {
                lane.drain = None;
            }
        }
    }

    /// What to do next at `now`, for any server: a result to report, a
    /// retry whose backoff ended, a request taken earlier, then new
    /// requests while their servers have room. `None`: wait for a result
    /// or [`Feeder::next_retry`].
    pub fn next(&mut self, now: Instant) -> Option<Next> {
        if let Some(next) = self.report(now).or_else(|| self.ready(None, now)) {
            return Some(next);
        }
        self.fill(now);
        self.report(now).or_else(|| self.ready(None, now))
    }

    /// Like [`Feeder::next`], for the server at `server` only (results to
    /// report come from any server).
    pub fn next_for(&mut self, server: usize, now: Instant) -> Option<Next> {
        if let Some(next) = self.report(now).or_else(|| self.ready(Some(server), now)) {
            return Some(next);
        }
        self.fill(now);
        self.report(now).or_else(|| self.ready(Some(server), now))
    }

    fn report(&mut self, now: Instant) -> Option<Next> {
        let (index, result) = self.reports.pop_front()?;
        let (index, result) = self.finish(index, result, now);
        Some(Next::Report(index, result))
    }

    /// A result leaves for the caller at `now`.
    fn finish(&mut self, index: usize, result: Outcome, now: Instant) -> (usize, Outcome) {
        self.open -= 1;
        let mut attempts = 1;
        if !self.resent.is_empty() {
            for server in 0..self.lanes.len() {
                attempts += self.resent.remove(&(index, server)).unwrap_or(0);
            }
        }
        self.observer.end(index, &result, attempts, now);
        (index, result)
    }

    /// A due retry, else a request taken earlier, for `only` or any
    /// server.
    fn ready(&mut self, only: Option<usize>, now: Instant) -> Option<Next> {
        let servers = match only {
            Some(server) => server..server + 1,
            None => 0..self.lanes.len(),
        };
        for server in servers {
            let lane = self.lanes.get_mut(server)?;
            let due = lane.due.front().is_some_and(|(at, ..)| *at <= now);
            let taken = match due {
                true => lane.due.pop_front().map(|(_, i, b)| (i, b)),
                false => lane.ready.pop_front(),
            };
            if let Some((index, body)) = taken {
                return Some(Next::Submit {
                    index,
                    server,
                    body,
                    span: self.observer.span(index),
                });
            }
        }
        None
    }

    /// Takes requests from the iterator while their servers have room.
    fn fill(&mut self, now: Instant) {
        loop {
            let Some((index, body, route)) = self.next.take().or_else(|| self.pull(now)) else {
                return;
            };
            let servers = match route {
                Route::One(server) => server..server + 1,
                Route::All => 0..self.lanes.len(),
            };
            let limit = self.limit;
            let full = |lane: &Lane| {
                lane.drain.is_none() && (lane.held >= limit || !(lane.connected || lane.held == 0))
            };
            if self.lanes[servers.clone()].iter().any(full) {
                self.next = Some((index, body, route));
                return;
            }
            match route {
                Route::One(server) => self.take(index, server, body),
                Route::All => self.fan_out(index, body),
            }
            if !self.reports.is_empty() {
                // One result at a time: a batch whose server is
                // unreachable is read as it is reported, never ahead.
                return;
            }
        }
    }

    fn pull(&mut self, now: Instant) -> Option<(usize, Payload, Route)> {
        if self.exhausted {
            return None;
        }
        match self.items.next() {
            Some((index, body)) => {
                self.open += 1;
                self.observer.start(index, &body, now);
                let route = self.shards.route(&body);
                Some((index, body, route))
            }
            None => {
                self.exhausted = true;
                None
            }
        }
    }

    /// Queues a request for one server, or reports it when the server is
    /// unreachable.
    fn take(&mut self, index: usize, server: usize, body: Payload) {
        let lane = &mut self.lanes[server];
        match &lane.drain {
            Some(cause) => {
                let failed = Err(RequestError::NotSent {
                    cause: cause.clone(),
                });
                self.observer.on_server(server, OutcomeKind::NotSent);
                let result = self.on_server(server, failed);
                self.reports.push_back((index, result));
            }
            None => {
                lane.held += 1;
                lane.ready.push_back((index, body));
            }
        }
    }

    /// Queues a request for every server.
    fn fan_out(&mut self, index: usize, body: Payload) {
        let mut fanout = Fanout {
            waiting: 0,
            results: Vec::with_capacity(self.lanes.len()),
        };
        for (server, lane) in self.lanes.iter_mut().enumerate() {
            match &lane.drain {
                Some(cause) => {
                    self.observer.on_server(server, OutcomeKind::NotSent);
                    fanout.results.push(Some(Err(RequestError::NotSent {
                        cause: cause.clone(),
                    })));
                }
                None => {
                    fanout.results.push(None);
                    fanout.waiting += 1;
                    lane.held += 1;
                    lane.ready.push_back((index, body.clone()));
                }
            }
        }
        match fanout.waiting {
            0 => {
                let result = self.combine(fanout.results);
                self.reports.push_back((index, result));
            }
            _ => {
                self.fanouts.insert(index, fanout);
            }
        }
    }

    /// The result of the request at `index` on the server at `server` at
    /// `now`, with its body when the client gave it back. Returns what to
    /// report to the caller, or `None` when the request is resent after
    /// the backoff or waits for other servers. A request that ends
    /// `NotSent` while the client has no connection to its server means
    /// the server is unreachable: its other requests of the batch are then
    /// reported at once.
    pub fn complete(
        &mut self,
        now: Instant,
        index: usize,
        server: usize,
        result: Outcome,
        body: Option<Payload>,
    ) -> Option<(usize, Outcome)> {
        let lane = self.lanes.get_mut(server)?;
        if let (Err(e), Some(body)) = (&result, body) {
            let resent = self.resent.get(&(index, server)).copied().unwrap_or(0);
            let at = instant_after(now, self.retry.backoff());
            if resent < self.retry.attempts()
                && self.retry.allows(e)
                && self.deadline.is_none_or(|d| at < d)
            {
                self.resent.insert((index, server), resent + 1);
                lane.due.push_back((at, index, body));
                self.observer.resent(server);
                return None;
            }
        }
        let unreachable = match &result {
            Err(RequestError::NotSent { cause }) if !lane.connected => {
                Some(cause.clone()).filter(|c| !matches!(c, Cause::Closed))
            }
            _ => None,
        };
        let result = self.settle(index, server, result);
        if let Some(cause) = unreachable {
            self.drain(server, cause);
        }
        Some(self.finish(index, result?, now))
    }

    /// The server at `server` is unreachable with no connection: what it
    /// holds that was not submitted (taken, or waiting for a retry) ends
    /// `NotSent` with `cause` at once, and so will its next requests of
    /// the batch.
    fn drain(&mut self, server: usize, cause: Cause) {
        let Some(lane) = self.lanes.get_mut(server) else {
            return;
        };
        lane.drain = Some(cause.clone());
        let waiting: Vec<usize> = lane
            .ready
            .drain(..)
            .map(|(index, _)| index)
            .chain(lane.due.drain(..).map(|(_, index, _)| index))
            .collect();
        for index in waiting {
            let failed = Err(RequestError::NotSent {
                cause: cause.clone(),
            });
            if let Some(result) = self.settle(index, server, failed) {
                self.reports.push_back((index, result));
            }
        }
    }

    /// The end of the request at `index` on the server at `server`: its
    /// result for the caller, or `None` while other servers' parts of it
    /// are still out.
    fn settle(&mut self, index: usize, server: usize, result: Outcome) -> Option<Outcome> {
        if let Some(lane) = self.lanes.get_mut(server) {
            lane.held = lane.held.saturating_sub(1);
        }
        self.observer.on_server(server, OutcomeKind::of(&result));
        // No hashing for the batches of jobs, which hold no rule.
        let fanout = match self.fanouts.is_empty() {
            true => None,
            false => self.fanouts.get_mut(&index),
        };
        match fanout {
            Some(fanout) => {
                if let Some(slot) = fanout.results.get_mut(server) {
                    *slot = Some(result);
                }
                fanout.waiting -= 1;
                if fanout.waiting > 0 {
                    return None;
                }
                let results = self.fanouts.remove(&index)?.results;
                Some(self.combine(results))
            }
            None => Some(self.on_server(server, result)),
        }
    }

    /// A result as the caller sees it: naming its server when the client
    /// has several.
    fn on_server(&self, server: usize, result: Outcome) -> Outcome {
        match (result, self.shards.name(server)) {
            (Err(error), Some(name)) if self.lanes.len() > 1 => Err(RequestError::OnServer {
                server: Arc::clone(name),
                error: Box::new(error),
            }),
            (result, _) => result,
        }
    }

    /// One result for a request sent to every server: `Ok` when every
    /// server said `OK`.
    fn combine(&self, results: Vec<Option<Outcome>>) -> Outcome {
        let results: Vec<Outcome> = results
            .into_iter()
            .map(|r| {
                r.unwrap_or(Err(RequestError::NotSent {
                    cause: Cause::Closed,
                }))
            })
            .collect();
        if results.iter().all(Result::is_ok) {
            return Ok(());
        }
        let names = self.shards.names().iter().cloned();
        Err(RequestError::Partial(names.zip(results).collect()))
    }

    /// When the next retry's backoff ends.
    pub fn next_retry(&self) -> Option<Instant> {
        self.lanes
            .iter()
            .filter_map(|lane| lane.due.front().map(|(at, ..)| *at))
            .min()
    }

    /// Whether every request taken has been reported and the iterator has
    /// ended.
    pub fn is_done(&self) -> bool {
        self.exhausted && self.next.is_none() && self.open == 0
    }

    /// A single call's deadline, if any.
    pub fn deadline(&self) -> Option<Instant> {
        self.deadline
    }
}

#[cfg(test)]
mod tests;
