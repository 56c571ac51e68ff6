//! [`Liveness`]: the rule that declares a connection dead when requests are
//! active and nothing is read from the server for a request timeout.

use std::time::{Duration, Instant};

use kairoi_proto::Client;

use crate::time::instant_after;

/// Watches one connection: while requests are active (written or waiting
/// to be written, timed-out ones still awaiting their late answer
/// included), the server must send something at least once per
/// `timeout`. A server that is hung, or that stopped reading, fails that
/// rule; the client then drops the connection
/// ([`Cause::Unresponsive`](crate::Cause::Unresponsive)) and the next request uses a
/// new one. An idle connection is never declared dead.
#[derive(Debug, Clone, Copy)]
pub struct Liveness {
    timeout: Option<Duration>,
    quiet_since: Option<Instant>,
}

impl Liveness {
    /// A watch with this limit (`None`: never declared dead).
    pub fn new(timeout: Option<Duration>) -> Self {
        Liveness {
            timeout,
            quiet_since: None,
        }
    }

    /// Records whether requests are active at `now`: the quiet time starts
    /// when the connection becomes active, and ends when it is idle.
    pub fn update(&mut self, now: Instant, active: bool) {
        match (active, self.quiet_since) {
            (false, _) => self.quiet_since = None,
            (true, None) => self.quiet_since = Some(now),
            (true, Some(_)) => {}
        }
    }

    /// Records at `now` whether `core` has requests that wait for an
    /// answer: written or not, timed-out ones owed a late answer included.
    pub fn watch<I: Copy + Ord>(&mut self, now: Instant, core: &Client<I>) {
        self.update(now, core.in_flight() + core.abandoned() > 0);
    }

    /// Bytes were read at `now`.
    pub fn heard(&mut self, now: Instant) {
        if self.quiet_since.is_some() {
            self.quiet_since = Some(now);
        }
    }

    /// When the connection is declared dead if nothing is read until then.
    pub fn deadline(&self) -> Option<Instant> {
        Some(instant_after(self.quiet_since?, self.timeout?))
    }

    /// Whether the connection is dead at `now`; the limit is returned for
    /// [`Cause::Unresponsive`](crate::Cause::Unresponsive).
    pub fn expired(&self, now: Instant) -> Option<Duration> {
        self.deadline().filter(|d| *d <= now).and(self.timeout)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_an_active_quiet_connection_expires() {
        let t0 = Instant::now();
        let s = Duration::from_secs(1);
        let mut l = Liveness::new(Some(s));
        assert_eq!(l.deadline(), None);
        l.heard(t0);
        assert_eq!(l.deadline(), None, "idle: reading does not arm it");
        l.update(t0, true);
        assert_eq!(l.deadline(), Some(t0 + s));
        l.update(t0 + s / 2, true);
        assert_eq!(l.deadline(), Some(t0 + s), "staying active keeps the start");
        l.heard(t0 + s / 2);
        assert_eq!(l.expired(t0 + s), None);
        assert_eq!(l.expired(t0 + s + s / 2), Some(s));
        l.update(t0 + 2 * s, false);
        assert_eq!(l.expired(t0 + 10 * s), None);
        let mut never = Liveness::new(None);
        never.update(t0, true);
        assert_eq!(never.deadline(), None);
        let mut max = Liveness::new(Some(Duration::MAX));
        max.update(t0, true);
        assert!(max.deadline().unwrap() > t0);
    }
}
