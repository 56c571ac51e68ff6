//! Property tests: whatever the arguments, encoding then decoding gives
//! them back, in both roles and at any chunking.

use kairoi_proto::wire::{Decoder, encode_message};
use kairoi_proto::{
    Argument, Client, Config, DateTime, Instruction, Runner, Server, ServerEvent, ServerEventRef,
    Status, Text,
};
use proptest::prelude::*;

/// Any Unicode string, biased towards the bytes that matter to KCP.
fn argument() -> impl Strategy<Value = String> {
    prop_oneof![
        2 => any::<String>(),
        3 => proptest::collection::vec(
            prop_oneof![
                Just(' '), Just('"'), Just('\\'), Just('\n'), Just('\r'), Just('\t'),
                Just('a'), Just('é'), Just('😱'),
            ],
            0..12,
        )
        .prop_map(|chars| chars.into_iter().collect()),
    ]
}

fn date_time() -> impl Strategy<Value = DateTime> {
    (DateTime::MIN.unix_seconds()..=DateTime::MAX.unix_seconds())
        .prop_map(|s| DateTime::from_unix_seconds(s).unwrap())
}

fn instruction() -> impl Strategy<Value = Instruction> {
    let text = || argument().prop_map(Text::from);
    prop_oneof![
        (text(), date_time()).prop_map(|(job, when)| Instruction::set(job, when)),
        (text(), text(), text()).prop_map(|(r, p, c)| Instruction::rule_set(
            r,
            p,
            Runner::shell(c)
        )),
        (text(), text(), text(), text(), text())
            .prop_map(|(r, p, d, e, k)| { Instruction::rule_set(r, p, Runner::amqp(d, e, k)) }),
    ]
}

/// Splits `bytes` at the given cut points (taken modulo the length).
fn chunks<'a>(bytes: &'a [u8], cuts: &[usize]) -> Vec<&'a [u8]> {
    let mut points: Vec<usize> = cuts.iter().map(|c| c % (bytes.len() + 1)).collect();
    points.sort_unstable();
    let mut out = Vec::new();
    let mut last = 0;
    for p in points {
        out.push(&bytes[last..p]);
        last = p;
    }
    out.push(&bytes[last..]);
    out
}

fn decode_all(bytes: &[u8], cuts: &[usize]) -> Vec<Vec<String>> {
    let mut decoder = Decoder::new(Config::default().with_max_message_len(1 << 20));
    let mut out = Vec::new();
    for chunk in chunks(bytes, cuts) {
        decoder.extend(chunk);
        while decoder.next_frame().expect("valid stream").is_some() {
            out.push(
                decoder
                    .take_message()
                    .into_iter()
                    .map(String::from)
                    .collect(),
            );
        }
    }
    assert_eq!(decoder.buffered(), 0, "bytes left over");
    out
}

fn server_requests(server: &mut Server) -> Vec<kairoi_proto::Request> {
    let mut out = Vec::new();
    while let Some(event) = server.poll_event() {
        match event {
            ServerEvent::Request(r) => out.push(r),
            other => panic!("unexpected {other:?}"),
        }
    }
    out
}

fn body_of(request: &kairoi_proto::Request) -> Vec<String> {
    match &request.instruction {
        Ok(i) => i
            .arguments()
            .iter()
            .map(|a| match a {
                Argument::Text(t) => String::from_utf8(t.to_vec()).unwrap(),
                Argument::DateTime(d) => d.to_string(),
            })
            .collect(),
        Err(invalid) => invalid
            .arguments
            .iter()
            .map(|t| t.as_str().to_string())
            .collect(),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn messages_round_trip_at_any_chunking(
        messages in proptest::collection::vec(proptest::collection::vec(argument(), 2..8), 1..6),
        cuts in proptest::collection::vec(any::<usize>(), 0..8),
    ) {
        let mut bytes = bytes::BytesMut::new();
        for m in &messages {
            encode_message(&mut bytes, m);
        }
        prop_assert_eq!(decode_all(&bytes, &cuts), messages);
    }

    #[test]
    fn raw_bodies_round_trip_client_to_server(
        bodies in proptest::collection::vec(proptest::collection::vec(argument(), 1..8), 1..6),
        cuts in proptest::collection::vec(any::<usize>(), 0..8),
    ) {
        let mut client = Client::new(Config::default());
        let mut server = Server::new(Config::default());
        for body in &bodies {
            client.send_arguments(body).unwrap();
        }
        let bytes = client.poll_transmit().unwrap().to_vec();
        for chunk in chunks(&bytes, &cuts) {
            assert_eq!(server.receive(chunk), chunk.len());
        }
        let requests = server_requests(&mut server);
        prop_assert_eq!(requests.len(), bodies.len());
        for (request, body) in requests.iter().zip(&bodies) {
            prop_assert_eq!(&body_of(request), body);
        }
    }

    #[test]
    fn instructions_round_trip_client_to_server(
        instructions in proptest::collection::vec(instruction(), 1..6),
        cuts in proptest::collection::vec(any::<usize>(), 0..8),
    ) {
        let mut client = Client::new(Config::default());
        let mut server = Server::new(Config::default());
        for i in &instructions {
            client.send(i).unwrap();
        }
        let bytes = client.poll_transmit().unwrap().to_vec();
        for chunk in chunks(&bytes, &cuts) {
            assert_eq!(server.receive(chunk), chunk.len());
        }
        let requests = server_requests(&mut server);
        prop_assert_eq!(requests.len(), instructions.len());
        for (request, sent) in requests.iter().zip(&instructions) {
            prop_assert_eq!(request.instruction.as_ref().ok(), Some(sent));
        }
    }

    #[test]
    fn borrowed_requests_agree_with_owned_ones(
        instructions in proptest::collection::vec(instruction(), 0..4),
        bodies in proptest::collection::vec(proptest::collection::vec(argument(), 1..8), 0..4),
        cuts in proptest::collection::vec(any::<usize>(), 0..8),
    ) {
        let mut client = Client::new(Config::default());
        for i in &instructions {
            client.send(i).unwrap();
        }
        for body in &bodies {
            client.send_arguments(body).unwrap();
        }
        let bytes = client.poll_transmit().map(<[u8]>::to_vec).unwrap_or_default();
        let (mut owned, mut borrowed) = (Server::new(Config::default()), Server::new(Config::default()));
        let mut seen = 0;
        for chunk in chunks(&bytes, &cuts) {
            assert_eq!(owned.receive(chunk), chunk.len());
            assert_eq!(borrowed.receive(chunk), chunk.len());
            let expected = server_requests(&mut owned);
            for want in expected {
                let Some(ServerEventRef::Request(got)) = borrowed.poll_event_ref() else {
                    panic!("the borrowed server missed {want:?}");
                };
                prop_assert_eq!(got.token.identifier(), want.token.identifier());
                match (&got.instruction, &want.instruction) {
                    (Ok(got), Ok(want)) => prop_assert_eq!(got, want),
                    (Err(got), Err(want)) => {
                        prop_assert_eq!(&got.error, &want.error);
                        prop_assert_eq!(got.arguments.to_texts(), want.arguments.clone());
                    }
                    other => panic!("borrowed and owned disagree: {other:?}"),
                }
                seen += 1;
            }
            prop_assert!(borrowed.poll_event_ref().is_none());
        }
        prop_assert_eq!(seen, instructions.len() + bodies.len());
    }

    #[test]
    fn server_echoes_any_identifier_so_it_decodes_back(
        identifiers in proptest::collection::vec(argument(), 1..6),
        cuts in proptest::collection::vec(any::<usize>(), 0..8),
    ) {
        let mut server = Server::new(Config::default());
        let mut request = bytes::BytesMut::new();
        for id in &identifiers {
            encode_message(&mut request, [id.as_str(), "SET", "job", "2030-01-01 00:00:00"]);
        }
        assert_eq!(server.receive(&request), request.len());
        for r in server_requests(&mut server) {
            server.respond(r.token, Status::Ok).unwrap();
        }
        let bytes = server.poll_transmit().unwrap().to_vec();
        let expected: Vec<Vec<String>> = identifiers
            .iter()
            .map(|id| vec![id.clone(), "OK".to_string()])
            .collect();
        prop_assert_eq!(decode_all(&bytes, &cuts), expected);
    }

    #[test]
    fn date_times_round_trip(t in date_time()) {
        prop_assert_eq!(t.to_string().parse::<DateTime>().unwrap(), t);
        prop_assert_eq!(DateTime::from_unix_seconds(t.unix_seconds()).unwrap(), t);
    }
}
