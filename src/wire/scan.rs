//! The scanning vocabulary of the decoder: where a resumable scan stands
//! ([`Scan`], [`Stopped`]), and finding delimiters fast, without `unsafe`.
//!
//! Arguments are short (identifiers, statuses, job names, dates), where a
//! `memchr` call costs more in setup than the scan itself. These searches
//! look at eight bytes at a time in a `u64` ("SIMD within a register") for
//! the first few words, then hand longer arguments to `memchr`. While they
//! scan they also collect whether every byte seen is ASCII, so that most
//! messages need no separate UTF-8 validation.

use memchr::{memchr2, memchr3};

/// Where the scanner stands inside the current message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scan {
    /// Between arguments (or before the first one): skipping spaces.
    Between,
    /// Inside a simple (unquoted) argument.
    Simple,
    /// Inside a universal (quoted) argument.
    Quoted,
    /// Right after a backslash inside a universal argument.
    Escape,
}

/// Where [`whole_message`](super::whole::whole_message) stopped without
/// finding the end of the message.
pub(crate) struct Stopped {
    /// The scanner's state at `pos`.
    pub(crate) scan: Scan,
    /// The next byte to scan.
    pub(crate) pos: usize,
    /// The write cursor of the universal argument being read.
    pub(crate) write: usize,
    /// Where the argument being read starts.
    pub(crate) arg_start: usize,
    /// The argument bytes seen so far, OR-ed together with a few bytes
    /// around them: a high bit set here only costs a UTF-8 check.
    pub(crate) seen: u64,
}

/// The low bit of every byte.
pub(crate) const LO: u64 = 0x0101_0101_0101_0101;
/// The high bit of every byte: a byte is ASCII when its high bit is clear.
pub(crate) const HI: u64 = 0x8080_8080_8080_8080;
/// Bytes scanned word by word before switching to `memchr`.
const SWAR_LIMIT: usize = 32;

/// `0x80` in each byte of `word` that equals `byte`, `0` in every other
/// byte. Exact: no carry crosses bytes, so there are no false positives
/// after the first match either.
#[inline(always)]
fn eq_mask(word: u64, byte: u8) -> u64 {
    let v = word ^ (LO * u64::from(byte));
    // The high bit of ((v & 0x7f) + 0x7f) | v is set unless v's byte is 0.
    !(((v & !HI).wrapping_add(!HI)) | v) & HI
}

/// The bytes of `word` before byte index `k` (little-endian order).
#[inline(always)]
pub(crate) fn before(word: u64, k: u32) -> u64 {
    // k < 8 here, so the shift is below 64.
    word & ((1u64 << (8 * k)) - 1)
}

/// The ASCII flag bits of `bytes`: `HI` if any byte is not ASCII, else 0.
#[inline]
fn non_ascii(bytes: &[u8]) -> u64 {
    if bytes.is_ascii() { 0 } else { HI }
}

/// The index of the first space, `"` or line feed in `hay`.
///
/// The bytes before it (all of `hay` when there is none) are OR-ed into
/// `seen`, whose high bits then tell whether any of them is not ASCII.
#[inline]
pub(crate) fn simple_end(hay: &[u8], seen: &mut u64) -> Option<usize> {
    let mut i = 0;
    while i < SWAR_LIMIT {
        let Some(word) = hay.get(i..).and_then(|h| h.first_chunk::<8>()) else {
            // Fewer than eight bytes left: the last eight bytes again,
            // ignoring the ones already seen, or one byte at a time.
            if i == hay.len() {
                return None;
            }
            let Some(last) = hay.last_chunk::<8>() else {
                for (j, &b) in hay.iter().enumerate().skip(i) {
                    if b == b' ' || b == b'"' || b == b'\n' {
                        return Some(j);
                    }
                    *seen |= u64::from(b) << 56;
                }
                return None;
            };
            let word = u64::from_le_bytes(*last);
            let fresh = !0u64 << (8 * (i + 8 - hay.len()));
            let hits = (eq_mask(word, b' ') | eq_mask(word, b'"') | eq_mask(word, b'\n')) & fresh;
            if hits != 0 {
                let k = hits.trailing_zeros() / 8;
                *seen |= before(word, k) & fresh;
                return Some(hay.len() - 8 + k as usize);
            }
            *seen |= word & fresh;
            return None;
        };
        let word = u64::from_le_bytes(*word);
        let hits = eq_mask(word, b' ') | eq_mask(word, b'"') | eq_mask(word, b'\n');
        if hits != 0 {
            let k = hits.trailing_zeros() / 8;
            *seen |= before(word, k);
            return Some(i + k as usize);
        }
        *seen |= word;
        i += 8;
    }
    let rest = &hay[i..];
    let found = memchr3(b' ', b'"', b'\n', rest);
    *seen |= non_ascii(&rest[..found.unwrap_or(rest.len())]);
    found.map(|j| i + j)
}

/// The index of the first `"` or `\` in `hay`, collecting the bytes before
/// it into `seen` like [`simple_end`].
#[inline]
pub(crate) fn quoted_stop(hay: &[u8], seen: &mut u64) -> Option<usize> {
    let mut i = 0;
    while i < SWAR_LIMIT {
        let Some(word) = hay.get(i..).and_then(|h| h.first_chunk::<8>()) else {
            for (j, &b) in hay.iter().enumerate().skip(i) {
                if b == b'"' || b == b'\\' {
                    return Some(j);
                }
                *seen |= u64::from(b) << 56;
            }
            return None;
        };
        let word = u64::from_le_bytes(*word);
        let hits = eq_mask(word, b'"') | eq_mask(word, b'\\');
        if hits != 0 {
            let k = hits.trailing_zeros() / 8;
            *seen |= before(word, k);
            return Some(i + k as usize);
        }
        *seen |= word;
        i += 8;
    }
    let rest = &hay[i..];
    let found = memchr2(b'"', b'\\', rest);
    *seen |= non_ascii(&rest[..found.unwrap_or(rest.len())]);
    found.map(|j| i + j)
}

/// One bit per byte of `mask` (which holds `0x80` or `0` in each byte):
/// bit `i` is byte `i`'s high bit.
#[inline(always)]
fn bits(mask: u64) -> u32 {
    // Each flag lands in the top byte at its own position; no two partial
    // products overlap, so nothing carries.
    ((mask >> 7).wrapping_mul(0x0102_0408_1020_4080) >> 56) as u32
}

/// A message `<first> <second>\n` of two simple ASCII arguments separated
/// by exactly one space, found whole in a 16-byte window (the shape of
/// every response): `(space, lf)`, the indexes of its space and line feed.
/// `None` means "not that shape".
#[inline]
pub(crate) fn short_pair(window: &[u8; 16]) -> Option<(usize, usize)> {
    let (w0, w1) = window.split_at(8);
    let (Some(w0), Some(w1)) = (w0.first_chunk::<8>(), w1.first_chunk::<8>()) else {
        return None;
    };
    let (w0, w1) = (u64::from_le_bytes(*w0), u64::from_le_bytes(*w1));
    let lf0 = eq_mask(w0, b'\n');
    if lf0 != 0 {
        // The whole line is in the first word (most responses).
        let lf = lf0.trailing_zeros() / 8;
        let line = before(HI, lf);
        let special = ((w0 & HI) | eq_mask(w0, b'"')) & line;
        let spaces = eq_mask(w0, b' ') & line;
        let space = spaces.trailing_zeros() / 8;
        if special != 0 || spaces & spaces.wrapping_sub(1) != 0 || space == 0 || space + 1 >= lf {
            return None;
        }
        return Some((space as usize, lf as usize));
    }
    let lf_bits = bits(eq_mask(w1, b'\n')) << 8;
    let lf = lf_bits.trailing_zeros();
    if lf >= 16 {
        return None;
    }
    let line = (1u32 << lf) - 1;
    let special = bits(eq_mask(w0, b'"') | (w0 & HI)) | bits(eq_mask(w1, b'"') | (w1 & HI)) << 8;
    let spaces = (bits(eq_mask(w0, b' ')) | bits(eq_mask(w1, b' ')) << 8) & line;
    let space = spaces.trailing_zeros();
    // One space, neither first nor last, and nothing special in the line.
    if special & line != 0 || spaces != 1 << space.min(31) || space == 0 || space + 1 >= lf {
        return None;
    }
    Some((space as usize, lf as usize))
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;

    fn naive(hay: &[u8], set: &[u8]) -> (Option<usize>, bool) {
        let found = hay.iter().position(|b| set.contains(b));
        let ascii = hay[..found.unwrap_or(hay.len())].is_ascii();
        (found, ascii)
    }

    /// Every length up to past the switch to `memchr`, a delimiter (or
    /// none) at every position, with and without non-ASCII bytes before it.
    #[test]
    fn agrees_with_a_naive_search() {
        for len in 0..80usize {
            for at in 0..=len {
                for delimiter in [b' ', b'"', b'\n', b'\\'] {
                    for odd in [None, Some(0), Some(at / 2), Some(len.saturating_sub(1))] {
                        let mut hay: Vec<u8> = (0..len).map(|i| b'a' + (i % 26) as u8).collect();
                        if let Some(o) = odd.filter(|&o| o < len) {
                            hay[o] = 0xc3;
                        }
                        if at < len {
                            hay[at] = delimiter;
                        }
                        for (set, f) in [
                            (
                                &b" \"\n"[..],
                                simple_end as fn(&[u8], &mut u64) -> Option<usize>,
                            ),
                            (&b"\"\\"[..], quoted_stop),
                        ] {
                            let mut seen = 0;
                            let found = f(&hay, &mut seen);
                            let (want, ascii) = naive(&hay, set);
                            assert_eq!(found, want, "{hay:?} {set:?}");
                            assert_eq!(seen & HI == 0, ascii, "{hay:?} {set:?}");
                        }
                    }
                }
            }
        }
    }

    /// `short_pair` finds exactly the lines `a b\n` of two plain ASCII
    /// arguments with one space between them.
    #[test]
    fn short_pair_agrees_with_a_naive_reading() {
        let alphabet = [b'a', b' ', b'"', b'\n', 0xc3, b'1'];
        let mut window = [0u8; 16];
        let mut state = 0x1234_5678_9abc_def1u64;
        let mut pairs = 0;
        for _ in 0..200_000 {
            for b in window.iter_mut() {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                let r = (state % 24) as usize;
                *b = alphabet[if r < 14 {
                    0
                } else if r < 18 {
                    1
                } else {
                    r - 18
                }];
            }
            let want = window.iter().position(|&b| b == b'\n').and_then(|lf| {
                let line = &window[..lf];
                let spaces: Vec<usize> = (0..lf).filter(|&i| line[i] == b' ').collect();
                let plain = line.iter().all(|&b| b != b'"' && b.is_ascii());
                match spaces[..] {
                    [space] if plain && space > 0 && space + 1 < lf => Some((space, lf)),
                    _ => None,
                }
            });
            pairs += usize::from(want.is_some());
            assert_eq!(short_pair(&window), want, "{window:?}");
        }
        assert!(pairs > 1000, "{pairs}");
    }

    #[test]
    fn eq_mask_is_exact_for_every_byte() {
        for target in 0..=255u8 {
            for b in 0..=255u8 {
                let word = u64::from_le_bytes([b, target, 0, 0xff, 0x80, 0x7f, 1, b]);
                let mask = eq_mask(word, target);
                for (i, &byte) in word.to_le_bytes().iter().enumerate() {
                    let bit = (mask >> (8 * i)) & 0xff;
                    assert_eq!(bit == 0x80, byte == target, "{target} {word:x}");
                    assert!(bit == 0 || bit == 0x80);
                }
            }
        }
    }
}
