//! A `Client` and a `Server` driven against each other in memory.

use std::collections::HashMap;

use kairoi_proto::{
    Cancelled, Client, Config, ConnectionError, DateTime, Event, Instruction, Outcome, RequestId,
    Runner, Server, ServerEvent, Status,
};

/// A small deterministic generator, so the shuffles are reproducible.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = (self.next() % (i as u64 + 1)) as usize;
            items.swap(i, j);
        }
    }
}

fn instruction(n: usize) -> Instruction {
    let when = DateTime::from_unix_seconds(1_800_000_000 + n as i64).unwrap();
    match n % 10 {
        0 => Instruction::rule_set(format!("rule {n}"), "app.", Runner::shell("run.sh")),
        1 => Instruction::set(format!("job \"{n}\"\nwith\\escapes 😱"), when),
        2 => Instruction::set("", when),
        _ => Instruction::set(format!("app.job.{n}"), when),
    }
}

#[test]
fn ten_thousand_pipelined_instructions_answered_in_shuffled_order() {
    let config = Config::default().with_max_active(20_000);
    let mut client = Client::new(config);
    let mut server = Server::new(config);
    let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);

    let mut sent: HashMap<RequestId, (Instruction, Outcome)> = HashMap::new();
    let mut by_wire_id: HashMap<String, usize> = HashMap::new();
    for n in 0..10_000 {
        let instruction = instruction(n);
        let id = client.send(&instruction).unwrap();
        by_wire_id.insert(id.to_string(), n);
        // The server answers ERROR to every seventh request.
        let expected = if n % 7 == 0 {
            Outcome::Rejected
        } else {
            Outcome::Ok
        };
        sent.insert(id, (instruction, expected));
    }
    assert_eq!(client.in_flight(), 10_000);

    // Client to server, in uneven pieces.
    let mut sizes = [1usize, 7, 4096, 13, 250].iter().cycle();
    while let Some(bytes) = client.poll_transmit() {
        let n = bytes.len().min(*sizes.next().unwrap());
        let n = server.receive(&bytes[..n]);
        client.consume_transmit(n);
    }
    let mut requests = Vec::new();
    while let Some(event) = server.poll_event() {
        let ServerEvent::Request(request) = event else {
            panic!("unexpected {event:?}");
        };
        requests.push(request);
    }
    assert_eq!(requests.len(), 10_000);
    assert_eq!(server.in_flight(), 10_000);

    // Every request arrives as sent; the server answers in a random order.
    rng.shuffle(&mut requests);
    for request in requests {
        let n = by_wire_id[request.token.identifier().as_str()];
        assert_eq!(request.instruction.as_ref().ok(), Some(&instruction(n)));
        let status = if n % 7 == 0 {
            Status::Error
        } else {
            Status::Ok
        };
        server.respond(request.token, status).unwrap();
    }
    assert_eq!(server.in_flight(), 0);

    // Server to client, in uneven pieces; each response ends its request.
    let mut outcomes = HashMap::new();
    while let Some(bytes) = server.poll_transmit() {
        let n = bytes.len().min(*sizes.next().unwrap());
        client.receive(&bytes[..n]);
        server.consume_transmit(n);
        while let Some(event) = client.poll_event() {
            let Event::Outcome { id, outcome } = event else {
                panic!("unexpected {event:?}");
            };
            assert!(
                outcomes.insert(id, outcome).is_none(),
                "two outcomes for {id}"
            );
        }
    }
    assert_eq!(outcomes.len(), 10_000);
    for (id, (_, expected)) in &sent {
        assert_eq!(outcomes[id], *expected, "request {id}");
    }
    assert_eq!(client.in_flight(), 0);

    client.receive_eof();
    assert_eq!(client.poll_event(), Some(Event::Closed { error: None }));
    assert_eq!(client.poll_event(), None);
}

#[test]
fn eof_with_active_requests_ends_each_one_once() {
    let mut client = Client::new(Config::default());
    let written = client.send_arguments(["A"]).unwrap();
    let partial = client.send_arguments(["B"]).unwrap();
    let queued = client.send_arguments(["C"]).unwrap();
    // "0 A\n" and half of "1 B\n" leave.
    client.consume_transmit(6);
    client.receive_eof();
    let events: Vec<Event> = std::iter::from_fn(|| client.poll_event()).collect();
    assert_eq!(
        events,
        vec![
            Event::Outcome {
                id: written,
                outcome: Outcome::Unknown
            },
            Event::Outcome {
                id: partial,
                outcome: Outcome::NotSent
            },
            Event::Outcome {
                id: queued,
                outcome: Outcome::NotSent
            },
            Event::Closed {
                error: Some(ConnectionError::ClosedWithActive { active: 3 })
            },
        ]
    );
    assert!(client.send_arguments(["D"]).is_err());
}

/// Everything the client wrote, read by a server: each request's body.
fn bodies_on_the_wire(wire: &[u8]) -> Vec<Vec<String>> {
    let mut server = Server::new(Config::default());
    assert_eq!(server.receive(wire), wire.len());
    server.receive_eof();
    let mut bodies = Vec::new();
    while let Some(event) = server.poll_event() {
        match event {
            ServerEvent::Request(request) => bodies.push(match request.instruction {
                Ok(_) => panic!("raw bodies only"),
                Err(invalid) => invalid.arguments.into_iter().map(String::from).collect(),
            }),
            ServerEvent::Ended => break,
            other => panic!(
                "malformed stream {:?}: {other:?}",
                String::from_utf8_lossy(wire)
            ),
        }
    }
    bodies
}

#[test]
fn a_partly_written_request_is_finished_even_when_its_late_response_came_first() {
    let mut client = Client::new(Config::default());
    let first = client.send_arguments(["A", "a"]).unwrap();
    client.send_arguments(["B", "b"]).unwrap();
    let third = client.send_arguments(["C", "c"]).unwrap();
    let mut wire = client.poll_transmit().unwrap()[..3].to_vec();
    client.consume_transmit(3);
    assert_eq!(client.cancel(first), Some(Cancelled::Abandoned));
    // A response for it (too early to be real) is absorbed, then a cancel
    // compacts the buffer: the rest of the first request must still leave.
    client.receive(b"0 OK\n");
    assert_eq!(client.poll_event(), None);
    assert_eq!(client.cancel(third), Some(Cancelled::Withdrawn));
    wire.extend_from_slice(client.poll_transmit().unwrap());
    assert_eq!(bodies_on_the_wire(&wire), [["A", "a"], ["B", "b"]]);
}

#[test]
fn a_partly_written_request_is_finished_even_when_forgotten() {
    // With 2 active requests the table spans at most 32 sequence numbers,
    // then forgets abandoned requests at its front.
    let mut client = Client::new(Config::default().with_max_active(2));
    let first = client.send_arguments(["A", "a"]).unwrap();
    let mut wire = client.poll_transmit().unwrap()[..3].to_vec();
    client.consume_transmit(3);
    assert_eq!(client.cancel(first), Some(Cancelled::Abandoned));
    for _ in 0..40 {
        let id = client.send_arguments(["X"]).unwrap();
        assert_eq!(client.cancel(id), Some(Cancelled::Withdrawn));
    }
    client.send_arguments(["B", "b"]).unwrap();
    wire.extend_from_slice(client.poll_transmit().unwrap());
    assert_eq!(bodies_on_the_wire(&wire), [["A", "a"], ["B", "b"]]);
}

#[test]
fn deadlines_of_finished_requests_do_not_pile_up_without_polls() {
    use std::time::Duration;
    let mut client = Client::<Duration>::with_time_type(Config::default());
    let mut server = Server::new(Config::default());
    // Many requests with deadlines, all answered, and neither
    // `poll_timeout` nor `handle_timeout` ever called.
    for n in 0..10_000u64 {
        let id = client.send_arguments(["PING", "x"]).unwrap();
        assert!(client.set_deadline(id, Duration::from_secs(n)));
        let bytes = client.poll_transmit().unwrap().to_vec();
        client.consume_transmit(bytes.len());
        assert_eq!(server.receive(&bytes), bytes.len());
        let Some(ServerEvent::Request(request)) = server.poll_event() else {
            panic!("no request");
        };
        server.respond(request.token, Status::Ok).unwrap();
        let answer = server.poll_transmit().unwrap().to_vec();
        server.consume_transmit(answer.len());
        client.receive(&answer);
        while client.poll_event().is_some() {}
    }
    assert_eq!(client.in_flight(), 0);
    assert!(
        client.pending_deadlines() <= 64,
        "{}",
        client.pending_deadlines()
    );
}

#[test]
fn receiving_without_polling_keeps_the_buffer_bounded() {
    let config = Config::default().with_max_active(100_000);
    let mut client = Client::new(config);
    let mut server = Server::new(config);
    for _ in 0..100_000 {
        client.send_arguments(["PING"]).unwrap();
    }
    let bytes = client.poll_transmit().unwrap().to_vec();
    client.consume_transmit(bytes.len());
    assert_eq!(server.receive(&bytes), bytes.len());
    while let Some(ServerEvent::Request(request)) = server.poll_event() {
        server.respond(request.token, Status::Ok).unwrap();
    }
    let answers = server.poll_transmit().unwrap().to_vec();
    assert!(answers.len() > 4 * config.max_message_len());
    // Every response arrives before the first poll.
    for chunk in answers.chunks(1000) {
        client.receive(chunk);
        assert!(client.buffered_receive() <= 2 * config.max_message_len() + 1000);
    }
    let mut ok = 0;
    while let Some(event) = client.poll_event() {
        assert!(
            matches!(
                event,
                Event::Outcome {
                    outcome: Outcome::Ok,
                    ..
                }
            ),
            "{event:?}"
        );
        ok += 1;
    }
    assert_eq!(ok, 100_000);
    assert_eq!(client.in_flight(), 0);
}

#[test]
fn closed_stays_last_when_responses_are_decoded_on_receive() {
    // A tiny message limit makes `receive` decode at once.
    let config = Config::default().with_max_message_len(8);
    let mut client = Client::new(config);
    let ids: Vec<_> = (0..4)
        .map(|_| client.send_arguments(["P"]).unwrap())
        .collect();
    client.close();
    let n = client.poll_transmit().unwrap().len();
    client.consume_transmit(n);
    client.receive(b"0 OK\n1 OK\n2 OK\n3 ERROR\n");
    let events: Vec<Event> = std::iter::from_fn(|| client.poll_event()).collect();
    assert_eq!(events.len(), 5, "{events:?}");
    for (event, id) in events.iter().zip(&ids) {
        assert!(
            matches!(event, Event::Outcome { id: i, .. } if i == id),
            "{event:?}"
        );
    }
    assert_eq!(events[4], Event::Closed { error: None });
}
