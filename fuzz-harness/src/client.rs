//! The `client_session` target: arbitrary operations against a [`Client`],
//! whose output is read by a [`Server`].

use alloc::collections::{BTreeMap, BTreeSet};
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use arbitrary::Unstructured;
use core::time::Duration;

use crate::input::{MAX_OPS, byte, bytes, client_op as op, config, render, texts, word};
use kairoi_proto::Config;
use kairoi_proto::Instruction;
use kairoi_proto::Text;
use kairoi_proto::client::{Cancelled, Client, Event, Outcome, RequestId};
use kairoi_proto::error::{ConnectionError, DecodeError, SendError};
use kairoi_proto::server::{Server, ServerEvent};

/// Runs an arbitrary sequence of operations against a
/// [`Client`](kairoi_proto::Client) with `Duration` as its time: typed and raw
/// requests, deadlines, cancels, partial writes, well-formed responses to
/// any issued identifier (so duplicate, early and out-of-order ones),
/// responses to unknown identifiers, raw bytes, time, end of stream,
/// `close` and `abort`. Everything the client writes is decoded by a
/// [`Server`](kairoi_proto::Server).
///
/// Input: the limits, then operations until the input ends (see
/// [`seed::ClientScript`](super::seed::ClientScript)); at the end the client
/// is aborted and drained.
///
/// Panics when a request gets no outcome or two, an outcome arrives after
/// [`Event::Closed`](kairoi_proto::Event::Closed) or for a cancelled request,
/// `Closed` comes twice or with an error the session cannot explain,
/// `in_flight`, `poll_timeout` or a send result disagree with the model,
/// an outcome disagrees with what the server side received (`Ok`,
/// `Rejected` and `Unknown` only for requests it decoded, `NotSent` only
/// for ones it did not, `TimedOut` only past a deadline), the wire is ever
/// malformed, or a decoded request differs from the one sent.
pub fn client_session(data: &[u8]) {
    let mut u = Unstructured::new(data);
    let mut s = Session::new(config(&mut u));
    let mut ops = 0;
    while !u.is_empty() && ops < MAX_OPS {
        ops += 1;
        s.step(&mut u);
        s.check();
    }
    s.drain(usize::MAX);
    s.client.abort();
    s.aborted = true;
    s.drain(usize::MAX);
    assert!(s.closed, "no Closed after abort");
    assert!(
        s.pending.is_empty(),
        "requests without outcome: {:?}",
        s.pending
    );
    assert_eq!(s.client.in_flight(), 0);
    assert_eq!(
        s.finished.len() + s.cancelled.len(),
        s.issued.len(),
        "every request ends in exactly one outcome or a cancel"
    );
}

enum Body {
    Typed(Instruction),
    Raw(Vec<String>),
}

struct Session {
    config: Config,
    client: Client<Duration>,
    /// Decodes what the client writes.
    server: Server,
    now: Duration,
    issued: Vec<RequestId>,
    by_wire: BTreeMap<String, RequestId>,
    bodies: BTreeMap<RequestId, Body>,
    /// Sent, without outcome yet, not cancelled.
    pending: BTreeSet<RequestId>,
    finished: BTreeSet<RequestId>,
    cancelled: BTreeSet<RequestId>,
    withdrawn: BTreeSet<RequestId>,
    deadlines: BTreeMap<RequestId, Duration>,
    /// Requests the server side decoded whole.
    delivered: BTreeSet<RequestId>,
    /// The first well-formed response given to each request.
    responded: BTreeMap<RequestId, Outcome>,
    closed: bool,
    closing: bool,
    aborted: bool,
    eof: bool,
    /// Bytes were received that a correct server would not send.
    bad_input: bool,
}

impl Session {
    fn new(config: Config) -> Self {
        Session {
            config,
            client: Client::with_time_type(config),
            server: Server::new(config.with_max_active(usize::MAX)),
            now: Duration::ZERO,
            issued: Vec::new(),
            by_wire: BTreeMap::new(),
            bodies: BTreeMap::new(),
            pending: BTreeSet::new(),
            finished: BTreeSet::new(),
            cancelled: BTreeSet::new(),
            withdrawn: BTreeSet::new(),
            deadlines: BTreeMap::new(),
            delivered: BTreeSet::new(),
            responded: BTreeMap::new(),
            closed: false,
            closing: false,
            aborted: false,
            eof: false,
            bad_input: false,
        }
    }

    fn pick(&self, u: &mut Unstructured<'_>) -> Option<RequestId> {
        let which = usize::from(byte(u));
        (!self.issued.is_empty()).then(|| self.issued[which % self.issued.len()])
    }

    fn step(&mut self, u: &mut Unstructured<'_>) {
        match byte(u) % op::COUNT {
            op::SEND => {
                let instruction: Instruction = u.arbitrary().unwrap_or_else(|_| {
                    Instruction::set(Text::new(), kairoi_proto::DateTime::UNIX_EPOCH)
                });
                let count = instruction.arguments().len() + 1;
                let could = self.client.can_send();
                let result = self.client.send(&instruction);
                self.on_send(result, could, count, Body::Typed(instruction));
            }
            op::SEND_ARGUMENTS => {
                let body = texts(u);
                let could = self.client.can_send();
                let result = self.client.send_arguments(&body);
                self.on_send(result, could, body.len() + 1, Body::Raw(body));
            }
            op::SET_DEADLINE => {
                let id = self.pick(u);
                let at = self.now + Duration::from_millis(u64::from(word(u)));
                if let Some(id) = id {
                    if self.client.set_deadline(id, at) {
                        assert!(self.pending.contains(&id), "deadline set on inactive {id}");
                        self.deadlines.insert(id, at);
                    }
                }
            }
            op::CANCEL => {
                if let Some(id) = self.pick(u) {
                    self.cancel(id);
                }
            }
            op::CLOSE => {
                self.closing |= !self.client.is_closed();
                self.client.close();
            }
            op::ABORT => {
                self.aborted |= !self.client.is_closed();
                self.client.abort();
            }
            op::TRANSMIT => {
                let n = usize::from(word(u));
                self.transmit(n);
            }
            op::TRANSMIT_ALL => self.transmit(usize::MAX),
            op::RESPOND => {
                let id = self.pick(u);
                let status = byte(u);
                if let Some(id) = id {
                    self.respond(id, status);
                }
            }
            op::RESPOND_UNKNOWN => {
                let seq = self.issued.len() as u64 + u64::from(word(u));
                self.bad_input = true;
                self.client
                    .receive(format!("{} OK\n", RequestId::from_sequence(seq)).as_bytes());
            }
            op::RECEIVE => {
                let raw = bytes(u);
                self.bad_input |= !raw.is_empty();
                self.client.receive(raw);
            }
            op::ADVANCE => {
                self.now += Duration::from_millis(u64::from(word(u)));
                self.client.handle_timeout(self.now);
            }
            op::EOF => {
                self.eof = true;
                self.client.receive_eof();
            }
            _ => {
                let max = match byte(u) {
                    0 => usize::MAX,
                    n => usize::from(n),
                };
                self.drain(max);
            }
        }
    }

    /// Checks a send result against `could` (`can_send` before it) and
    /// `count`, the arguments of the request.
    fn on_send(
        &mut self,
        result: Result<RequestId, SendError>,
        could: bool,
        count: usize,
        body: Body,
    ) {
        match result {
            Ok(id) => {
                assert!(
                    !self.closed && !self.closing,
                    "request {id} accepted after close"
                );
                if let Some(last) = self.issued.last() {
                    assert!(id > *last, "identifier {id} reused or out of order");
                }
                self.issued.push(id);
                self.by_wire.insert(id.to_string(), id);
                self.bodies.insert(id, body);
                self.pending.insert(id);
            }
            Err(e) => {
                let active = self.client.in_flight() + self.client.abandoned();
                match e {
                    SendError::Closed => assert!(self.client.is_closed()),
                    SendError::Closing => assert!(self.closing && !self.client.is_closed()),
                    SendError::TooManyActive { limit } => {
                        assert!(!could && active >= limit, "{active} active, limit {limit}");
                    }
                    SendError::Stalled { .. } => assert!(!could),
                    SendError::EmptyBody => assert_eq!(count, 1),
                    SendError::TooManyArguments { count: c, limit } => {
                        assert_eq!(c, count);
                        assert!(c > limit);
                    }
                    SendError::MessageTooLong { len, limit } => assert!(len > limit),
                    other => panic!("a send error this harness does not know: {other:?}"),
                }
                if !matches!(
                    e,
                    SendError::Closed
                        | SendError::Closing
                        | SendError::TooManyActive { .. }
                        | SendError::Stalled { .. }
                ) {
                    assert!(
                        could,
                        "send failed on its body ({e}) while it could not send"
                    );
                }
            }
        }
    }

    fn cancel(&mut self, id: RequestId) {
        // `None` is right for a request whose outcome is queued but not
        // polled yet, so only `Some` can be checked.
        if let Some(how) = self.client.cancel(id) {
            assert!(
                self.pending.remove(&id),
                "cancelled {id}, which was not active"
            );
            self.cancelled.insert(id);
            if how == Cancelled::Withdrawn {
                assert!(
                    !self.delivered.contains(&id),
                    "{id} withdrawn after delivery"
                );
                self.withdrawn.insert(id);
            }
        }
    }

    fn transmit(&mut self, n: usize) {
        let Some(pending) = self.client.poll_transmit() else {
            return;
        };
        let written = pending[..n.min(pending.len())].to_vec();
        self.client.consume_transmit(n);
        let taken = self.server.receive(&written);
        assert_eq!(
            taken,
            written.len(),
            "a server with no active limit takes all"
        );
        while let Some(event) = self.server.poll_event() {
            match event {
                ServerEvent::Request(request) => {
                    let wire = request.token.identifier().as_str();
                    let Some(&id) = self.by_wire.get(wire) else {
                        panic!("the client wrote unknown identifier {wire:?}");
                    };
                    assert!(
                        self.delivered.last().is_none_or(|last| *last < id),
                        "request {id} written twice or out of order"
                    );
                    assert!(!self.withdrawn.contains(&id), "withdrawn {id} was written");
                    self.delivered.insert(id);
                    let received = match (request.instruction, &self.bodies[&id]) {
                        (Ok(instruction), Body::Typed(sent)) => {
                            assert_eq!(&instruction, sent, "request {id} changed on the wire");
                            render(&instruction)
                        }
                        (Ok(instruction), Body::Raw(_)) => render(&instruction),
                        (Err(invalid), Body::Typed(sent)) => {
                            panic!("typed request {sent:?} read back as {invalid:?}")
                        }
                        (Err(invalid), Body::Raw(_)) => {
                            invalid.arguments.iter().map(Text::to_string).collect()
                        }
                    };
                    let sent = match &self.bodies[&id] {
                        Body::Typed(instruction) => render(instruction),
                        Body::Raw(args) => args.clone(),
                    };
                    assert_eq!(received, sent, "body of request {id} changed on the wire");
                }
                other => panic!("the client wrote a malformed stream: {other:?}"),
            }
        }
    }

    fn respond(&mut self, id: RequestId, status: u8) {
        let (word, outcome) = match status % 3 {
            0 => ("OK", Some(Outcome::Ok)),
            1 => ("ERROR", Some(Outcome::Rejected)),
            _ => ("DONE", None),
        };
        let response = format!("{id} {word}\n");
        let fits =
            response.len() <= self.config.max_message_len() && self.config.max_arguments() >= 2;
        if outcome.is_none()
            || !fits
            || !self.delivered.contains(&id)
            || self.responded.contains_key(&id)
        {
            self.bad_input = true;
        }
        if let Some(outcome) = outcome {
            self.responded.entry(id).or_insert(outcome);
        }
        self.client.receive(response.as_bytes());
    }

    /// Polls up to `max` events; when the client runs out of them, checks
    /// the invariants that only hold with no event queued.
    fn drain(&mut self, max: usize) {
        for _ in 0..max {
            match self.client.poll_event() {
                Some(event) => self.on_event(event),
                None => return self.check_drained(),
            }
        }
    }

    fn on_event(&mut self, event: Event) {
        assert!(!self.closed, "event after Closed: {event:?}");
        match event {
            Event::Outcome { id, outcome } => {
                assert!(
                    self.pending.remove(&id),
                    "outcome {outcome:?} for {id}, which had no outcome pending \
                     (finished: {}, cancelled: {})",
                    self.finished.contains(&id),
                    self.cancelled.contains(&id)
                );
                self.finished.insert(id);
                let delivered = self.delivered.contains(&id);
                match outcome {
                    Outcome::Ok | Outcome::Rejected => {
                        assert!(delivered, "{id} answered before it was written");
                        if !self.bad_input {
                            assert_eq!(self.responded.get(&id), Some(&outcome), "{id}");
                        }
                    }
                    Outcome::NotSent => assert!(!delivered, "{id} NotSent but written"),
                    Outcome::Unknown => assert!(delivered, "{id} Unknown but never written"),
                    Outcome::TimedOut => assert!(
                        self.deadlines.get(&id).is_some_and(|d| *d <= self.now),
                        "{id} timed out before its deadline"
                    ),
                    other => panic!("an outcome this harness does not know: {other:?}"),
                }
            }
            Event::Closed { error } => {
                self.closed = true;
                assert!(
                    self.pending.is_empty(),
                    "Closed with requests left without outcome: {:?}",
                    self.pending
                );
                self.check_close_reason(error);
            }
            other => panic!("an event this harness does not know: {other:?}"),
        }
    }

    fn check_close_reason(&self, error: Option<ConnectionError>) {
        let explained = match &error {
            None => self.closing || self.eof,
            Some(ConnectionError::Aborted) => self.aborted,
            Some(ConnectionError::ClosedWithActive { .. }) => self.eof,
            Some(ConnectionError::Malformed(DecodeError::Truncated { .. })) => {
                self.eof && self.bad_input
            }
            Some(_) => self.bad_input,
        };
        assert!(explained, "unexplained close: {error:?}");
    }

    fn check_drained(&mut self) {
        assert_eq!(self.client.is_closed(), self.closed);
        assert_eq!(
            self.client.in_flight(),
            self.pending.len(),
            "in_flight disagrees with the requests without outcome"
        );
        let earliest = self
            .pending
            .iter()
            .filter_map(|id| self.deadlines.get(id))
            .min()
            .copied();
        assert_eq!(self.client.poll_timeout(), earliest, "poll_timeout");
        if !self.closed {
            assert!(
                self.client.buffered_receive() <= self.config.max_message_len(),
                "{} bytes buffered after draining, limit {}",
                self.client.buffered_receive(),
                self.config.max_message_len()
            );
        }
    }

    /// Invariants that hold after every operation.
    fn check(&self) {
        assert!(self.client.in_flight() <= self.pending.len());
        assert!(
            self.client.in_flight() + self.client.abandoned() <= self.config.max_active(),
            "{} active and {} abandoned, limit {}",
            self.client.in_flight(),
            self.client.abandoned(),
            self.config.max_active()
        );
        assert_eq!(
            self.client.buffered_transmit(),
            self.client.poll_transmit().map_or(0, <[u8]>::len)
        );
        if self.client.is_closed() {
            assert!(
                self.client.poll_transmit().is_none(),
                "bytes to send after close"
            );
            assert_eq!(self.client.in_flight(), 0);
            assert!(!self.client.can_send());
        }
    }
}
