//! Every limit of `Config` at its extremes (0, 1, 2, the default,
//! `usize::MAX - 1`, `usize::MAX`) and every deadline at the edges of time:
//! a short session through both roles never panics, and every request
//! ends exactly once.

use std::collections::HashMap;
use std::time::Duration;

use kairoi_proto::wire::Decoder;
use kairoi_proto::{Client, Config, DateTime, Event, Instruction, Server, ServerEvent, Status};
use proptest::prelude::*;

const EXTREMES: [usize; 7] = [0, 1, 2, 4, 64, usize::MAX - 1, usize::MAX];

fn limit() -> impl Strategy<Value = usize> {
    prop::sample::select(EXTREMES.to_vec())
}

fn config() -> impl Strategy<Value = Config> {
    (limit(), limit(), limit()).prop_map(|(len, args, active)| {
        Config::default()
            .with_max_message_len(len)
            .with_max_arguments(args)
            .with_max_active(active)
    })
}

fn deadline() -> impl Strategy<Value = Option<Duration>> {
    prop::sample::select(vec![
        None,
        Some(Duration::ZERO),
        Some(Duration::from_nanos(1)),
        Some(Duration::from_secs(u64::MAX / 2)),
        Some(Duration::MAX),
    ])
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn a_session_at_extreme_limits_ends_every_request_once(
        client_config in config(),
        server_config in config(),
        deadline in deadline(),
        count in 1usize..6,
        now in prop::sample::select(vec![Duration::ZERO, Duration::from_secs(1), Duration::MAX]),
    ) {
        let when: DateTime = "2030-01-01 00:00:00".parse().unwrap();
        let mut client = Client::<Duration>::with_time_type(client_config);
        let mut server = Server::new(server_config);
        let mut sent = HashMap::new();
        for n in 0..count {
            if let Ok(id) = client.send(&Instruction::set(format!("job.{n}"), when)) {
                if let Some(d) = deadline {
                    client.set_deadline(id, now.saturating_add(d));
                }
                sent.insert(id, 0usize);
            }
        }
        let _ = client.send_arguments(["UNKNOWN", "body"]).map(|id| sent.insert(id, 0));
        client.close();
        let mut outcomes = 0usize;
        for _ in 0..64 {
            if let Some(bytes) = client.poll_transmit() {
                let bytes = bytes.to_vec();
                // Bytes a paused server did not take are not sent: the
                // client counts only what was taken as written.
                let taken = server.receive(&bytes);
                client.consume_transmit(taken);
            }
            let mut answers = Vec::new();
            while let Some(event) = server.poll_event_ref() {
                if let kairoi_proto::ServerEventRef::Request(request) = event {
                    answers.push(request.token);
                }
            }
            while let Some(event) = server.poll_event() {
                if let ServerEvent::Request(request) = event {
                    answers.push(request.token);
                }
            }
            for token in answers {
                let _ = server.respond(token, Status::Ok);
            }
            if let Some(bytes) = server.poll_transmit() {
                let bytes = bytes.to_vec();
                server.consume_transmit(bytes.len());
                client.receive(&bytes);
            }
            client.handle_timeout(now);
            while let Some(event) = client.poll_event() {
                match event {
                    Event::Outcome { id, .. } => {
                        let seen = sent.get_mut(&id).expect("an outcome for a request that was sent");
                        *seen += 1;
                        prop_assert_eq!(*seen, 1, "two outcomes for {}", id);
                        outcomes += 1;
                    }
                    Event::Closed { .. } => {}
                    _ => {}
                }
            }
            if client.is_closed() {
                break;
            }
        }
        if !client.is_closed() {
            // Whatever is still active ends now, once.
            client.receive_eof();
            while let Some(event) = client.poll_event() {
                if let Event::Outcome { id, .. } = event {
                    let seen = sent.get_mut(&id).expect("sent");
                    *seen += 1;
                    prop_assert_eq!(*seen, 1);
                    outcomes += 1;
                }
            }
        }
        prop_assert_eq!(outcomes, sent.len());
    }

    #[test]
    fn a_decoder_at_extreme_limits_never_panics(config in config(), data in "[0-9A-Z \"\\\\\n]{0,64}") {
        let mut decoder = Decoder::new(config);
        for chunk in [b"0 OK\n1 OK\n".as_slice(), data.as_bytes(), b"\n2 ERROR\n"] {
            decoder.extend(chunk);
            while let Ok(Some(_)) = decoder.next_frame() {
                let _ = decoder.take_message();
            }
        }
    }
}

#[test]
fn no_limit_on_the_message_length_decodes_ordinary_input() {
    let config = Config::default().with_max_message_len(usize::MAX);
    let mut decoder = Decoder::new(config);
    decoder.extend(b"0 OK\n1 OK\n");
    for _ in 0..2 {
        assert_eq!(decoder.next_frame(), Ok(Some(2)));
        let _ = decoder.take_message();
    }
    assert_eq!(decoder.next_frame(), Ok(None));
    let mut server = Server::new(
        config
            .with_max_arguments(usize::MAX)
            .with_max_active(usize::MAX),
    );
    let wire = b"0 SET a \"2030-01-01 00:00:00\"\n1 SET b \"2030-01-01 00:00:00\"\n";
    assert_eq!(server.receive(wire), wire.len());
    let mut n = 0;
    while let Some(kairoi_proto::ServerEventRef::Request(_)) = server.poll_event_ref() {
        n += 1;
    }
    assert_eq!(n, 2);
}
