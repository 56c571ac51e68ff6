//! Instants that never overflow.

use std::time::{Duration, Instant};

/// `now + after`, or about a century away when that overflows, so that any
/// [`Duration`] (even `Duration::MAX`) means "practically never" rather
/// than a panic.
pub fn instant_after(now: Instant, after: Duration) -> Instant {
    const CENTURY: Duration = Duration::from_secs(100 * 365 * 24 * 60 * 60);
    now.checked_add(after)
        .or_else(|| now.checked_add(CENTURY))
        .unwrap_or(now)
}

/// When a wait of `limit` started at `now` ends: `None` for no limit.
pub fn deadline(now: Instant, limit: Option<Duration>) -> Option<Instant> {
    limit.map(|l| instant_after(now, l))
}

/// The earlier of two optional instants (`None` is no limit).
pub(crate) fn earliest(a: Option<Instant>, b: Option<Instant>) -> Option<Instant> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instant_after_never_overflows() {
        let now = Instant::now();
        assert!(instant_after(now, Duration::MAX) > now);
        assert!(instant_after(now, Duration::from_secs(u64::MAX / 2)) > now);
        assert_eq!(
            instant_after(now, Duration::from_secs(1)),
            now + Duration::from_secs(1)
        );
        assert_eq!(deadline(now, None), None);
        let later = now + Duration::from_secs(1);
        assert_eq!(earliest(Some(later), Some(now)), Some(now));
        assert_eq!(earliest(None, Some(later)), Some(later));
        assert_eq!(earliest(None, None), None);
    }
}
