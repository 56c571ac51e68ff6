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
        match self.fanouts.get_mut(&index) {
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
mod tests {
    use std::time::Duration;

    use kairoi_proto::{DateTime, Instruction, Runner};

    use super::*;

    fn body(n: usize) -> Payload {
        Payload::Typed(Instruction::set(format!("j{n}"), DateTime::UNIX_EPOCH))
    }

    fn one() -> Shards {
        Shards::default()
    }

    /// The submission `next` must be: input position, server, body.
    fn submitted(next: Option<Next>) -> (usize, usize, Payload) {
        match next {
            Some(Next::Submit {
                index,
                server,
                body,
                ..
            }) => (index, server, body),
            other => unreachable!("not a submission: {other:?}"),
        }
    }

    fn refused() -> RequestError {
        RequestError::NotSent {
            cause: Cause::connect("127.0.0.1:1", std::io::ErrorKind::ConnectionRefused.into()),
        }
    }

    #[test]
    fn holds_at_most_the_limit_and_pulls_lazily() {
        let now = Instant::now();
        let mut f = Feeder::new((0..10).map(body), &one(), 3, RetryPolicy::NONE, None);
        let mut taken = Vec::new();
        while let Some(Next::Submit { index, .. }) = f.next(now) {
            taken.push(index);
        }
        assert_eq!(taken, [0, 1, 2]);
        assert_eq!(f.complete(now, 1, 0, Ok(()), None).unwrap().0, 1);
        assert_eq!(submitted(f.next(now)).0, 3);
        assert!(f.next(now).is_none());
    }

    #[test]
    fn without_a_connection_only_one_is_taken_to_make_one() {
        let now = Instant::now();
        let mut f = Feeder::new((0..10).map(body), &one(), 8, RetryPolicy::NONE, None);
        f.set_connected(0, false);
        assert_eq!(submitted(f.next(now)).0, 0);
        assert!(f.next(now).is_none());
    }

    #[test]
    fn retries_wait_their_backoff_and_count_in_the_limit() {
        let now = Instant::now();
        let backoff = Duration::from_millis(10);
        let policy = RetryPolicy::not_sent(1).with_backoff(backoff);
        let mut f = Feeder::new((0..2).map(body), &one(), 2, policy, None);
        let (_, _, b0) = submitted(f.next(now));
        assert_eq!(submitted(f.next(now)).0, 1);
        assert!(f.complete(now, 0, 0, Err(refused()), Some(b0)).is_none());
        assert!(f.next(now).is_none(), "the limit holds retries");
        assert_eq!(f.next_retry(), Some(now + backoff));
        let (i, _, b0) = submitted(f.next(now + backoff));
        assert_eq!(i, 0, "the retry first");
        let (i, r) = f.complete(now, 0, 0, Err(refused()), Some(b0)).unwrap();
        assert!(i == 0 && r.unwrap_err().is_not_sent(), "one resend only");
        assert!(f.complete(now, 1, 0, Ok(()), None).is_some());
        assert!(f.next(now).is_none() && f.is_done());
    }

    #[test]
    fn no_retry_starts_past_the_deadline() {
        let now = Instant::now();
        let policy = RetryPolicy::not_sent(5).with_backoff(Duration::from_secs(1));
        let mut f = Feeder::new(std::iter::once(body(0)), &one(), 1, policy, Some(now));
        let (_, _, b) = submitted(f.next(now));
        assert!(f.complete(now, 0, 0, Err(refused()), Some(b)).is_some());
    }

    #[test]
    fn unreachable_with_no_connection_drains_the_rest_at_once() {
        let now = Instant::now();
        let mut f = Feeder::new((0..1000).map(body), &one(), 4, RetryPolicy::NONE, None);
        f.set_connected(0, false);
        assert_eq!(submitted(f.next(now)).0, 0);
        assert!(f.complete(now, 0, 0, Err(refused()), None).is_some());
        let mut reported = 1;
        while let Some(next) = f.next(now) {
            assert!(
                matches!(&next, Next::Report(_, Err(e)) if e.is_not_sent()),
                "{next:?}"
            );
            reported += 1;
        }
        assert_eq!(reported, 1000);
        assert!(f.is_done());
    }

    #[test]
    fn what_an_unreachable_server_had_taken_ends_at_once() {
        let now = Instant::now();
        let mut f = Feeder::new((0..8).map(body), &one(), 8, RetryPolicy::NONE, None);
        let (first, _, _) = submitted(f.next(now));
        // The connection goes; the rest were taken while it was up.
        f.set_connected(0, false);
        assert!(f.complete(now, first, 0, Err(refused()), None).is_some());
        let mut reported = 1;
        while let Some(next) = f.next(now) {
            assert!(
                matches!(&next, Next::Report(_, Err(e)) if e.is_not_sent()),
                "{next:?}"
            );
            reported += 1;
        }
        assert_eq!(reported, 8);
        assert!(f.is_done());
    }

    #[test]
    fn an_unreachable_server_is_reported_lazily() {
        let now = Instant::now();
        let pulled = std::cell::Cell::new(0);
        let items = (0..1_000_000).map(|n| {
            pulled.set(pulled.get() + 1);
            body(n)
        });
        let mut f = Feeder::new(items, &one(), 4, RetryPolicy::NONE, None);
        f.set_connected(0, false);
        assert_eq!(submitted(f.next(now)).0, 0);
        assert!(f.complete(now, 0, 0, Err(refused()), None).is_some());
        for _ in 0..10 {
            assert!(matches!(f.next(now), Some(Next::Report(..))));
        }
        assert!(pulled.get() <= 12, "{} taken for 11 reported", pulled.get());
    }

    fn three() -> Shards {
        Shards::named(["a", "b", "c"]).unwrap()
    }

    #[test]
    fn jobs_go_to_their_server_and_a_full_server_holds_the_batch() {
        let now = Instant::now();
        let shards = three();
        let bodies: Vec<Payload> = (0..100).map(body).collect();
        let placed: Vec<usize> = (0..100)
            .map(|n| shards.place(format!("j{n}").as_bytes()))
            .collect();
        let mut f = Feeder::new(bodies.into_iter(), &shards, 2, RetryPolicy::NONE, None);
        let mut held = [0usize; 3];
        while let Some(next) = f.next(now) {
            let (index, server, _) = submitted(Some(next));
            assert_eq!(server, placed[index], "job {index}");
            held[server] += 1;
        }
        assert!(held.iter().all(|&n| n <= 2), "{held:?}");
        // The batch waits at the first job whose server is full.
        let blocked = placed
            .iter()
            .enumerate()
            .position(|(i, &s)| placed[..i].iter().filter(|&&t| t == s).count() == 2)
            .unwrap();
        let first = (0..blocked)
            .find(|&i| placed[i] == placed[blocked])
            .unwrap();
        assert!(
            f.complete(now, first, placed[first], Ok(()), None)
                .is_some()
        );
        assert_eq!(submitted(f.next(now)).0, blocked);
    }

    #[test]
    fn a_rule_goes_everywhere_and_is_resent_only_where_it_failed() {
        let now = Instant::now();
        let rule = Payload::Typed(Instruction::rule_set("r", "", Runner::shell("true")));
        let policy = RetryPolicy::not_sent(1).with_backoff(Duration::ZERO);
        let mut f = Feeder::new(std::iter::once(rule), &three(), 4, policy, None);
        let mut sent = Vec::new();
        while let Some(next) = f.next(now) {
            let (_, server, body) = submitted(Some(next));
            sent.push((server, body));
        }
        assert_eq!(sent.iter().map(|(s, _)| *s).collect::<Vec<_>>(), [0, 1, 2]);
        let mut sent = sent.into_iter();
        let (_, b0) = sent.next().unwrap();
        assert!(f.complete(now, 0, 0, Ok(()), None).is_none());
        let (_, b1) = sent.next().unwrap();
        assert!(f.complete(now, 0, 1, Err(refused()), Some(b1)).is_none());
        assert!(
            f.complete(now, 0, 2, Err(RequestError::Rejected), None)
                .is_none()
        );
        drop(b0);
        let (_, server, b1) = submitted(f.next(now));
        assert_eq!(server, 1, "only the server where it was not sent");
        assert!(f.next(now).is_none());
        let (i, r) = f.complete(now, 0, 1, Err(refused()), Some(b1)).unwrap();
        let e = r.unwrap_err();
        assert_eq!(i, 0);
        assert!(e.is_not_sent(), "not sent is the most serious part: {e}");
        let RequestError::Partial(parts) = &e else {
            unreachable!("{e:?}")
        };
        assert_eq!(parts.len(), 3);
        assert!(parts[0].1.is_ok() && parts[2].1.as_ref().unwrap_err().is_rejected());
        assert!(
            e.to_string()
                .starts_with("not OK on every server: a: ok; b: not sent"),
            "{e}"
        );
        assert!(f.is_done());
    }

    #[test]
    fn an_unreachable_server_fails_its_share_only_naming_it() {
        let now = Instant::now();
        let shards = three();
        let placed = |n: usize| shards.place(format!("j{n}").as_bytes());
        let down = placed(0);
        let mut f = Feeder::new((0..300).map(body), &shards, 8, RetryPolicy::NONE, None);
        f.set_connected(down, false);
        let (index, server, _) = submitted(f.next_for(down, now));
        assert_eq!((index, server), (0, down));
        let (_, r) = f.complete(now, 0, down, Err(refused()), None).unwrap();
        assert_eq!(r.unwrap_err().server(), Some(shards.names()[down].as_ref()));
        let mut submitted_to = Vec::new();
        let mut reported = 1;
        loop {
            match f.next(now) {
                Some(Next::Report(i, Err(e))) => {
                    assert_eq!(placed(i), down, "only the down server's jobs");
                    assert!(e.is_not_sent() && e.to_string().contains("server "), "{e}");
                    reported += 1;
                }
                Some(Next::Submit { index, server, .. }) => {
                    assert_ne!(server, down);
                    submitted_to.push(index);
                }
                Some(other) => unreachable!("{other:?}"),
                None => match submitted_to.pop() {
                    Some(i) => {
                        assert!(f.complete(now, i, placed(i), Ok(()), None).is_some());
                        reported += 1;
                    }
                    None => break,
                },
            }
        }
        assert_eq!(reported, 300);
        assert!(f.is_done());
    }
}
