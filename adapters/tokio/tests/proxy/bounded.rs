//! Clients that read slowly, or never: what the proxy holds for them stays
//! bounded, and the other connections are served meanwhile.

use std::io::{ErrorKind, Read, Write};
use std::net::Shutdown;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use kairoi_tokio::serve::ServeOptions;

use crate::fixture::{FUTURE, Fixture, PATIENCE, Raw, wait_until};

/// The most bytes a connection may hold with the default options: input
/// not decoded (at most a message and a read), bodies in flight, answers
/// not written (past their bound by at most the answers of the bodies in
/// flight).
const BOUND: u64 = (1024 * 1024 + 2048) + 1024 * 1024 + 2 * 256 * 1024;

/// How long another connection's request may take while a client that
/// reads slowly or never loads the proxy (debug builds on two cores).
const PROMPT: Duration = Duration::from_secs(5);

/// The resident memory of this process, in bytes.
fn rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

/// Requests `from..to` in one buffer.
fn requests(prefix: &str, from: usize, to: usize) -> Vec<u8> {
    (from..to)
        .flat_map(|n| format!("{n} SET {prefix}.{n} {FUTURE}\n").into_bytes())
        .collect()
}

/// Requests `0..count` with identifiers of 200 digits.
fn long_ids(count: usize) -> Vec<u8> {
    (0..count)
        .flat_map(|n| format!("{n:0>200} SET slow.{n} {FUTURE}\n").into_bytes())
        .collect()
}

/// One request through a connection of its own, timed.
fn one_request(fixture: &Fixture, n: usize) -> Duration {
    let start = Instant::now();
    let mut raw = Raw::connect(fixture.addr);
    raw.send(format!("{n} SET other.{n} {FUTURE}\n"));
    assert_eq!(raw.line(), Some(format!("{n} OK")));
    start.elapsed()
}

/// A client that writes requests without ever reading the answers: the
/// proxy stops reading from it once its answers fill their bound, holds
/// no more than its bounds meanwhile, serves other connections, and
/// drops it after the write timeout.
#[test]
fn a_client_that_never_reads_is_held_to_its_bounds_then_dropped() {
    let fixture = Fixture::with_small_buffers(
        ServeOptions::default().with_write_timeout(Duration::from_secs(3)),
    );
    let counters = fixture.proxy().counters().clone();
    let before = rss();
    let stream = fixture.connect_small();
    stream
        .set_write_timeout(Some(Duration::from_millis(100)))
        .expect("a write timeout");
    let blocked = AtomicBool::new(false);
    let (written, held, served) = std::thread::scope(|scope| {
        // What the proxy holds, as long as the client writes.
        let writer = scope.spawn(|| {
            let mut stream = &stream;
            let mut written = 0usize;
            let mut n = 0;
            let mut stalls = 0;
            let mut chunk = Vec::new();
            let mut offset = 0;
            // Until the proxy has taken nothing for a second.
            while stalls < 10 {
                if offset == chunk.len() {
                    chunk = requests("w", n, n + 2000);
                    n += 2000;
                    offset = 0;
                }
                match stream.write(&chunk[offset..]) {
                    Ok(k) => {
                        offset += k;
                        written += k;
                        stalls = 0;
                    }
                    Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                        stalls += 1;
                    }
                    // Dropped by the proxy after its write timeout.
                    Err(_) => break,
                }
                assert!(
                    written < 512 << 20,
                    "the proxy read 512 MiB without stopping"
                );
            }
            blocked.store(true, Ordering::SeqCst);
            written
        });
        // Meanwhile, others are served.
        let mut served = 0;
        let mut held = 0;
        while !blocked.load(Ordering::SeqCst) {
            held = held.max(counters.buffered_bytes());
            assert!(one_request(&fixture, served) < PROMPT);
            served += 1;
        }
        let written = writer.join().expect("the writer");
        (written, held.max(counters.buffered_bytes()), served)
    });
    let grown = rss().saturating_sub(before);
    println!(
        "proxy: a client that never reads wrote {:.1} MiB before the proxy stopped reading; \
         the proxy held {held} bytes for it, the process grew by {:.1} MiB; \
         {served} other requests served meanwhile",
        written as f64 / (1 << 20) as f64,
        grown as f64 / (1 << 20) as f64
    );
    assert!(held <= BOUND, "{held} bytes held");
    assert!(served > 0);
    assert!(one_request(&fixture, 1_000_000) < PROMPT);
    wait_until("the client that never reads is dropped", || {
        counters.dropped() == 1
    });
    wait_until("its bytes released", || counters.buffered_bytes() == 0);
    let _ = stream.shutdown(Shutdown::Both);
}

/// A client that pipelines 6,000 requests with long identifiers (so that
/// the answers weigh 1.2 MB) and reads them slowly (a read each 10 ms,
/// through small socket buffers) gets every answer, `OK`; the proxy holds no more than its bounds
/// for it, and serves other connections meanwhile.
#[test]
fn a_slow_reader_gets_every_answer_in_bounded_memory() {
    const REQUESTS: usize = 6_000;
    const UNWRITTEN: usize = 64 * 1024;
    let fixture =
        Fixture::with_small_buffers(ServeOptions::default().with_max_unwritten(UNWRITTEN));
    let counters = fixture.proxy().counters().clone();
    let stream = fixture.connect_small();
    stream.set_read_timeout(Some(PATIENCE)).expect("a timeout");
    let done = AtomicBool::new(false);
    let (answers, most_held, served) = std::thread::scope(|scope| {
        let mut writing = &stream;
        scope.spawn(move || {
            writing
                .write_all(&long_ids(REQUESTS))
                .expect("write every request");
        });
        let others = scope.spawn(|| {
            let mut served = 0;
            while !done.load(Ordering::SeqCst) {
                assert!(one_request(&fixture, served) < PROMPT);
                served += 1;
            }
            served
        });
        let mut reading = &stream;
        let mut answers = Vec::new();
        let mut most_held = 0;
        let mut buf = [0u8; 16 * 1024];
        while answers.iter().filter(|&&b| b == b'\n').count() < REQUESTS {
            most_held = most_held.max(counters.buffered_bytes());
            std::thread::sleep(Duration::from_millis(10));
            let n = reading.read(&mut buf).expect("read an answer");
            assert!(n > 0, "the proxy closed the connection");
            answers.extend_from_slice(&buf[..n]);
        }
        done.store(true, Ordering::SeqCst);
        (
            answers,
            most_held,
            others.join().expect("the other requests"),
        )
    });
    let text = String::from_utf8(answers).expect("UTF-8 answers");
    let mut ok = vec![false; REQUESTS];
    for line in text.lines() {
        let (id, status) = line.split_once(' ').expect("two words");
        assert_eq!(status, "OK", "{line}");
        ok[id.parse::<usize>().expect("an identifier")] = true;
    }
    assert!(ok.iter().all(|&o| o), "every request answered");
    println!(
        "proxy: a slow reader of {REQUESTS} answers; the proxy held at most {most_held} bytes \
         for it; {served} other requests served meanwhile"
    );
    // The answers waiting for it passed their bound: the proxy stopped
    // reading, and held no more than its bounds.
    assert!(most_held >= UNWRITTEN as u64, "{most_held} bytes held");
    assert!(most_held <= BOUND, "{most_held} bytes held");
    assert!(served > 0);
}
