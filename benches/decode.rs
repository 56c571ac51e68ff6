//! Decoding: the `Client` receiving responses, the `Server` receiving
//! requests and one huge message, next to a `memchr`-per-line baseline
//! measured in the same run.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use kairoi_proto::wire::Decoder;
use kairoi_proto::{Client, Config, Event, Server, ServerEvent, ServerEventRef};

mod corpus;
use corpus::CHUNK;

fn throughput(messages: usize, bytes: usize) -> Throughput {
    Throughput::ElementsAndBytes {
        elements: messages as u64,
        bytes: bytes as u64,
    }
}

/// The floor of any newline-driven framer: one `memchr` call per line.
fn memchr_per_line(bytes: &[u8]) -> usize {
    let mut lines = 0;
    let mut rest = bytes;
    while let Some(i) = memchr::memchr(b'\n', rest) {
        lines += 1;
        rest = &rest[i + 1..];
    }
    lines
}

/// Feeds `responses` to a new client in 2 KiB chunks, draining events
/// after each, and returns the time spent in `receive` and `poll_event`.
///
/// Before each chunk, outside the timed part, the client sends the
/// requests that the chunk answers, so requests are active only shortly
/// before their response arrives, as under the default limit of 1,024
/// active requests (a million active requests would measure cache misses
/// in a table no client keeps).
fn client_receive(responses: &[u8]) -> Duration {
    let mut client = Client::new(Config::default());
    let (mut sent, mut answered, mut outcomes) = (0, 0, 0);
    let mut total = Duration::ZERO;
    for chunk in responses.chunks(CHUNK) {
        answered += memchr::memchr_iter(b'\n', chunk).count();
        while sent < answered {
            client.send_arguments(["X"]).unwrap();
            sent += 1;
        }
        let n = client.buffered_transmit();
        client.consume_transmit(n);
        let start = Instant::now();
        outcomes += client_chunk(&mut client, chunk);
        total += start.elapsed();
    }
    assert_eq!(outcomes, answered);
    total
}

/// The timed part of [`client_receive`]: one chunk in, every event out.
/// (Not inlined, so that instruction counts can single it out.)
#[inline(never)]
fn client_chunk(client: &mut Client, chunk: &[u8]) -> usize {
    let mut outcomes = 0;
    client.receive(chunk);
    while let Some(event) = client.poll_event() {
        match event {
            Event::Outcome { outcome, .. } => {
                black_box(outcome);
                outcomes += 1;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    outcomes
}

/// Feeds `bytes` to the server in 2 KiB chunks and calls `next` until it
/// returns `None` after each; `next` takes one request (and panics on any
/// other event). Returns the number of requests.
#[inline(always)]
fn feed(
    server: &mut Server,
    bytes: &[u8],
    mut next: impl FnMut(&mut Server) -> Option<()>,
) -> usize {
    let mut requests = 0;
    for chunk in bytes.chunks(CHUNK) {
        // No active limit: the server takes every byte.
        let taken = server.receive(chunk);
        debug_assert_eq!(taken, chunk.len());
        while next(server).is_some() {
            requests += 1;
        }
    }
    requests
}

/// Reads every request borrowed from the receive buffer
/// ([`Server::poll_event_ref`]): each request's token is dropped, its
/// instruction looked at.
#[inline(never)]
fn server_receive(server: &mut Server, bytes: &[u8]) -> usize {
    feed(server, bytes, |server| match server.poll_event_ref()? {
        ServerEventRef::Request(request) => {
            black_box(&request);
            Some(())
        }
        other => panic!("unexpected {other:?}"),
    })
}

/// [`server_receive`] with owned requests ([`Server::poll_event`]),
/// whose texts share the receive buffer.
#[inline(never)]
fn server_receive_owned(server: &mut Server, bytes: &[u8]) -> usize {
    feed(server, bytes, |server| match server.poll_event()? {
        ServerEvent::Request(request) => {
            black_box(&request);
            Some(())
        }
        other => panic!("unexpected {other:?}"),
    })
}

fn decode(c: &mut Criterion) {
    let responses = corpus::responses(corpus::RESPONSES);
    let requests = corpus::requests(corpus::REQUESTS);
    let mut group = c.benchmark_group("decode");
    group.sample_size(20);

    group.throughput(throughput(corpus::RESPONSES, responses.len()));
    group.bench_function("baseline_memchr_per_line/responses", |b| {
        b.iter(|| assert_eq!(memchr_per_line(black_box(&responses)), corpus::RESPONSES))
    });
    group.bench_function("client/responses", |b| {
        b.iter_custom(|iters| {
            (0..iters)
                .map(|_| client_receive(black_box(&responses)))
                .sum()
        })
    });

    group.throughput(throughput(corpus::REQUESTS, requests.len()));
    group.bench_function("baseline_memchr_per_line/requests", |b| {
        // Line feeds inside quoted job identifiers count as lines here: the
        // baseline does not know about quotes.
        b.iter(|| memchr_per_line(black_box(&requests)))
    });
    group.bench_function("floor_shared_texts/requests", |b| {
        // What four reference-count updates per request cost: the least a
        // typed request pays when its identifier and one argument are
        // texts sharing the receive buffer (two taken, two dropped).
        let mut buf = bytes::BytesMut::from(&requests[..]);
        let shared = buf.split_to(64).freeze();
        b.iter(|| {
            for _ in 0..corpus::REQUESTS {
                let identifier = shared.slice(0..4);
                let job = shared.slice(8..32);
                black_box((&identifier, &job));
            }
        })
    });
    group.bench_function("decoder/requests", |b| {
        // The wire layer alone (framing, unescaping, UTF-8 checks; no
        // typed parsing): what a codec built on `Decoder` pays.
        let mut decoder = Decoder::new(Config::default());
        b.iter(|| {
            let (mut frames, mut arguments) = (0, 0);
            for chunk in requests.chunks(CHUNK) {
                decoder.extend(chunk);
                while let Some(n) = decoder.next_frame().unwrap() {
                    arguments += n;
                    frames += 1;
                }
            }
            assert_eq!(frames, corpus::REQUESTS);
            black_box(arguments)
        })
    });
    for (name, receive) in [
        (
            "server/requests",
            server_receive as fn(&mut Server, &[u8]) -> usize,
        ),
        ("server/requests_owned", server_receive_owned),
    ] {
        group.bench_function(name, |b| {
            // One connection for every iteration, as in a steady state; the
            // requests are dropped unanswered, so the active limit is lifted.
            let mut server = Server::new(Config::default().with_max_active(usize::MAX));
            b.iter(|| {
                let n = receive(&mut server, black_box(&requests));
                assert_eq!(n, corpus::REQUESTS);
            })
        });
    }
    group.finish();

    let mut group = c.benchmark_group("decode");
    group.sample_size(10);
    for (name, len) in [
        ("server/huge_2mib_2kib_chunks", corpus::HUGE_2MIB),
        ("server/huge_2kib_chunks", corpus::HUGE_8MIB),
    ] {
        let huge = corpus::huge(len);
        let config = Config::default().with_max_message_len(len);
        group.throughput(throughput(1, len));
        group.bench_function(name, |b| {
            b.iter(|| {
                let mut server = Server::new(config);
                assert_eq!(server_receive(&mut server, black_box(&huge)), 1);
            })
        });
    }
    group.finish();
}

/// The first `count` messages of `corpus`.
fn prefix(corpus: &[u8], count: usize) -> &[u8] {
    let end = memchr::memchr_iter(b'\n', corpus).nth(count - 1).unwrap();
    &corpus[..end + 1]
}

/// How the costs grow with the number of messages and with their size.
fn scaling(c: &mut Criterion) {
    let responses = corpus::responses(corpus::RESPONSES);
    let mut group = c.benchmark_group("scaling");
    group.sample_size(20);
    for count in [1_000, 10_000, 100_000] {
        let part = prefix(&responses, count);
        group.throughput(throughput(count, part.len()));
        group.bench_function(format!("client_responses/{count}"), |b| {
            b.iter_custom(|iters| (0..iters).map(|_| client_receive(black_box(part))).sum())
        });
    }
    let len = 512 << 10;
    let huge = corpus::huge(len);
    let config = Config::default().with_max_message_len(len);
    group.throughput(throughput(1, len));
    group.bench_function("server_huge/512kib_2kib_chunks", |b| {
        b.iter(|| {
            let mut server = Server::new(config);
            assert_eq!(server_receive(&mut server, black_box(&huge)), 1);
        })
    });
    // The same messages on a connection that already received one: the
    // receive buffer is grown and its pages are mapped, so this is the
    // decoder's own cost, without the allocator and the kernel's.
    group.sample_size(10);
    for (name, len) in [("2mib", corpus::HUGE_2MIB), ("8mib", corpus::HUGE_8MIB)] {
        let huge = corpus::huge(len);
        // Requests are dropped unanswered: lift the active limit.
        let config = Config::default().with_max_message_len(len);
        let mut server = Server::new(config.with_max_active(usize::MAX));
        group.throughput(throughput(1, len));
        group.bench_function(format!("server_huge_warm/{name}_2kib_chunks"), |b| {
            b.iter(|| assert_eq!(server_receive(&mut server, black_box(&huge)), 1))
        });
    }
    group.finish();
}

criterion_group!(benches, decode, scaling);
criterion_main!(benches);
