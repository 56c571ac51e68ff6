//! The server role: requests in, responses out.

use alloc::vec::Vec;
use bytes::{Buf, BufMut, BytesMut};

use crate::config::Config;
use crate::error::{DecodeError, InstructionError, RespondError};
use crate::instruction::Instruction;
use crate::instruction::body::{FrameBody, Shape, TextBody};
use crate::text::Text;
use crate::wire::{Decoder, transmit};

mod borrowed;
mod echo;
mod lossy;
mod token;

pub use borrowed::{InvalidInstructionRef, RequestRef, ServerEventRef};
pub use echo::IdentifierEcho;
pub use lossy::LossyUtf8;
pub use token::Token;

/// The answer to a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Status {
    /// `OK`: the instruction is applied.
    Ok,
    /// `ERROR`: the instruction is invalid or cannot be applied now.
    Error,
}

impl Status {
    /// The status on the wire.
    pub fn as_str(&self) -> &'static str {
        match self {
            Status::Ok => "OK",
            Status::Error => "ERROR",
        }
    }
}

/// A body that is not a valid [`Instruction`]. Answer it with
/// [`Status::Error`], as the reference server does, or handle it as an
/// instruction this crate does not know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidInstruction {
    /// The body's arguments (the identifier left out).
    pub arguments: Vec<Text>,
    /// Why it is not a valid instruction.
    pub error: InstructionError,
}

/// One decoded request.
#[derive(Debug)]
pub struct Request {
    /// Pass it to [`Server::respond`].
    pub token: Token,
    /// The parsed body.
    pub instruction: Result<Instruction, InvalidInstruction>,
}

/// What a [`Server`] reports, from [`Server::poll_event`].
#[derive(Debug)]
#[non_exhaustive]
pub enum ServerEvent {
    /// A request to answer.
    Request(Request),
    /// The client finished sending (end of stream between messages).
    /// Responses can still be written; then close the connection.
    Ended,
    /// The client sent bytes that can never be a message, or ended its
    /// stream in the middle of one. The reference server closes the
    /// connection without answering; do the same. Responses not yet
    /// written are dropped, and [`Server::respond`] fails from now on.
    Failed(DecodeError),
}

/// The least [`Server::paused_limit`]: 64 KiB.
const PAUSED_MIN: usize = 64 * 1024;

/// What [`Server::next`] found.
enum Next {
    Frame,
    Ended,
    Failed(DecodeError),
}

/// The server role of KCP, as a sans-IO state machine.
///
/// Bytes go in with [`Server::receive`]; [`Server::poll_event`] yields
/// decoded [`Request`]s (or [`Server::poll_event_ref`] borrowed ones);
/// [`Server::respond`] queues each answer, in any order;
/// [`Server::poll_transmit`] and [`Server::consume_transmit`] move the
/// answers to the transport.
///
/// While [`Config::max_active`] requests are unanswered, neither poll
/// decodes anything more: stop reading until you answer
/// ([`Server::wants_input`]).
///
/// Answers repeat the request's identifier quoted as needed, so that every
/// identifier round-trips; [`Server::with_identifier_echo`] makes them
/// repeat it unquoted instead, as the reference Kairoi server does.
#[derive(Debug)]
pub struct Server {
    config: Config,
    echo: IdentifierEcho,
    decoder: Decoder,
    tx: BytesMut,
    active: usize,
    eof: bool,
    done: bool,
    failed: bool,
}

impl Server {
    /// A server for one new connection.
    pub fn new(config: Config) -> Self {
        Server {
            config,
            echo: IdentifierEcho::default(),
            decoder: Decoder::new(config),
            tx: BytesMut::new(),
            active: 0,
            eof: false,
            done: false,
            failed: false,
        }
    }

    /// The server with answers that write the request's identifier back
    /// as `echo` says (default: [`IdentifierEcho::Quoted`]). Choose it
    /// when the server is made, before the first answer: it applies to
    /// the answers queued from then on.
    ///
    /// ```
    /// use kairoi_proto::{Config, IdentifierEcho, Server};
    /// // Answers as the reference Kairoi server writes them.
    /// let server = Server::new(Config::default()).with_identifier_echo(IdentifierEcho::Unquoted);
    /// assert_eq!(server.identifier_echo(), IdentifierEcho::Unquoted);
    /// ```
    #[must_use]
    pub fn with_identifier_echo(mut self, echo: IdentifierEcho) -> Self {
        self.echo = echo;
        self
    }

    /// The limits in force.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// How answers write the request's identifier back.
    pub fn identifier_echo(&self) -> IdentifierEcho {
        self.echo
    }

    /// Requests decoded and not yet answered.
    pub fn in_flight(&self) -> usize {
        self.active
    }

    /// Whether reading more input is useful now: the stream has not ended
    /// or failed, and fewer than [`Config::max_active`] requests wait for
    /// an answer.
    pub fn wants_input(&self) -> bool {
        !self.eof && !self.done && self.active < self.config.max_active()
    }

    /// Whether decoding waits for answers: [`Config::max_active`] requests
    /// are unanswered, so both polls return `None` until
    /// [`Server::respond`] answers one, whatever is buffered. A `None`
    /// while not paused means more input is needed (h11's `PAUSED` and
    /// `NEED_DATA`).
    pub fn is_paused(&self) -> bool {
        !self.done && self.active >= self.config.max_active()
    }

    /// Whether the connection failed on a malformed request.
    pub fn is_failed(&self) -> bool {
        self.failed
    }

    /// Whether the last event ([`ServerEvent::Ended`] or
    /// [`ServerEvent::Failed`]) was reported.
    pub fn is_done(&self) -> bool {
        self.done
    }

    /// Bytes received and not yet decoded.
    pub fn buffered_receive(&self) -> usize {
        self.decoder.buffered()
    }

    /// Takes bytes read from the transport and returns how many it took:
    /// all of them, except while [`Server::is_paused`], when it buffers no
    /// more than [`Server::paused_limit`] bytes in all; give the rest again
    /// once answers made room ([`Server::wants_input`] says when). Bytes
    /// after the end of the stream, or after a failure, are taken and
    /// ignored.
    #[must_use = "while paused, the bytes not taken must be given again later"]
    pub fn receive(&mut self, bytes: &[u8]) -> usize {
        if self.eof || self.done {
            return bytes.len();
        }
        let take = if self.is_paused() {
            let room = self.paused_limit().saturating_sub(self.decoder.buffered());
            room.min(bytes.len())
        } else {
            bytes.len()
        };
        self.decoder.extend(&bytes[..take]);
        take
    }

    /// The most bytes buffered while paused: one byte more than the
    /// longest message, and at least 64 KiB (no limit with a message
    /// length of `usize::MAX`).
    pub fn paused_limit(&self) -> usize {
        self.config
            .max_message_len()
            .saturating_add(1)
            .max(PAUSED_MIN)
    }

    /// Says the client closed its sending side.
    pub fn receive_eof(&mut self) {
        self.eof = true;
    }

    /// The next event, or `None`: more input is needed, or, when
    /// [`Server::is_paused`], an answer.
    ///
    /// The request's texts share the receive buffer (no copy). To decode
    /// without any allocation or reference count, see
    /// [`Server::poll_event_ref`].
    #[must_use]
    pub fn poll_event(&mut self) -> Option<ServerEvent> {
        Some(match self.next()? {
            Next::Frame => ServerEvent::Request(self.take_request()),
            Next::Ended => ServerEvent::Ended,
            Next::Failed(e) => ServerEvent::Failed(e),
        })
    }

    /// Decodes the next message, or reports the end of the stream.
    #[inline]
    fn next(&mut self) -> Option<Next> {
        if self.done || self.active >= self.config.max_active() {
            return None;
        }
        match self.decoder.next_frame() {
            Ok(Some(_)) => {
                self.active += 1;
                Some(Next::Frame)
            }
            Ok(None) if self.eof => match self.decoder.finish() {
                Ok(()) => {
                    self.done = true;
                    Some(Next::Ended)
                }
                Err(e) => Some(self.fail(e)),
            },
            Ok(None) => None,
            Err(e) => Some(self.fail(e)),
        }
    }

    /// Ends the connection on a malformed or truncated request: answers not
    /// yet written are dropped, as the reference server closes at once.
    fn fail(&mut self, error: DecodeError) -> Next {
        self.done = true;
        self.failed = true;
        self.tx.clear();
        Next::Failed(error)
    }

    /// Takes the frame decoded last as an owned request.
    #[inline]
    fn take_request(&mut self) -> Request {
        self.decoder.take_frame_with(|mut frame, spans| {
            let (id, spans) = spans.split_first().unwrap_or((&(0..0), &[]));
            let token = if id.len() <= Token::INLINE {
                Token::from_frame(&frame, id.clone())
            } else {
                Token::shared(Text::from_checked(frame.slice(id.clone())))
            };
            let body = FrameBody {
                frame: &frame,
                spans,
            };
            let instruction = match Shape::of(&body) {
                Ok(Shape::Set(execution)) => {
                    // The job is the frame itself, narrowed: one reference
                    // count update fewer than a slice of it.
                    let job = spans.get(1).cloned().unwrap_or(0..0);
                    frame.truncate(job.end);
                    frame.advance(job.start);
                    Ok(Instruction::Set {
                        job: Text::from_checked(frame),
                        execution,
                    })
                }
                Ok(shape) => Ok(Instruction::from_shape(shape, &body)),
                Err(error) => Err(InvalidInstruction {
                    arguments: (0..body.spans.len()).map(|i| body.text(i)).collect(),
                    error,
                }),
            };
            Request { token, instruction }
        })
    }

    /// Queues the answer to a request: its identifier, written back as
    /// [`Server::identifier_echo`] says (by default quoted as needed, so
    /// that any identifier round-trips), and the status.
    ///
    /// # Errors
    ///
    /// [`RespondError::Closed`] after [`ServerEvent::Failed`]: nothing more
    /// is written on a failed connection.
    pub fn respond(&mut self, token: Token, status: Status) -> Result<(), RespondError> {
        self.active = self.active.saturating_sub(1);
        if self.failed {
            return Err(RespondError::Closed);
        }
        self.echo.write(&mut self.tx, token.identifier().as_bytes());
        self.tx.put_u8(b' ');
        self.tx.extend_from_slice(status.as_str().as_bytes());
        self.tx.put_u8(b'\n');
        Ok(())
    }

    /// The bytes to write to the transport next, or `None`.
    #[must_use]
    pub fn poll_transmit(&self) -> Option<&[u8]> {
        transmit::pending(&self.tx)
    }

    /// Records that the first `written` bytes of [`Server::poll_transmit`]
    /// were written.
    pub fn consume_transmit(&mut self, written: usize) {
        transmit::consume(&mut self.tx, written);
    }

    /// Moves every pending byte into `out`.
    pub fn transmit_into(&mut self, out: &mut BytesMut) -> usize {
        let n = transmit::copy_all(&self.tx, out);
        self.tx.clear();
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Paused at the active limit, the server says so, and buffers no more
    /// than its limit: the rest is taken once an answer made room.
    #[test]
    fn paused_is_told_from_needing_data_and_bounded() {
        let config = Config::default()
            .with_max_active(1)
            .with_max_message_len(64);
        let mut server = Server::new(config);
        assert_eq!(server.receive(b"0 A B\n"), 6);
        let Some(ServerEvent::Request(first)) = server.poll_event() else {
            panic!("no request");
        };
        assert!(server.is_paused());
        let mut wire = alloc::vec::Vec::new();
        for n in 1..20_000 {
            wire.extend_from_slice(alloc::format!("{n} A B\n").as_bytes());
        }
        let taken = server.receive(&wire);
        assert!(
            server.poll_event().is_none(),
            "paused: nothing more decoded"
        );
        assert_eq!(server.paused_limit(), 64 * 1024);
        assert!(taken < wire.len() && server.buffered_receive() <= server.paused_limit());
        // An answer makes room: the rest is taken.
        server.respond(first.token, Status::Ok).unwrap();
        assert!(!server.is_paused());
        assert_eq!(server.receive(&wire[taken..]), wire.len() - taken);
        // Not paused: `None` means more input is needed.
        let mut idle = Server::new(config);
        assert!(idle.poll_event().is_none() && !idle.is_paused());
    }

    /// Unquoted, an answer repeats the identifier's decoded text: escapes
    /// undone, quotes gone, long identifiers included; simple identifiers
    /// come out as in the quoted mode, and a failure still drops what is
    /// queued.
    #[test]
    fn unquoted_answers_repeat_the_decoded_identifier() {
        let long = "i".repeat(Token::INLINE + 10);
        let cases: [(&str, &str); 6] = [
            ("7", "7"),
            ("\"W X\"", "W X"),
            ("\"\"", ""),
            ("\"a\\\"b\\\\c\"", "a\"b\\c"),
            ("\"é\nz\"", "é\nz"),
            (&long, &long),
        ];
        for (wire, echoed) in cases {
            let input = alloc::format!("{wire} SET job \"2030-01-01 08:00:00\"\n");
            let answers = [IdentifierEcho::Quoted, IdentifierEcho::Unquoted].map(|echo| {
                let mut server = Server::new(Config::default()).with_identifier_echo(echo);
                assert_eq!(server.identifier_echo(), echo);
                assert_eq!(server.receive(input.as_bytes()), input.len());
                let Some(ServerEvent::Request(request)) = server.poll_event() else {
                    panic!("no request from {wire}");
                };
                server.respond(request.token, Status::Error).unwrap();
                let answer = server.poll_transmit().unwrap_or_default().to_vec();
                server.consume_transmit(answer.len());
                answer
            });
            assert_eq!(
                answers[1],
                alloc::format!("{echoed} ERROR\n").as_bytes(),
                "{wire}"
            );
            let simple = !wire.starts_with('"');
            assert_eq!(answers[0] == answers[1], simple, "{wire}");
        }
        // The default mode quotes; a failure drops queued answers in both.
        assert_eq!(
            Server::new(Config::default()).identifier_echo(),
            IdentifierEcho::Quoted
        );
        let mut server =
            Server::new(Config::default()).with_identifier_echo(IdentifierEcho::Unquoted);
        let input = b"\"a b\" A B\n\n";
        assert_eq!(server.receive(input), input.len());
        let Some(ServerEvent::Request(request)) = server.poll_event() else {
            panic!("no request");
        };
        server.respond(request.token, Status::Ok).unwrap();
        assert_eq!(server.poll_transmit(), Some(&b"a b OK\n"[..]));
        assert!(matches!(server.poll_event(), Some(ServerEvent::Failed(_))));
        assert_eq!(server.poll_transmit(), None);
    }

    /// Queued responses are dropped on every failure, including a message
    /// cut short by the end of the stream.
    #[test]
    fn failure_drops_queued_responses_whatever_the_cause() {
        for (input, eof) in [(&b"0 A B\n\n"[..], false), (&b"0 A B\n1 A"[..], true)] {
            let mut server = Server::new(Config::default());
            assert_eq!(server.receive(input), input.len());
            if eof {
                server.receive_eof();
            }
            let Some(ServerEvent::Request(request)) = server.poll_event() else {
                panic!("no request");
            };
            server.respond(request.token, Status::Ok).unwrap();
            assert!(server.poll_transmit().is_some());
            assert!(matches!(server.poll_event(), Some(ServerEvent::Failed(_))));
            assert_eq!(server.poll_transmit(), None, "eof: {eof}");
            assert!(server.is_failed());
        }
    }
}
