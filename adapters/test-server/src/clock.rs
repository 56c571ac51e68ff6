//! The test server's clock: real time (which tests may shift) or a manual
//! clock that only moves when the test moves it.

use std::time::{Duration, SystemTime};

use kairoi_proto::DateTime;

/// How a [`TestServer`](crate::TestServer) tells the time, chosen with
/// [`TestServerBuilder::clock`](crate::TestServerBuilder::clock).
///
/// Either way, [`TestServer::advance`](crate::TestServer::advance) and
/// [`TestServer::set_now`](crate::TestServer::set_now) move the clock: a
/// real clock keeps ticking from the new time, a manual one stays there.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Clock {
    /// The system clock. Jobs fire on their own when their time comes.
    #[default]
    Real,
    /// A frozen clock that starts at the given time. Jobs fire only when
    /// the test moves the clock past their time (or when they are set with
    /// a time already past).
    Manual(DateTime),
}

/// The clock's state: how far it is shifted from the system clock, or the
/// frozen time.
#[derive(Debug)]
pub(crate) enum ClockState {
    /// The system clock plus `offset` nanoseconds (negative: behind).
    Real { offset: i128 },
    /// A frozen time.
    Manual { now: SystemTime },
}

/// The latest time a job can be set at, 9999-12-31 23:59:59 UTC: a clock
/// moved further stops there.
fn latest() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(253_402_300_799)
}

/// The earliest time a job can be set at, 0000-01-01 00:00:00 UTC.
fn earliest() -> SystemTime {
    SystemTime::UNIX_EPOCH
        .checked_sub(Duration::from_secs(62_167_219_200))
        .unwrap_or(SystemTime::UNIX_EPOCH)
}

/// `t` moved by `nanos` nanoseconds, kept between the earliest and the
/// latest time a job can have (an overflow saturates there).
fn shift(t: SystemTime, nanos: i128) -> SystemTime {
    let magnitude = nanos.unsigned_abs();
    let d = Duration::new(
        u64::try_from(magnitude / 1_000_000_000).unwrap_or(u64::MAX),
        (magnitude % 1_000_000_000) as u32,
    );
    let (moved, bound) = if nanos >= 0 {
        (t.checked_add(d), latest())
    } else {
        (t.checked_sub(d), earliest())
    };
    moved.map_or(bound, |m| m.clamp(earliest(), latest()))
}

/// Signed nanoseconds from `from` to `to`.
fn nanos_between(from: SystemTime, to: SystemTime) -> i128 {
    match to.duration_since(from) {
        Ok(d) => i128::try_from(d.as_nanos()).unwrap_or(i128::MAX),
        Err(e) => i128::try_from(e.duration().as_nanos()).map_or(i128::MIN, |n| -n),
    }
}

impl ClockState {
    pub(crate) fn new(clock: Clock) -> Self {
        match clock {
            Clock::Real => ClockState::Real { offset: 0 },
            Clock::Manual(at) => ClockState::Manual { now: at.into() },
        }
    }

    /// The current time, sub-second part included.
    pub(crate) fn now_precise(&self) -> SystemTime {
        match *self {
            ClockState::Real { offset } => shift(SystemTime::now(), offset),
            ClockState::Manual { now } => now,
        }
    }

    /// The current time in whole seconds, clamped to years 0000 to 9999.
    pub(crate) fn now(&self) -> DateTime {
        let t = self.now_precise();
        DateTime::try_from(t).unwrap_or(if t < SystemTime::UNIX_EPOCH {
            DateTime::MIN
        } else {
            DateTime::MAX
        })
    }

    pub(crate) fn advance(&mut self, by: Duration) {
        let nanos = i128::try_from(by.as_nanos()).unwrap_or(i128::MAX);
        match self {
            ClockState::Real { offset } => *offset = offset.saturating_add(nanos),
            ClockState::Manual { now } => *now = shift(*now, nanos),
        }
    }

    pub(crate) fn set_now(&mut self, at: DateTime) {
        let target = SystemTime::from(at);
        match self {
            ClockState::Real { offset } => *offset = nanos_between(SystemTime::now(), target),
            ClockState::Manual { now } => *now = target,
        }
    }

    /// How long until `at` comes on its own: `None` for a manual clock.
    pub(crate) fn until(&self, at: DateTime) -> Option<Duration> {
        match self {
            ClockState::Real { .. } => Some(
                SystemTime::from(at)
                    .duration_since(self.now_precise())
                    .unwrap_or(Duration::ZERO),
            ),
            ClockState::Manual { .. } => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime {
        s.parse().unwrap()
    }

    #[test]
    fn manual_clock_moves_only_when_told() {
        let mut clock = ClockState::new(Clock::Manual(at("2030-01-01 00:00:00")));
        assert_eq!(clock.now(), at("2030-01-01 00:00:00"));
        clock.advance(Duration::from_millis(1500));
        assert_eq!(clock.now(), at("2030-01-01 00:00:01"));
        clock.advance(Duration::from_millis(500));
        assert_eq!(clock.now(), at("2030-01-01 00:00:02"));
        clock.set_now(at("1969-12-31 23:59:59"));
        assert_eq!(clock.now(), at("1969-12-31 23:59:59"));
        assert_eq!(clock.until(at("2030-01-01 00:00:00")), None);
    }

    #[test]
    fn real_clock_can_be_shifted() {
        let mut clock = ClockState::new(Clock::Real);
        clock.set_now(at("2100-06-01 12:00:00"));
        let now = clock.now().unix_seconds();
        let target = at("2100-06-01 12:00:00").unix_seconds();
        assert!((target..target + 5).contains(&now), "{now} vs {target}");
        clock.advance(Duration::from_secs(3600));
        assert!(clock.now().unix_seconds() >= target + 3600);
        let wait = clock.until(at("2100-06-01 14:00:00")).unwrap();
        assert!(wait <= Duration::from_secs(3600) && wait > Duration::from_secs(3590));
    }

    #[test]
    fn the_clock_clamps_at_the_ends_of_the_range() {
        let mut clock = ClockState::new(Clock::Manual(DateTime::MAX));
        clock.advance(Duration::from_secs(10));
        assert_eq!(clock.now(), DateTime::MAX);
    }
}
