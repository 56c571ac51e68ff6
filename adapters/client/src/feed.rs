//! [`Feeder`]: the one feeder of batches and retries, shared by every
//! client. It takes requests from the caller's iterator as room frees up,
//! keeps the failed ones that the [`RetryPolicy`] resends until their
//! backoff ends, and decides what the caller is told. It does no I/O and
//! reads no clock: a client submits what [`Feeder::next`] gives and hands
//! each result back to [`Feeder::complete`].
//!
//! It holds only the requests that are in a window or waiting for a
//! retry: never more than its limit (a window per connection), whatever
//! the batch's size.

use std::collections::{HashMap, VecDeque};
use std::iter::Enumerate;
use std::time::Instant;

use crate::mux::Payload;
use crate::time::instant_after;
use crate::{Cause, RequestError, RetryPolicy};

/// What to do next for a batch.
#[derive(Debug)]
pub enum Next {
    /// Submit this request (input position and body).
    Submit(usize, Payload),
    /// Report this result to the caller now: the request was not
    /// submitted (the server is unreachable).
    Report(usize, Result<(), RequestError>),
}

/// Feeds one batch (or one single call) to a client.
#[derive(Debug)]
pub struct Feeder<I> {
    items: Enumerate<I>,
    exhausted: bool,
    limit: usize,
    /// Requests taken and not yet reported: in a client, or waiting for a
    /// retry.
    outstanding: usize,
    retry: RetryPolicy,
    /// A single call's deadline: no attempt starts after it.
    deadline: Option<Instant>,
    /// Resends made so far, by input position, for those resent.
    resent: HashMap<usize, u32>,
    /// Requests waiting for their retry's backoff, in the order they are
    /// due (every wait is the same).
    due: VecDeque<(Instant, usize, Payload)>,
    /// The server was found unreachable with no connection: the rest of
    /// the iterator is reported `NotSent` with this at once.
    drain: Option<Cause>,
}

impl<I: Iterator<Item = Payload>> Feeder<I> {
    /// A batch of `items`, at most `limit` held at once, resent as `retry`
    /// allows; all attempts start before `deadline`, if any.
    pub fn new(items: I, limit: usize, retry: RetryPolicy, deadline: Option<Instant>) -> Self {
        Feeder {
            items: items.enumerate(),
            exhausted: false,
            limit: limit.max(1),
            outstanding: 0,
            retry,
            deadline,
            resent: HashMap::new(),
            due: VecDeque::new(),
            drain: None,
        }
    }

    /// What to do next at `now`: a retry whose backoff ended first, then
    /// a new request while fewer than the limit are held. `connected`
    /// says whether the client has a connection; `may_pull` whether a new
    /// request may be taken from the iterator (a client takes none while
    /// no connection exists, but one to make a connection when it holds
    /// none). `None`: wait for a result or [`Feeder::next_retry`].
    pub fn next(&mut self, now: Instant, connected: bool, may_pull: bool) -> Option<Next> {
        if self.due.front().is_some_and(|(at, ..)| *at <= now) {
            let (_, index, body) = self.due.pop_front()?;
            return Some(Next::Submit(index, body));
        }
        if connected {
            self.drain = None;
        }
        if let Some(cause) = &self.drain {
            let cause = cause.clone();
            let (index, _) = self.pull()?;
            self.outstanding -= 1;
            return Some(Next::Report(index, Err(RequestError::NotSent { cause })));
        }
        if self.outstanding >= self.limit || !(may_pull || self.outstanding == 0) {
            return None;
        }
        let (index, body) = self.pull()?;
        Some(Next::Submit(index, body))
    }

    fn pull(&mut self) -> Option<(usize, Payload)> {
        if self.exhausted {
            return None;
        }
        let item = self.items.next();
        match item {
            Some(_) => self.outstanding += 1,
            None => self.exhausted = true,
        }
        item
    }

    /// The result of the request at `index` at `now`, with its body when
    /// the client gave it back. Returns what to report to the caller, or
    /// `None` when the request is resent after the backoff. A request that
    /// ends `NotSent` while the client has no connection (`connected`
    /// false) means the server is unreachable: the rest of the batch is
    /// then reported at once.
    pub fn complete(
        &mut self,
        now: Instant,
        connected: bool,
        index: usize,
        result: Result<(), RequestError>,
        body: Option<Payload>,
    ) -> Option<(usize, Result<(), RequestError>)> {
        if let (Err(e), Some(body)) = (&result, body) {
            let resent = self.resent.get(&index).copied().unwrap_or(0);
            let at = instant_after(now, self.retry.backoff());
            if resent < self.retry.attempts()
                && self.retry.allows(e)
                && self.deadline.is_none_or(|d| at < d)
            {
                self.resent.insert(index, resent + 1);
                self.due.push_back((at, index, body));
                return None;
            }
        }
        if let Err(RequestError::NotSent { cause }) = &result {
            if !connected && !matches!(cause, Cause::Closed) {
                self.drain = Some(cause.clone());
            }
        }
        self.resent.remove(&index);
        self.outstanding = self.outstanding.saturating_sub(1);
        Some((index, result))
    }

    /// When the next retry's backoff ends.
    pub fn next_retry(&self) -> Option<Instant> {
        self.due.front().map(|(at, ..)| *at)
    }

    /// Whether every request taken has been reported and the iterator has
    /// ended.
    pub fn is_done(&self) -> bool {
        self.exhausted && self.outstanding == 0
    }

    /// Requests taken and not yet reported.
    pub fn outstanding(&self) -> usize {
        self.outstanding
    }

    /// A single call's deadline, if any.
    pub fn deadline(&self) -> Option<Instant> {
        self.deadline
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use kairoi_proto::{DateTime, Instruction};

    use super::*;

    fn body(n: usize) -> Payload {
        Payload::Typed(Instruction::set(format!("j{n}"), DateTime::UNIX_EPOCH))
    }

    /// The submission `next` must be.
    fn submitted(next: Option<Next>) -> (usize, Payload) {
        match next {
            Some(Next::Submit(index, body)) => (index, body),
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
        let mut f = Feeder::new((0..10).map(body), 3, RetryPolicy::NONE, None);
        let mut taken = Vec::new();
        while let Some(Next::Submit(i, _)) = f.next(now, true, true) {
            taken.push(i);
        }
        assert_eq!(taken, [0, 1, 2]);
        assert_eq!(f.complete(now, true, 1, Ok(()), None).unwrap().0, 1);
        assert!(matches!(f.next(now, true, true), Some(Next::Submit(3, _))));
        assert!(f.next(now, true, true).is_none());
    }

    #[test]
    fn without_a_connection_only_one_is_taken_to_make_one() {
        let now = Instant::now();
        let mut f = Feeder::new((0..10).map(body), 8, RetryPolicy::NONE, None);
        assert!(matches!(
            f.next(now, false, false),
            Some(Next::Submit(0, _))
        ));
        assert!(f.next(now, false, false).is_none());
    }

    #[test]
    fn retries_wait_their_backoff_and_count_in_the_limit() {
        let now = Instant::now();
        let backoff = Duration::from_millis(10);
        let policy = RetryPolicy::not_sent(1).with_backoff(backoff);
        let mut f = Feeder::new((0..2).map(body), 2, policy, None);
        let (_, b0) = submitted(f.next(now, true, true));
        assert!(matches!(f.next(now, true, true), Some(Next::Submit(1, _))));
        assert!(f.complete(now, true, 0, Err(refused()), Some(b0)).is_none());
        assert!(f.next(now, true, true).is_none(), "the limit holds retries");
        assert_eq!(f.next_retry(), Some(now + backoff));
        let (i, b0) = submitted(f.next(now + backoff, true, true));
        assert_eq!(i, 0, "the retry first");
        let (i, r) = f.complete(now, true, 0, Err(refused()), Some(b0)).unwrap();
        assert!(i == 0 && r.unwrap_err().is_not_sent(), "one resend only");
        assert!(f.complete(now, true, 1, Ok(()), None).is_some());
        assert!(f.next(now, true, true).is_none() && f.is_done());
    }

    #[test]
    fn no_retry_starts_past_the_deadline() {
        let now = Instant::now();
        let policy = RetryPolicy::not_sent(5).with_backoff(Duration::from_secs(1));
        let mut f = Feeder::new(std::iter::once(body(0)), 1, policy, Some(now));
        let (_, b) = submitted(f.next(now, true, true));
        assert!(f.complete(now, true, 0, Err(refused()), Some(b)).is_some());
    }

    #[test]
    fn unreachable_with_no_connection_drains_the_rest_at_once() {
        let now = Instant::now();
        let mut f = Feeder::new((0..1000).map(body), 4, RetryPolicy::NONE, None);
        assert_eq!(submitted(f.next(now, false, false)).0, 0);
        assert!(f.complete(now, false, 0, Err(refused()), None).is_some());
        let mut reported = 1;
        while let Some(next) = f.next(now, false, false) {
            assert!(
                matches!(&next, Next::Report(_, Err(e)) if e.is_not_sent()),
                "{next:?}"
            );
            reported += 1;
        }
        assert_eq!(reported, 1000);
        assert!(f.is_done());
    }
}
