//! The `decode_messages` target: the decoder against a reference parser,
//! whole and in arbitrary chunks.

use alloc::vec::Vec;
use arbitrary::Unstructured;

use crate::input::{byte, config};
use kairoi_proto::Config;
use kairoi_proto::error::DecodeError;
use kairoi_proto::wire::Decoder;

/// Every message of a stream, each as its unescaped arguments, then how
/// the stream ended: `Ok` at a message boundary, or the error (a
/// [`DecodeError::Truncated`] when it stopped inside a message).
#[derive(Debug, PartialEq, Eq)]
struct Decoded {
    messages: Vec<Vec<Vec<u8>>>,
    end: Result<(), DecodeError>,
}

/// Feeds arbitrary bytes to a [`Decoder`](kairoi_proto::wire::Decoder) in one
/// piece and in arbitrary chunks, and compares both with a byte-at-a-time
/// reference parser written from the grammar.
///
/// Input: the limits (see the module docs of [`seed`](super::seed)), a
/// mode byte (which frames are read by index and which are taken), a
/// count of chunk lengths and the lengths (one byte each), then the
/// stream itself.
///
/// Panics when the results differ, when a frame breaks the limits or holds
/// invalid UTF-8, when an error is not final, or when the decoder buffers
/// more than the longest message plus the last chunk it accepted.
pub fn decode_messages(data: &[u8]) {
    let mut u = Unstructured::new(data);
    let config = config(&mut u);
    let mode = byte(&mut u);
    let cuts: Vec<usize> = (0..byte(&mut u))
        .map(|_| usize::from(byte(&mut u)))
        .collect();
    let stream = u.take_rest();

    let expected = reference(stream, config);
    let whole = run(config, &[stream], mode);
    assert_eq!(whole, expected, "whole input disagrees with the reference");

    let mut chunks = Vec::with_capacity(cuts.len() + 1);
    let mut rest = stream;
    for cut in cuts {
        let (chunk, tail) = rest.split_at(cut.min(rest.len()));
        chunks.push(chunk);
        rest = tail;
    }
    chunks.push(rest);
    let chunked = run(config, &chunks, !mode);
    assert_eq!(
        chunked,
        expected,
        "chunked input disagrees with the reference, chunks {:?}",
        chunks.iter().map(|c| c.len()).collect::<Vec<_>>()
    );
}

fn run(config: Config, chunks: &[&[u8]], mode: u8) -> Decoded {
    let mut decoder = Decoder::new(config);
    let mut messages = Vec::new();
    let mut failed: Option<DecodeError> = None;
    let mut last_accepted = 0;
    for chunk in chunks {
        if failed.is_none() {
            last_accepted = chunk.len();
        }
        decoder.extend(chunk);
        check_memory(&decoder, config, last_accepted);
        if let Some(e) = &failed {
            assert_eq!(decoder.next_frame(), Err(e.clone()), "an error is final");
            continue;
        }
        loop {
            match decoder.next_frame() {
                Ok(Some(count)) => {
                    let take = mode.rotate_left(messages.len() as u32) & 1 == 1;
                    messages.push(read_frame(&mut decoder, config, count, take));
                }
                Ok(None) => {
                    assert!(
                        decoder.buffered() <= config.max_message_len(),
                        "{} bytes buffered waiting for a message, limit {}",
                        decoder.buffered(),
                        config.max_message_len()
                    );
                    break;
                }
                Err(e) => {
                    failed = Some(e);
                    break;
                }
            }
            check_memory(&decoder, config, last_accepted);
        }
    }
    let end = match failed {
        Some(e) => {
            assert_eq!(decoder.finish(), Err(e.clone()), "an error is final");
            Err(e)
        }
        None => decoder.finish(),
    };
    assert_eq!(decoder.finish(), end, "finish is repeatable");
    Decoded { messages, end }
}

fn check_memory(decoder: &Decoder, config: Config, last_chunk: usize) {
    let limit = config.max_message_len().saturating_add(last_chunk);
    assert!(
        decoder.buffered() <= limit,
        "{} bytes buffered, more than the limit {} plus the last chunk {last_chunk}",
        decoder.buffered(),
        config.max_message_len(),
    );
}

/// Reads the frame just yielded by index, and when `take` also takes it,
/// checking that both agree.
fn read_frame(decoder: &mut Decoder, config: Config, count: usize, take: bool) -> Vec<Vec<u8>> {
    assert!(
        (2..=config.max_arguments()).contains(&count),
        "frame of {count} arguments, limit {}",
        config.max_arguments()
    );
    assert_eq!(decoder.argument_count(), count);
    let args: Vec<Vec<u8>> = (0..count).map(|i| decoder.argument(i).to_vec()).collect();
    assert!(decoder.argument(count).is_empty());
    for (i, arg) in args.iter().enumerate() {
        assert!(
            core::str::from_utf8(arg).is_ok(),
            "argument {i} is not UTF-8"
        );
    }
    if take {
        let taken: Vec<Vec<u8>> = decoder
            .take_message()
            .into_iter()
            .map(|t| t.as_bytes().to_vec())
            .collect();
        assert_eq!(taken, args, "taken arguments differ from borrowed ones");
        assert_eq!(decoder.argument_count(), 0);
    }
    args
}

/// Where the reference parser stands.
#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    Between,
    Simple,
    Quoted,
    Escape,
}

/// The grammar of `docs/protocol.md` §1 with the limits of `config`, one byte
/// at a time and without the decoder's tricks (no `memchr`, no in-place
/// unescaping, no resumable state).
fn reference(stream: &[u8], config: Config) -> Decoded {
    let (max_len, max_args) = (config.max_message_len(), config.max_arguments());
    let mut messages = Vec::new();
    let mut start = 0;
    let end = 'stream: loop {
        if start == stream.len() {
            break Ok(());
        }
        let mut args: Vec<Vec<u8>> = Vec::new();
        let mut arg = Vec::new();
        let mut state = State::Between;
        let mut i = start;
        loop {
            if i == stream.len() {
                break 'stream Err(DecodeError::Truncated {
                    buffered: stream.len() - start,
                });
            }
            if i - start >= max_len {
                break 'stream Err(DecodeError::MessageTooLong { limit: max_len });
            }
            let b = stream[i];
            i += 1;
            // A delimiter that ends a simple argument is then handled as if
            // it came between arguments.
            if state == State::Simple && matches!(b, b' ' | b'"' | b'\n') {
                args.push(core::mem::take(&mut arg));
                state = State::Between;
            }
            match (state, b) {
                (State::Between, b' ') => {}
                (State::Between, b'\n') => {
                    if args.len() < 2 {
                        break 'stream Err(DecodeError::TooFewArguments { count: args.len() });
                    }
                    if let Some(argument) =
                        args.iter().position(|a| core::str::from_utf8(a).is_err())
                    {
                        break 'stream Err(DecodeError::InvalidUtf8 { argument });
                    }
                    messages.push(args);
                    start = i;
                    continue 'stream;
                }
                (State::Between, _) if args.len() >= max_args => {
                    break 'stream Err(DecodeError::TooManyArguments { limit: max_args });
                }
                (State::Between, b'"') => state = State::Quoted,
                (State::Between, _) => {
                    arg.push(b);
                    state = State::Simple;
                }
                (State::Simple, _) => arg.push(b),
                (State::Quoted, b'"') => {
                    args.push(core::mem::take(&mut arg));
                    state = State::Between;
                }
                (State::Quoted, b'\\') => state = State::Escape,
                (State::Quoted, _) => arg.push(b),
                (State::Escape, b'\\' | b'"') => {
                    arg.push(b);
                    state = State::Quoted;
                }
                (State::Escape, byte) => break 'stream Err(DecodeError::InvalidEscape { byte }),
            }
        }
    };
    Decoded { messages, end }
}
