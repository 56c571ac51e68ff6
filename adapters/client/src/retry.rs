//! [`RetryPolicy`]: which failed requests a client sends again.

use std::time::Duration;

use crate::RequestError;

/// Which failed requests a client sends again, on a new connection, before
/// reporting them. The default sends nothing again. All three clients
/// (`kairoi-std`, `kairoi-tokio`, `kairoi-smol`) read it the same way.
///
/// Only [`RequestError::NotSent`] requests are safe to resend: the server
/// never saw them. [`RequestError::Unknown`] requests may have been
/// applied, and a `SET` on a job that already ran schedules it again, so
/// they are resent only with [`RetryPolicy::with_unknown`]. Rejected,
/// timed-out and invalid requests are never resent. A single call's
/// attempts all fit in its one request timeout.
///
/// ```
/// use std::time::Duration;
/// use kairoi_client::RetryPolicy;
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
