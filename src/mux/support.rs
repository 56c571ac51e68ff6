//! Small runtime-independent pieces of the async adapters: retries,
//! backoff, pool selection, deadlines.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::request_error::RequestError;

/// Which failed requests a client sends again, on a new connection, before
/// reporting them. The default sends nothing again. Shared by every
/// adapter.
///
/// Only [`RequestError::NotSent`] requests are safe to resend: the server never
/// saw them. [`RequestError::Unknown`] requests may have been applied, and a
/// `SET` on a job that already ran schedules it again, so they are resent
/// only with [`RetryPolicy::with_unknown`]. Rejected, timed-out and invalid
/// requests are never resent.
///
/// ```
/// use std::time::Duration;
/// use kairoi_proto::mux::RetryPolicy;
/// let policy = RetryPolicy::not_sent(3).with_backoff(Duration::from_millis(100));
/// assert_eq!(policy.attempts(), 3);
/// assert!(!policy.retries_unknown());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RetryPolicy {
    attempts: u32,
    unknown: bool,
    backoff: Duration,
}

impl RetryPolicy {
    /// Never resend (the default).
    pub const NONE: RetryPolicy = RetryPolicy {
        attempts: 0,
        unknown: false,
        backoff: Duration::ZERO,
    };

    /// Resend [`RequestError::NotSent`] requests up to `attempts` more times.
    pub fn not_sent(attempts: u32) -> Self {
        RetryPolicy {
            attempts,
            ..Self::NONE
        }
    }

    /// Also resend [`RequestError::Unknown`] requests. Only for instructions that
    /// may be applied twice: a job `SET` again after it ran is scheduled
    /// again.
    #[must_use]
    pub fn with_unknown(mut self) -> Self {
        self.unknown = true;
        self
    }

    /// Waits `backoff` before each new attempt (default: none).
    #[must_use]
    pub fn with_backoff(mut self, backoff: Duration) -> Self {
        self.backoff = backoff;
        self
    }

    /// How many times a request may be sent again.
    pub fn attempts(&self) -> u32 {
        self.attempts
    }

    /// Whether [`RequestError::Unknown`] requests are sent again.
    pub fn retries_unknown(&self) -> bool {
        self.unknown
    }

    /// The wait before each new attempt.
    pub fn backoff(&self) -> Duration {
        self.backoff
    }

    /// Whether a request that failed with `error` is sent again.
    pub fn allows(&self, error: &RequestError) -> bool {
        self.attempts > 0 && (error.is_not_sent() || (self.unknown && error.is_unknown()))
    }
}

/// Sends a request again while `policy` allows and `stopped()` is false.
/// `attempt` sends it once more (after waiting [`RetryPolicy::backoff`])
/// and gives its result.
pub async fn retry<F, Fut>(
    policy: RetryPolicy,
    stopped: impl Fn() -> bool,
    mut result: Result<(), RequestError>,
    mut attempt: F,
) -> Result<(), RequestError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<(), RequestError>>,
{
    let mut left = policy.attempts();
    while left > 0 && !stopped() {
        match &result {
            Err(e) if policy.allows(e) => {}
            _ => break,
        }
        left -= 1;
        result = attempt().await;
    }
    result
}

/// The wait before the next connection attempt after `failures` failed
/// ones in a row: `min`, doubling each time, at most `max`.
pub fn backoff(min: Duration, max: Duration, failures: u32) -> Duration {
    min.saturating_mul(1 << failures.saturating_sub(1).min(16))
        .min(max)
}

/// When a connection may be attempted again after failures in a row.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Reconnect {
    failures: u32,
    last_failure: Option<Instant>,
}

impl Reconnect {
    /// When the next attempt may start (`None`: at once), with [`backoff`]
    /// between `min` and `max`.
    pub fn next_attempt(&self, min: Duration, max: Duration) -> Option<Instant> {
        let last = self.last_failure?;
        Some(instant_after(last, backoff(min, max, self.failures)))
    }

    /// An attempt failed at `now`.
    pub fn failed(&mut self, now: Instant) {
        self.failures = self.failures.saturating_add(1);
        self.last_failure = Some(now);
    }

    /// An attempt succeeded: the next failure waits `min` again.
    pub fn succeeded(&mut self) {
        *self = Reconnect::default();
    }
}

/// Counts one request in a connection's load for as long as it lives
/// (queued, written, or waiting for the cause of the connection's end).
#[derive(Debug)]
pub struct Load(Arc<AtomicUsize>);

impl Load {
    /// Adds one to `counter` until the guard is dropped.
    pub fn new(counter: &Arc<AtomicUsize>) -> Self {
        counter.fetch_add(1, Ordering::Relaxed);
        Load(counter.clone())
    }
}

impl Drop for Load {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// `now + after`, or about a century away when that overflows, so that any
/// [`Duration`] (even `Duration::MAX`) means "practically never" rather
/// than a panic.
pub fn instant_after(now: Instant, after: Duration) -> Instant {
    const CENTURY: Duration = Duration::from_secs(100 * 365 * 24 * 60 * 60);
    now.checked_add(after)
        .or_else(|| now.checked_add(CENTURY))
        .unwrap_or(now)
}

/// The index of the least loaded of `count` connections (`load(i)` each),
/// looking from `start` on so that ties are taken in turn. `None` when
/// `count` is 0.
pub fn least_loaded(count: usize, start: usize, load: impl Fn(usize) -> usize) -> Option<usize> {
    (0..count)
        .map(|i| (start + i) % count)
        .min_by_key(|&i| load(i))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_maximum() {
        let (min, max) = (Duration::from_millis(100), Duration::from_secs(1));
        let waits: std::vec::Vec<u64> = (1..=6)
            .map(|f| backoff(min, max, f).as_millis() as u64)
            .collect();
        assert_eq!(waits, [100, 200, 400, 800, 1000, 1000]);
        assert_eq!(backoff(min, max, u32::MAX), max);
    }

    #[test]
    fn reconnect_waits_after_failures_only() {
        let (min, max) = (Duration::from_millis(100), Duration::from_secs(1));
        let mut r = Reconnect::default();
        assert_eq!(r.next_attempt(min, max), None);
        let now = Instant::now();
        r.failed(now);
        r.failed(now);
        assert_eq!(
            r.next_attempt(min, max),
            Some(now + Duration::from_millis(200))
        );
        r.succeeded();
        assert_eq!(r.next_attempt(min, max), None);
    }

    #[test]
    fn load_counts_while_alive() {
        let counter = Arc::new(AtomicUsize::new(0));
        let a = Load::new(&counter);
        let b = Load::new(&counter);
        assert_eq!(counter.load(Ordering::Relaxed), 2);
        drop((a, b));
        assert_eq!(counter.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn least_loaded_takes_ties_in_turn() {
        let loads = [3, 1, 1, 2];
        assert_eq!(least_loaded(4, 0, |i| loads[i]), Some(1));
        assert_eq!(least_loaded(4, 2, |i| loads[i]), Some(2));
        assert_eq!(least_loaded(2, 1, |_| 0), Some(1));
        assert_eq!(least_loaded(0, 5, |_| 0), None);
    }

    #[test]
    fn instant_after_never_overflows() {
        let now = Instant::now();
        assert!(instant_after(now, Duration::MAX) > now);
        assert_eq!(
            instant_after(now, Duration::from_secs(1)),
            now + Duration::from_secs(1)
        );
    }
}
