//! Requests counted by how they ended: [`OutcomeKind`] and [`Tally`].

use crate::RequestError;

/// How a request ended, as its caller saw it: the kinds a [`Tally`]
/// counts, one per [`RequestError`] variant and one for success.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum OutcomeKind {
    /// The server answered `OK`.
    Ok,
    /// The server answered `ERROR` ([`RequestError::Rejected`]).
    Rejected,
    /// No response within the request timeout ([`RequestError::TimedOut`]).
    TimedOut,
    /// The server never saw it ([`RequestError::NotSent`]).
    NotSent,
    /// Written, then the connection ended ([`RequestError::Unknown`]).
    Unknown,
    /// It could not be sent because of its own content
    /// ([`RequestError::Invalid`]).
    Invalid,
}

impl OutcomeKind {
    /// Every kind, success first, in the order of [`Tally`]'s fields.
    pub const ALL: [OutcomeKind; 6] = [
        OutcomeKind::Ok,
        OutcomeKind::Rejected,
        OutcomeKind::TimedOut,
        OutcomeKind::NotSent,
        OutcomeKind::Unknown,
        OutcomeKind::Invalid,
    ];

    /// The kind of a request's result.
    pub fn of<T>(result: &Result<T, RequestError>) -> OutcomeKind {
        match result {
            Ok(_) => OutcomeKind::Ok,
            Err(e) => e.outcome_kind(),
        }
    }

    /// A short lowercase name: `ok`, `rejected`, `timed out`, `not sent`,
    /// `unknown`, `invalid`.
    pub fn name(self) -> &'static str {
        match self {
            OutcomeKind::Ok => "ok",
            OutcomeKind::Rejected => "rejected",
            OutcomeKind::TimedOut => "timed out",
            OutcomeKind::NotSent => "not sent",
            OutcomeKind::Unknown => "unknown",
            OutcomeKind::Invalid => "invalid",
        }
    }
}

/// Requests counted by how they ended, one count per [`OutcomeKind`].
///
/// Collect one from results (`results.iter().collect::<Tally>()`), or
/// [`record`](Tally::record) them as they come:
///
/// ```
/// use kairoi_client::{OutcomeKind, RequestError, Tally};
///
/// let results: Vec<Result<(), RequestError>> = vec![Ok(()), Err(RequestError::Rejected), Ok(())];
/// let tally: Tally = results.iter().collect();
/// assert_eq!((tally.ok, tally.rejected, tally.total()), (2, 1, 3));
/// assert_eq!(tally.get(OutcomeKind::Rejected), 1);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    /// Answered `OK`.
    pub ok: u64,
    /// Answered `ERROR`.
    pub rejected: u64,
    /// No response within the request timeout: maybe applied.
    pub timed_out: u64,
    /// Never seen by the server.
    pub not_sent: u64,
    /// Written, then the connection ended: maybe applied.
    pub unknown: u64,
    /// Could not be sent because of their own content.
    pub invalid: u64,
}

impl Tally {
    /// Counts one request of this kind.
    pub fn add(&mut self, kind: OutcomeKind) {
        *self.count_mut(kind) += 1;
    }

    /// Counts one request by its result.
    pub fn record<T>(&mut self, result: &Result<T, RequestError>) {
        self.add(OutcomeKind::of(result));
    }

    /// The count of one kind.
    pub fn get(&self, kind: OutcomeKind) -> u64 {
        match kind {
            OutcomeKind::Ok => self.ok,
            OutcomeKind::Rejected => self.rejected,
            OutcomeKind::TimedOut => self.timed_out,
            OutcomeKind::NotSent => self.not_sent,
            OutcomeKind::Unknown => self.unknown,
            OutcomeKind::Invalid => self.invalid,
        }
    }

    /// Every request counted.
    pub fn total(&self) -> u64 {
        self.ok + self.failed()
    }

    /// Every request that did not end `OK`.
    pub fn failed(&self) -> u64 {
        self.rejected + self.timed_out + self.not_sent + self.unknown + self.invalid
    }

    fn count_mut(&mut self, kind: OutcomeKind) -> &mut u64 {
        match kind {
            OutcomeKind::Ok => &mut self.ok,
            OutcomeKind::Rejected => &mut self.rejected,
            OutcomeKind::TimedOut => &mut self.timed_out,
            OutcomeKind::NotSent => &mut self.not_sent,
            OutcomeKind::Unknown => &mut self.unknown,
            OutcomeKind::Invalid => &mut self.invalid,
        }
    }
}

impl std::ops::AddAssign for Tally {
    /// Adds the counts of another tally (a batch's to a run's, say).
    fn add_assign(&mut self, more: Tally) {
        for kind in OutcomeKind::ALL {
            *self.count_mut(kind) += more.get(kind);
        }
    }
}

impl<'a, T: 'a> Extend<&'a Result<T, RequestError>> for Tally {
    fn extend<I: IntoIterator<Item = &'a Result<T, RequestError>>>(&mut self, results: I) {
        for result in results {
            self.record(result);
        }
    }
}

impl<'a, T: 'a> FromIterator<&'a Result<T, RequestError>> for Tally {
    fn from_iter<I: IntoIterator<Item = &'a Result<T, RequestError>>>(results: I) -> Self {
        let mut tally = Tally::default();
        tally.extend(results);
        tally
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Cause;
    use std::time::Duration;

    #[test]
    fn every_result_lands_in_its_own_count() {
        let results: Vec<Result<(), RequestError>> = vec![
            Ok(()),
            Err(RequestError::Rejected),
            Err(RequestError::TimedOut {
                timeout: Duration::from_secs(1),
            }),
            Err(RequestError::NotSent {
                cause: Cause::Closed,
            }),
            Err(RequestError::Unknown {
                cause: Cause::Closed,
            }),
            Err(RequestError::Invalid(kairoi_proto::SendError::EmptyBody)),
        ];
        let tally: Tally = results.iter().collect();
        for (kind, result) in OutcomeKind::ALL.into_iter().zip(&results) {
            assert_eq!(OutcomeKind::of(result), kind);
            assert_eq!(tally.get(kind), 1, "{}", kind.name());
        }
        assert_eq!((tally.total(), tally.failed()), (6, 5));
        let mut twice = tally;
        twice += tally;
        assert_eq!((twice.total(), twice.not_sent), (12, 2));
    }
}
