//! Times and durations as a user writes them: the wire form, RFC 3339,
//! and relative times, all turned into the UTC [`DateTime`] of the wire.

use std::time::Duration;

use jiff::tz::TimeZone;
use jiff::{Span, Timestamp};
use kairoi_proto::DateTime;

/// What a WHEN may be, for error messages.
pub const EXPECTED: &str = "expected `YYYY-MM-DD HH:MM:SS` (UTC), an RFC 3339 time such as \
     2030-01-01T08:00:00+01:00, `now`, or a relative time such as +90s, +5m, +2h, +1d";

/// Parses a WHEN: the wire form (UTC), an RFC 3339 time with any offset
/// (converted to UTC, fractions of a second dropped), `now`, or `now`
/// moved by a signed span (`+90s`, `-5m`, `+1h30m`, `+1d`; a day is 24
/// hours). The error names the value and what was expected.
pub fn parse_when(text: &str, now: Timestamp) -> Result<DateTime, String> {
    let bad = |why: &str| format!("bad time {text:?}: {why}");
    let s = text.trim();
    let instant = if s == "now" {
        now
    } else if let Some(rest) = s.strip_prefix(['+', '-']) {
        let span: Span = rest.parse().map_err(|_| {
            bad(&format!(
                "`{rest}` is not a span like 90s, 5m, 2h, 1d; {EXPECTED}"
            ))
        })?;
        let span = if s.starts_with('-') {
            span.negate()
        } else {
            span
        };
        now.to_zoned_datetime(TimeZone::UTC)
            .checked_add(span)
            .map_err(|e| bad(&e.to_string()))?
            .timestamp()
    } else if looks_like_wire(s) {
        return s.parse().map_err(|e| bad(&format!("{e}")));
    } else {
        s.parse::<Timestamp>().map_err(|_| bad(EXPECTED))?
    };
    DateTime::try_from(instant).map_err(|e| bad(&e.to_string()))
}

/// `YYYY-MM-DD HH:MM:SS` in shape (a space, no offset): then the core's
/// strict parser decides, and its error says which field is wrong.
fn looks_like_wire(s: &str) -> bool {
    s.len() == 19 && s.as_bytes()[10] == b' '
}

/// Parses a duration: a number of seconds (`1.5`) or a span (`500ms`,
/// `30s`, `2m`, `1h`).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let s = text.trim();
    if let Ok(seconds) = s.parse::<f64>() {
        return Duration::try_from_secs_f64(seconds).map_err(|e| format!("{text:?}: {e}"));
    }
    let span: Span = s
        .parse()
        .map_err(|_| format!("{text:?}: expected seconds or a span like 500ms, 30s, 2m"))?;
    let signed = span
        .to_duration(jiff::SpanRelativeTo::days_are_24_hours())
        .map_err(|e| format!("{text:?}: {e}"))?;
    Duration::try_from(signed).map_err(|_| format!("{text:?}: a duration cannot be negative"))
}

/// Parses a timeout: a duration as [`parse_duration`] reads it, more than
/// zero (a timeout of 0 would end every request or connection at once).
pub fn parse_timeout(text: &str) -> Result<Duration, String> {
    match parse_duration(text)? {
        Duration::ZERO => Err(format!(
            "{text:?}: a timeout must be more than 0 (0 would time out every request at once)"
        )),
        timeout => Ok(timeout),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> Timestamp {
        "2030-01-01T08:00:00Z".parse().unwrap()
    }

    fn at(s: &str) -> String {
        parse_when(s, now())
            .map(|d| d.to_string())
            .unwrap_or_else(|e| e)
    }

    #[test]
    fn every_form_gives_the_utc_wire_time() {
        assert_eq!(at("2031-02-03 04:05:06"), "2031-02-03 04:05:06");
        assert_eq!(at("2030-01-01T09:30:00+01:00"), "2030-01-01 08:30:00");
        assert_eq!(at("2030-01-01T08:30:00.9Z"), "2030-01-01 08:30:00");
        assert_eq!(at("2029-12-31T22:00:00-10:00"), "2030-01-01 08:00:00");
        assert_eq!(at("now"), "2030-01-01 08:00:00");
        assert_eq!(at("+90s"), "2030-01-01 08:01:30");
        assert_eq!(at("+5m"), "2030-01-01 08:05:00");
        assert_eq!(at("+2h"), "2030-01-01 10:00:00");
        assert_eq!(at("+1d"), "2030-01-02 08:00:00");
        assert_eq!(at("-10m"), "2030-01-01 07:50:00");
        assert_eq!(at("+1h30m"), "2030-01-01 09:30:00");
    }

    #[test]
    fn errors_name_the_value_and_what_was_expected() {
        let e = at("tomorrow");
        assert!(
            e.starts_with("bad time \"tomorrow\": expected `YYYY-MM-DD"),
            "{e}"
        );
        let e = at("2021-02-29 00:00:00");
        assert!(
            e.contains("\"2021-02-29 00:00:00\"") && e.contains("day 29"),
            "{e}"
        );
        let e = at("+5 parsecs");
        assert!(e.contains("not a span"), "{e}");
        let e = at("+20000y");
        assert!(e.starts_with("bad time \"+20000y\""), "{e}");
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("1.5"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert!(parse_duration("-1s").is_err());
        assert!(parse_duration("soon").unwrap_err().contains("\"soon\""));
        assert_eq!(parse_duration("0"), Ok(Duration::ZERO));
        assert!(parse_timeout("0ms").unwrap_err().contains("more than 0"));
        assert_eq!(parse_timeout("1ms"), Ok(Duration::from_millis(1)));
    }
}
