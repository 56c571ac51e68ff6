//! [`Backoff`] between connection attempts: exponential, with jitter, so
//! that a fleet of clients does not reconnect in lockstep after a server
//! restart.

use std::time::{Duration, Instant};

use crate::Cause;
use crate::time::instant_after;

/// The waits between failed connection attempts: `min` after the first
/// failure, doubling after each further one, at most `max`; each wait is
/// then drawn at random from its upper half ("equal jitter").
///
/// ```
/// use std::time::Duration;
/// use kairoi_client::Backoff;
/// let backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(5));
/// let wait = backoff.wait(3); // about 400 ms: between 200 and 400
/// assert!(wait >= Duration::from_millis(200) && wait <= Duration::from_millis(400));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    min: Duration,
    max: Duration,
}

impl Backoff {
    /// Waits from `min` up to `max` (a `max` below `min` is taken as `min`).
    pub fn new(min: Duration, max: Duration) -> Self {
        Backoff {
            min,
            max: max.max(min),
        }
    }

    /// The shortest wait.
    pub fn min(&self) -> Duration {
        self.min
    }

    /// The longest wait.
    pub fn max(&self) -> Duration {
        self.max
    }

    /// The wait before the next attempt after `failures` failed ones in a
    /// row, before jitter: `min`, doubling each time, at most `max`.
    pub fn ceiling(&self, failures: u32) -> Duration {
        if failures == 0 {
            return Duration::ZERO;
        }
        self.min
            .saturating_mul(1 << (failures - 1).min(30))
            .min(self.max)
    }

    /// The wait after `failures` failed attempts in a row, with jitter:
    /// between half of [`Backoff::ceiling`] and all of it.
    pub fn wait(&self, failures: u32) -> Duration {
        let ceiling = self.ceiling(failures);
        let half = ceiling / 2;
        let spread = (ceiling - half).as_nanos().min(u64::MAX as u128) as u64;
        half.saturating_add(Duration::from_nanos(fastrand::u64(0..=spread)))
    }
}

/// The failed connection attempts in a row of one connection: when the
/// next may start, and why the last one failed. Every client asks it
/// before an attempt, so that while the backoff runs requests fail at
/// once with that error.
#[derive(Debug, Clone, Default)]
pub struct Reconnect {
    failures: u32,
    next: Option<Instant>,
    last_error: Option<Cause>,
    /// When the first attempt of this run of failures failed.
    since: Option<Instant>,
}

impl Reconnect {
    /// When the next attempt may start (`None`: at once).
    pub fn next_attempt(&self) -> Option<Instant> {
        self.next
    }

    /// Failed attempts in a row.
    pub fn failures(&self) -> u32 {
        self.failures
    }

    /// Why the last attempt failed, if the last attempt failed.
    pub fn last_error(&self) -> Option<&Cause> {
        self.last_error.as_ref()
    }

    /// The error to fail a request with at `now` rather than attempt: the
    /// last failure's, while the backoff after it runs.
    pub fn backing_off(&self, now: Instant) -> Option<&Cause> {
        self.last_error
            .as_ref()
            .filter(|_| self.next.is_some_and(|t| t > now))
    }

    /// Whether every attempt has failed for at least `limit` (`None`: no
    /// limit, never): the server counts as unreachable, and requests stop
    /// waiting for it.
    pub fn unreachable(&self, now: Instant, limit: Option<Duration>) -> bool {
        match (self.since, limit) {
            (Some(since), Some(limit)) => instant_after(since, limit) <= now,
            _ => false,
        }
    }

    /// When the server counts as unreachable if no attempt succeeds until
    /// then (see [`Reconnect::unreachable`]).
    pub fn unreachable_at(&self, limit: Option<Duration>) -> Option<Instant> {
        Some(instant_after(self.since?, limit?))
    }

    /// An attempt failed at `now` with `cause`: the next one waits per
    /// `backoff`.
    pub fn failed(&mut self, now: Instant, backoff: &Backoff, cause: Cause) {
        self.since.get_or_insert(now);
        self.failures = self.failures.saturating_add(1);
        self.next = Some(instant_after(now, backoff.wait(self.failures)));
        self.last_error = Some(cause);
    }

    /// An attempt succeeded: the next failure waits the shortest time again.
    pub fn succeeded(&mut self) {
        *self = Reconnect::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ceiling_doubles_up_to_the_maximum() {
        let b = Backoff::new(Duration::from_millis(100), Duration::from_secs(1));
        let waits: Vec<u64> = (0..=6).map(|f| b.ceiling(f).as_millis() as u64).collect();
        assert_eq!(waits, [0, 100, 200, 400, 800, 1000, 1000]);
        assert_eq!(b.ceiling(u32::MAX), b.max());
        let huge = Backoff::new(Duration::MAX, Duration::MAX);
        assert_eq!(huge.ceiling(40), Duration::MAX);
        assert!(huge.wait(40) >= Duration::MAX / 2);
    }

    #[test]
    fn jitter_spreads_waits_over_the_upper_half() {
        let b = Backoff::new(Duration::from_millis(100), Duration::from_secs(5));
        let waits: Vec<Duration> = (0..200).map(|_| b.wait(4)).collect();
        assert!(waits.iter().all(|w| (400..=800).contains(&w.as_millis())));
        let distinct: std::collections::HashSet<_> = waits.iter().collect();
        assert!(
            distinct.len() > 100,
            "only {} distinct waits",
            distinct.len()
        );
    }

    #[test]
    fn reconnect_waits_after_failures_only() {
        let b = Backoff::new(Duration::from_millis(100), Duration::from_secs(1));
        let mut r = Reconnect::default();
        assert_eq!(r.next_attempt(), None);
        let now = Instant::now();
        r.failed(now, &b, Cause::Closed);
        r.failed(now, &b, Cause::Closed);
        let next = r.next_attempt().unwrap();
        assert!(
            next >= now + Duration::from_millis(100) && next <= now + Duration::from_millis(200)
        );
        assert!(r.backing_off(now).is_some());
        assert!(r.backing_off(next).is_none());
        assert!(r.last_error().is_some());
        let s = Duration::from_secs(1);
        assert!(!r.unreachable(now, Some(s)) && r.unreachable(now + s, Some(s)));
        assert!(!r.unreachable(now + s, None));
        assert_eq!(r.unreachable_at(Some(s)), Some(now + s));
        r.succeeded();
        assert!(!r.unreachable(now + s, Some(s)));
        assert_eq!(r.next_attempt(), None);
        assert!(r.backing_off(now).is_none() && r.last_error().is_none());
    }
}
