//! Error types, one small enum per operation.
//!
//! Errors caused by the peer ([`DecodeError`], [`ConnectionError`]) are
//! fatal: the state machine closes. Errors caused by the caller
//! ([`SendError`], [`RespondError`], [`InstructionError`],
//! [`DateTimeError`]) change nothing: fix the value and try again.

use alloc::string::String;

/// The longest excerpt of a peer's value quoted in an error message.
const EXCERPT: usize = 64;

/// A printable excerpt of a value received from the peer.
pub(crate) fn excerpt(bytes: &[u8]) -> String {
    let cut = &bytes[..bytes.len().min(EXCERPT)];
    let mut s = String::from_utf8_lossy(cut).into_owned();
    if bytes.len() > EXCERPT {
        s.push_str("...");
    }
    s
}

/// Why a byte stream can never become a valid message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// The message has no line feed within the first `limit` bytes.
    #[error("message longer than {limit} bytes")]
    MessageTooLong {
        /// The configured [`Config::max_message_len`](crate::Config::max_message_len).
        limit: usize,
    },
    /// The message has more arguments than allowed.
    #[error("message with more than {limit} arguments")]
    TooManyArguments {
        /// The configured [`Config::max_arguments`](crate::Config::max_arguments).
        limit: usize,
    },
    /// The message ended with fewer than the two arguments every message has.
    #[error("message with {count} argument(s), at least 2 required")]
    TooFewArguments {
        /// How many arguments the message had.
        count: usize,
    },
    /// A backslash inside quotes escaped something else than `\` or `"`.
    #[error("invalid escape \\{} in a quoted argument: only \\\\ and \\\" are allowed", char::from(*byte).escape_default())]
    InvalidEscape {
        /// The byte after the backslash.
        byte: u8,
    },
    /// An argument is not UTF-8.
    #[error("argument {argument} of the message is not valid UTF-8")]
    InvalidUtf8 {
        /// The index of the argument (0 is the identifier).
        argument: usize,
    },
    /// The stream ended in the middle of a message.
    #[error("connection closed in the middle of a message ({buffered} bytes unterminated)")]
    Truncated {
        /// How many bytes of the unfinished message were buffered.
        buffered: usize,
    },
}

/// Why a client connection closed. Reported once, in
/// [`Event::Closed`](crate::client::Event::Closed).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConnectionError {
    /// The server sent bytes that are not a valid message.
    #[error("malformed response: {0}")]
    Malformed(#[from] DecodeError),
    /// A response did not have exactly two arguments.
    #[error("response with {count} arguments, expected 2 (identifier and status)")]
    WrongArgumentCount {
        /// How many arguments the response had.
        count: usize,
    },
    /// A response's status was neither `OK` nor `ERROR`.
    #[error("response to request {identifier} has status {status:?}, expected OK or ERROR")]
    UnknownStatus {
        /// The request identifier.
        identifier: String,
        /// The status received (an excerpt).
        status: String,
    },
    /// A response named no request of this connection.
    #[error("response with identifier {identifier:?} matches no active request")]
    UnmatchedResponse {
        /// The identifier received (an excerpt).
        identifier: String,
    },
    /// A second response arrived for a request already answered.
    #[error("second response for request {identifier}")]
    DuplicateResponse {
        /// The request identifier.
        identifier: String,
    },
    /// The server closed the connection while requests were active.
    #[error("connection closed by the server with {active} request(s) active")]
    ClosedWithActive {
        /// How many requests had no outcome yet.
        active: usize,
    },
    /// The connection was ended locally with [`Client::abort`](crate::Client::abort).
    #[error("connection aborted")]
    Aborted,
}

/// Why a request could not be queued. Nothing was queued; the client is
/// unchanged.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SendError {
    /// The connection is closed.
    #[error("connection closed")]
    Closed,
    /// [`Client::close`](crate::Client::close) was called.
    #[error("connection closing: no new requests")]
    Closing,
    /// The most active requests are in flight; wait for an outcome first.
    #[error("{limit} requests already active, the most allowed")]
    TooManyActive {
        /// The configured [`Config::max_active`](crate::Config::max_active).
        limit: usize,
    },
    /// The oldest active request has no response while `span` later
    /// requests were sent: the table of identifiers is bounded. Give requests
    /// deadlines, or cancel the oldest one.
    #[error("request {oldest} has waited while {span} later requests were sent")]
    Stalled {
        /// The oldest active request.
        oldest: crate::RequestId,
        /// How many requests were sent from it on.
        span: usize,
    },
    /// The raw body had no argument. The reference server drops the
    /// connection on such a message, so it is never sent.
    #[error("request body is empty: at least one argument is required")]
    EmptyBody,
    /// The body has more arguments than allowed.
    #[error("request with {count} arguments, more than the limit of {limit}")]
    TooManyArguments {
        /// The request's argument count, identifier included.
        count: usize,
        /// The configured [`Config::max_arguments`](crate::Config::max_arguments).
        limit: usize,
    },
    /// The encoded request is longer than allowed.
    #[error("request of {len} bytes, longer than the limit of {limit} bytes")]
    MessageTooLong {
        /// The encoded length, line feed included.
        len: usize,
        /// The configured [`Config::max_message_len`](crate::Config::max_message_len).
        limit: usize,
    },
}

/// Why [`encode_message_checked`](crate::wire::encode_message_checked)
/// refused a message. Nothing was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EncodeError {
    /// Every message has an identifier and at least one more argument.
    #[error("message with {count} argument(s), at least 2 required")]
    TooFewArguments {
        /// How many arguments the message had.
        count: usize,
    },
    /// The message has more arguments than allowed.
    #[error("message with {count} arguments, more than the limit of {limit}")]
    TooManyArguments {
        /// The message's argument count.
        count: usize,
        /// The configured [`Config::max_arguments`](crate::Config::max_arguments).
        limit: usize,
    },
    /// The encoded message is longer than allowed.
    #[error("message of {len} bytes, longer than the limit of {limit} bytes")]
    MessageTooLong {
        /// The encoded length, line feed included.
        len: usize,
        /// The configured [`Config::max_message_len`](crate::Config::max_message_len).
        limit: usize,
    },
}

impl From<EncodeError> for SendError {
    /// A request the encoder refused: a body with no argument is
    /// [`SendError::EmptyBody`] (the identifier is the message's first
    /// argument).
    fn from(e: EncodeError) -> SendError {
        match e {
            EncodeError::TooFewArguments { .. } => SendError::EmptyBody,
            EncodeError::TooManyArguments { count, limit } => {
                SendError::TooManyArguments { count, limit }
            }
            EncodeError::MessageTooLong { len, limit } => SendError::MessageTooLong { len, limit },
        }
    }
}

/// Why a response could not be queued by a [`Server`](crate::Server).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RespondError {
    /// The connection failed; no more responses are written.
    #[error("connection closed")]
    Closed,
}

/// Why a request body is not a valid instruction. The server answers
/// `ERROR`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InstructionError {
    /// The body has no argument.
    #[error("empty request body")]
    Empty,
    /// The instruction name is not known (names are case-sensitive).
    #[error("unknown instruction {name:?}")]
    UnknownInstruction {
        /// The name received (an excerpt).
        name: String,
    },
    /// The instruction has the wrong number of arguments.
    #[error("{instruction} takes {expected} argument(s), got {found}")]
    Arity {
        /// The instruction name.
        instruction: &'static str,
        /// How many arguments it takes.
        expected: usize,
        /// How many it got.
        found: usize,
    },
    /// The execution time is not a valid date-time.
    #[error("invalid execution time {value:?}: {source}")]
    InvalidExecution {
        /// The value received (an excerpt).
        value: String,
        /// What is wrong with it.
        source: DateTimeError,
    },
    /// The runner name is not known (names are case-sensitive).
    #[error("unknown runner {name:?}, expected shell or amqp")]
    UnknownRunner {
        /// The name received (an excerpt).
        name: String,
    },
    /// The runner has the wrong number of arguments.
    #[error("runner {runner} takes {expected} argument(s), got {found}")]
    RunnerArity {
        /// The runner name.
        runner: &'static str,
        /// How many arguments it takes.
        expected: usize,
        /// How many it got.
        found: usize,
    },
}

/// Why a value is not a valid [`DateTime`](crate::DateTime).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DateTimeError {
    /// The text is not `YYYY-MM-DD HH:MM:SS` with zero-padded digits.
    #[error("expected the form YYYY-MM-DD HH:MM:SS")]
    Format,
    /// A field is out of its range.
    #[error("{field} {value} out of range {min}..={max}")]
    OutOfRange {
        /// The field name (`year`, `month`, `day`, `hour`, `minute`, `second`).
        field: &'static str,
        /// The value given.
        value: i64,
        /// The smallest valid value.
        min: i64,
        /// The largest valid value.
        max: i64,
    },
    /// The instant is outside years 0000 to 9999.
    #[error("{seconds} s from the Unix epoch is outside years 0000 to 9999")]
    Unrepresentable {
        /// The instant, in seconds from 1970-01-01 00:00:00 UTC.
        seconds: i64,
    },
}
