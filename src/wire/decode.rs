//! The streaming, quote-aware message decoder.

use alloc::vec::Vec;
use bytes::{Buf, Bytes, BytesMut};
use core::ops::Range;
use memchr::{memchr2, memchr3};

use crate::config::Config;
use crate::error::DecodeError;
use crate::text::Text;

/// Where the scanner stands inside the current message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scan {
    /// Between arguments (or before the first one): skipping spaces.
    Between,
    /// Inside a simple (unquoted) argument.
    Simple,
    /// Inside a universal (quoted) argument.
    Quoted,
    /// Right after a backslash inside a universal argument.
    Escape,
}

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
            max_len: config.max_message_len(),
            max_args: config.max_arguments(),
            scan: Scan::Between,
            pos: 0,
            write: 0,
            arg_start: 0,
            spans: Vec::with_capacity(8),
            frame_len: 0,
            frame_taken: true,
            failed: None,
        }
    }

    /// Appends bytes read from the transport. After an error the decoder
    /// is dead and drops them, so its memory stays bounded.
    pub fn extend(&mut self, bytes: &[u8]) {
        self.release_frame();
        if self.failed.is_none() {
            self.buf.extend_from_slice(bytes);
        }
    }

    /// The number of bytes buffered and not yet yielded as a message.
    pub fn buffered(&self) -> usize {
        self.buf.len() - if self.frame_taken { 0 } else { self.frame_len }
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
    pub fn next_frame(&mut self) -> Result<Option<usize>, DecodeError> {
        self.release_frame();
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        match self.scan_message() {
            Ok(Step::Frame) => {
                let len = self.pos;
                self.frame_len = len;
                self.frame_taken = false;
                self.pos = 0;
                self.write = 0;
                self.scan = Scan::Between;
                Ok(Some(self.spans.len()))
            }
            Ok(Step::NeedMore) => Ok(None),
            Err(e) => {
                self.failed = Some(e.clone());
                Err(e)
            }
        }
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
    pub fn argument(&self, i: usize) -> &[u8] {
        match self.spans.get(i) {
            Some(r) if !self.frame_taken => &self.buf[r.clone()],
            _ => &[],
        }
    }

    /// Moves every argument of the frame yielded last into `out` as [`Text`]
    /// values that share the receive buffer (no copy).
    pub fn take_arguments(&mut self, out: &mut Vec<Text>) {
        if self.frame_taken {
            return;
        }
        self.frame_taken = true;
        let frame: Bytes = self.buf.split_to(self.frame_len).freeze();
        out.extend(
            self.spans
                .iter()
                .map(|r| Text::from_checked(frame.slice(r.clone()))),
        );
        self.spans.clear();
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
        if self.buf.is_empty() {
            Ok(())
        } else {
            let e = DecodeError::Truncated {
                buffered: self.buf.len(),
            };
            self.failed = Some(e.clone());
            Err(e)
        }
    }

    fn release_frame(&mut self) {
        if !self.frame_taken {
            self.buf.advance(self.frame_len);
            self.frame_taken = true;
            self.spans.clear();
        }
    }

    /// Checks that one more argument fits, then starts it at `start`.
    #[inline]
    fn open_argument(&mut self, start: usize, scan: Scan) -> Result<(), DecodeError> {
        if self.spans.len() >= self.max_args {
            return Err(DecodeError::TooManyArguments {
                limit: self.max_args,
            });
        }
        self.arg_start = start;
        self.write = start;
        self.scan = scan;
        Ok(())
    }

    fn scan_message(&mut self) -> Result<Step, DecodeError> {
        let len = self.buf.len();
        // Never look past the longest allowed message: the outcome must not
        // depend on how many bytes happen to be buffered.
        let end = len.min(self.max_len);
        while self.pos < end {
            match self.scan {
                Scan::Between => {
                    let b = self.buf[self.pos];
                    match b {
                        b' ' => self.pos += 1,
                        b'\n' => {
                            self.pos += 1;
                            return self.end_message();
                        }
                        b'"' => {
                            self.open_argument(self.pos + 1, Scan::Quoted)?;
                            self.pos += 1;
                        }
                        _ => self.open_argument(self.pos, Scan::Simple)?,
                    }
                }
                Scan::Simple => match memchr3(b' ', b'"', b'\n', &self.buf[self.pos..end]) {
                    None => self.pos = end,
                    Some(i) => {
                        self.pos += i;
                        self.spans.push(self.arg_start..self.pos);
                        self.scan = Scan::Between;
                        // The delimiter is handled by `Between`: a space is
                        // skipped, a quote opens an argument, a line feed
                        // ends the message.
                    }
                },
                Scan::Quoted => {
                    let found = memchr2(b'"', b'\\', &self.buf[self.pos..end]);
                    let stop = found.map_or(end, |i| self.pos + i);
                    if self.write != self.pos {
                        self.buf.copy_within(self.pos..stop, self.write);
                    }
                    self.write += stop - self.pos;
                    self.pos = stop;
                    if found.is_some() {
                        if self.buf[stop] == b'"' {
                            self.spans.push(self.arg_start..self.write);
                            self.scan = Scan::Between;
                        } else {
                            self.scan = Scan::Escape;
                        }
                        self.pos += 1;
                    }
                }
                Scan::Escape => {
                    let b = self.buf[self.pos];
                    if b != b'\\' && b != b'"' {
                        return Err(DecodeError::InvalidEscape { byte: b });
                    }
                    self.buf[self.write] = b;
                    self.write += 1;
                    self.pos += 1;
                    self.scan = Scan::Quoted;
                }
            }
        }
        if end < len {
            Err(DecodeError::MessageTooLong {
                limit: self.max_len,
            })
        } else {
            Ok(Step::NeedMore)
        }
    }

    fn end_message(&mut self) -> Result<Step, DecodeError> {
        if self.spans.len() < 2 {
            return Err(DecodeError::TooFewArguments {
                count: self.spans.len(),
            });
        }
        for (index, r) in self.spans.iter().enumerate() {
            if core::str::from_utf8(&self.buf[r.clone()]).is_err() {
                return Err(DecodeError::InvalidUtf8 { argument: index });
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
