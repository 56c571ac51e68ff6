//! Encoding: `Client::send` of typed instructions into the transmit buffer.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use kairoi_proto::{Client, Config, Event, Instruction};

mod corpus;

/// Requests sent per timed batch; the client is emptied between batches
/// (outside the timed part), so it stays in its steady state.
const BATCH: usize = 1_000;

/// Answers requests `first..=last` (all written), so that the client is
/// empty again.
fn drain(client: &mut Client, first: u64, last: u64, responses: &mut Vec<u8>) {
    let n = client.buffered_transmit();
    client.consume_transmit(n);
    responses.clear();
    for seq in first..=last {
        corpus::write_id(seq, responses);
        responses.extend_from_slice(b" OK\n");
    }
    client.receive(responses);
    while let Some(event) = client.poll_event() {
        assert!(matches!(event, Event::Outcome { .. }), "{event:?}");
    }
    assert_eq!(client.in_flight(), 0);
}

/// Sends `instructions` in batches, timing only the `send` calls.
fn send_all(client: &mut Client, instructions: &[Instruction]) -> Duration {
    let mut total = Duration::ZERO;
    let mut responses = Vec::new();
    for batch in instructions.chunks(BATCH) {
        let mut last = 0;
        let start = Instant::now();
        for instruction in batch {
            last = black_box(client.send(black_box(instruction)).unwrap()).sequence();
        }
        total += start.elapsed();
        drain(client, last + 1 - batch.len() as u64, last, &mut responses);
    }
    total
}

fn encode(c: &mut Criterion) {
    let config = Config::default();
    let mut group = c.benchmark_group("encode");

    let mut rng = corpus::Rng::new();
    let jobs: Vec<Instruction> = (0..BATCH).map(|n| corpus::set_job(n, &mut rng)).collect();
    let bytes = corpus::encode(&jobs).len();
    group.throughput(Throughput::ElementsAndBytes {
        elements: jobs.len() as u64,
        bytes: bytes as u64,
    });
    group.bench_function("client/set_job", |b| {
        let mut client = Client::new(config);
        send_all(&mut client, &jobs);
        b.iter_custom(|iters| (0..iters).map(|_| send_all(&mut client, &jobs)).sum())
    });

    let instructions = corpus::instructions(corpus::REQUESTS);
    let bytes = corpus::encode(&instructions).len();
    group.throughput(Throughput::ElementsAndBytes {
        elements: instructions.len() as u64,
        bytes: bytes as u64,
    });
    group.sample_size(20);
    group.bench_function("client/requests", |b| {
        let mut client = Client::new(config);
        send_all(&mut client, &instructions[..BATCH]);
        b.iter_custom(|iters| {
            (0..iters)
                .map(|_| send_all(&mut client, &instructions))
                .sum()
        })
    });
    group.finish();
}

criterion_group!(benches, encode);
criterion_main!(benches);
