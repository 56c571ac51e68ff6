//! The fast scan of a message that starts at the beginning of the window.
//!
//! Most messages arrive whole: a read holds many of them. This scan reads
//! the message eight bytes at a time in one pass, keeping its state in
//! registers, and only writes it back when it has to stop (the window ends
//! before the message does, an argument crosses a limit, an escape is
//! invalid). The resumable scanner in [`super::decode`] then continues from
//! exactly that state, so no byte is scanned twice and every error is
//! reported by one piece of code.

use alloc::vec::Vec;
use core::ops::Range;

use super::decode::Scan;
use super::scan::{HI, LO};

/// Where [`whole_message`] stopped without finding the end of the message.
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

/// `0x80` in the first byte of `v` that is zero, and possibly in later
/// bytes: only the lowest flag is exact (a borrow can only move up).
#[inline(always)]
fn zero_flags(v: u64) -> u64 {
    v.wrapping_sub(LO) & !v & HI
}

/// `0x80` in the first byte of `word` below `"` (0x22 and under: the
/// space, the quote, the line feed, `!` and control bytes); later flags
/// are not exact.
#[inline(always)]
fn low_flags(word: u64) -> u64 {
    word.wrapping_sub(LO * 0x23) & !word & HI
}

/// The eight bytes at `at`, if the window holds them.
#[inline(always)]
fn word_at(win: &[u8], at: usize) -> Option<u64> {
    win.get(at..)
        .and_then(|w| w.first_chunk::<8>())
        .map(|w| u64::from_le_bytes(*w))
}

/// `0x80` in the first byte of `word` that is `"` or `\`; later flags
/// are not exact.
#[inline(always)]
fn quoted_flags(word: u64) -> u64 {
    zero_flags(word ^ (LO * u64::from(b'"'))) | zero_flags(word ^ (LO * u64::from(b'\\')))
}

/// Reads the rest of a universal argument from `*p`, where a backslash or
/// the end of the window stopped the search for the closing quote, moving
/// each byte back to `*write` over the escapes. `Ok` when the closing
/// quote is passed; otherwise the state to resume in, `*p` and `*write`
/// being where that state stands.
#[cold]
fn quoted_rest(
    win: &mut [u8],
    p: &mut usize,
    write: &mut usize,
    seen: &mut u64,
) -> Result<(), Scan> {
    loop {
        let Some(word) = word_at(win, *p) else {
            return Err(Scan::Quoted);
        };
        let hits = quoted_flags(word);
        let k = if hits == 0 {
            8
        } else {
            (hits.trailing_zeros() / 8) as usize
        };
        *seen |= word;
        win.copy_within(*p..*p + k, *write);
        *p += k;
        *write += k;
        if hits == 0 {
            continue;
        }
        if win[*p] == b'"' {
            *p += 1;
            return Ok(());
        }
        // A backslash: the escaped byte must be `\` or `"`.
        *p += 1;
        match win.get(*p) {
            Some(&e) if e == b'\\' || e == b'"' => {
                win[*write] = e;
                *write += 1;
                *p += 1;
            }
            _ => return Err(Scan::Escape),
        }
    }
}

/// Scans the message at the start of `win`, pushing the content range of
/// each argument to `spans` (which must be empty) and unescaping universal
/// arguments in place.
///
/// Returns `Ok((len, seen))` when the message's line feed is found: `len`
/// bytes including it, `seen` the OR of whole words that cover every
/// argument byte (its high bits are clear when every argument byte is
/// ASCII; a byte after the line feed may set one, which only costs a
/// UTF-8 check). Returns the state to resume from
/// otherwise; the limits (`max_args`, the window's length) are left for
/// the resumable scanner to report.
#[inline]
pub(crate) fn whole_message(
    win: &mut [u8],
    spans: &mut Vec<Range<usize>>,
    max_args: usize,
) -> Result<(usize, u64), Stopped> {
    let mut p = 0;
    let mut seen = 0u64;
    loop {
        // Between arguments.
        let stop = |scan, pos, seen| Stopped {
            scan,
            pos,
            write: 0,
            arg_start: 0,
            seen,
        };
        let Some(&b) = win.get(p) else {
            return Err(stop(Scan::Between, p, seen));
        };
        if b == b' ' {
            p += 1;
            continue;
        }
        if b == b'\n' {
            return Ok((p + 1, seen));
        }
        if spans.len() >= max_args {
            return Err(stop(Scan::Between, p, seen));
        }
        if b == b'"' {
            p += 1;
            let start = p;
            // Until the first escape nothing moves: find the closing quote.
            let stop = loop {
                let Some(word) = word_at(win, p) else {
                    break None;
                };
                let hits = quoted_flags(word);
                if hits == 0 {
                    seen |= word;
                    p += 8;
                    continue;
                }
                let k = hits.trailing_zeros() / 8;
                seen |= word;
                p += k as usize;
                break Some(());
            };
            if stop.is_some() && win[p] == b'"' {
                spans.push(start..p);
                p += 1;
                continue;
            }
            let mut write = p;
            if let Err(scan) = quoted_rest(win, &mut p, &mut write, &mut seen) {
                return Err(Stopped {
                    scan,
                    pos: p,
                    write,
                    arg_start: start,
                    seen,
                });
            }
            spans.push(start..write);
        } else {
            let start = p;
            loop {
                let Some(word) = word_at(win, p) else {
                    return Err(Stopped {
                        scan: Scan::Simple,
                        pos: p,
                        write: 0,
                        arg_start: start,
                        seen,
                    });
                };
                let low = low_flags(word);
                if low == 0 {
                    seen |= word;
                    p += 8;
                    continue;
                }
                let k = low.trailing_zeros() / 8;
                seen |= word;
                p += k as usize;
                let d = (word >> (8 * k)) as u8;
                if d == b' ' || d == b'"' || d == b'\n' {
                    spans.push(start..p);
                    break;
                }
                // `!` or a control byte: part of the argument (and ASCII).
                p += 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_find_the_first_match_exactly() {
        for at in 0..8 {
            for b in 0..=255u8 {
                let mut bytes = *b"abcdefgh";
                bytes[at] = b;
                let word = u64::from_le_bytes(bytes);
                let first = |flags: u64| (flags != 0).then(|| flags.trailing_zeros() / 8);
                let want_low = bytes.iter().position(|&x| x < 0x23).map(|i| i as u32);
                assert_eq!(first(low_flags(word)), want_low, "{bytes:?}");
                let want_zero = bytes.iter().position(|&x| x == b'"').map(|i| i as u32);
                assert_eq!(
                    first(zero_flags(word ^ (LO * u64::from(b'"')))),
                    want_zero,
                    "{bytes:?}"
                );
            }
        }
    }
}
