//! Small runtime-independent pieces of the async adapters: retries,
//! backoff, pool selection, deadlines.

use std::future::Future;
use std::time::{Duration, Instant};

use crate::request_error::RequestError;

/// Which requests a client sends again on its own. By default none: a
/// request is never retried silently.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RetryPolicy {
    /// How many more times a request that was [not
    /// sent](RequestError::NotSent) is tried, on a new connection. Safe:
    /// the server never saw it.
    pub not_sent: u32,
    /// Whether requests whose [outcome is unknown](RequestError::Unknown)
    /// are also tried again (counted in `not_sent`). Only for instructions
    /// that are safe to apply twice: a `SET` on a job that already ran
    /// schedules it again.
    pub unknown: bool,
}

impl RetryPolicy {
    /// Whether `result` may be sent again under this policy.
    pub fn allows(&self, result: &Result<(), RequestError>) -> bool {
        match result {
            Err(RequestError::NotSent { .. }) => true,
            Err(RequestError::Unknown { .. }) => self.unknown,
            _ => false,
        }
    }
}

/// Sends a request again while `policy` allows and `stopped()` is false.
/// `attempt` sends it once more and gives its result.
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
    let mut left = policy.not_sent;
    while left > 0 && policy.allows(&result) && !stopped() {
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

/// `now + after`, or about a century away when that overflows, so that any
/// [`Duration`] (even `Duration::MAX`) means "practically never" rather
/// than a panic.
pub fn instant_after(now: Instant, after: Duration) -> Instant {
    const CENTURY: Duration = Duration::from_secs(100 * 365 * 24 * 60 * 60);
    now.checked_add(after)
        .or_else(|| now.checked_add(CENTURY))
        .unwrap_or(now)
}

/// The index of the least loaded of `loads`, looking from `start` on so
/// that ties are taken in turn. `None` when `loads` is empty.
pub fn least_loaded(loads: &[usize], start: usize) -> Option<usize> {
    let n = loads.len();
    (0..n).map(|i| (start + i) % n).min_by_key(|&i| loads[i])
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
    fn least_loaded_takes_ties_in_turn() {
        assert_eq!(least_loaded(&[3, 1, 1, 2], 0), Some(1));
        assert_eq!(least_loaded(&[3, 1, 1, 2], 2), Some(2));
        assert_eq!(least_loaded(&[0, 0], 1), Some(1));
        assert_eq!(least_loaded(&[], 5), None);
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
