//! The whole protocol cost of a request: an in-memory `Client` and `Server`
//! pair, every byte through `poll_transmit` and `receive` on both sides.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use kairoi_proto::{Client, Config, Event, Instruction, Outcome, Server, ServerEvent, Status};

mod corpus;
use corpus::CHUNK;

/// `SET`s carried per iteration.
const SETS: usize = 100_000;

/// Moves at most one chunk of pending bytes from the client to the server.
fn client_to_server(client: &mut Client, server: &mut Server) -> bool {
    let Some(bytes) = client.poll_transmit() else {
        return false;
    };
    let n = server.receive(&bytes[..bytes.len().min(CHUNK)]);
    client.consume_transmit(n);
    true
}

/// Moves at most one chunk of pending bytes from the server to the client.
fn server_to_client(server: &mut Server, client: &mut Client) -> bool {
    let Some(bytes) = server.poll_transmit() else {
        return false;
    };
    let n = bytes.len().min(CHUNK);
    client.receive(&bytes[..n]);
    server.consume_transmit(n);
    true
}

/// Sends every instruction, pipelined up to the active limit, and returns
/// how many ended `Ok`.
fn roundtrip(instructions: &[Instruction]) -> usize {
    let config = Config::default();
    let mut client = Client::new(config);
    let mut server = Server::new(config);
    let mut next = instructions.iter();
    let (mut sent, mut ok, mut ended) = (0, 0, 0);
    while ended < instructions.len() {
        while sent < instructions.len() && client.can_send() {
            let instruction = next.next().unwrap();
            black_box(client.send(instruction).unwrap());
            sent += 1;
        }
        while client_to_server(&mut client, &mut server) {
            while let Some(event) = server.poll_event() {
                let ServerEvent::Request(request) = event else {
                    panic!("unexpected {event:?}");
                };
                assert!(request.instruction.is_ok());
                server.respond(request.token, Status::Ok).unwrap();
            }
        }
        while server_to_client(&mut server, &mut client) {
            while let Some(event) = client.poll_event() {
                let Event::Outcome { outcome, .. } = event else {
                    panic!("unexpected {event:?}");
                };
                ended += 1;
                ok += usize::from(outcome == Outcome::Ok);
            }
        }
    }
    ok
}

fn session(c: &mut Criterion) {
    let mut rng = corpus::Rng::new();
    let sets: Vec<Instruction> = (0..SETS).map(|n| corpus::set_job(n, &mut rng)).collect();
    let requests = corpus::encode(&sets).len();
    let responses: usize = (0..SETS as u64)
        .map(|seq| {
            let mut id = Vec::new();
            corpus::write_id(seq, &mut id);
            id.len() + b" OK\n".len()
        })
        .sum();
    let mut group = c.benchmark_group("session");
    group.sample_size(20);
    group.throughput(Throughput::ElementsAndBytes {
        elements: SETS as u64,
        bytes: (requests + responses) as u64,
    });
    group.bench_function("pipelined_roundtrip", |b| {
        b.iter(|| assert_eq!(roundtrip(black_box(&sets)), SETS))
    });
    group.finish();
}

criterion_group!(benches, session);
criterion_main!(benches);
