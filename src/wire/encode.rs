//! Encoding arguments and messages straight into an output buffer.

use bytes::{BufMut, BytesMut};

use crate::config::Config;
use crate::error::EncodeError;

/// Whether `arg` must be written as a universal (quoted) string: it is empty
/// or holds a space, a double quote or a line feed.
#[inline]
pub fn needs_quotes(arg: &[u8]) -> bool {
    // A word at a time: arguments are mostly short.
    arg.is_empty() || super::scan::simple_end(arg, &mut 0).is_some()
}

/// The number of bytes [`encode_argument`] writes for `arg`.
pub fn encoded_len(arg: &[u8]) -> usize {
    if needs_quotes(arg) {
        let escapes = memchr::memchr2_iter(b'\\', b'"', arg).count();
        arg.len() + escapes + 2
    } else {
        arg.len()
    }
}

/// Appends `arg` to `out` as one KCP argument.
///
/// The argument is quoted if and only if it is empty or holds a space, a
/// double quote or a line feed; inside quotes exactly `\` and `"` are
/// escaped. Whatever bytes `arg` holds, the result decodes as exactly one
/// argument equal to `arg`: it can never split into two arguments, end the
/// message, or leave a quote open.
pub fn encode_argument(out: &mut BytesMut, arg: &[u8]) {
    if !needs_quotes(arg) {
        out.extend_from_slice(arg);
        return;
    }
    out.reserve(arg.len() + 2);
    out.put_u8(b'"');
    let mut rest = arg;
    while let Some(i) = memchr::memchr2(b'\\', b'"', rest) {
        out.extend_from_slice(&rest[..i]);
        out.put_u8(b'\\');
        out.put_u8(rest[i]);
        rest = &rest[i + 1..];
    }
    out.extend_from_slice(rest);
    out.put_u8(b'"');
}

/// Appends a whole message to `out`: the arguments separated by one space,
/// then a line feed.
///
/// This is the low-level writer: it does not check that there are at least
/// two arguments (the roles do). With fewer than two arguments the result
/// is a malformed message.
pub fn encode_message<A: AsRef<[u8]>>(out: &mut BytesMut, args: impl IntoIterator<Item = A>) {
    let mut first = true;
    for arg in args {
        if !first {
            out.put_u8(b' ');
        }
        first = false;
        encode_argument(out, arg.as_ref());
    }
    out.put_u8(b'\n');
}

/// Appends a whole message to `out` after checking it against the limits
/// of `config`: at least two arguments, at most
/// [`Config::max_arguments`], at most [`Config::max_message_len`] bytes.
/// Returns the encoded length; on error nothing is appended.
///
/// ```
/// use bytes::BytesMut;
/// use kairoi_proto::{Config, EncodeError, wire::encode_message_checked};
/// let mut out = BytesMut::new();
/// assert_eq!(encode_message_checked(&mut out, ["7", "OK"], &Config::default()), Ok(5));
/// assert_eq!(
///     encode_message_checked(&mut out, ["7"], &Config::default()),
///     Err(EncodeError::TooFewArguments { count: 1 })
/// );
/// assert_eq!(&out[..], b"7 OK\n");
/// ```
pub fn encode_message_checked<A: AsRef<[u8]>>(
    out: &mut BytesMut,
    args: impl IntoIterator<Item = A>,
    config: &Config,
) -> Result<usize, EncodeError> {
    let start = out.len();
    let mut count = 0;
    for arg in args {
        if count > 0 {
            out.put_u8(b' ');
        }
        encode_argument(out, arg.as_ref());
        count += 1;
    }
    out.put_u8(b'\n');
    let len = out.len() - start;
    let (max_args, max_len) = (config.max_arguments(), config.max_message_len());
    let result = if count < 2 {
        Err(EncodeError::TooFewArguments { count })
    } else if count > max_args {
        Err(EncodeError::TooManyArguments {
            count,
            limit: max_args,
        })
    } else if len > max_len {
        Err(EncodeError::MessageTooLong {
            len,
            limit: max_len,
        })
    } else {
        Ok(len)
    };
    if result.is_err() {
        out.truncate(start);
    }
    result
}
