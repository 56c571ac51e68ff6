//! Property tests: random bytes never panic the decoder or the roles, and
//! random operation sequences give every request exactly one outcome.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use kairoi_proto::wire::Decoder;
use kairoi_proto::{
    Client, Config, DateTime, Event, Instruction, RequestId, Server, ServerEvent, Status, Token,
};
use proptest::prelude::*;

fn small_config() -> Config {
    Config::default()
        .with_max_message_len(256)
        .with_max_arguments(6)
        .with_max_active(8)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    #[test]
    fn random_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..600), cut in any::<usize>()) {
        let cut = cut % (data.len() + 1);
        let (a, b) = data.split_at(cut);

        let mut decoder = Decoder::new(small_config());
        for chunk in [a, b] {
            decoder.extend(chunk);
            while let Ok(Some(n)) = decoder.next_frame() {
                prop_assert!((2..=6).contains(&n));
                let _ = decoder.take_message();
            }
            // Nothing beyond one message plus one chunk is kept.
            prop_assert!(decoder.buffered() <= 256 + a.len().max(b.len()));
        }

        let mut client = Client::<Duration>::with_time_type(small_config());
        let id = client.send_arguments(["X"]).unwrap();
        client.consume_transmit(usize::MAX);
        let mut events = Vec::new();
        for chunk in [a, b] {
            client.receive(chunk);
            events.extend(std::iter::from_fn(|| client.poll_event()));
        }
        client.receive_eof();
        events.extend(std::iter::from_fn(|| client.poll_event()));
        // Exactly one outcome for the request, and Closed once, last.
        let outcomes = events.iter().filter(|e| matches!(e, Event::Outcome { id: i, .. } if *i == id)).count();
        prop_assert_eq!(outcomes, 1);
        let closed_last = matches!(events.last(), Some(Event::Closed { .. }));
        prop_assert!(closed_last, "Closed is not the last event");
        prop_assert_eq!(events.iter().filter(|e| matches!(e, Event::Closed { .. })).count(), 1);
        prop_assert_eq!(client.in_flight(), 0);

        let mut server = Server::new(small_config());
        for chunk in [a, b] {
            // Nothing is answered here, so the server may pause: what it
            // does not take is never decoded, and that is fine.
            let _ = server.receive(chunk);
            while let Some(event) = server.poll_event() {
                if let ServerEvent::Request(r) = event {
                    let _ = server.respond(r.token, Status::Ok);
                }
            }
        }
    }
}

/// One step of a client's life.
#[derive(Debug, Clone)]
enum Op {
    SendTyped(u8),
    SendRaw(u8),
    /// Write this many bytes of the client's transmit buffer to the server.
    Write(u16),
    /// The server answers its `n`-th unanswered request (modulo their count).
    Respond(u8, bool),
    /// Deliver this many bytes of the server's answers to the client.
    Deliver(u16),
    /// Deliver a copy of an earlier answer again.
    Duplicate,
    /// Deliver an answer for an identifier never sent.
    Unknown,
    /// Deliver arbitrary bytes.
    Garbage(Vec<u8>),
    /// Give the `n`-th sent request a deadline `d` ticks from now.
    Deadline(u8, u8),
    /// Advance the clock and handle timeouts.
    Tick(u8),
    Cancel(u8),
    Eof,
    Abort,
    Close,
}

fn op() -> impl Strategy<Value = Op> {
    // Operations that end the connection are rare, so sessions get far.
    prop_oneof![
        40 => any::<u8>().prop_map(Op::SendTyped),
        20 => any::<u8>().prop_map(Op::SendRaw),
        50 => any::<u16>().prop_map(|n| Op::Write(n % 64)),
        50 => (any::<u8>(), any::<bool>()).prop_map(|(n, ok)| Op::Respond(n, ok)),
        50 => any::<u16>().prop_map(|n| Op::Deliver(n % 64)),
        1 => Just(Op::Duplicate),
        1 => Just(Op::Unknown),
        1 => proptest::collection::vec(any::<u8>(), 0..12).prop_map(Op::Garbage),
        12 => (any::<u8>(), any::<u8>()).prop_map(|(n, d)| Op::Deadline(n, d % 8)),
        12 => any::<u8>().prop_map(|t| Op::Tick(t % 4)),
        8 => any::<u8>().prop_map(Op::Cancel),
        1 => Just(Op::Eof),
        1 => Just(Op::Abort),
        1 => Just(Op::Close),
    ]
}

struct Harness {
    client: Client<Duration>,
    server: Server,
    tokens: Vec<Token>,
    sent: Vec<RequestId>,
    outcomes: HashMap<RequestId, kairoi_proto::Outcome>,
    cancelled: HashSet<RequestId>,
    closed: bool,
    now: Duration,
    answers: Vec<Vec<u8>>,
}

impl Harness {
    fn drain(&mut self) -> Result<(), TestCaseError> {
        while let Some(event) = self.client.poll_event() {
            prop_assert!(!self.closed, "event after Closed: {:?}", event);
            match event {
                Event::Outcome { id, outcome } => {
                    prop_assert!(self.sent.contains(&id), "outcome for unknown {}", id);
                    prop_assert!(
                        !self.cancelled.contains(&id),
                        "outcome for cancelled {}",
                        id
                    );
                    prop_assert!(
                        self.outcomes.insert(id, outcome).is_none(),
                        "second outcome for {}",
                        id
                    );
                }
                Event::Closed { .. } => self.closed = true,
                _ => {}
            }
        }
        let expected = self.sent.len() - self.outcomes.len() - self.cancelled.len();
        prop_assert_eq!(self.client.in_flight(), expected);
        Ok(())
    }

    fn step(&mut self, op: Op) -> Result<(), TestCaseError> {
        match op {
            Op::SendTyped(n) => {
                let when = DateTime::from_unix_seconds(i64::from(n) * 1000).unwrap();
                if let Ok(id) = self
                    .client
                    .send(&Instruction::set(format!("job {n}"), when))
                {
                    self.sent.push(id);
                }
            }
            Op::SendRaw(n) => {
                if let Ok(id) = self.client.send_arguments(["RAW", &n.to_string()]) {
                    self.sent.push(id);
                }
            }
            Op::Write(n) => {
                if let Some(bytes) = self.client.poll_transmit() {
                    let n = usize::from(n).min(bytes.len());
                    let n = self.server.receive(&bytes[..n]);
                    self.client.consume_transmit(n);
                }
                while let Some(event) = self.server.poll_event() {
                    match event {
                        ServerEvent::Request(r) => self.tokens.push(r.token),
                        other => prop_assert!(false, "server saw {:?}", other),
                    }
                }
            }
            Op::Respond(n, ok) => {
                if !self.tokens.is_empty() {
                    let token = self.tokens.remove(usize::from(n) % self.tokens.len());
                    let mut line = token.identifier().as_str().as_bytes().to_vec();
                    line.extend_from_slice(if ok { b" OK\n" } else { b" ERROR\n" });
                    self.answers.push(line);
                    let status = if ok { Status::Ok } else { Status::Error };
                    self.server.respond(token, status).unwrap();
                }
            }
            Op::Deliver(n) => {
                if let Some(bytes) = self.server.poll_transmit() {
                    let n = usize::from(n).min(bytes.len());
                    self.client.receive(&bytes[..n]);
                    self.server.consume_transmit(n);
                }
            }
            Op::Duplicate => {
                // Only at a message boundary, so the stream stays framed.
                if self.server.poll_transmit().is_none() {
                    if let Some(line) = self.answers.last() {
                        self.client.receive(line);
                    }
                }
            }
            Op::Unknown => {
                if self.server.poll_transmit().is_none() {
                    self.client.receive(b"zzzzzz OK\n");
                }
            }
            Op::Garbage(bytes) => self.client.receive(&bytes),
            Op::Deadline(n, d) => {
                if !self.sent.is_empty() {
                    let id = self.sent[usize::from(n) % self.sent.len()];
                    self.client
                        .set_deadline(id, self.now + Duration::from_secs(d.into()));
                }
            }
            Op::Tick(t) => {
                self.now += Duration::from_secs(t.into());
                self.client.handle_timeout(self.now);
                // Every deadline at or before now was handled: the next
                // one is in the future.
                if let Some(deadline) = self.client.poll_timeout() {
                    prop_assert!(
                        deadline > self.now,
                        "{:?} is not after {:?}",
                        deadline,
                        self.now
                    );
                }
            }
            Op::Cancel(n) => {
                if !self.sent.is_empty() {
                    let id = self.sent[usize::from(n) % self.sent.len()];
                    if self.client.cancel(id).is_some() {
                        prop_assert!(!self.outcomes.contains_key(&id));
                        self.cancelled.insert(id);
                    }
                }
            }
            Op::Eof => self.client.receive_eof(),
            Op::Abort => self.client.abort(),
            Op::Close => self.client.close(),
        }
        self.drain()
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(768))]

    #[test]
    fn every_request_ends_in_exactly_one_outcome(ops in proptest::collection::vec(op(), 0..200)) {
        let mut h = Harness {
            client: Client::with_time_type(small_config()),
            server: Server::new(Config::default()),
            tokens: Vec::new(),
            sent: Vec::new(),
            outcomes: HashMap::new(),
            cancelled: HashSet::new(),
            closed: false,
            now: Duration::ZERO,
            answers: Vec::new(),
        };
        for op in ops {
            h.step(op)?;
        }
        // However the session went, ending it settles every request.
        h.client.abort();
        h.drain()?;
        prop_assert!(h.closed);
        for id in &h.sent {
            prop_assert!(
                h.outcomes.contains_key(id) != h.cancelled.contains(id),
                "request {} has {:?} and cancelled={}", id, h.outcomes.get(id), h.cancelled.contains(id)
            );
        }
    }
}
