//! Conversions between [`DateTime`] and other time types.
//!
//! Sub-second parts are dropped towards the past (floored), so a time
//! converts to the second it falls in.

#[cfg(feature = "std")]
mod system_time {
    use crate::{DateTime, DateTimeError};
    use std::time::{Duration, SystemTime, UNIX_EPOCH};

    impl TryFrom<SystemTime> for DateTime {
        type Error = DateTimeError;
        fn try_from(t: SystemTime) -> Result<Self, Self::Error> {
            let seconds = match t.duration_since(UNIX_EPOCH) {
                Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
                Err(e) => {
                    let d = e.duration();
                    let whole = i64::try_from(d.as_secs()).unwrap_or(i64::MAX);
                    -whole - i64::from(d.subsec_nanos() > 0)
                }
            };
            DateTime::from_unix_seconds(seconds)
        }
    }

    impl From<DateTime> for SystemTime {
        fn from(t: DateTime) -> SystemTime {
            let s = t.unix_seconds();
            let d = Duration::from_secs(s.unsigned_abs());
            if s >= 0 {
                UNIX_EPOCH + d
            } else {
                UNIX_EPOCH - d
            }
        }
    }
}

#[cfg(feature = "jiff-1")]
mod jiff_1 {
    use crate::{DateTime, DateTimeError};

    impl TryFrom<jiff::Timestamp> for DateTime {
        type Error = DateTimeError;
        fn try_from(t: jiff::Timestamp) -> Result<Self, Self::Error> {
            let floor = t.as_second() - i64::from(t.subsec_nanosecond() < 0);
            DateTime::from_unix_seconds(floor)
        }
    }

    /// Fails for the last hours of 9999-12-31, past jiff's latest
    /// timestamp (9999-12-30 22:00:00 UTC, so that every time zone has a
    /// civil time).
    impl TryFrom<DateTime> for jiff::Timestamp {
        type Error = jiff::Error;
        fn try_from(t: DateTime) -> Result<Self, Self::Error> {
            jiff::Timestamp::from_second(t.unix_seconds())
        }
    }

    impl TryFrom<jiff::civil::DateTime> for DateTime {
        type Error = DateTimeError;
        /// Reads a civil date-time as UTC.
        fn try_from(t: jiff::civil::DateTime) -> Result<Self, Self::Error> {
            let year = u16::try_from(t.year()).map_err(|_| DateTimeError::OutOfRange {
                field: "year",
                value: t.year().into(),
                min: 0,
                max: 9999,
            })?;
            DateTime::new(
                year,
                t.month() as u8,
                t.day() as u8,
                t.hour() as u8,
                t.minute() as u8,
                t.second() as u8,
            )
        }
    }

    impl From<DateTime> for jiff::civil::DateTime {
        fn from(t: DateTime) -> jiff::civil::DateTime {
            jiff::civil::datetime(
                t.year() as i16,
                t.month() as i8,
                t.day() as i8,
                t.hour() as i8,
                t.minute() as i8,
                t.second() as i8,
                0,
            )
        }
    }
}

#[cfg(feature = "chrono-04")]
mod chrono_04 {
    use crate::{DateTime, DateTimeError};

    impl TryFrom<chrono::DateTime<chrono::Utc>> for DateTime {
        type Error = DateTimeError;
        fn try_from(t: chrono::DateTime<chrono::Utc>) -> Result<Self, Self::Error> {
            DateTime::from_unix_seconds(t.timestamp())
        }
    }

    impl From<DateTime> for chrono::DateTime<chrono::Utc> {
        fn from(t: DateTime) -> chrono::DateTime<chrono::Utc> {
            // Years 0000-9999 are inside chrono's range (about ±262,000 years).
            chrono::DateTime::from_timestamp(t.unix_seconds(), 0).unwrap_or_default()
        }
    }

    impl TryFrom<chrono::NaiveDateTime> for DateTime {
        type Error = DateTimeError;
        /// Reads a naive date-time as UTC.
        fn try_from(t: chrono::NaiveDateTime) -> Result<Self, Self::Error> {
            DateTime::from_unix_seconds(t.and_utc().timestamp())
        }
    }

    impl From<DateTime> for chrono::NaiveDateTime {
        fn from(t: DateTime) -> chrono::NaiveDateTime {
            chrono::DateTime::<chrono::Utc>::from(t).naive_utc()
        }
    }
}

#[cfg(feature = "time-03")]
mod time_03 {
    use crate::{DateTime, DateTimeError};

    impl TryFrom<time::OffsetDateTime> for DateTime {
        type Error = DateTimeError;
        fn try_from(t: time::OffsetDateTime) -> Result<Self, Self::Error> {
            DateTime::from_unix_seconds(t.unix_timestamp())
        }
    }

    impl From<DateTime> for time::OffsetDateTime {
        fn from(t: DateTime) -> time::OffsetDateTime {
            // Years 0000-9999 are inside time's default range (±9999).
            time::OffsetDateTime::from_unix_timestamp(t.unix_seconds())
                .unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
        }
    }

    impl TryFrom<time::PrimitiveDateTime> for DateTime {
        type Error = DateTimeError;
        /// Reads a primitive date-time as UTC.
        fn try_from(t: time::PrimitiveDateTime) -> Result<Self, Self::Error> {
            DateTime::from_unix_seconds(t.assume_utc().unix_timestamp())
        }
    }

    impl From<DateTime> for time::PrimitiveDateTime {
        fn from(t: DateTime) -> time::PrimitiveDateTime {
            let odt = time::OffsetDateTime::from(t);
            time::PrimitiveDateTime::new(odt.date(), odt.time())
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::DateTime;
    #[allow(unused_imports)]
    use alloc::string::ToString;

    #[cfg(feature = "std")]
    #[test]
    fn system_time_floors_and_round_trips() {
        use std::time::{Duration, UNIX_EPOCH};
        let t = DateTime::try_from(UNIX_EPOCH - Duration::from_millis(1)).unwrap();
        assert_eq!(t.to_string(), "1969-12-31 23:59:59");
        let t = DateTime::try_from(UNIX_EPOCH + Duration::from_millis(1999)).unwrap();
        assert_eq!(t.unix_seconds(), 1);
        for t in [DateTime::MIN, DateTime::MAX, DateTime::UNIX_EPOCH] {
            assert_eq!(
                DateTime::try_from(std::time::SystemTime::from(t)).unwrap(),
                t
            );
        }
    }

    #[cfg(feature = "jiff-1")]
    #[test]
    fn jiff_round_trips() {
        for t in [DateTime::MIN, DateTime::MAX, DateTime::UNIX_EPOCH] {
            let civil = jiff::civil::DateTime::from(t);
            assert_eq!(DateTime::try_from(civil).unwrap(), t);
        }
        for t in [DateTime::MIN, DateTime::UNIX_EPOCH] {
            let ts = jiff::Timestamp::try_from(t).unwrap();
            assert_eq!(DateTime::try_from(ts).unwrap(), t);
        }
        assert!(jiff::Timestamp::try_from(DateTime::MAX).is_err());
        let before = jiff::Timestamp::new(-1, -1).unwrap();
        assert_eq!(DateTime::try_from(before).unwrap().unix_seconds(), -2);
    }

    #[cfg(feature = "chrono-04")]
    #[test]
    fn chrono_round_trips() {
        for t in [DateTime::MIN, DateTime::MAX, DateTime::UNIX_EPOCH] {
            let c = chrono::DateTime::<chrono::Utc>::from(t);
            assert_eq!(DateTime::try_from(c).unwrap(), t);
            assert_eq!(
                DateTime::try_from(chrono::NaiveDateTime::from(t)).unwrap(),
                t
            );
        }
    }

    #[cfg(feature = "time-03")]
    #[test]
    fn time_round_trips() {
        for t in [DateTime::MIN, DateTime::MAX, DateTime::UNIX_EPOCH] {
            let o = time::OffsetDateTime::from(t);
            assert_eq!(DateTime::try_from(o).unwrap(), t);
            assert_eq!(
                DateTime::try_from(time::PrimitiveDateTime::from(t)).unwrap(),
                t
            );
        }
    }
}
