//! The `roundtrip` target: what one role encodes, the other decodes
//! identically.

use alloc::collections::BTreeMap;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use arbitrary::Unstructured;
use bytes::BytesMut;
use core::time::Duration;

use crate::input::{MAX_LIST, byte, render, roundtrip_item as item, text, texts};
use kairoi_proto::Config;
use kairoi_proto::Instruction;
use kairoi_proto::Text;
use kairoi_proto::client::{Client, Event, Outcome, RequestId};
use kairoi_proto::error::{DecodeError, SendError};
use kairoi_proto::server::{Server, ServerEvent, Status};
use kairoi_proto::wire::{Decoder, encode_message, encoded_len};

/// The most items one input holds.
const MAX_ITEMS: usize = 256;

/// Encodes arbitrary argument lists (at least two arguments each) with
/// [`encode_message`](kairoi_proto::wire::encode_message) and decodes them with a
/// [`Decoder`](kairoi_proto::wire::Decoder); sends arbitrary
/// [`Instruction`](kairoi_proto::Instruction)s and raw bodies with a
/// [`Client`](kairoi_proto::Client) to a [`Server`](kairoi_proto::Server), answers them
/// in reverse order and reads the outcomes back.
///
/// Input: items until the input ends, each a kind byte then its operands
/// (see [`seed::RoundtripScript`](super::seed::RoundtripScript)).
///
/// Panics when a decoded argument, message, identifier, instruction,
/// status or count differs from what was encoded, when a message of exactly
/// the limits is refused or one byte or argument over them is accepted, or
/// when an instruction does not survive its own
/// [`Instruction::arguments`](kairoi_proto::Instruction::arguments) and
/// [`Instruction::parse`](kairoi_proto::Instruction::parse).
pub fn roundtrip(data: &[u8]) {
    let mut u = Unstructured::new(data);
    let mut messages: Vec<Vec<String>> = Vec::new();
    let mut bodies: Vec<Body> = Vec::new();
    while !u.is_empty() && messages.len() + bodies.len() < MAX_ITEMS {
        match byte(&mut u) % item::COUNT {
            item::MESSAGE => {
                let mut args = texts(&mut u);
                while args.len() < 2 {
                    args.push(text(&mut u));
                }
                messages.push(args);
            }
            item::INSTRUCTION => match u.arbitrary::<Instruction>() {
                Ok(instruction) => bodies.push(Body::Typed(instruction)),
                Err(_) => break,
            },
            _ => bodies.push(Body::Raw(texts(&mut u))),
        }
    }
    messages_roundtrip(&messages);
    requests_roundtrip(&bodies);
}

#[derive(Debug)]
enum Body {
    Typed(Instruction),
    Raw(Vec<String>),
}

fn decode_all(stream: &[u8], config: Config) -> Result<Vec<Vec<Text>>, DecodeError> {
    let mut decoder = Decoder::new(config);
    decoder.extend(stream);
    let mut out = Vec::new();
    while let Some(count) = decoder.next_frame()? {
        let message = decoder.take_message();
        assert_eq!(message.len(), count);
        out.push(message);
    }
    decoder.finish()?;
    Ok(out)
}

fn same(decoded: &[Text], sent: &[String]) -> bool {
    decoded.len() == sent.len() && decoded.iter().zip(sent).all(|(a, b)| a == b.as_str())
}

fn messages_roundtrip(messages: &[Vec<String>]) {
    let mut stream = BytesMut::new();
    let (mut longest, mut most) = (1, 2);
    for args in messages {
        let start = stream.len();
        encode_message(&mut stream, args);
        let message = &stream[start..];
        let len = message.len();
        let predicted: usize = args.iter().map(|a| encoded_len(a.as_bytes())).sum();
        assert_eq!(len, predicted + args.len(), "encoded_len of {args:?}");
        longest = longest.max(len);
        most = most.max(args.len());

        // Exactly at the limits it decodes; one over, it does not.
        let exact = Config::default()
            .with_max_message_len(len)
            .with_max_arguments(args.len());
        match decode_all(message, exact) {
            Ok(decoded) => assert!(
                decoded.len() == 1 && same(&decoded[0], args),
                "{args:?} decoded as {decoded:?}"
            ),
            Err(e) => panic!("{args:?} refused at its own limits: {e}"),
        }
        let short = Config::default()
            .with_max_message_len(len - 1)
            .with_max_arguments(usize::MAX);
        assert_eq!(
            decode_all(message, short),
            Err(DecodeError::MessageTooLong { limit: len - 1 })
        );
        let few = Config::default()
            .with_max_message_len(usize::MAX)
            .with_max_arguments(args.len() - 1);
        assert_eq!(
            decode_all(message, few),
            Err(DecodeError::TooManyArguments {
                limit: args.len() - 1
            })
        );
    }
    let config = Config::default()
        .with_max_message_len(longest)
        .with_max_arguments(most);
    let decoded = decode_all(&stream, config).expect("a stream of encoded messages decodes");
    assert_eq!(decoded.len(), messages.len(), "number of messages changed");
    for (decoded, sent) in decoded.iter().zip(messages) {
        assert!(same(decoded, sent), "{sent:?} decoded as {decoded:?}");
    }
}

fn requests_roundtrip(bodies: &[Body]) {
    let config = Config::default().with_max_arguments(usize::from(MAX_LIST) + 1);
    let mut client = Client::<Duration>::with_time_type(config);
    let mut server = Server::new(config);
    let mut sent: Vec<(RequestId, &Body)> = Vec::new();
    for body in bodies {
        let (result, count) = match body {
            Body::Typed(instruction) => {
                let texts: Vec<Text> = render(instruction).into_iter().map(Text::from).collect();
                assert_eq!(
                    Instruction::parse(&texts).as_ref(),
                    Ok(instruction),
                    "arguments then parse"
                );
                (client.send(instruction), texts.len() + 1)
            }
            Body::Raw(args) => (client.send_arguments(args), args.len() + 1),
        };
        match result {
            Ok(id) => sent.push((id, body)),
            Err(SendError::EmptyBody) => assert_eq!(count, 1),
            Err(SendError::TooManyArguments { count: c, limit }) => {
                assert!(c == count && c > limit);
            }
            Err(SendError::MessageTooLong { len, limit }) => assert!(len > limit),
            Err(e) => panic!("send of {body:?} failed: {e}"),
        }
    }

    let mut wire = BytesMut::new();
    client.transmit_into(&mut wire);
    // Nothing is active yet: the server takes every request.
    assert_eq!(server.receive(&wire), wire.len());
    let mut expected = BTreeMap::new();
    let mut tokens = Vec::new();
    for (n, (id, body)) in sent.iter().enumerate() {
        let Some(ServerEvent::Request(request)) = server.poll_event() else {
            panic!("request {id} ({body:?}) not decoded");
        };
        assert_eq!(
            request.token.identifier().as_str(),
            id.to_string(),
            "identifier"
        );
        match (body, &request.instruction) {
            (Body::Typed(sent), Ok(got)) => assert_eq!(got, sent),
            (Body::Typed(sent), Err(e)) => panic!("{sent:?} read back as {e:?}"),
            (Body::Raw(args), Ok(got)) => assert_eq!(&render(got), args),
            (Body::Raw(args), Err(invalid)) => assert!(same(&invalid.arguments, args)),
        }
        let (status, outcome) = if n % 3 == 1 {
            (Status::Error, Outcome::Rejected)
        } else {
            (Status::Ok, Outcome::Ok)
        };
        expected.insert(*id, outcome);
        tokens.push((request.token, status));
    }
    assert!(server.poll_event().is_none(), "more requests than sent");

    while let Some((token, status)) = tokens.pop() {
        server.respond(token, status).expect("respond");
    }
    let mut answers = BytesMut::new();
    server.transmit_into(&mut answers);
    client.receive(&answers);
    client.close();
    let mut closed = false;
    while let Some(event) = client.poll_event() {
        assert!(!closed, "event after Closed: {event:?}");
        match event {
            Event::Outcome { id, outcome } => {
                assert_eq!(expected.remove(&id), Some(outcome), "outcome of {id}");
            }
            Event::Closed { error } => {
                assert_eq!(error, None);
                closed = true;
            }
            other => panic!("an event this harness does not know: {other:?}"),
        }
    }
    assert!(
        closed && expected.is_empty(),
        "outcomes missing: {expected:?}"
    );
}
