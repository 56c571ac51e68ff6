//! The streaming, quote-aware message decoder.

use alloc::vec::Vec;
use bytes::{Buf, Bytes, BytesMut};
use core::ops::Range;

use super::scan::{self, Scan, Stopped};
use super::whole::whole_message;
use crate::config::Config;
use crate::error::DecodeError;
use crate::text::Text;

/// The least a growing receive buffer reserves.
const MIN_RESERVE: usize = 8 * 1024;

/// A resumable decoder of KCP messages.
///
/// Bytes go in with [`Decoder::extend`]; [`Decoder::next_frame`] yields one
/// message at a time. The scanner remembers where it stopped, so each byte
/// is scanned once whatever the chunking; a universal string is unescaped in
/// place, and a simple string is a plain slice of the receive buffer.
///
/// After a frame is yielded its arguments are read with
/// [`Decoder::argument`] (borrowed) or taken as zero-copy [`Text`] values
/// with [`Decoder::take_arguments`]; the frame is released on the next call
/// to [`Decoder::next_frame`].
///
/// ```
/// use kairoi_proto::{wire::Decoder, Config};
/// let mut decoder = Decoder::new(Config::default());
/// decoder.extend(b"7 OK\n8 \"with space\" x");
/// assert_eq!(decoder.next_frame(), Ok(Some(2)));
/// assert_eq!(decoder.argument(0), b"7");
/// assert_eq!(decoder.next_frame(), Ok(None)); // need more bytes
/// decoder.extend(b"\n");
/// assert_eq!(decoder.next_frame(), Ok(Some(3)));
/// assert_eq!(decoder.argument(1), b"with space");
/// ```
#[derive(Debug)]
pub struct Decoder {
    buf: BytesMut,
    /// Where the current message starts in `buf`: released frames before
    /// it are dropped from the buffer lazily, once per read.
    head: usize,
    max_len: usize,
    max_args: usize,
    scan: Scan,
    /// Next byte to scan, relative to the start of the current message.
    pos: usize,
    /// Where the next unescaped byte of a universal argument goes.
    write: usize,
    /// Start of the current argument's content.
    arg_start: usize,
    /// Content ranges of the arguments found so far.
    spans: Vec<Range<usize>>,
    /// The bytes of the current message's arguments OR-ed together (see
    /// [`scan`]): any high bit set means some byte is not ASCII.
    seen: u64,
    /// Length of the frame yielded last, released on the next call.
    frame_len: usize,
    frame_taken: bool,
    failed: Option<DecodeError>,
}

enum Step {
    Frame,
    NeedMore,
}

impl Decoder {
    /// A decoder with the limits of `config`.
    pub fn new(config: Config) -> Self {
        Decoder {
            buf: BytesMut::new(),
            head: 0,
            max_len: config.max_message_len(),
            max_args: config.max_arguments(),
            scan: Scan::Between,
            pos: 0,
            write: 0,
            arg_start: 0,
            spans: Vec::with_capacity(8),
            seen: 0,
            frame_len: 0,
            frame_taken: true,
            failed: None,
        }
    }

    /// Appends bytes read from the transport. After an error the decoder
    /// is dead and drops them, so its memory stays bounded.
    pub fn extend(&mut self, bytes: &[u8]) {
        self.release_frame();
        if self.failed.is_some() {
            return;
        }
        self.compact();
        if self.buf.capacity() - self.buf.len() < bytes.len() {
            // Reserving at least `MIN_RESERVE` keeps buffers large: the
            // space of released frames is reclaimed without allocating, and
            // while taken arguments still share the old buffer, a new one
            // holds many messages rather than one read.
            self.buf.reserve(bytes.len().max(MIN_RESERVE));
        }
        self.buf.extend_from_slice(bytes);
    }

    /// The number of bytes buffered and not yet yielded as a message.
    pub fn buffered(&self) -> usize {
        self.buf.len() - self.head - if self.frame_taken { 0 } else { self.frame_len }
    }

    /// Whether the bytes buffered so far end between messages.
    pub fn is_at_boundary(&self) -> bool {
        self.buffered() == 0
    }

    /// Decodes the next message.
    ///
    /// Returns `Ok(Some(n))` when a whole message of `n` arguments was read,
    /// `Ok(None)` when more bytes are needed, and an error when the bytes
    /// can never become a message within the limits. An error is final:
    /// every later call returns it again.
    #[inline]
    pub fn next_frame(&mut self) -> Result<Option<usize>, DecodeError> {
        self.release_frame();
        // A fresh message (`pos == 0`) is scanned in one pass when it is
        // whole in the buffer; otherwise the resumable scanner continues
        // from where that pass stopped.
        if self.pos == 0 && self.failed.is_none() && self.whole_message() {
            return self.frame_end();
        }
        self.next_frame_general()
    }

    /// Scans a fresh message with [`whole_message`]: `true` when its line
    /// feed was found (`pos` is then its length), `false` when the state to
    /// resume from was saved for the resumable scanner.
    #[inline]
    fn whole_message(&mut self) -> bool {
        let end = self.buf.len().min(self.head.saturating_add(self.max_len));
        let win = &mut self.buf[self.head..end];
        match whole_message(win, &mut self.spans, self.max_args) {
            Ok((len, seen)) => {
                self.pos = len;
                self.seen = seen;
                true
            }
            Err(Stopped {
                scan,
                pos,
                write,
                arg_start,
                seen,
            }) => {
                self.scan = scan;
                self.pos = pos;
                self.write = write;
                self.arg_start = arg_start;
                self.seen = seen;
                false
            }
        }
    }

    /// Ends a message whose line feed [`Decoder::whole_message`] found.
    #[inline]
    fn frame_end(&mut self) -> Result<Option<usize>, DecodeError> {
        match self.end_message() {
            Ok(_) => Ok(Some(self.frame_ready())),
            Err(e) => {
                self.failed = Some(e.clone());
                Err(e)
            }
        }
    }

    #[inline(never)]
    fn next_frame_general(&mut self) -> Result<Option<usize>, DecodeError> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        match self.scan_message() {
            Ok(Step::Frame) => Ok(Some(self.frame_ready())),
            Ok(Step::NeedMore) => Ok(None),
            Err(e) => {
                self.failed = Some(e.clone());
                Err(e)
            }
        }
    }

    /// Marks the message scanned up to `pos` as the yielded frame and
    /// resets the scanner; returns its argument count.
    #[inline]
    fn frame_ready(&mut self) -> usize {
        self.frame_len = self.pos;
        self.frame_taken = false;
        self.pos = 0;
        self.write = 0;
        self.scan = Scan::Between;
        self.seen = 0;
        self.spans.len()
    }

    /// Peeks at a whole next message of the form `<a> <b>\n`: two simple
    /// ASCII arguments separated by one space, within the limits. Returns
    /// both and the message's length; nothing is consumed until
    /// [`Decoder::skip_peeked`]. `None` means "decode it with
    /// [`Decoder::next_frame`]", which would yield the same two arguments
    /// for such a message.
    #[inline]
    pub(crate) fn peek_pair(&mut self) -> Option<(&[u8], &[u8], usize)> {
        self.release_frame();
        if self.pos != 0 || self.failed.is_some() || self.max_args < 2 {
            return None;
        }
        let rest = &self.buf[self.head..];
        let (space, lf) = scan::short_pair(rest.first_chunk::<16>()?)?;
        if lf >= self.max_len {
            return None;
        }
        Some((&rest[..space], &rest[space + 1..lf], lf + 1))
    }

    /// Consumes the message of `len` bytes seen by [`Decoder::peek_pair`].
    #[inline]
    pub(crate) fn skip_peeked(&mut self, len: usize) {
        self.head += len;
    }

    /// The number of arguments of the frame yielded last.
    pub fn argument_count(&self) -> usize {
        if self.frame_taken {
            0
        } else {
            self.spans.len()
        }
    }

    /// Argument `i` of the frame yielded last (identifier first), unescaped.
    ///
    /// Returns an empty slice when there is no such argument.
    #[inline]
    pub fn argument(&self, i: usize) -> &[u8] {
        match self.spans.get(i) {
            Some(r) if !self.frame_taken => &self.buf[self.head + r.start..self.head + r.end],
            _ => &[],
        }
    }

    /// The frame yielded last and the ranges of its arguments in it.
    #[inline]
    pub(crate) fn frame(&self) -> (&[u8], &[Range<usize>]) {
        if self.frame_taken {
            return (&[], &[]);
        }
        let frame = self.buf.get(self.head..self.head + self.frame_len);
        (frame.unwrap_or_default(), &self.spans)
    }

    /// Moves every argument of the frame yielded last into `out` as [`Text`]
    /// values that share the receive buffer (no copy).
    pub fn take_arguments(&mut self, out: &mut Vec<Text>) {
        if self.frame_taken {
            return;
        }
        self.frame_taken = true;
        self.compact();
        let frame: Bytes = self.buf.split_to(self.frame_len).freeze();
        out.extend(
            self.spans
                .iter()
                .map(|r| Text::from_checked(frame.slice(r.clone()))),
        );
        self.spans.clear();
    }

    /// Takes the frame yielded last as one shared buffer and hands it to
    /// `f` with the ranges of its arguments in it (no copy, no list).
    #[inline(always)]
    pub(crate) fn take_frame_with<R>(&mut self, f: impl FnOnce(Bytes, &[Range<usize>]) -> R) -> R {
        self.frame_taken = true;
        self.compact();
        let frame: Bytes = self.buf.split_to(self.frame_len).freeze();
        let r = f(frame, &self.spans);
        self.spans.clear();
        r
    }

    /// Takes the whole frame yielded last as owned text arguments.
    pub fn take_message(&mut self) -> Vec<Text> {
        let mut out = Vec::with_capacity(self.argument_count());
        self.take_arguments(&mut out);
        out
    }

    /// Ends the stream: an error if bytes of an unfinished message remain.
    pub fn finish(&mut self) -> Result<(), DecodeError> {
        self.release_frame();
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        if self.buf.len() == self.head {
            Ok(())
        } else {
            let e = DecodeError::Truncated {
                buffered: self.buf.len() - self.head,
            };
            self.failed = Some(e.clone());
            Err(e)
        }
    }

    /// Drops the released bytes before `head` from the buffer.
    fn compact(&mut self) {
        if self.head > 0 {
            self.buf.advance(self.head);
            self.head = 0;
        }
    }

    #[inline]
    fn release_frame(&mut self) {
        if !self.frame_taken {
            self.head += self.frame_len;
            self.frame_taken = true;
            self.spans.clear();
        }
    }

    fn scan_message(&mut self) -> Result<Step, DecodeError> {
        let len = self.buf.len() - self.head;
        // Never look past the longest allowed message: the outcome must not
        // depend on how many bytes happen to be buffered.
        let end = len.min(self.max_len);
        let max_args = self.max_args;
        let Decoder {
            buf,
            head,
            spans,
            scan,
            pos,
            write,
            arg_start,
            seen,
            ..
        } = self;
        let buf: &mut [u8] = &mut buf[*head..*head + end];
        let mut p = *pos;
        let mut state = *scan;
        let step = loop {
            match state {
                Scan::Between => {
                    let Some(&b) = buf.get(p) else {
                        break Ok(Step::NeedMore);
                    };
                    match b {
                        b' ' => p += 1,
                        b'\n' => {
                            p += 1;
                            break Ok(Step::Frame);
                        }
                        _ if spans.len() >= max_args => {
                            break Err(DecodeError::TooManyArguments { limit: max_args });
                        }
                        b'"' => {
                            p += 1;
                            *arg_start = p;
                            *write = p;
                            state = Scan::Quoted;
                        }
                        _ => {
                            *arg_start = p;
                            state = Scan::Simple;
                        }
                    }
                }
                Scan::Simple => match scan::simple_end(&buf[p..], seen) {
                    None => {
                        p = end;
                        break Ok(Step::NeedMore);
                    }
                    Some(i) => {
                        p += i;
                        spans.push(*arg_start..p);
                        // The delimiter is handled by `Between`: a space is
                        // skipped, a quote opens an argument, a line feed
                        // ends the message.
                        state = Scan::Between;
                    }
                },
                Scan::Quoted => {
                    let found = scan::quoted_stop(&buf[p..], seen);
                    let stop = found.map_or(end, |i| p + i);
                    if *write != p {
                        buf.copy_within(p..stop, *write);
                    }
                    *write += stop - p;
                    p = stop;
                    if found.is_none() {
                        break Ok(Step::NeedMore);
                    }
                    if buf[stop] == b'"' {
                        spans.push(*arg_start..*write);
                        state = Scan::Between;
                    } else {
                        state = Scan::Escape;
                    }
                    p += 1;
                }
                Scan::Escape => {
                    let Some(&b) = buf.get(p) else {
                        break Ok(Step::NeedMore);
                    };
                    if b != b'\\' && b != b'"' {
                        break Err(DecodeError::InvalidEscape { byte: b });
                    }
                    buf[*write] = b;
                    *write += 1;
                    p += 1;
                    state = Scan::Quoted;
                }
            }
        };
        *pos = p;
        *scan = state;
        match step {
            Ok(Step::Frame) => self.end_message(),
            Ok(Step::NeedMore) if end < len => Err(DecodeError::MessageTooLong {
                limit: self.max_len,
            }),
            other => other,
        }
    }

    fn end_message(&mut self) -> Result<Step, DecodeError> {
        if self.spans.len() < 2 {
            return Err(DecodeError::TooFewArguments {
                count: self.spans.len(),
            });
        }
        // Every byte of every argument went through `seen`: when all were
        // ASCII there is nothing more to check.
        if self.seen & scan::HI != 0 {
            for (index, r) in self.spans.iter().enumerate() {
                let argument = &self.buf[self.head + r.start..self.head + r.end];
                // Most arguments of such a message are ASCII: checking that
                // first is cheaper than a full validation.
                if !argument.is_ascii() && core::str::from_utf8(argument).is_err() {
                    return Err(DecodeError::InvalidUtf8 { argument: index });
                }
            }
        }
        Ok(Step::Frame)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Bytes fed after an error are not buffered: memory stays within the
    /// limit plus the chunk that broke it.
    #[test]
    fn input_after_an_error_is_dropped() {
        let mut decoder = Decoder::new(Config::default().with_max_message_len(4));
        decoder.extend(b"A \"\t-  ");
        let error = DecodeError::MessageTooLong { limit: 4 };
        assert_eq!(decoder.next_frame(), Err(error.clone()));
        let buffered = decoder.buffered();
        for _ in 0..10 {
            decoder.extend(&[0xe8; 64]);
        }
        assert_eq!(decoder.buffered(), buffered);
        assert_eq!(decoder.next_frame(), Err(error.clone()));
        assert_eq!(decoder.finish(), Err(error));
    }
}
