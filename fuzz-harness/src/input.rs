//! Reading fuzz inputs: a small header, then operations, each an opcode
//! byte and its operands. The [`seed`](super::seed) builders write the same
//! format.
//!
//! Every reader returns a value even when the input is exhausted (zeros and
//! empty strings), so any byte string is a valid input.

use alloc::string::{String, ToString};
use alloc::vec::Vec;
use arbitrary::Unstructured;

use kairoi_proto::Config;
use kairoi_proto::{Argument, Instruction};

/// The most operations one session input runs, so no input runs for long.
pub(crate) const MAX_OPS: usize = 2_000;

/// Opcodes of [`client_session`](super::client_session).
pub(crate) mod client_op {
    pub(crate) const SEND: u8 = 0;
    pub(crate) const SEND_ARGUMENTS: u8 = 1;
    pub(crate) const SET_DEADLINE: u8 = 2;
    pub(crate) const CANCEL: u8 = 3;
    pub(crate) const CLOSE: u8 = 4;
    pub(crate) const ABORT: u8 = 5;
    pub(crate) const TRANSMIT: u8 = 6;
    pub(crate) const TRANSMIT_ALL: u8 = 7;
    pub(crate) const RESPOND: u8 = 8;
    pub(crate) const RESPOND_UNKNOWN: u8 = 9;
    pub(crate) const RECEIVE: u8 = 10;
    pub(crate) const ADVANCE: u8 = 11;
    pub(crate) const EOF: u8 = 12;
    pub(crate) const POLL: u8 = 13;
    pub(crate) const COUNT: u8 = 14;
}

/// Opcodes of [`server_session`](super::server_session).
pub(crate) mod server_op {
    pub(crate) const RECEIVE: u8 = 0;
    pub(crate) const MESSAGE: u8 = 1;
    pub(crate) const INSTRUCTION: u8 = 2;
    pub(crate) const EOF: u8 = 3;
    pub(crate) const POLL: u8 = 4;
    pub(crate) const RESPOND: u8 = 5;
    pub(crate) const TRANSMIT: u8 = 6;
    pub(crate) const TRANSMIT_ALL: u8 = 7;
    pub(crate) const COUNT: u8 = 8;
}

/// Item kinds of [`roundtrip`](super::roundtrip).
pub(crate) mod roundtrip_item {
    pub(crate) const MESSAGE: u8 = 0;
    pub(crate) const INSTRUCTION: u8 = 1;
    pub(crate) const BODY: u8 = 2;
    pub(crate) const COUNT: u8 = 3;
}

/// The longest string operand, and the most strings in a list operand.
pub(crate) const MAX_TEXT: usize = 255;
pub(crate) const MAX_LIST: u8 = 12;

pub(crate) fn byte(u: &mut Unstructured<'_>) -> u8 {
    u.arbitrary().unwrap_or(0)
}

pub(crate) fn word(u: &mut Unstructured<'_>) -> u16 {
    u.arbitrary().unwrap_or(0)
}

/// A length byte, then that many bytes (fewer at the end of the input).
pub(crate) fn bytes<'a>(u: &mut Unstructured<'a>) -> &'a [u8] {
    let n = usize::from(byte(u)).min(u.len());
    u.bytes(n).unwrap_or_default()
}

/// Like [`bytes`], read as UTF-8 (invalid sequences become U+FFFD).
pub(crate) fn text(u: &mut Unstructured<'_>) -> String {
    String::from_utf8_lossy(bytes(u)).into_owned()
}

/// A count byte (modulo [`MAX_LIST`]), then that many [`text`]s.
pub(crate) fn texts(u: &mut Unstructured<'_>) -> Vec<String> {
    let n = byte(u) % MAX_LIST;
    (0..n).map(|_| text(u)).collect()
}

/// The limits: the longest message (`u16`), the most arguments (`u8`) and
/// the most active requests (`u8`); 0 keeps the default.
pub(crate) fn config(u: &mut Unstructured<'_>) -> Config {
    let (len, args, active) = (word(u), byte(u), byte(u));
    let mut config = Config::default();
    if len != 0 {
        config = config.with_max_message_len(usize::from(len));
    }
    if args != 0 {
        config = config.with_max_arguments(usize::from(args));
    }
    if active != 0 {
        config = config.with_max_active(usize::from(active));
    }
    config
}

/// An instruction's body as strings, dates in their wire form.
pub(crate) fn render(instruction: &Instruction) -> Vec<String> {
    instruction
        .arguments()
        .iter()
        .map(|arg| match arg {
            Argument::Text(t) => String::from_utf8_lossy(t).into_owned(),
            Argument::DateTime(d) => d.to_string(),
        })
        .collect()
}
