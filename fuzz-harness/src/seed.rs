//! Builders of fuzz inputs, for seed corpora and regression tests.
//!
//! Each target reads a header with the limits, then a sequence of
//! operations; these builders write that format, so a seed says what it
//! does. Strings longer than 255 bytes are cut at a character boundary.
//!
//! ```
//! use kairoi_fuzz_harness::{client_session, seed::ClientScript};
//! let input = ClientScript::new()
//!     .send_arguments(&["SET", "app.job.1", "2030-01-01 08:00:00"])
//!     .transmit_all()
//!     .respond(0, true)
//!     .poll()
//!     .into_bytes();
//! client_session(&input);
//! ```

use alloc::vec::Vec;

use crate::input::{MAX_LIST, MAX_TEXT, client_op, roundtrip_item, server_op};

/// The bytes of a fuzz input.
#[derive(Debug, Clone, Default)]
struct Writer(Vec<u8>);

impl Writer {
    fn limits(max_message_len: u16, max_arguments: u8, max_active: u8) -> Self {
        let mut w = Writer(Vec::new());
        w.0.extend_from_slice(&max_message_len.to_le_bytes());
        w.0.push(max_arguments);
        w.0.push(max_active);
        w
    }

    fn byte(&mut self, b: u8) {
        self.0.push(b);
    }

    fn word(&mut self, w: u16) {
        self.0.extend_from_slice(&w.to_le_bytes());
    }

    /// A length byte and at most 255 bytes.
    fn bytes(&mut self, b: &[u8]) {
        let b = &b[..b.len().min(MAX_TEXT)];
        self.0.push(b.len() as u8);
        self.0.extend_from_slice(b);
    }

    fn text(&mut self, s: &str) {
        let mut end = s.len().min(MAX_TEXT);
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        self.bytes(&s.as_bytes()[..end]);
    }

    /// A count and at most `MAX_LIST - 1` strings.
    fn texts(&mut self, list: &[&str]) {
        let list = &list[..list.len().min(usize::from(MAX_LIST) - 1)];
        self.0.push(list.len() as u8);
        for s in list {
            self.text(s);
        }
    }

    /// Raw bytes in pieces of at most 255 bytes, each after `op`.
    fn chunked(&mut self, op: u8, raw: &[u8]) {
        for piece in raw.chunks(MAX_TEXT) {
            self.byte(op);
            self.bytes(piece);
        }
    }
}

/// An input of [`decode_messages`](super::decode_messages): the default
/// limits, the stream in one piece and (separately) cut after each length
/// of `cuts`, the rest forming the last chunk.
pub fn decode_input(stream: &[u8], cuts: &[u8]) -> Vec<u8> {
    decode_input_with_limits(0, 0, stream, cuts)
}

/// Like [`decode_input`] with limits: the longest message and the most
/// arguments (0 keeps a default).
pub fn decode_input_with_limits(
    max_message_len: u16,
    max_arguments: u8,
    stream: &[u8],
    cuts: &[u8],
) -> Vec<u8> {
    let mut w = Writer::limits(max_message_len, max_arguments, 0);
    w.byte(0b0101_0101);
    let cuts = &cuts[..cuts.len().min(255)];
    w.byte(cuts.len() as u8);
    w.0.extend_from_slice(cuts);
    w.0.extend_from_slice(stream);
    w.0
}

/// An input of [`client_session`](super::client_session). Requests are
/// named by their index in the order they were sent (modulo the number
/// sent).
#[derive(Debug, Clone)]
pub struct ClientScript(Writer);

impl Default for ClientScript {
    fn default() -> Self {
        Self::new()
    }
}

impl ClientScript {
    /// A script with the default limits.
    pub fn new() -> Self {
        Self::with_limits(0, 0, 0)
    }

    /// A script with limits: the longest message, the most arguments and
    /// the most active requests (0 keeps a default).
    pub fn with_limits(max_message_len: u16, max_arguments: u8, max_active: u8) -> Self {
        ClientScript(Writer::limits(max_message_len, max_arguments, max_active))
    }

    fn op(mut self, op: u8) -> Self {
        self.0.byte(op);
        self
    }

    /// `send` of the instruction that `arbitrary` builds from `seed`.
    pub fn send(mut self, seed: &[u8]) -> Self {
        self.0.byte(client_op::SEND);
        self.0.0.extend_from_slice(seed);
        self
    }

    /// `send_arguments` with `body` (at most 11 arguments).
    pub fn send_arguments(mut self, body: &[&str]) -> Self {
        self.0.byte(client_op::SEND_ARGUMENTS);
        self.0.texts(body);
        self
    }

    /// `set_deadline` of request `which`, `millis` from now.
    pub fn set_deadline(mut self, which: u8, millis: u16) -> Self {
        self.0.byte(client_op::SET_DEADLINE);
        self.0.byte(which);
        self.0.word(millis);
        self
    }

    /// `cancel` of request `which`.
    pub fn cancel(mut self, which: u8) -> Self {
        self.0.byte(client_op::CANCEL);
        self.0.byte(which);
        self
    }

    /// `close`.
    pub fn close(self) -> Self {
        self.op(client_op::CLOSE)
    }

    /// `abort`.
    pub fn abort(self) -> Self {
        self.op(client_op::ABORT)
    }

    /// Writes at most `n` bytes of the pending output.
    pub fn transmit(mut self, n: u16) -> Self {
        self.0.byte(client_op::TRANSMIT);
        self.0.word(n);
        self
    }

    /// Writes all pending output.
    pub fn transmit_all(self) -> Self {
        self.op(client_op::TRANSMIT_ALL)
    }

    /// A well-formed response to request `which`: `OK` or `ERROR`.
    pub fn respond(mut self, which: u8, ok: bool) -> Self {
        self.0.byte(client_op::RESPOND);
        self.0.byte(which);
        self.0.byte(if ok { 0 } else { 1 });
        self
    }

    /// A response with an unknown status to request `which`.
    pub fn respond_unknown_status(mut self, which: u8) -> Self {
        self.0.byte(client_op::RESPOND);
        self.0.byte(which);
        self.0.byte(2);
        self
    }

    /// A response to an identifier `ahead` past the next one to be issued.
    pub fn respond_unknown(mut self, ahead: u16) -> Self {
        self.0.byte(client_op::RESPOND_UNKNOWN);
        self.0.word(ahead);
        self
    }

    /// Raw bytes from the server.
    pub fn receive(mut self, raw: &[u8]) -> Self {
        self.0.chunked(client_op::RECEIVE, raw);
        self
    }

    /// Moves time `millis` forward and calls `handle_timeout`.
    pub fn advance(mut self, millis: u16) -> Self {
        self.0.byte(client_op::ADVANCE);
        self.0.word(millis);
        self
    }

    /// The server closes the connection.
    pub fn eof(self) -> Self {
        self.op(client_op::EOF)
    }

    /// Polls every event.
    pub fn poll(mut self) -> Self {
        self.0.byte(client_op::POLL);
        self.0.byte(0);
        self
    }

    /// Polls at most `max` events (0 for all).
    pub fn poll_at_most(mut self, max: u8) -> Self {
        self.0.byte(client_op::POLL);
        self.0.byte(max);
        self
    }

    /// The input.
    pub fn into_bytes(self) -> Vec<u8> {
        self.0.0
    }
}

/// An input of [`server_session`](super::server_session).
#[derive(Debug, Clone)]
pub struct ServerScript(Writer);

impl Default for ServerScript {
    fn default() -> Self {
        Self::new()
    }
}

impl ServerScript {
    /// A script with the default limits.
    pub fn new() -> Self {
        Self::with_limits(0, 0, 0)
    }

    /// A script with limits: the longest message, the most arguments and
    /// the most active requests (0 keeps a default).
    pub fn with_limits(max_message_len: u16, max_arguments: u8, max_active: u8) -> Self {
        ServerScript(Writer::limits(max_message_len, max_arguments, max_active))
    }

    /// Raw bytes from the client.
    pub fn receive(mut self, raw: &[u8]) -> Self {
        self.0.chunked(server_op::RECEIVE, raw);
        self
    }

    /// A well-formed message: `identifier` then `body` (at most 11).
    pub fn message(mut self, identifier: &str, body: &[&str]) -> Self {
        self.0.byte(server_op::MESSAGE);
        self.0.text(identifier);
        self.0.texts(body);
        self
    }

    /// A request with `identifier` and the instruction that `arbitrary`
    /// builds from `seed`.
    pub fn instruction(mut self, identifier: &str, seed: &[u8]) -> Self {
        self.0.byte(server_op::INSTRUCTION);
        self.0.text(identifier);
        self.0.0.extend_from_slice(seed);
        self
    }

    /// The client closes its side.
    pub fn eof(mut self) -> Self {
        self.0.byte(server_op::EOF);
        self
    }

    /// Polls every event.
    pub fn poll(mut self) -> Self {
        self.0.byte(server_op::POLL);
        self.0.byte(0);
        self
    }

    /// Answers the unanswered request at index `which` (modulo their
    /// number; the last one takes the place of the one answered).
    pub fn respond(mut self, which: u8, ok: bool) -> Self {
        self.0.byte(server_op::RESPOND);
        self.0.byte(which);
        self.0.byte(if ok { 0 } else { 1 });
        self
    }

    /// Writes at most `n` bytes of the pending output.
    pub fn transmit(mut self, n: u16) -> Self {
        self.0.byte(server_op::TRANSMIT);
        self.0.word(n);
        self
    }

    /// Writes all pending output.
    pub fn transmit_all(mut self) -> Self {
        self.0.byte(server_op::TRANSMIT_ALL);
        self
    }

    /// The input.
    pub fn into_bytes(self) -> Vec<u8> {
        self.0.0
    }
}

/// An input of [`roundtrip`](fn@super::roundtrip).
#[derive(Debug, Clone, Default)]
pub struct RoundtripScript(Writer);

impl RoundtripScript {
    /// An empty script.
    pub fn new() -> Self {
        RoundtripScript(Writer::default())
    }

    /// A message of `args` (at most 11; fewer than 2 are padded with empty
    /// arguments read from what follows).
    pub fn message(mut self, args: &[&str]) -> Self {
        self.0.byte(roundtrip_item::MESSAGE);
        self.0.texts(args);
        for _ in args.len()..2 {
            self.0.text("");
        }
        self
    }

    /// A raw request body (at most 11 arguments).
    pub fn body(mut self, args: &[&str]) -> Self {
        self.0.byte(roundtrip_item::BODY);
        self.0.texts(args);
        self
    }

    /// The instruction that `arbitrary` builds from `seed`.
    pub fn instruction(mut self, seed: &[u8]) -> Self {
        self.0.byte(roundtrip_item::INSTRUCTION);
        self.0.0.extend_from_slice(seed);
        self
    }

    /// The input.
    pub fn into_bytes(self) -> Vec<u8> {
        self.0.0
    }
}
