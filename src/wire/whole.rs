//! The fast scan of a message that starts at the beginning of the window.
//!
//! Most messages arrive whole: a read holds many of them. This scan reads
//! the message eight bytes at a time in one pass, keeping its state in
//! registers, and only writes it back when it has to stop (the window ends
//! before the message does, an argument crosses a limit, a universal
//! argument holds an escape or a byte that is not ASCII). The resumable
//! scanner in [`super::decode`] then continues from
//! exactly that state, so no byte is scanned twice and every error is
//! reported by one piece of code.

use alloc::vec::Vec;
use core::ops::Range;

use super::scan::{HI, LO, Scan, Stopped};

/// `0x80` in every byte of `word` below `#` (0x22 and under: the space,
/// the quote, the line feed, `!` and control bytes), `0` in every other
/// byte. Exact in every byte: each byte of `word | HI` is at least `0x80`,
/// so subtracting `0x23` from it never borrows from the next byte.
#[inline(always)]
fn low_mask(word: u64) -> u64 {
    !((word | HI).wrapping_sub(LO * 0x23) | word) & HI
}

/// The eight bytes at `at`, which the caller knows to be at most
/// `win.len() - 8`.
#[inline(always)]
fn load(win: &[u8], at: usize) -> u64 {
    let mut bytes = [0; 8];
    bytes.copy_from_slice(&win[at..at + 8]);
    u64::from_le_bytes(bytes)
}

/// `0x80` in the first byte of `word` that is `"`, `\` or not ASCII, and
/// possibly in later bytes: where a universal argument stops being a plain
/// run of ASCII bytes up to its closing quote.
#[inline(always)]
fn quoted_or_high_flags(word: u64) -> u64 {
    ((word ^ (LO * u64::from(b'"'))).wrapping_sub(LO)
        | (word ^ (LO * u64::from(b'\\'))).wrapping_sub(LO))
        & HI
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
///
/// Outside universal arguments the scan loads one word at a time and
/// walks the flags of its bytes below `#`: a space ends the simple
/// argument before it (if any), a line feed ends the message, a quote
/// ends the simple argument before it and opens a universal one, and
/// `!` or a control byte is part of a simple argument.
#[inline]
pub(crate) fn whole_message(
    win: &mut [u8],
    spans: &mut Vec<Range<usize>>,
    max_args: usize,
) -> Result<(usize, u64), Stopped> {
    let stop = |scan, pos, arg_start, seen| Stopped {
        scan,
        pos,
        write: 0,
        arg_start,
        seen,
    };
    // The last position a whole word can be loaded from.
    let Some(last) = win.len().checked_sub(8) else {
        return Err(stop(Scan::Between, 0, 0, 0));
    };
    let mut seen = 0u64;
    // Where the current word starts.
    let mut base = 0;
    // Where the current simple argument starts: the byte after the last
    // delimiter. `start == base` means between arguments.
    let mut start = 0;
    'words: loop {
        if base > last {
            if start < base && spans.len() < max_args {
                return Err(stop(Scan::Simple, base, start, seen));
            }
            // Between arguments, or an argument that would cross the limit
            // (the resumable scanner reports it).
            return Err(stop(Scan::Between, start, 0, seen));
        }
        let word = load(win, base);
        seen |= word;
        let mut low = low_mask(word);
        while low != 0 {
            let bit = low.trailing_zeros();
            low &= low - 1;
            let at = base + (bit / 8) as usize;
            let d = (word >> (bit & 56)) as u8;
            if d == b' ' {
                if at > start {
                    if spans.len() >= max_args {
                        return Err(stop(Scan::Between, start, 0, seen));
                    }
                    spans.push(start..at);
                }
                start = at + 1;
                continue;
            }
            if d == b'"' {
                if at > start {
                    if spans.len() >= max_args {
                        return Err(stop(Scan::Between, start, 0, seen));
                    }
                    spans.push(start..at);
                }
                // A quote opens a universal argument.
                if spans.len() >= max_args {
                    return Err(stop(Scan::Between, at, 0, seen));
                }
                let open = at + 1;
                let mut p = open;
                // Find the closing quote. An escape or a byte that is not
                // ASCII stops this search (the flags are cheaper that way),
                // and the resumable scanner reads the rest.
                let found = loop {
                    if p > last {
                        break false;
                    }
                    let word = load(win, p);
                    seen |= word;
                    let hits = quoted_or_high_flags(word);
                    if hits != 0 {
                        p += (hits.trailing_zeros() / 8) as usize;
                        break true;
                    }
                    p += 8;
                };
                if !(found && win[p] == b'"') {
                    // An escape, a byte that is not ASCII or the end of
                    // the window: the resumable scanner reads the rest of
                    // this argument (nothing has moved yet).
                    return Err(Stopped {
                        scan: Scan::Quoted,
                        pos: p,
                        write: p,
                        arg_start: open,
                        seen,
                    });
                }
                spans.push(open..p);
                p += 1;
                // Most universal arguments end their message.
                if win.get(p) == Some(&b'\n') {
                    return Ok((p + 1, seen));
                }
                base = p;
                start = p;
                continue 'words;
            }
            if d == b'\n' {
                if at > start {
                    if spans.len() >= max_args {
                        return Err(stop(Scan::Between, start, 0, seen));
                    }
                    spans.push(start..at);
                }
                return Ok((at + 1, seen));
            }
            // `!` or a control byte: part of a simple argument.
        }
        base += 8;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn low_mask_is_exact_in_every_byte() {
        for at in 0..8 {
            for b in 0..=255u8 {
                for fill in [0u8, b'a', 0x22, 0x23, 0x7f, 0x80, 0xa2, 0xff] {
                    let mut bytes = [fill; 8];
                    bytes[at] = b;
                    let mask = low_mask(u64::from_le_bytes(bytes));
                    for (i, &x) in bytes.iter().enumerate() {
                        let flag = (mask >> (8 * i)) & 0xff;
                        assert_eq!(flag, if x < 0x23 { 0x80 } else { 0 }, "{bytes:?}");
                    }
                }
            }
        }
    }

    #[test]
    fn flags_find_the_first_match_exactly() {
        for at in 0..8 {
            for b in 0..=255u8 {
                let mut bytes = *b"abcdefgh";
                bytes[at] = b;
                let word = u64::from_le_bytes(bytes);
                let first = |flags: u64| (flags != 0).then(|| flags.trailing_zeros() / 8);
                let want_quoted = bytes
                    .iter()
                    .position(|&x| x == b'"' || x == b'\\' || x >= 0x80)
                    .map(|i| i as u32);
                assert_eq!(first(quoted_or_high_flags(word)), want_quoted, "{bytes:?}");
            }
        }
    }

    /// What a decoder yields for `input` fed in `chunk`-byte pieces: the
    /// messages, then the error if there is one.
    fn decode_in(
        input: &[u8],
        chunk: usize,
        max_args: usize,
    ) -> (Vec<Vec<Vec<u8>>>, alloc::string::String) {
        use crate::config::Config;
        use crate::wire::Decoder;
        let config = Config::default()
            .with_max_arguments(max_args)
            .with_max_message_len(48);
        let mut decoder = Decoder::new(config);
        let mut messages = Vec::new();
        for piece in input.chunks(chunk) {
            decoder.extend(piece);
            loop {
                match decoder.next_frame() {
                    Ok(Some(n)) => {
                        messages.push((0..n).map(|i| decoder.argument(i).to_vec()).collect());
                    }
                    Ok(None) => break,
                    Err(e) => return (messages, alloc::format!("{e:?}")),
                }
            }
        }
        (messages, alloc::format!("{:?}", decoder.finish()))
    }

    /// Fed whole, a stream goes through this scan; fed one byte at a time,
    /// through the resumable scanner alone. Both must agree on every
    /// argument and every error, the argument limit included.
    #[test]
    fn agrees_with_the_resumable_scanner() {
        let pieces: [&[u8]; 14] = [
            b"a",
            b"bc",
            b"def",
            b" ",
            b" ",
            b"\"",
            b"\\\\",
            b"\\\"",
            b"\n",
            b"\n",
            b"!",
            b"\x01",
            "\u{e9}".as_bytes(),
            b"\\",
        ];
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let (mut messages, mut too_many) = (0, 0);
        for round in 0..20_000 {
            let len = 8 + round % 48;
            let mut input = Vec::new();
            while input.len() < len {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                let r = (state >> 32) as usize % (pieces.len() * 4);
                // The last piece (a lone backslash) is rare.
                input.extend_from_slice(pieces[r.min(pieces.len() * 4 - 2) % pieces.len()]);
            }
            let max_args = 2 + round % 5;
            let whole = decode_in(&input, input.len(), max_args);
            messages += whole.0.len();
            too_many += usize::from(whole.1.starts_with("TooManyArguments"));
            assert_eq!(
                whole,
                decode_in(&input, 1, max_args),
                "{input:?} {max_args}"
            );
        }
        assert!(messages > 2000 && too_many > 1000, "{messages} {too_many}");
    }
}
