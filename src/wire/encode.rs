//! Encoding arguments and messages straight into an output buffer.

use bytes::{BufMut, BytesMut};

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
