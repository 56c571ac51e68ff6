//! The `server_session` target: arbitrary request bytes into a [`Server`],
//! answered in arbitrary order.

use alloc::collections::VecDeque;
use alloc::string::String;
use alloc::vec::Vec;
use arbitrary::Unstructured;
use bytes::BytesMut;

use crate::input::{MAX_OPS, byte, bytes, config, render, server_op as op, text, texts, word};
use kairoi_proto::Config;
use kairoi_proto::Instruction;
use kairoi_proto::Text;
use kairoi_proto::server::{Server, ServerEvent, ServerEventRef, Status, Token};
use kairoi_proto::wire::{Decoder, encode_argument, encode_message};

/// Runs an arbitrary sequence of operations against a
/// [`Server`](kairoi_proto::Server): raw bytes, well-formed messages and typed
/// instructions (with arbitrary identifiers), end of stream, polls,
/// responses to the requests in any order and partial writes.
///
/// Input: the limits, then operations until the input ends (see
/// [`seed::ServerScript`](super::seed::ServerScript)); at the end every
/// request is answered and everything transmitted.
///
/// Panics when the requests differ from what a plain
/// [`Decoder`](kairoi_proto::wire::Decoder) reads from the same bytes (or, when
/// only well-formed messages were sent, from those messages), the parsed
/// instruction differs from [`Instruction::parse`](kairoi_proto::Instruction::parse)
/// of the body, the responses on the wire do not decode to the identifiers
/// and statuses given, in the order given, a request is yielded beyond
/// [`Config::max_active`](kairoi_proto::Config::max_active) or after the last
/// event, or the getters disagree with what happened.
pub fn server_session(data: &[u8]) {
    let mut u = Unstructured::new(data);
    let mut s = Session::new(config(&mut u));
    let mut ops = 0;
    while !u.is_empty() && ops < MAX_OPS {
        ops += 1;
        s.step(&mut u);
        s.check();
    }
    loop {
        s.poll(usize::MAX);
        if s.tokens.is_empty() && (s.backlog.is_empty() || s.done) {
            break;
        }
        while !s.tokens.is_empty() {
            s.respond(0, Status::Ok);
        }
        s.offer();
    }
    s.transmit(usize::MAX);
    s.check();
    if !s.server.is_failed() {
        assert!(
            s.responses.is_empty(),
            "responses never written: {:?}",
            s.responses
        );
    }
}

/// What a well-formed message sent to the server must give.
enum Expected {
    Request(Vec<String>, Option<Instruction>),
    /// The message breaks a limit: the server must fail on it.
    Malformed,
}

struct Session {
    config: Config,
    server: Server,
    /// Reads the same bytes as the server.
    reference: Decoder,
    /// Reads the server's output.
    wire: Decoder,
    /// Only well-formed messages were sent so far: then `expected` holds
    /// what each must give.
    clean: bool,
    expected: VecDeque<Expected>,
    tokens: Vec<Token>,
    /// Polls so far (odd ones read the request borrowed).
    polls: usize,
    /// Responses queued and not yet read back from the wire.
    responses: VecDeque<(Text, Status)>,
    /// Bytes the server did not take while paused, given again once
    /// answers made room, as a transport keeps what it read.
    backlog: Vec<u8>,
    /// The end of the stream, given once the backlog is taken.
    eof_pending: bool,
    eof: bool,
    done: bool,
    failed: bool,
}

impl Session {
    fn new(config: Config) -> Self {
        // A response is the identifier as the request had it (or shorter),
        // a space, at most five status bytes and a line feed; the request
        // had at least two more bytes after its identifier.
        let wire = config
            .with_max_message_len(config.max_message_len().saturating_add(16))
            .with_max_arguments(2);
        Session {
            config,
            server: Server::new(config),
            reference: Decoder::new(config),
            wire: Decoder::new(wire),
            clean: true,
            expected: VecDeque::new(),
            tokens: Vec::new(),
            polls: 0,
            responses: VecDeque::new(),
            backlog: Vec::new(),
            eof_pending: false,
            eof: false,
            done: false,
            failed: false,
        }
    }

    fn step(&mut self, u: &mut Unstructured<'_>) {
        match byte(u) % op::COUNT {
            op::RECEIVE => {
                let raw = bytes(u);
                self.clean &= raw.is_empty();
                self.feed(raw);
            }
            op::MESSAGE => {
                let mut args = Vec::from([text(u)]);
                args.extend(texts(u));
                let mut out = BytesMut::new();
                encode_message(&mut out, &args);
                self.expect(out.len(), args, None);
                self.feed(&out);
            }
            op::INSTRUCTION => {
                let identifier = text(u);
                let Ok(instruction) = u.arbitrary::<Instruction>() else {
                    return;
                };
                let mut out = BytesMut::new();
                encode_argument(&mut out, identifier.as_bytes());
                instruction.encode_body(&mut out);
                out.extend_from_slice(b"\n");
                let mut args = Vec::from([identifier]);
                args.extend(render(&instruction));
                self.expect(out.len(), args, Some(instruction));
                self.feed(&out);
            }
            op::EOF => {
                self.eof_pending = true;
                self.offer();
            }
            op::POLL => {
                let max = match byte(u) {
                    0 => usize::MAX,
                    n => usize::from(n),
                };
                self.poll(max);
            }
            op::RESPOND => {
                let which = usize::from(byte(u));
                let status = if byte(u) & 1 == 0 {
                    Status::Ok
                } else {
                    Status::Error
                };
                if !self.tokens.is_empty() {
                    self.respond(which % self.tokens.len(), status);
                }
            }
            op::TRANSMIT => {
                let n = usize::from(word(u));
                self.transmit(n);
            }
            _ => self.transmit(usize::MAX),
        }
    }

    fn expect(&mut self, len: usize, args: Vec<String>, instruction: Option<Instruction>) {
        if self.eof || self.done {
            // The server ignores input after the end of stream.
            return;
        }
        let fits = len <= self.config.max_message_len()
            && (2..=self.config.max_arguments()).contains(&args.len());
        self.expected.push_back(if fits {
            Expected::Request(args, instruction)
        } else {
            Expected::Malformed
        });
    }

    fn feed(&mut self, bytes: &[u8]) {
        self.backlog.extend_from_slice(bytes);
        self.offer();
    }

    /// Gives the server what it has not taken yet, then the end of the
    /// stream if it came.
    fn offer(&mut self) {
        let paused = self.server.is_paused();
        let taken = self.server.receive(&self.backlog);
        assert!(
            taken == self.backlog.len() || paused,
            "took {taken} of {} bytes while not paused",
            self.backlog.len()
        );
        if !self.eof && !self.done {
            self.reference.extend(&self.backlog[..taken]);
        }
        self.backlog.drain(..taken);
        if paused {
            assert!(
                self.server.buffered_receive() <= self.server.paused_limit(),
                "{} bytes buffered while paused, limit {}",
                self.server.buffered_receive(),
                self.server.paused_limit()
            );
        }
        if self.backlog.is_empty() && self.eof_pending && !self.eof {
            self.eof_pending = false;
            self.eof = true;
            self.server.receive_eof();
        }
    }

    fn poll(&mut self, max: usize) {
        for _ in 0..max {
            let blocked = self.tokens.len() >= self.config.max_active();
            // Every other poll reads the request borrowed and copies it,
            // so both ways of decoding meet the same checks.
            self.polls += 1;
            let event = if self.polls % 2 == 0 {
                self.server.poll_event()
            } else {
                self.server.poll_event_ref().map(ServerEventRef::into_owned)
            };
            let Some(event) = event else {
                if !blocked && !self.done {
                    assert!(!self.eof, "end of stream not reported");
                    assert_eq!(
                        self.reference.next_frame(),
                        Ok(None),
                        "server missed a message"
                    );
                    assert!(
                        self.server.buffered_receive() <= self.config.max_message_len(),
                        "{} bytes buffered while waiting, limit {}",
                        self.server.buffered_receive(),
                        self.config.max_message_len()
                    );
                }
                return;
            };
            assert!(!self.done, "event after the last one: {event:?}");
            assert!(
                !blocked,
                "request decoded beyond the active limit: {event:?}"
            );
            match event {
                ServerEvent::Request(request) => self.on_request(request),
                ServerEvent::Ended => {
                    assert!(self.eof, "Ended before the end of stream");
                    assert_eq!(self.reference.next_frame(), Ok(None));
                    assert_eq!(self.reference.finish(), Ok(()));
                    if self.clean {
                        assert!(self.expected.is_empty(), "Ended with messages unread");
                    }
                    self.done = true;
                }
                ServerEvent::Failed(error) => {
                    match self.reference.next_frame() {
                        Ok(None) if self.eof => assert_eq!(self.reference.finish(), Err(error)),
                        other => assert_eq!(other, Err(error)),
                    }
                    if self.clean {
                        assert!(
                            matches!(self.expected.front(), Some(Expected::Malformed)),
                            "a well-formed message failed"
                        );
                    }
                    self.done = true;
                    self.failed = true;
                    // Queued responses are dropped with the connection.
                    self.responses.clear();
                }
                other => panic!("an event this harness does not know: {other:?}"),
            }
        }
    }

    fn on_request(&mut self, request: kairoi_proto::server::Request) {
        let frame = self.reference.next_frame();
        assert!(
            matches!(frame, Ok(Some(_))),
            "server yielded a request where a decoder read {frame:?}"
        );
        let args = self.reference.take_message();
        assert_eq!(request.token.identifier(), args[0], "identifier");
        let body = &args[1..];
        match &request.instruction {
            Ok(instruction) => assert_eq!(Instruction::parse(body).as_ref(), Ok(instruction)),
            Err(invalid) => {
                assert_eq!(invalid.arguments, body, "arguments of an invalid body");
                assert_eq!(Instruction::parse(body), Err(invalid.error.clone()));
            }
        }
        if self.clean {
            match self.expected.pop_front() {
                Some(Expected::Request(sent, typed)) => {
                    assert_eq!(args.len(), sent.len(), "number of arguments changed");
                    assert!(args.iter().zip(&sent).all(|(a, b)| a == b.as_str()));
                    if let Some(typed) = typed {
                        assert_eq!(request.instruction.as_ref(), Ok(&typed));
                    }
                }
                _ => panic!("request {args:?} where none or a malformed one was sent"),
            }
        }
        self.tokens.push(request.token);
    }

    fn respond(&mut self, index: usize, status: Status) {
        let token = self.tokens.swap_remove(index);
        let identifier = token.identifier().to_text();
        let result = self.server.respond(token, status);
        assert_eq!(result.is_err(), self.failed, "respond: {result:?}");
        if result.is_ok() {
            self.responses.push_back((identifier, status));
        }
        // An answer makes room: what was held back goes in.
        self.offer();
    }

    fn transmit(&mut self, n: usize) {
        let written = if n == usize::MAX {
            let mut out = BytesMut::new();
            self.server.transmit_into(&mut out);
            out.to_vec()
        } else {
            let Some(pending) = self.server.poll_transmit() else {
                return;
            };
            let written = pending[..n.min(pending.len())].to_vec();
            self.server.consume_transmit(n);
            written
        };
        assert!(
            !self.failed || written.is_empty(),
            "bytes written after failure"
        );
        self.wire.extend(&written);
        loop {
            match self.wire.next_frame() {
                Ok(Some(count)) => {
                    assert_eq!(count, 2, "response with {count} arguments");
                    let Some((identifier, status)) = self.responses.pop_front() else {
                        panic!("response on the wire that was never given");
                    };
                    assert_eq!(self.wire.argument(0), identifier.as_bytes(), "identifier");
                    assert_eq!(self.wire.argument(1), status.as_str().as_bytes(), "status");
                }
                Ok(None) => break,
                Err(e) => panic!("malformed response stream: {e}"),
            }
        }
    }

    /// Invariants that hold after every operation.
    fn check(&self) {
        assert_eq!(self.server.in_flight(), self.tokens.len(), "in_flight");
        assert!(self.server.in_flight() <= self.config.max_active());
        assert_eq!(self.server.is_done(), self.done);
        assert_eq!(self.server.is_failed(), self.failed);
        assert_eq!(
            self.server.wants_input(),
            !self.eof && !self.done && self.tokens.len() < self.config.max_active()
        );
    }
}
