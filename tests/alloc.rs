//! Once buffers are warm, sending a request, receiving a response,
//! receiving a request (typed parsing included), answering it and decoding
//! on its own allocate nothing; placing a job over servers never does.
//!
//! A counting global allocator counts the allocations of the current
//! thread; each check warms a state machine up with a few rounds of the
//! same traffic, then asserts that further rounds allocate nothing.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::fmt::Write as _;

use kairoi_proto::placement::{place, score, xxh64};
use kairoi_proto::wire::Decoder;
use kairoi_proto::{
    Client, Config, DateTime, Event, IdentifierEcho, Instruction, InstructionRef, Outcome, Request,
    RequestId, Runner, Server, ServerEvent, ServerEventRef, Status, Text, Token,
};

struct Counting;

thread_local! {
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

fn count_one() {
    // `try_with` because the allocator also runs while threads are torn
    // down; a `const` thread-local with no destructor never allocates.
    let _ = ALLOCATIONS.try_with(|c| c.set(c.get() + 1));
}

// SAFETY: every method forwards to `System` with the caller's arguments
// unchanged, so `System`'s guarantees carry over; counting touches only a
// thread-local `Cell`.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count_one();
        // SAFETY: forwarded as received (see above).
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count_one();
        // SAFETY: forwarded as received (see above).
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count_one();
        // SAFETY: forwarded as received (see above).
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded as received (see above).
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Runs `f` and returns its result with the allocations it made.
fn counted<R>(f: impl FnOnce() -> R) -> (R, u64) {
    let before = ALLOCATIONS.with(Cell::get);
    let r = f();
    (r, ALLOCATIONS.with(Cell::get) - before)
}

/// Rounds run before counting starts, and rounds counted.
const WARM_UP: usize = 8;
const COUNTED: usize = 32;
/// Requests per round.
const PER_ROUND: usize = 200;

/// Chunk sizes the transport "reads" with: small, odd and large, so that
/// messages are split at many places.
const CHUNKS: [usize; 5] = [2048, 1, 7, 300, 4096];

fn when(n: usize) -> DateTime {
    DateTime::from_unix_seconds(1_800_000_000 + n as i64).unwrap()
}

/// Every shape of typed instruction, and bodies with escapes, line feeds,
/// emoji and the empty string.
fn instructions() -> Vec<Instruction> {
    (0..PER_ROUND)
        .map(|n| match n % 5 {
            0 => Instruction::set(format!("app.job.{n}"), when(n)),
            1 => Instruction::set(format!("job \"{n}\"\nwith\\escapes 😱"), when(n)),
            2 => Instruction::rule_set(format!("rule {n}"), "app.", Runner::shell("run.sh -v")),
            3 => Instruction::rule_set(
                format!("rule.{n}"),
                "",
                Runner::amqp("amqp://u:p@h:5672/v", "jobs", format!("key.{n}")),
            ),
            _ => Instruction::set("", when(n)),
        })
        .collect()
}

/// Raw bodies for `send_arguments`.
const RAW: [&str; 4] = ["UNSET", "app.job.\"x\"", "two words", ""];

/// Writes the responses to `ids` into `out`, ERROR for every third.
fn responses(ids: &[RequestId], out: &mut Vec<u8>) {
    out.clear();
    let mut line = String::new();
    for (i, id) in ids.iter().enumerate() {
        line.clear();
        let status = if i % 3 == 0 { "ERROR" } else { "OK" };
        writeln!(line, "{id} {status}").unwrap();
        out.extend_from_slice(line.as_bytes());
    }
}

#[test]
fn client_send_and_receive_allocate_nothing_once_warm() {
    let mut client = Client::new(Config::default());
    let instructions = instructions();
    let mut ids = Vec::with_capacity(2 * PER_ROUND);
    let mut wire = Vec::new();
    let mut sizes = CHUNKS.iter().cycle();
    for round in 0..WARM_UP + COUNTED {
        ids.clear();
        // Typed and raw sends, each request written in transport-sized
        // pieces.
        let (_, sent) = counted(|| {
            for instruction in &instructions {
                ids.push(client.send(instruction).unwrap());
                ids.push(client.send_arguments(RAW).unwrap());
            }
            while let Some(bytes) = client.poll_transmit() {
                let n = bytes.len().min(*sizes.next().unwrap());
                client.consume_transmit(n);
            }
        });
        // Responses in reverse order, fed in transport-sized pieces.
        ids.reverse();
        responses(&ids, &mut wire);
        let (ended, received) = counted(|| {
            let mut ended = 0;
            let mut rest = &wire[..];
            while !rest.is_empty() {
                let n = rest.len().min(*sizes.next().unwrap());
                client.receive(&rest[..n]);
                rest = &rest[n..];
                while let Some(event) = client.poll_event() {
                    match event {
                        Event::Outcome {
                            outcome: Outcome::Ok | Outcome::Rejected,
                            ..
                        } => ended += 1,
                        other => panic!("unexpected {other:?}"),
                    }
                }
            }
            ended
        });
        assert_eq!(ended, 2 * PER_ROUND);
        if round >= WARM_UP {
            assert_eq!(sent, 0, "allocations sending {} requests", 2 * PER_ROUND);
            assert_eq!(received, 0, "allocations receiving {ended} responses");
        }
    }
}

#[test]
fn client_deadlines_allocate_nothing_once_warm() {
    let mut client = Client::<u64>::with_time_type(Config::default());
    let instruction = Instruction::set("app.job.1", when(1));
    let mut ids = Vec::with_capacity(PER_ROUND);
    let mut wire = Vec::new();
    for round in 0..WARM_UP + COUNTED {
        let now = round as u64 * 10;
        ids.clear();
        let (_, allocations) = counted(|| {
            for _ in 0..PER_ROUND {
                let id = client.send(&instruction).unwrap();
                assert!(client.set_deadline(id, now + 5));
                ids.push(id);
            }
            let n = client.buffered_transmit();
            client.consume_transmit(n);
            assert_eq!(client.poll_timeout(), Some(now + 5));
        });
        responses(&ids, &mut wire);
        let (_, received) = counted(|| {
            client.receive(&wire);
            while client.poll_event().is_some() {}
            // Answered requests leave no deadline behind.
            assert_eq!(client.poll_timeout(), None);
            client.handle_timeout(now + 5);
            assert_eq!(client.poll_event(), None);
        });
        if round >= WARM_UP {
            assert_eq!(allocations, 0, "allocations sending with deadlines");
            assert_eq!(received, 0, "allocations receiving with deadlines");
        }
    }
}

/// The request bytes a client sends for one round.
fn request_bytes() -> (Vec<u8>, usize) {
    let mut client = Client::new(Config::default());
    let mut out = Vec::new();
    for instruction in instructions() {
        client.send(&instruction).unwrap();
        client
            .send_arguments(["SET", "raw.job", "2030-01-01 00:00:00"])
            .unwrap();
    }
    while let Some(bytes) = client.poll_transmit() {
        out.extend_from_slice(bytes);
        let n = bytes.len();
        client.consume_transmit(n);
    }
    (out, 2 * PER_ROUND)
}

/// Feeds `wire` to the server in transport-sized pieces and hands every
/// request to `on_request`; returns how many had a valid instruction.
fn serve(
    server: &mut Server,
    wire: &[u8],
    sizes: &mut impl Iterator<Item = usize>,
    mut on_request: impl FnMut(&mut Server, Request),
) -> usize {
    let mut valid = 0;
    let mut rest = wire;
    while !rest.is_empty() {
        let n = rest.len().min(sizes.next().unwrap());
        let n = server.receive(&rest[..n]);
        rest = &rest[n..];
        while let Some(event) = server.poll_event() {
            let ServerEvent::Request(request) = event else {
                panic!("unexpected {event:?}");
            };
            valid += usize::from(request.instruction.is_ok());
            on_request(server, request);
        }
    }
    valid
}

/// [`serve`] with the requests borrowed ([`Server::poll_event_ref`]).
fn serve_borrowed(
    server: &mut Server,
    wire: &[u8],
    sizes: &mut impl Iterator<Item = usize>,
    tokens: &mut Vec<Token>,
) -> usize {
    let mut valid = 0;
    let mut rest = wire;
    while !rest.is_empty() {
        let n = rest.len().min(sizes.next().unwrap());
        let n = server.receive(&rest[..n]);
        rest = &rest[n..];
        while let Some(event) = server.poll_event_ref() {
            let ServerEventRef::Request(request) = event else {
                panic!("unexpected {event:?}");
            };
            if let Ok(InstructionRef::Set { job, .. }) = request.instruction {
                std::hint::black_box(job.as_bytes());
            }
            valid += usize::from(request.instruction.is_ok());
            tokens.push(request.token);
        }
    }
    valid
}

/// Writes out everything the server queued, in transport-sized pieces.
fn flush(server: &mut Server, sizes: &mut impl Iterator<Item = usize>) {
    while let Some(bytes) = server.poll_transmit() {
        let n = bytes.len().min(sizes.next().unwrap());
        server.consume_transmit(n);
    }
}

/// In both identifier modes: the quoting encoder and the reference
/// server's unquoted echo.
#[test]
fn server_receive_and_respond_allocate_nothing_once_warm() {
    let (wire, count) = request_bytes();
    for echo in [IdentifierEcho::Quoted, IdentifierEcho::Unquoted] {
        let mut server = Server::new(Config::default()).with_identifier_echo(echo);
        let mut sizes = CHUNKS.iter().copied().cycle();
        for round in 0..WARM_UP + COUNTED {
            // Each request is answered as it arrives, typed parsing included.
            let (valid, allocations) = counted(|| {
                let valid = serve(&mut server, &wire, &mut sizes, |server, request| {
                    server.respond(request.token, Status::Ok).unwrap();
                });
                flush(&mut server, &mut sizes);
                valid
            });
            assert_eq!(valid, count);
            if round >= WARM_UP {
                assert_eq!(
                    allocations, 0,
                    "{echo:?}: allocations serving {count} requests"
                );
            }
        }
    }
}

/// Borrowed requests cost nothing even when the application holds every
/// token until the end of the round: a token owns its identifier.
#[test]
fn server_borrowed_requests_allocate_nothing_even_when_held() {
    let (wire, count) = request_bytes();
    let mut server = Server::new(Config::default().with_max_active(2 * count));
    let mut sizes = CHUNKS.iter().copied().cycle();
    let mut tokens = Vec::with_capacity(count);
    for round in 0..WARM_UP + COUNTED {
        let (valid, allocations) = counted(|| {
            let valid = serve_borrowed(&mut server, &wire, &mut sizes, &mut tokens);
            for token in tokens.drain(..) {
                server.respond(token, Status::Ok).unwrap();
            }
            flush(&mut server, &mut sizes);
            valid
        });
        assert_eq!(valid, count);
        if round >= WARM_UP {
            assert_eq!(allocations, 0, "allocations serving {count} requests");
        }
    }
}

#[test]
fn server_holding_requests_allocates_per_buffer_not_per_request() {
    let (wire, count) = request_bytes();
    let mut server = Server::new(Config::default());
    let mut held = Vec::with_capacity(count);
    let mut sizes = CHUNKS.iter().copied().cycle();
    for round in 0..WARM_UP + COUNTED {
        // Every request of the round is held until all have arrived: their
        // texts share the receive buffer, which therefore cannot be reused,
        // and the decoder moves on to a new one now and then.
        let (valid, received) = counted(|| {
            serve(&mut server, &wire, &mut sizes, |_, request| {
                held.push(request)
            })
        });
        assert_eq!(valid, count);
        // Answers in reverse order.
        let (_, responded) = counted(|| {
            while let Some(request) = held.pop() {
                server.respond(request.token, Status::Ok).unwrap();
            }
            flush(&mut server, &mut sizes);
        });
        if round + 1 == WARM_UP + COUNTED {
            // Shown with --nocapture; BENCHMARKS.md quotes it.
            println!(
                "alloc: {received} allocations receiving {count} held requests ({} bytes)",
                wire.len()
            );
        }
        if round >= WARM_UP {
            assert!(
                received * 4096 <= wire.len() as u64,
                "{received} allocations receiving {} bytes ({count} requests)",
                wire.len()
            );
            assert_eq!(responded, 0, "allocations answering {count} requests");
        }
    }
}

#[test]
fn decoder_allocates_nothing_once_warm() {
    let (wire, count) = request_bytes();
    let mut decoder = Decoder::new(Config::default());
    let mut texts: Vec<Text> = Vec::with_capacity(64);
    let mut sizes = CHUNKS.iter().cycle();
    for round in 0..WARM_UP + COUNTED {
        let ((frames, bytes), allocations) = counted(|| {
            let (mut frames, mut bytes) = (0, 0);
            let mut rest = &wire[..];
            while !rest.is_empty() {
                let n = rest.len().min(*sizes.next().unwrap());
                decoder.extend(&rest[..n]);
                rest = &rest[n..];
                while let Some(args) = decoder.next_frame().unwrap() {
                    frames += 1;
                    // Odd frames are read borrowed, even ones taken as
                    // zero-copy texts and dropped.
                    if frames % 2 == 1 {
                        bytes += (0..args).map(|i| decoder.argument(i).len()).sum::<usize>();
                    } else {
                        decoder.take_arguments(&mut texts);
                        bytes += texts.iter().map(Text::len).sum::<usize>();
                        texts.clear();
                    }
                }
            }
            (frames, bytes)
        });
        assert_eq!(frames, count);
        assert!(bytes > 0);
        if round >= WARM_UP {
            assert_eq!(allocations, 0, "allocations decoding {count} messages");
        }
    }
}

#[test]
fn placement_allocates_nothing() {
    let servers = ["kairoi-1", "kairoi-2", "kairoi-3", "kairoi-4", "kairoi-5"];
    let long = [b'x'; 100];
    let ids: [&[u8]; 4] = [b"", b"app.mail.42", &long[..33], &long];
    let (placed, allocations) = counted(|| {
        let mut placed = 0;
        for id in ids {
            placed += place(id, &servers).map_or(0, |i| i + 1);
            placed += usize::from(score(servers[0].as_bytes(), id) != xxh64(id, 0));
        }
        placed
    });
    assert!(placed > 0);
    assert_eq!(
        allocations,
        0,
        "allocations placing {} identifiers",
        ids.len()
    );
}
