//! [`RequestId`] and its wire form: a base-36 counter.

use core::fmt;

/// The identifier of a request on one connection.
///
/// On the wire it is a short base-36 counter (`0`, `1`, ..., `z`, `10`, ...):
/// a non-empty simple string, which the reference server echoes back
/// unchanged. Identifiers are never reused on a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RequestId(pub(crate) u64);

/// The longest base-36 form of a `u64`.
const MAX_DIGITS: usize = 13;

impl RequestId {
    /// The sequence number of this request on its connection, from 0.
    pub fn sequence(&self) -> u64 {
        self.0
    }

    /// The identifier of the request with this sequence number on its
    /// connection: the client numbers requests from 0, so a test, a
    /// benchmark or a peer can tell which wire identifier the `n`-th
    /// request carries (its [`Display`](fmt::Display) form).
    ///
    /// ```
    /// use kairoi_proto::RequestId;
    /// assert_eq!(RequestId::from_sequence(35).to_string(), "z");
    /// assert_eq!(RequestId::from_sequence(36).sequence(), 36);
    /// ```
    pub fn from_sequence(sequence: u64) -> RequestId {
        RequestId(sequence)
    }

    /// Writes the wire form into `buf`, returning the used tail.
    pub(crate) fn encode(self, buf: &mut [u8; MAX_DIGITS]) -> &[u8] {
        let mut n = self.0;
        let mut i = MAX_DIGITS;
        loop {
            i -= 1;
            let d = (n % 36) as u8;
            buf[i] = if d < 10 { b'0' + d } else { b'a' + d - 10 };
            n /= 36;
            if n == 0 {
                return &buf[i..];
            }
        }
    }

    /// Parses a canonical wire form (no leading zeros, lowercase).
    #[inline]
    pub(crate) fn parse(s: &[u8]) -> Option<RequestId> {
        if s.is_empty() || s.len() > MAX_DIGITS || (s.len() > 1 && s[0] == b'0') {
            return None;
        }
        let mut n: u64 = 0;
        let mut bad = 0;
        for &b in s {
            let d = DIGITS[usize::from(b)];
            bad |= d;
            // Wraps only for some thirteen-digit forms, checked below.
            n = n.wrapping_mul(36).wrapping_add(u64::from(d));
        }
        // 36^12 < 2^64: up to twelve digits never overflow.
        if bad & INVALID != 0 || (s.len() == MAX_DIGITS && !fits(s)) {
            return None;
        }
        Some(RequestId(n))
    }
}

/// The marker of a byte that is not a base-36 digit in [`DIGITS`].
const INVALID: u8 = 0x80;

/// The value of every byte as a base-36 digit, or [`INVALID`].
const DIGITS: [u8; 256] = {
    let mut table = [INVALID; 256];
    let mut i = 0;
    while i < 36 {
        let c = if i < 10 { b'0' + i } else { b'a' + i - 10 };
        table[c as usize] = i;
        i += 1;
    }
    table
};

/// Whether the base-36 digits `s` (all valid) fit in a `u64`.
#[cold]
fn fits(s: &[u8]) -> bool {
    s.iter()
        .try_fold(0u64, |n, &b| {
            n.checked_mul(36)?
                .checked_add(u64::from(DIGITS[usize::from(b)]))
        })
        .is_some()
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut buf = [0; MAX_DIGITS];
        let s = self.encode(&mut buf);
        f.write_str(core::str::from_utf8(s).unwrap_or_default())
    }
}

/// A scratch buffer for [`RequestId::encode`].
pub(crate) fn scratch() -> [u8; MAX_DIGITS] {
    [0; MAX_DIGITS]
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;

    #[test]
    fn base36_round_trip() {
        for n in [0, 1, 35, 36, 1295, 1296, 1_000_000, u64::MAX] {
            let id = RequestId(n);
            let s = id.to_string();
            assert_eq!(RequestId::parse(s.as_bytes()), Some(id), "{s}");
        }
        assert_eq!(RequestId(36).to_string(), "10");
        assert_eq!(RequestId::parse(b"01"), None);
        assert_eq!(RequestId::parse(b"A"), None);
        assert_eq!(RequestId::parse(b""), None);
        assert_eq!(RequestId::parse(b"3w5e11264sgsg"), None); // u64::MAX + 1
        assert_eq!(
            RequestId::parse(b"zzzzzzzzzzzz"),
            Some(RequestId(36u64.pow(12) - 1))
        );
        assert_eq!(RequestId::parse(b"zzzzzzzzzzzzz"), None);
    }
}
