//! The `Server` parses bodies straight from the receive buffer; it must
//! give exactly what `Instruction::parse` gives on the same arguments.

use kairoi_proto::wire::encode_message;
use kairoi_proto::{Config, Instruction, Server, ServerEvent, Text};
use serde_json::Value;

/// Bodies from the shared vectors, plus malformed shapes of every kind.
fn bodies() -> Vec<Vec<String>> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/vectors/instructions.jsonl"
    );
    let mut out: Vec<Vec<String>> = std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|line| {
            let v: Value = serde_json::from_str(line).unwrap();
            v["arguments"]
                .as_array()
                .unwrap()
                .iter()
                .map(|a| a.as_str().unwrap().to_owned())
                .collect()
        })
        .collect();
    let extra: &[&[&str]] = &[
        &["SET"],
        &["SET", "job"],
        &["SET", "job", "2030-01-01 00:00:00", "extra"],
        &["SET", "job", "2030-02-30 00:00:00"],
        &["RULE"],
        &["RULE", "GET", "x"],
        &["RULE", "SET", "r", "p"],
        &["RULE", "SET", "r", "p", "shell"],
        &["RULE", "SET", "r", "p", "shell", "a", "b"],
        &["RULE", "SET", "r", "p", "amqp", "a", "b"],
        &["RULE", "SET", "r", "p", "http", "x"],
        &["RULE", "SET", "", "", "shell", "🦀 \"x\"\n"],
        &["set", "job", "2030-01-01 00:00:00"],
        &["émoji 🦀 and a very long instruction name that goes past the excerpt limit"],
    ];
    out.extend(
        extra
            .iter()
            .map(|b| b.iter().map(|s| s.to_string()).collect()),
    );
    out
}

#[test]
fn server_parses_bodies_like_instruction_parse() {
    let bodies = bodies();
    let mut wire = bytes::BytesMut::new();
    for (n, body) in bodies.iter().enumerate() {
        let id = n.to_string();
        encode_message(
            &mut wire,
            std::iter::once(id.as_str()).chain(body.iter().map(String::as_str)),
        );
    }
    let mut server = Server::new(Config::default().with_max_active(bodies.len()));
    assert_eq!(server.receive(&wire), wire.len());
    for (n, body) in bodies.iter().enumerate() {
        let Some(ServerEvent::Request(request)) = server.poll_event() else {
            panic!("no request {n}");
        };
        assert_eq!(request.token.identifier().as_str(), n.to_string());
        let texts: Vec<Text> = body.iter().map(|s| Text::from(s.as_str())).collect();
        let expected = Instruction::parse(&texts);
        match (&request.instruction, &expected) {
            (Ok(got), Ok(want)) => assert_eq!(got, want, "{body:?}"),
            (Err(got), Err(want)) => {
                assert_eq!(&got.error, want, "{body:?}");
                assert_eq!(got.arguments, texts, "{body:?}");
            }
            (got, want) => panic!("{body:?}: server {got:?}, parse {want:?}"),
        }
    }
    assert!(server.poll_event().is_none());
}

/// `RequestRef::body` gives the arguments as they came, for a valid body
/// and for one that is not an instruction alike.
#[test]
fn the_borrowed_body_is_the_arguments_as_they_came() {
    use kairoi_proto::{Config, Server, ServerEventRef};
    let mut server = Server::new(Config::default());
    let _ = server.receive(b"1 SET job \"2030-01-01 08:00:00\"\n2 FOO \"a b\"\n");
    let mut bodies = Vec::new();
    while let Some(ServerEventRef::Request(request)) = server.poll_event_ref() {
        let body: Vec<String> = request.body.iter().map(|t| t.as_str().to_owned()).collect();
        bodies.push((request.instruction.is_ok(), body));
    }
    assert_eq!(
        bodies,
        [
            (
                true,
                vec!["SET".to_owned(), "job".into(), "2030-01-01 08:00:00".into()]
            ),
            (false, vec!["FOO".to_owned(), "a b".into()]),
        ]
    );
}
