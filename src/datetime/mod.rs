//! [`DateTime`]: the UTC execution time of a job and its wire form.

use core::fmt;
use core::str::FromStr;

use crate::error::DateTimeError;

mod convert;

/// The length of the wire form `YYYY-MM-DD HH:MM:SS`.
pub(crate) const WIRE_LEN: usize = 19;

/// A UTC date-time with second precision, for years 0000 to 9999
/// (proleptic Gregorian calendar).
///
/// Its [`Display`](fmt::Display) and [`FromStr`] use the canonical wire form
/// `YYYY-MM-DD HH:MM:SS`, always zero-padded. Parsing is strict: the lenient
/// forms the reference server also accepts (`2020-5-6 2:6:8`, signs, extra
/// spaces, second 60) are refused, so a value that parses is one every
/// server reads the same way.
///
/// ```
/// use kairoi_proto::DateTime;
/// let t: DateTime = "2020-02-29 12:00:00".parse()?;
/// assert_eq!(t.unix_seconds(), 1_582_977_600);
/// assert_eq!(t.to_string(), "2020-02-29 12:00:00");
/// assert!("2021-02-29 12:00:00".parse::<DateTime>().is_err());
/// # Ok::<(), kairoi_proto::DateTimeError>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DateTime {
    year: u16,
    month: u8,
    day: u8,
    hour: u8,
    minute: u8,
    second: u8,
}

fn check(field: &'static str, value: i64, min: i64, max: i64) -> Result<(), DateTimeError> {
    if (min..=max).contains(&value) {
        Ok(())
    } else {
        Err(DateTimeError::OutOfRange {
            field,
            value,
            min,
            max,
        })
    }
}

fn is_leap(year: i64) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

fn days_in_month(year: i64, month: u8) -> u8 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days from 1970-01-01 to the given civil date.
fn days_from_civil(year: i64, month: u8, day: u8) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (i64::from(month) + 9) % 12;
    let doy = (153 * mp + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The civil date of a day counted from 1970-01-01.
fn civil_from_days(days: i64) -> (i64, u8, u8) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u8;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u8;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

impl DateTime {
    /// The earliest value, `0000-01-01 00:00:00`.
    pub const MIN: DateTime = DateTime {
        year: 0,
        month: 1,
        day: 1,
        hour: 0,
        minute: 0,
        second: 0,
    };

    /// The latest value, `9999-12-31 23:59:59`.
    pub const MAX: DateTime = DateTime {
        year: 9999,
        month: 12,
        day: 31,
        hour: 23,
        minute: 59,
        second: 59,
    };

    /// The Unix epoch, `1970-01-01 00:00:00`.
    pub const UNIX_EPOCH: DateTime = DateTime {
        year: 1970,
        month: 1,
        day: 1,
        hour: 0,
        minute: 0,
        second: 0,
    };

    /// A date-time from its fields, checked: the year is 0 to 9999, the day
    /// exists in its month, the second is 0 to 59.
    pub fn new(
        year: u16,
        month: u8,
        day: u8,
        hour: u8,
        minute: u8,
        second: u8,
    ) -> Result<Self, DateTimeError> {
        check("year", year.into(), 0, 9999)?;
        check("month", month.into(), 1, 12)?;
        let max_day = days_in_month(year.into(), month);
        check("day", day.into(), 1, max_day.into())?;
        check("hour", hour.into(), 0, 23)?;
        check("minute", minute.into(), 0, 59)?;
        check("second", second.into(), 0, 59)?;
        Ok(DateTime {
            year,
            month,
            day,
            hour,
            minute,
            second,
        })
    }

    /// The date-time `seconds` after 1970-01-01 00:00:00 UTC (before it when
    /// negative), if it falls in years 0000 to 9999.
    pub fn from_unix_seconds(seconds: i64) -> Result<Self, DateTimeError> {
        if !(Self::MIN.unix_seconds()..=Self::MAX.unix_seconds()).contains(&seconds) {
            return Err(DateTimeError::Unrepresentable { seconds });
        }
        let days = seconds.div_euclid(86_400);
        let rem = seconds.rem_euclid(86_400);
        let (year, month, day) = civil_from_days(days);
        Ok(DateTime {
            year: year as u16,
            month,
            day,
            hour: (rem / 3600) as u8,
            minute: (rem / 60 % 60) as u8,
            second: (rem % 60) as u8,
        })
    }

    /// Seconds from 1970-01-01 00:00:00 UTC (negative before it).
    pub fn unix_seconds(&self) -> i64 {
        days_from_civil(self.year.into(), self.month, self.day) * 86_400
            + i64::from(self.hour) * 3600
            + i64::from(self.minute) * 60
            + i64::from(self.second)
    }

    /// This date-time moved by `seconds` (earlier when negative), if the
    /// result is still in years 0000 to 9999.
    pub fn checked_add_seconds(&self, seconds: i64) -> Option<Self> {
        let s = self.unix_seconds().checked_add(seconds)?;
        Self::from_unix_seconds(s).ok()
    }

    /// The year, 0 to 9999.
    pub fn year(&self) -> u16 {
        self.year
    }
    /// The month, 1 to 12.
    pub fn month(&self) -> u8 {
        self.month
    }
    /// The day of the month, 1 to 31.
    pub fn day(&self) -> u8 {
        self.day
    }
    /// The hour, 0 to 23.
    pub fn hour(&self) -> u8 {
        self.hour
    }
    /// The minute, 0 to 59.
    pub fn minute(&self) -> u8 {
        self.minute
    }
    /// The second, 0 to 59.
    pub fn second(&self) -> u8 {
        self.second
    }

    /// The canonical wire form `YYYY-MM-DD HH:MM:SS` as bytes, without
    /// allocating.
    pub fn to_wire(&self) -> [u8; WIRE_LEN] {
        fn two(out: &mut [u8], v: u8) {
            out[0] = b'0' + v / 10;
            out[1] = b'0' + v % 10;
        }
        let mut out = *b"0000-00-00 00:00:00";
        let y = self.year;
        out[0] = b'0' + (y / 1000) as u8;
        out[1] = b'0' + (y / 100 % 10) as u8;
        out[2] = b'0' + (y / 10 % 10) as u8;
        out[3] = b'0' + (y % 10) as u8;
        two(&mut out[5..7], self.month);
        two(&mut out[8..10], self.day);
        two(&mut out[11..13], self.hour);
        two(&mut out[14..16], self.minute);
        two(&mut out[17..19], self.second);
        out
    }

    /// Parses the canonical wire form from bytes.
    pub fn parse_wire(s: &[u8]) -> Result<Self, DateTimeError> {
        let Some(s) = s.first_chunk::<WIRE_LEN>().filter(|_| s.len() == WIRE_LEN) else {
            return Err(DateTimeError::Format);
        };
        // Three overlapping words cover `YYYY-MM-` `DD HH:MM` and
        // `HH:MM:SS`; each is checked against its shape at once.
        let word = |at: usize| {
            let mut w = [0; 8];
            w.copy_from_slice(&s[at..at + 8]);
            u64::from_le_bytes(w)
        };
        const DATE: (u64, u64) = shape(b"dddd-dd-");
        const DAY_TIME: (u64, u64) = shape(b"dd dd:dd");
        const TIME: (u64, u64) = shape(b"dd:dd:dd");
        let (w0, w1, w2) = (word(0), word(8), word(11));
        if !shape_ok(w0, DATE) || !shape_ok(w1, DAY_TIME) || !shape_ok(w2, TIME) {
            return Err(DateTimeError::Format);
        }
        // Each byte of `pairs(w)` is ten times the digit there plus the
        // next one: digits only (separators cleared), so nothing carries.
        let pairs = |w: u64, (digits, _): (u64, u64)| {
            let d = (w ^ 0x3030_3030_3030_3030) & digits;
            d.wrapping_mul(10).wrapping_add(d >> 8)
        };
        let (p0, p1, p2) = (pairs(w0, DATE), pairs(w1, DAY_TIME), pairs(w2, TIME));
        let byte = |w: u64, i: u32| (w >> (8 * i)) as u8;
        let year = u16::from(byte(p0, 0)) * 100 + u16::from(byte(p0, 2));
        let (month, day) = (byte(p0, 5), byte(p1, 0));
        let (hour, minute, second) = (byte(p1, 3), byte(p1, 6), byte(p2, 6));
        // Fast acceptance of the common case; `new` checks the rest and
        // names the field that is out of range.
        if (1..=12).contains(&month)
            && (1..=28).contains(&day)
            && hour < 24
            && minute < 60
            && second < 60
        {
            return Ok(DateTime {
                year,
                month,
                day,
                hour,
                minute,
                second,
            });
        }
        DateTime::new(year, month, day, hour, minute, second)
    }
}

/// An eight-byte shape: `d` stands for an ASCII digit, any other byte for
/// itself. Returns the mask of the digit bytes and the fixed bytes.
const fn shape(shape: &[u8; 8]) -> (u64, u64) {
    let (mut digits, mut fixed) = ([0u8; 8], [0u8; 8]);
    let mut i = 0;
    while i < 8 {
        if shape[i] == b'd' {
            digits[i] = 0xff;
        } else {
            fixed[i] = shape[i];
        }
        i += 1;
    }
    (u64::from_le_bytes(digits), u64::from_le_bytes(fixed))
}

/// Whether the eight bytes of `word` (little-endian) match `shape`.
#[inline]
fn shape_ok(word: u64, (digits, fixed): (u64, u64)) -> bool {
    const HI: u64 = 0x8080_8080_8080_8080;
    // A byte b is a digit when y = b ^ '0' is at most 9: neither y nor
    // y + 0x76 has its high bit set (no carry crosses bytes below 0x80).
    let y = word ^ 0x3030_3030_3030_3030;
    let not_digit = (y | ((y & !HI) + 0x7676_7676_7676_7676)) & HI;
    not_digit & digits == 0 && (word ^ fixed) & !digits == 0
}

impl fmt::Display for DateTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let wire = self.to_wire();
        // The wire form is ASCII digits and separators.
        f.write_str(core::str::from_utf8(&wire).unwrap_or_default())
    }
}

impl fmt::Debug for DateTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DateTime({self})")
    }
}

impl FromStr for DateTime {
    type Err = DateTimeError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        DateTime::parse_wire(s.as_bytes())
    }
}

#[cfg(feature = "arbitrary")]
impl<'a> arbitrary::Arbitrary<'a> for DateTime {
    fn arbitrary(u: &mut arbitrary::Unstructured<'a>) -> arbitrary::Result<Self> {
        let s = u.int_in_range(Self::MIN.unix_seconds()..=Self::MAX.unix_seconds())?;
        Ok(Self::from_unix_seconds(s).unwrap_or(Self::UNIX_EPOCH))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;

    #[test]
    fn unix_seconds_round_trip_over_the_whole_range() {
        let mut s = DateTime::MIN.unix_seconds();
        let max = DateTime::MAX.unix_seconds();
        while s <= max {
            let t = DateTime::from_unix_seconds(s).unwrap();
            assert_eq!(t.unix_seconds(), s);
            assert_eq!(t.to_string().parse::<DateTime>().unwrap(), t);
            s += 86_400 * 7 + 3_601;
        }
        assert_eq!(DateTime::UNIX_EPOCH.unix_seconds(), 0);
        assert_eq!(DateTime::MIN.unix_seconds(), -62_167_219_200);
        assert_eq!(DateTime::MAX.unix_seconds(), 253_402_300_799);
        assert!(DateTime::from_unix_seconds(253_402_300_800).is_err());
        assert!(DateTime::from_unix_seconds(-62_167_219_201).is_err());
    }

    /// The byte-by-byte reading of the wire form.
    fn naive(s: &[u8]) -> Result<DateTime, DateTimeError> {
        const SHAPE: &[u8; WIRE_LEN] = b"dddd-dd-dd dd:dd:dd";
        if s.len() != WIRE_LEN {
            return Err(DateTimeError::Format);
        }
        for (&b, &shape) in s.iter().zip(SHAPE) {
            if (shape == b'd' && !b.is_ascii_digit()) || (shape != b'd' && b != shape) {
                return Err(DateTimeError::Format);
            }
        }
        let n = |r: core::ops::Range<usize>| {
            s[r].iter()
                .fold(0u16, |acc, &b| acc * 10 + u16::from(b - b'0'))
        };
        DateTime::new(
            n(0..4),
            n(5..7) as u8,
            n(8..10) as u8,
            n(11..13) as u8,
            n(14..16) as u8,
            n(17..19) as u8,
        )
    }

    /// Every byte value at every position of a few valid forms, and every
    /// length around the right one.
    #[test]
    fn parse_wire_agrees_with_a_byte_by_byte_reading() {
        for valid in [
            "2026-02-28 23:59:59",
            "0000-01-01 00:00:00",
            "9999-12-31 23:59:59",
            "2020-02-29 12:34:56",
        ] {
            let valid = valid.as_bytes();
            assert!(DateTime::parse_wire(valid).is_ok());
            for i in 0..WIRE_LEN {
                for b in 0..=255u8 {
                    let mut s = valid.to_vec();
                    s[i] = b;
                    assert_eq!(DateTime::parse_wire(&s), naive(&s), "{s:?}");
                }
            }
            for len in 0..WIRE_LEN + 3 {
                let s: alloc::vec::Vec<u8> = valid.iter().copied().cycle().take(len).collect();
                assert_eq!(DateTime::parse_wire(&s), naive(&s), "{s:?}");
            }
        }
    }

    #[test]
    fn strict_parsing() {
        for bad in [
            "2020-5-6 2:6:8",
            " 2020-05-26 22:26:18",
            "2020-05-26  22:26:18",
            "+2020-05-26 22:26:18",
            "2020-01-01 23:59:60",
            "2021-02-29 12:00:00",
            "1900-02-29 12:00:00",
            "2020-05-26T22:26:18",
            "",
        ] {
            assert!(bad.parse::<DateTime>().is_err(), "{bad}");
        }
        assert!("2000-02-29 00:00:00".parse::<DateTime>().is_ok());
        assert!("0000-02-29 00:00:00".parse::<DateTime>().is_ok());
    }
}
